"""Cold start: a fresh interpreter imports a handler and serves its first request without loading
what that request does not need.

Each case runs in its own process (a warm test process has imported everything already): it
imports the function, serves one real event against the emulator and a fresh SQLite store, and
reports which of the heavy modules got loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_python

# Never needed by these requests: httpx's Client layer, powertools' resolvers (AppSync's imports
# asyncio), the PostgreSQL driver, the OpenAPI document, full phone metadata for a mainland number.
NEVER = [
    "httpx",
    "aws_lambda_powertools.event_handler",
    "asyncio",
    "psycopg",
    "shared.openapi",
    "phonenumbers",
    "shared.numbers_fast",  # the compiled checks of other countries' numbers
]

CHILD = """
import json, sys
before = set(sys.modules)
from functions.{function} import handler
imported = sorted(set(sys.modules) - before)
answer = handler.handler(json.loads(sys.argv[1]), None)
print(json.dumps({{"imported": imported, "after": sorted(sys.modules), "answer": answer}}, default=str))
"""


def http_event(
    method: str, path: str, body: Any = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """An AWS HTTP API (2.0) event, the usual HTTP trigger."""
    query = query or {}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "queryStringParameters": query or None,
        "headers": {"content-type": "application/json", "x-api-key": "lazy-key"},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
            "requestId": "lazy-imports",
            "stage": "$default",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


REPORT = [{"user_receive_time": "2026-11-27 10:00:00", "nationcode": "86", "mobile": "13800000001",
           "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "user received",
           "sid": "2019:0000000000000000001"}]  # fmt: skip

# What each function imports for some of its routes or actions only: a request that is not one of
# them does not load it.
ROUTE_ONLY = {
    "send_multi": ["shared.preview", "shared.segments"],  # the preview
    "pull_status": [
        "shared.dashboard",  # the dashboard page
        "shared.limits",  # the per-number status pull
        "shared.statistics",  # statistics and message history (the store loads shared.store.stats)
    ],
}
# the pull from a timer or a direct invoke reconciles and refreshes the catalogue; the routes that
# read the store do neither
PULL_ONLY = ["shared.catalogue", "shared.reconcile"]

CASES = [
    ("send_single", {"phone": "+8613800000001", "params": ["1"]}, lambda a: a["status"] == "submitted", []),
    ("send_single", http_event("POST", "/sms/send", {"phone": "+8613800000002", "params": ["1"]}),
     lambda a: a["statusCode"] == 200, []),
    ("send_multi", http_event("POST", "/sms/send-multi", {"phones": ["+8613800000003"], "params": ["1"]}),
     lambda a: a["statusCode"] == 200, ROUTE_ONLY["send_multi"]),
    ("pull_status", {"kind": "receipts"}, lambda a: "runs" in a, ROUTE_ONLY["pull_status"]),
    ("pull_status", http_event("GET", "/sms/suppressions"), lambda a: a["statusCode"] == 200,
     ROUTE_ONLY["pull_status"] + PULL_ONLY),
    ("pull_status", http_event("GET", "/sms/messages/unknown-id"), lambda a: a["statusCode"] == 404,
     ROUTE_ONLY["pull_status"] + PULL_ONLY),
    ("status_callback", http_event("POST", "/sms/callback/receipts", REPORT, {"token": "lazy-token"}),
     lambda a: a["statusCode"] == 200, []),
    ("otp", http_event("POST", "/otp/send", {"phone": "+8613800000004"}),
     lambda a: a["statusCode"] == 200, []),
]  # fmt: skip


@pytest.mark.usefixtures("sms_emulator")
@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{c[0]}-{c[1].get('rawPath', 'direct')}" for c in CASES],
)
def test_first_request_loads_nothing_it_does_not_use(
    case: tuple[str, dict[str, Any], Any, list[str]],
    function_env: dict[str, str],
    tmp_path: Path,
) -> None:
    function, event, served, route_only = case
    env = {
        **os.environ,
        **function_env,
        "SMS_API_KEYS": "lazy-key",
        "SMS_CALLBACK_TOKEN": "lazy-token",
        "SMS_OTP_SECRET": "lazy-otp-secret-0123456789abcdef",
        "SMS_STORE_URL": f"sqlite:///{tmp_path / 'cold.db'}",
    }
    out = run_python("-c", CHILD.format(function=function), json.dumps(event), env=env, timeout=60)
    report = json.loads(out.strip().splitlines()[-1])
    assert served(report["answer"]), report["answer"]
    loaded = [name for name in NEVER if name in report["after"]]
    assert loaded == [], f"{function} loaded {loaded} for its first request"
    # importing the handler opens nothing: the HTTP stack and the store driver come with the request
    assert not {"httpcore", "sqlite3", "h11"} & set(report["imported"])
    # nor what only other routes or actions of the function use
    loaded = [name for name in route_only if name in report["after"]]
    assert loaded == [], f"{function} loaded {loaded}, which only other requests use"
