"""The HTTP API's route table, written once: method, path, the function that serves it, and what
the OpenAPI document says of it.

Everything else is derived from it: each handler binds its routes by key (`routes.bind("POST
/sms/send")` refuses a route not declared here, or declared for another function), the local
gateway finds a path's function here, `GET /openapi.json` lists these paths, and the deploy tests
check serverless.yml and the Tencent descriptors against it. It is plain data (no imports beyond the
standard library) so every function's zip carries it and a cold start pays almost nothing for it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# The errors most authenticated routes can answer (OpenAPI `responses`).
SEND_ERRORS = (400, 401, 429, 502, 503, 504)

_PARAM = re.compile(r"^\{(\w+)\}$")


class Declared(NamedTuple):
    """One route: `method path` (parameters as `{name}`, one whole segment), served by `function`."""

    method: str
    path: str
    function: str
    summary: str
    answer: str | None = None  # the OpenAPI schema of a 200 JSON body
    request: str | None = None  # the OpenAPI schema of the JSON request body
    errors: tuple[int, ...] = SEND_ERRORS
    public: bool = False  # no API key (the callback checks its own token)
    page: bool = False  # answers HTML, not JSON

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> tuple[str, ...]:
        """The names of the path's parameters, in order."""
        return tuple(m.group(1) for part in self.path.split("/") if (m := _PARAM.match(part)))


TABLE: tuple[Declared, ...] = (
    Declared(
        "POST", "/sms/send", "send_single", "Send one templated (or plain-content) SMS", "SendResult",
        "SendRequest",
    ),
    Declared("GET", "/openapi.json", "send_single", "This document", errors=(), public=True),
    Declared(
        "POST", "/sms/send-multi", "send_multi",
        "Send one message to many numbers (chunked to ≤200 per call)", "SendMultiResult", "SendMultiRequest",
    ),
    Declared(
        "POST", "/sms/preview", "send_multi", "What a send would show, bill and meet, sending nothing",
        "PreviewResult", "PreviewRequest", (400, 401, 503),
    ),
    Declared(
        "POST", "/sms/pull", "pull_status", "Pull delivery receipts or replies into the store", "PullResult",
        "PullRequest",
    ),
    Declared(
        "GET", "/sms/status/{phone}", "pull_status",
        "One number's receipts or replies, read through to Tencent (limited per caller; an answer is "
        "reused for SMS_STATUS_CACHE_TTL seconds, default 10)",
        "PullResult",
    ),
    Declared(
        "GET", "/sms/messages/{message_id}", "pull_status", "A stored message with its latest receipt",
        "Message", errors=(401, 404, 503),
    ),
    Declared(
        "POST", "/sms/templates/sync", "pull_status",
        "Read the template catalogue from Tencent into the store (API 3.0 only)", "TemplateSyncResult",
        errors=(401, 501, 502, 503, 504),
    ),
    Declared(
        "GET", "/sms/templates", "pull_status", "Tencent's template catalogue as last synced", "TemplateList",
        errors=(401, 503),
    ),
    Declared(
        "GET", "/sms/suppressions", "pull_status",
        "Numbers that opted out (replied R, TD, 退订, STOP…), in phone order", "SuppressionList",
        errors=(400, 401, 503),
    ),
    Declared(
        "GET", "/sms/suppressions/{phone}", "pull_status", "A number's latest opt-out or opt-in",
        "Suppression", errors=(400, 401, 404, 503),
    ),
    Declared(
        "PUT", "/sms/suppressions/{phone}", "pull_status",
        "Put a number on the suppression list (marketing sends skip it)", "Suppression",
        errors=(400, 401, 503),
    ),
    Declared(
        "DELETE", "/sms/suppressions/{phone}", "pull_status", "Take a number off the suppression list",
        "Suppression", errors=(400, 401, 503),
    ),
    Declared(
        "GET", "/sms/messages", "pull_status",
        "One number's messages (or one message) with every receipt and the number's replies; numbers "
        "masked unless reveal=1",
        "MessageHistory", errors=(400, 401, 404, 503),
    ),
    Declared(
        "GET", "/sms/stats", "pull_status",
        "Delivery statistics from the store (default: the last 24 h by hour)", "Stats",
        errors=(400, 401, 503),
    ),
    Declared(
        "GET", "/sms/stats/tencent", "pull_status",
        "Tencent's own send and receipt statistics for the same hours (at most 32 days)", "TencentStats",
        errors=(400, 401, 502, 503, 504),
    ),
    Declared(
        "GET", "/dashboard", "pull_status",
        "The dashboard page (HTML; it asks for the key and calls the routes above)", errors=(), public=True,
        page=True,
    ),
    Declared(
        "POST", "/sms/callback/{kind}", "status_callback",
        "Tencent's push: delivery reports (kind=receipts) or replies (kind=replies)", "CallbackAnswer",
        errors=(400, 401, 404, 413, 503), public=True,
    ),
    Declared(
        "POST", "/otp/send", "otp", "Send a one-time code", "OtpSendResult", "OtpSendRequest",
        (400, 401, 403, 429, 500, 502, 503, 504),
    ),
    Declared(
        "POST", "/otp/verify", "otp", "Check a one-time code", "OtpVerifyResult", "OtpVerifyRequest",
        (400, 401, 403, 404, 409, 410, 423, 429, 503),
    ),
)  # fmt: skip

BY_KEY: dict[str, Declared] = {route.key: route for route in TABLE}

# Every function also answers `GET /openapi.json` (shared.http.Routes adds it); the table names the
# one the gateways send it to.
OPENAPI_KEY = "GET /openapi.json"


def declared(key: str, function: str) -> Declared:
    """The declaration of `key` (e.g. "POST /sms/send"), which `function` must be the one to serve.

    A handler binding a route nobody declared, or another function's, fails at import: the table
    stays the whole API.
    """
    route = BY_KEY.get(" ".join(key.split()))
    if route is None:
        raise LookupError(f"{key!r} is not declared in shared.routes.TABLE")
    if route.function != function:
        raise LookupError(f"{key!r} is declared for {route.function}, not {function}")
    return route


def functions() -> tuple[str, ...]:
    """The functions that serve HTTP routes, in table order."""
    return tuple(dict.fromkeys(route.function for route in TABLE))


def function_for(path: str) -> str | None:
    """Which function serves `path` (as it came over the wire), whatever the method: the function
    then answers a wrong method itself. A parameter matches one non-empty segment."""
    trimmed = path.split("?", 1)[0].rstrip("/")
    segments = trimmed.split("/")[1:] if trimmed.startswith("/") else trimmed.split("/")
    for route in TABLE:
        parts = route.path.strip("/").split("/")
        if len(parts) == len(segments) and all(
            (bool(segment) if _PARAM.match(part) else segment == part)
            for part, segment in zip(parts, segments, strict=True)
        ):
            return route.function
    return None
