"""pull_status: receipts and replies — the scheduled pull into the store (timer), on-demand pulls,
per-number pulls through to Tencent, per-message status from the store — and what they add up
to: delivery statistics, Tencent's own statistics, message history and the dashboard page."""

from __future__ import annotations

import time
from typing import Any

from shared import dashboard, entry, events, statistics, tracking, validation
from shared.errors import ValidationError
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


@routes.get("/sms/messages")
def message_history() -> JsonAnswer:
    request = entry.current()
    assert request.invocation.http is not None
    return json_response(
        200, statistics.message_history(request.invocation.http.query, caller=request.caller)
    )


@routes.get("/sms/stats")
def stats() -> JsonAnswer:
    request = entry.current()
    assert request.invocation.http is not None
    return json_response(200, statistics.store_stats(request.invocation.http.query))


@routes.get("/sms/stats/tencent")
def tencent_stats() -> JsonAnswer:
    request = entry.current()
    assert request.invocation.http is not None
    return json_response(
        200, statistics.tencent_stats(request.invocation.http.query, deadline=request.deadline)
    )


@routes.get("/dashboard")
def dashboard_page() -> JsonAnswer:
    return dashboard.answer()


DIRECT_ACTIONS = ("pull", "stats", "stats_tencent")


def direct(request: entry.Request) -> dict[str, Any]:
    """A direct invoke: `{"action": "stats", "from"?, "to"?, "group_by"?}`,
    `{"action": "stats_tencent", "from"?, "to"?}`, or else the pull (`{"kind"?, "max"?}`)."""
    payload = request.payload
    action = payload.get("action", "pull")
    if action not in DIRECT_ACTIONS:
        raise ValidationError(f"action must be one of {', '.join(DIRECT_ACTIONS)}", field="action")
    rest = {k: v for k, v in payload.items() if k != "action"}
    if action == "stats":
        return statistics.store_stats(rest)
    if action == "stats_tencent":
        return statistics.tencent_stats(rest, deadline=request.deadline)
    return scheduled_pull(request)


def scheduled_pull(request: entry.Request) -> dict[str, Any]:
    """Drain the receipt and reply queues (or the one `kind` the schedule names) into the store."""
    payload = {k: v for k, v in request.payload.items() if k in ("kind", "max")}
    kinds = [validation.parse_pull(payload)[0]] if "kind" in payload else ["receipts", "replies"]
    limit = validation.parse_pull({"max": payload.get("max", 100)})[1]
    runs = [tracking.pull_into_store(kind, limit, deadline=request.deadline) for kind in kinds]  # type: ignore[arg-type]
    return {"runs": [run.to_dict() for run in runs], "purged": tracking.purge_expired()}


def handler(event: Any, context: Any) -> Any:
    return entry.run(event, context, http=routes, direct=direct, schedule=scheduled_pull)


main_handler = handler
