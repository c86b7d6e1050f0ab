"""pull_status: receipts and replies — the scheduled pull into the store (timer), on-demand pulls,
per-number pulls through to Tencent, per-message status from the store, and the suppression list
(opt-outs) to read and correct."""

from __future__ import annotations

import time
from typing import Any

from shared import entry, events, reconcile, suppressions, tracking, validation
from shared.http import JsonAnswer, Routes, json_response

routes = Routes()


@routes.post("/sms/pull")
def pull() -> JsonAnswer:
    request = entry.current()
    assert request.invocation.http is not None
    kind, limit = validation.parse_pull(events.json_body(request.invocation.http))
    summary = tracking.pull_into_store(kind, limit, deadline=request.deadline, max_batches=1, keep_items=True)
    answer = {"items": summary.items, **summary.to_dict()}
    return json_response(502 if summary.error and not summary.pulled else 200, answer)


@routes.get("/sms/status/<phone>")
def status_for_phone(phone: str) -> JsonAnswer:
    request = entry.current()
    assert request.invocation.http is not None
    query = validation.parse_status_query(phone, request.invocation.http.query, int(time.time()))
    return json_response(200, tracking.status_for_phone(query, deadline=request.deadline))


@routes.get("/sms/messages/<message_id>")
def message(message_id: str) -> JsonAnswer:
    return json_response(200, tracking.message_status(message_id))


@routes.get("/sms/suppressions")
def suppression_list() -> JsonAnswer:
    request = entry.current()
    assert request.invocation.http is not None
    return json_response(200, suppressions.list_page(request.invocation.http.query))


@routes.get("/sms/suppressions/<phone>")
def suppression(phone: str) -> JsonAnswer:
    return json_response(200, suppressions.get_one(phone))


@routes.put("/sms/suppressions/<phone>")
def suppress(phone: str) -> JsonAnswer:
    caller = entry.current().caller
    return json_response(200, suppressions.operator_change(phone, suppressed=True, caller=caller))


@routes.delete("/sms/suppressions/<phone>")
def unsuppress(phone: str) -> JsonAnswer:
    caller = entry.current().caller
    return json_response(200, suppressions.operator_change(phone, suppressed=False, caller=caller))


def scheduled_pull(request: entry.Request) -> dict[str, Any]:
    """Drain the receipt and reply queues (or the one `kind` the schedule names) into the store,
    then reconcile messages whose receipts are overdue (see `shared.reconcile`)."""
    payload = {k: v for k, v in request.payload.items() if k in ("kind", "max")}
    kinds = [validation.parse_pull(payload)[0]] if "kind" in payload else ["receipts", "replies"]
    limit = validation.parse_pull({"max": payload.get("max", 100)})[1]
    runs = [tracking.pull_into_store(kind, limit, deadline=request.deadline) for kind in kinds]  # type: ignore[arg-type]
    answer: dict[str, Any] = {"runs": [run.to_dict() for run in runs]}
    if "receipts" in kinds:
        answer["reconciled"] = reconcile.reconcile(deadline=request.deadline).to_dict()
    answer["purged"] = tracking.purge_expired()
    return answer


def handler(event: Any, context: Any) -> Any:
    return entry.run(event, context, http=routes, direct=scheduled_pull, schedule=scheduled_pull)


main_handler = handler
