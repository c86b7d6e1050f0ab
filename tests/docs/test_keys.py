"""README, docs/security.md and docs/api.md say which routes take no API key: `GET /openapi.json`,
`GET /dashboard` and Tencent's callbacks (which check their own token). Every other declared
route, called through its function without a key, is refused before it does anything."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from shared.routes import TABLE, Declared
from tests.conftest import CALLBACK_TOKEN, load_event
from tests.helpers import AwsContext, answer_body, handler, set_body, set_header

PUBLIC = {"GET /openapi.json", "GET /dashboard", "POST /sms/callback/{kind}"}
EXAMPLE = {"phone": "+8613800000000", "message_id": "2019:1", "kind": "receipts"}


def call_without_key(route: Declared, query: str = "") -> dict[str, Any]:
    """The route's function answering an AWS HTTP API event that carries no key."""
    event = copy.deepcopy(load_event("aws-http-api.json"))
    path = re.sub(r"\{(\w+)\}", lambda m: EXAMPLE[m.group(1)], route.path)
    event["routeKey"] = f"{route.method} {path}"
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&")) if query else None
    event["requestContext"]["http"]["method"] = route.method
    event["requestContext"]["http"]["path"] = path
    set_header(event, "x-api-key", None)
    set_header(event, "idempotency-key", None)
    set_body(event, {} if route.method in ("POST", "PUT") else "")
    answer: dict[str, Any] = handler(route.function).handler(event, AwsContext())
    return answer


def test_the_documented_public_routes_are_the_declared_ones() -> None:
    assert {route.key for route in TABLE if route.public} == PUBLIC


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("route", [r for r in TABLE if not r.public], ids=lambda r: r.key)
def test_every_other_route_needs_a_key(route: Declared) -> None:
    answer = call_without_key(route)
    assert answer["statusCode"] == 401
    assert answer_body(answer)["error"]["code"] == "unauthorized"


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("route", [r for r in TABLE if r.public], ids=lambda r: r.key)
def test_the_public_routes_answer_without_a_key(route: Declared) -> None:
    query = f"token={CALLBACK_TOKEN}" if "{kind}" in route.path else ""
    assert call_without_key(route, query)["statusCode"] != 401
