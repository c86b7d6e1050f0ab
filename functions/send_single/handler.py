"""send_single: one SMS to one number — HTTP `POST /sms/send`, a mini-program cloud function call,
or a direct invoke (the seed's `{"mobile", "nationcode"}` event)."""

from __future__ import annotations

from typing import Any

from shared import entry, events, sending, validation
from shared.entry import Request
from shared.http import JsonAnswer, Routes, json_response

routes = Routes("send_single")


@routes.bind("POST /sms/send")
def send_sms(request: Request) -> JsonAnswer:
    key = validation.idempotency_key_value(events.header(request.http, "idempotency-key"), "Idempotency-Key")
    status, answer, replayed = sending.send_single(
        request.services,
        request.json_body(),
        caller=request.caller,
        deadline=request.deadline,
        idempotency_key=key,
    )
    return json_response(status, answer, {"Idempotent-Replayed": "true"} if replayed else None)


def send_direct(request: Request) -> dict[str, Any]:
    _, answer, _ = sending.send_single(
        request.services,
        request.payload,
        caller=request.caller,
        deadline=request.deadline,
        request_id=request.invocation.request_id,
    )
    return answer


def handler(event: Any, context: Any) -> Any:
    return entry.run(event, context, http=routes, direct=send_direct)


main_handler = handler
