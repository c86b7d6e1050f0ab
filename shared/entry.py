"""The one way into every function: event → `Invocation` → the function's code → the trigger's answer.

A handler module declares what it serves (an HTTP resolver, a direct-invoke function, a schedule
function, a queue function) and calls `run`. `run` parses the event, authenticates HTTP callers,
sets the log correlation id, passes the remaining time on as a deadline, turns every error into
the error shape, and flushes metrics. Nothing here knows a route or Tencent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from shared import events
from shared.config import HASHED_KEY_PREFIX, Secret
from shared.context import FunctionContext, wrap_context
from shared.errors import AuthenticationError, NotFoundError, SmsError
from shared.http import JSON, JsonAnswer, Routes, encode, error_answer
from shared.observability import logger, metrics
from shared.runtime import runtime
from shared.services import Services

PUBLIC_PATHS = ("/openapi.json", "/dashboard")  # the page holds no data: its calls need the key
SELF_AUTHENTICATED_PREFIXES = ("/sms/callback/",)  # callbacks carry their own token


class Request(NamedTuple):
    """What a function's code gets: the parsed invocation, its context, who called, the deadline,
    and the container's `Services` to hand to the use case."""

    invocation: events.Invocation
    context: FunctionContext
    caller: str
    deadline: float
    services: Services

    @property
    def payload(self) -> dict[str, Any]:
        return self.invocation.payload or {}

    @property
    def http(self) -> events.HttpRequest:
        """The HTTP request a route function serves (a resolver is only called for HTTP events)."""
        http = self.invocation.http
        assert http is not None, "not an HTTP invocation"
        return http

    def json_body(self) -> dict[str, Any]:
        """The HTTP body as a JSON object, up to `SMS_MAX_BODY_BYTES` (see `events.json_body`)."""
        return events.json_body(self.http, max_bytes=self.services.settings.max_body_bytes)


Handler = Callable[[Request], Any]
RecordHandler = Callable[[Request, events.QueueRecord], None]


def run(
    event: Any,
    context: Any,
    *,
    http: Routes | None = None,
    direct: Handler | None = None,
    schedule: Handler | None = None,
    queue: RecordHandler | None = None,
) -> Any:
    """Serve one invocation of a function. A queue batch is unpacked here: `queue` is called once per
    record, and the records it raised for are reported back for the queue to deliver again."""
    ctx = wrap_context(context)
    logger.set_correlation_id(ctx.aws_request_id or None)
    try:
        invocation = events.parse_event(event, ctx)
    except SmsError as error:
        logger.warning("event not accepted", extra={"error_code": error.code, "detail": error.message})
        parsed = getattr(error, "invocation", None)  # an HTTP event whose body could not be read
        return _error_answer(parsed, error) if parsed is not None else error.to_body()
    logger.set_correlation_id(invocation.request_id)
    logger.append_keys(trigger=invocation.trigger, function_name=ctx.function_name)
    try:
        if invocation.http is not None:
            return _serve_http(invocation, ctx, http)
        target = _target(invocation, direct, schedule, _batch(queue) if queue is not None else None)
        return target(Request(invocation, ctx, _caller(invocation), ctx.deadline(), runtime.services))
    except SmsError as error:
        logger.warning("invocation failed", extra={"error_code": error.code, "status": error.status})
        if invocation.trigger == "aws_sqs":
            raise  # an answer would tell the queue every record was handled: fail the batch instead
        return _error_answer(invocation, error)
    except Exception:
        logger.exception("unexpected failure")
        if invocation.trigger == "aws_sqs":
            raise
        return _error_answer(invocation, SmsError("an internal error occurred; it has been logged"))
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()


def _batch(handle: RecordHandler) -> Handler:
    """A queue batch: each record handled on its own; the answer lists the failed ones (SQS's
    partial batch response), so only those are delivered again."""

    def serve(request: Request) -> dict[str, Any]:
        failures = []
        for record in request.invocation.records:
            try:
                handle(request, record)
            except Exception as error:
                if isinstance(error, SmsError):
                    logger.warning(
                        "queue record failed", extra={"record": record.message_id, "error_code": error.code}
                    )
                else:
                    logger.exception("queue record failed", extra={"record": record.message_id})
                failures.append({"itemIdentifier": record.message_id})
        return {"batchItemFailures": failures}

    return serve


def _target(
    inv: events.Invocation, direct: Handler | None, schedule: Handler | None, queue: Handler | None
) -> Handler:
    if inv.trigger in ("aws_schedule", "scf_timer"):
        target = schedule
    elif inv.trigger == "aws_sqs":
        target = queue
    else:
        target = direct
    if target is None:
        raise NotFoundError(
            f"this function does not accept {inv.trigger} invocations", code="unsupported_trigger"
        )
    return target


def _serve_http(inv: events.Invocation, ctx: FunctionContext, routes: Routes | None) -> Any:
    http = inv.http
    assert http is not None
    caller = _caller(inv)
    try:
        if routes is None:
            raise NotFoundError("this function has no HTTP routes", code="no_route")
        services = runtime.services
        if http.path not in PUBLIC_PATHS and not http.path.startswith(SELF_AUTHENTICATED_PREFIXES):
            caller = authenticate(http, services.settings.api_keys)
    except SmsError as error:
        return _error_answer(inv, error)
    answer = routes.answer(http.method, http.path, Request(inv, ctx, caller, ctx.deadline(), services))
    return _shaped(inv, answer)


def authenticate(http: events.HttpRequest, keys: Sequence[Secret]) -> str:
    """Check the API key (`X-Api-Key` or `Authorization: Bearer`) in constant time; return the caller id."""
    presented = events.header(http, "x-api-key") or ""
    authorization = events.header(http, "authorization") or ""
    if not presented and authorization[:7].lower() == "bearer ":
        presented = authorization[7:].strip()
    if not keys:
        raise AuthenticationError(
            "this function has no API keys configured (SMS_API_KEYS); every request is refused",
            code="not_configured",
        )
    if not presented:
        raise AuthenticationError("an API key is required: send it as X-Api-Key or Authorization: Bearer")
    raw = presented.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    matched = False
    for key in keys:
        # a hashed entry matches only the hash of what was presented, a plain one only itself:
        # knowing a configured hash is not knowing a key
        stored = key.reveal()
        if stored.startswith(HASHED_KEY_PREFIX):
            matched |= hmac.compare_digest(digest.encode(), stored[len(HASHED_KEY_PREFIX) :].encode())
        else:
            matched |= hmac.compare_digest(raw, stored.encode("utf-8"))
    if not matched:
        raise AuthenticationError("the API key is not valid")
    return "key:" + digest[:16]


def _caller(inv: events.Invocation) -> str:
    if inv.wx is not None and inv.wx.open_id:
        return "wx:" + inv.wx.open_id
    if inv.http is not None:
        return "ip:" + (inv.http.source_ip or "unknown")
    return "direct"


def _error_answer(inv: events.Invocation, error: SmsError) -> Any:
    """The error shape: plain JSON for a direct invoke, the trigger's HTTP answer otherwise."""
    if inv.http is None:
        return error.to_body()
    return _shaped(inv, error_answer(error))  # the same answer a route's error gets


def _shaped(inv: events.Invocation, answer: JsonAnswer) -> dict[str, Any]:
    """A route's (or an error's) JSON answer in the response shape of the invocation's trigger."""
    headers = {"Content-Type": JSON, **answer.headers}
    return events.shape_http_response(inv, answer.status, encode(answer.body), headers)
