"""pull_status: receipts and replies — the scheduled pull into the store (timer), on-demand pulls,
per-number pulls through to Tencent, per-message status from the store, the suppression list
(opt-outs) to read and correct, Tencent's template catalogue — refreshed on the schedule, synced on
demand, listed — and what it all adds up to: delivery statistics, Tencent's own statistics, message
history and the dashboard page."""

from __future__ import annotations

from typing import Any

# only what every invocation uses is imported here: each route or action imports the module it
# alone needs (catalogue, dashboard, limits, reconcile, statistics) when it first runs, so a cold
# start pays for the one it serves (tests/perf/test_lazy_imports.py)
from shared import entry, suppressions, tracking, validation
from shared.entry import Request
from shared.errors import ValidationError
from shared.http import JsonAnswer, Routes, json_response

routes = Routes("pull_status")


@routes.bind("POST /sms/pull")
def pull(request: Request) -> JsonAnswer:
    kind, limit = validation.parse_pull(request.json_body())
    summary = tracking.pull_into_store(
        request.services, kind, limit, deadline=request.deadline, max_batches=1, keep_items=True
    )
    answer = {"items": summary.items, **summary.to_dict()}
    return json_response(502 if summary.error and not summary.pulled else 200, answer)


@routes.bind("GET /sms/status/{phone}")
def status_for_phone(request: Request, phone: str) -> JsonAnswer:
    """Limited per caller (`SMS_STATUS_LIMIT_PER_CALLER`); a recent answer for the same number and
    window is reused (`SMS_STATUS_CACHE_TTL`)."""
    from shared import limits

    services = request.services
    raw = request.http.query
    query = validation.parse_status_query(phone, raw, services.now())
    limits.reserve(
        services,
        limits.caller_checks(
            services.settings.status_limit_per_caller, caller=request.caller, scope="status"
        ),
    )
    # the default window ends "now": the same request a few seconds later means the same window
    window = ":".join(str(v) if k in raw else "-" for k, v in (("begin", query.begin), ("end", query.end)))
    cache_key = f"status:{query.kind}:{query.phone}:{window}:{query.limit}"
    return json_response(
        200, tracking.status_for_phone(services, query, deadline=request.deadline, cache_key=cache_key)
    )


@routes.bind("GET /sms/messages/{message_id}")
def message(request: Request, message_id: str) -> JsonAnswer:
    return json_response(200, tracking.message_status(request.services, message_id))


@routes.bind("POST /sms/templates/sync")
def sync_templates(request: Request) -> JsonAnswer:
    from shared import catalogue

    if (request.http.body or "").strip():  # an empty body or `{}`
        validation.only_fields(request.json_body(), set())
    return json_response(200, catalogue.sync(request.services, deadline=request.deadline))


@routes.bind("GET /sms/templates")
def list_templates(request: Request) -> JsonAnswer:
    from shared import catalogue

    return json_response(200, catalogue.listing(request.services))


@routes.bind("GET /sms/suppressions")
def suppression_list(request: Request) -> JsonAnswer:
    return json_response(200, suppressions.list_page(request.services, request.http.query))


@routes.bind("GET /sms/suppressions/{phone}")
def suppression(request: Request, phone: str) -> JsonAnswer:
    return json_response(200, suppressions.get_one(request.services, phone))


@routes.bind("PUT /sms/suppressions/{phone}")
def suppress(request: Request, phone: str) -> JsonAnswer:
    change = suppressions.operator_change(request.services, phone, suppressed=True, caller=request.caller)
    return json_response(200, change)


@routes.bind("DELETE /sms/suppressions/{phone}")
def unsuppress(request: Request, phone: str) -> JsonAnswer:
    change = suppressions.operator_change(request.services, phone, suppressed=False, caller=request.caller)
    return json_response(200, change)


@routes.bind("GET /sms/messages")
def message_history(request: Request) -> JsonAnswer:
    from shared import statistics

    return json_response(
        200, statistics.message_history(request.services, request.http.query, caller=request.caller)
    )


@routes.bind("GET /sms/stats")
def stats(request: Request) -> JsonAnswer:
    from shared import statistics

    return json_response(200, statistics.store_stats(request.services, request.http.query))


@routes.bind("GET /sms/stats/tencent")
def tencent_stats(request: Request) -> JsonAnswer:
    from shared import statistics

    return json_response(
        200, statistics.tencent_stats(request.services, request.http.query, deadline=request.deadline)
    )


@routes.bind("GET /dashboard")
def dashboard_page(_request: Request) -> JsonAnswer:
    from shared import dashboard

    return dashboard.answer()


DIRECT_ACTIONS = ("pull", "stats", "stats_tencent")


def direct(request: Request) -> dict[str, Any]:
    """A direct invoke: `{"action": "stats", "from"?, "to"?, "group_by"?}`,
    `{"action": "stats_tencent", "from"?, "to"?}`, or else the pull (`{"kind"?, "max"?}`)."""
    payload = request.payload
    action = payload.get("action", "pull")
    if action not in DIRECT_ACTIONS:
        raise ValidationError(f"action must be one of {', '.join(DIRECT_ACTIONS)}", field="action")
    if action == "pull":
        return scheduled_pull(request)
    from shared import statistics

    rest = {k: v for k, v in payload.items() if k != "action"}
    if action == "stats":
        return statistics.store_stats(request.services, rest)
    return statistics.tencent_stats(request.services, rest, deadline=request.deadline)


def scheduled_pull(request: Request) -> dict[str, Any]:
    """Drain the receipt and reply queues (or the one `kind` the schedule names) into the store,
    then reconcile messages whose receipts are overdue (see `shared.reconcile`), and re-read the
    template catalogue when `SMS_TEMPLATE_SYNC_INTERVAL` says it is due."""
    from shared import catalogue

    payload = {k: v for k, v in request.payload.items() if k in ("kind", "max")}
    kinds = [validation.parse_pull(payload)[0]] if "kind" in payload else ["receipts", "replies"]
    limit = validation.parse_pull({"max": payload.get("max", 100)})[1]
    services = request.services
    runs = [tracking.pull_into_store(services, kind, limit, deadline=request.deadline) for kind in kinds]  # type: ignore[arg-type]
    answer: dict[str, Any] = {"runs": [run.to_dict() for run in runs]}
    if "receipts" in kinds:
        from shared import reconcile

        answer["reconciled"] = reconcile.reconcile(services, deadline=request.deadline).to_dict()
    answer["purged"] = tracking.purge_expired(services)
    answer["templates"] = catalogue.refresh_if_due(services, deadline=request.deadline)
    return answer


def handler(event: Any, context: Any) -> Any:
    return entry.run(event, context, http=routes, direct=direct, schedule=scheduled_pull)


main_handler = handler
