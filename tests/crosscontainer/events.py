"""The trigger events the cross-container tests send: API Gateway HTTP API (v2) requests and the
scheduled pull, built from the real samples in tests/data/events."""

from __future__ import annotations

from typing import Any

from tests import helpers
from tests.conftest import API_KEY, CALLBACK_TOKEN


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    key: str | None = API_KEY,
) -> dict[str, Any]:
    """An HTTP API (v2) event for `method path` as API Gateway hands it to the function, without the
    sample's Idempotency-Key and Content-Length (each container's request brings its own)."""
    event = helpers.http_event(method, path, body, query=query, key=key)
    event["requestContext"]["routeKey"] = event["routeKey"]
    for name in ("idempotency-key", "content-length"):
        event["headers"].pop(name, None)
    event["headers"].update(headers or {})
    return event


def send_event(phone: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
    body = {"phone": phone, "template_id": "7839", "params": ["482913"]}
    headers = {"idempotency-key": idempotency_key} if idempotency_key else None
    return http_event("POST", "/sms/send", body, headers=headers)


def receipt_callback_event(push: list[dict[str, Any]]) -> dict[str, Any]:
    """Tencent's delivery-report push to `POST /sms/callback/receipts?token=…`."""
    return http_event("POST", "/sms/callback/receipts", push, query={"token": CALLBACK_TOKEN}, key=None)


def scheduled_pull_event() -> dict[str, Any]:
    """What the EventBridge rule in serverless.yml hands pull_status: its `input`, as is."""
    from tests.deploy.helpers import aws_config

    events = aws_config()["functions"]["pull_status"]["events"]
    (schedule,) = (e["schedule"] for e in events if "schedule" in e)
    return dict(schedule["input"])
