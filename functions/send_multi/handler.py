"""send_multi: one message to many numbers — HTTP `POST /sms/send-multi`, a direct invoke, or a
queue batch (SQS) where each record is one chunk and only failed records are retried; and the free
preview of a single or multi send — `POST /sms/preview` or a direct invoke `{"action": "preview", …}`."""

from __future__ import annotations

from typing import Any

from shared import entry, events, sending, validation
from shared.entry import Request
from shared.events import QueueRecord
from shared.http import JsonAnswer, Routes, json_response

routes = Routes("send_multi")


@routes.bind("POST /sms/send-multi")
def send_multi_sms(request: Request) -> JsonAnswer:
    key = validation.idempotency_key_value(events.header(request.http, "idempotency-key"), "Idempotency-Key")
    status, answer, replayed = sending.send_multi(
        request.services,
        request.json_body(),
        caller=request.caller,
        deadline=request.deadline,
        idempotency_key=key,
    )
    return json_response(status, answer, {"Idempotent-Replayed": "true"} if replayed else None)


@routes.bind("POST /sms/preview")
def preview_send(request: Request) -> JsonAnswer:
    from shared import preview  # only the preview needs it: a send's cold start does not load it

    return json_response(200, preview.preview(request.services, request.json_body(), caller=request.caller))


def send_direct(request: Request) -> dict[str, Any]:
    if request.payload.get("action") == "preview":
        from shared import preview

        body = {k: v for k, v in request.payload.items() if k != "action"}
        return preview.preview(request.services, body, caller=request.caller)
    _, answer, _ = sending.send_multi(
        request.services,
        request.payload,
        caller=request.caller,
        deadline=request.deadline,
        request_id=request.invocation.request_id,
        internal=request.invocation.wx is None,  # a platform invoke (e.g. SCF's async self-invocation)
    )
    return answer


def send_queued(request: Request, record: QueueRecord) -> None:
    sending.send_queued_chunk(
        request.services, record.body, record_id=record.message_id, deadline=request.deadline
    )


def handler(event: Any, context: Any) -> Any:
    return entry.run(event, context, http=routes, direct=send_direct, queue=send_queued)


main_handler = handler
