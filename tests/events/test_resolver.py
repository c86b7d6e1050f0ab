"""A powertools APIGatewayRestResolver (for code that prefers it to `shared.http.Routes`) routes every
HTTP trigger through to_rest_event."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.context import wrap_context
from shared.events import HTTP_TRIGGERS, from_resolver_response, parse_event, to_rest_event

from .conftest import load
from .test_parse import HTTP_CASES, SEND

app = APIGatewayRestResolver()


def _request_facts() -> dict[str, Any]:
    event = app.current_event
    return {
        "request_id": event.request_context.request_id,
        "source_ip": event.request_context.identity.source_ip,
        "idempotency_key": event.headers.get("idempotency-key"),
        "api_key": event.headers.get("X-Api-Key"),
        "cookie": event.headers.get("cookie"),
    }


@app.post("/sms/send")
def send() -> dict[str, Any]:
    event = app.current_event
    return {
        "route": "send",
        "body": event.json_body,
        "dry_run": event.get_query_string_value("dryRun"),
        **_request_facts(),
    }


@app.get("/sms/status/<phone>")
def status(phone: str) -> dict[str, Any]:
    event = app.current_event
    return {
        "route": "status",
        "phone": phone,
        "kind": event.get_query_string_value("kind"),
        "max": event.get_query_string_value("max"),
        **_request_facts(),
    }


@app.get("/sms/messages/<message_id>")
def message(message_id: str) -> Response[str]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps({"route": "message", "message_id": message_id}),
        headers={"X-Trace": ["one", "two"]},
        cookies=[],
    )


def _route(name: str, context: Any = None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    inv = parse_event(load(name), context)
    ctx = wrap_context(context)
    result = app.resolve(to_rest_event(inv), cast(LambdaContext, ctx))
    shaped = from_resolver_response(inv, result)
    return inv.trigger, shaped, json.loads(shaped["body"])


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_every_http_sample_routes(case: tuple[Any, ...], scf_context: dict[str, Any]) -> None:
    name, trigger, request_id, _method, path, query, ip, body = case
    inv_trigger, shaped, answer = _route(name, None if trigger.startswith("aws") else scf_context)
    assert inv_trigger == trigger and trigger in HTTP_TRIGGERS
    assert shaped["statusCode"] == 200
    assert "application/json" in shaped["headers"]["Content-Type"]
    if path == "/sms/send":
        assert answer["route"] == "send" and answer["body"] == body
        assert answer["dry_run"] == query.get("dryRun")
        assert answer["request_id"] == request_id
        assert answer["source_ip"] == (ip or None)
        if "no-headers" not in name and "cloudbase" not in name:
            assert answer["idempotency_key"] == "7f9d2c1e-6b4a-4f3e-9a51-2d8c0e4b7a13"
            assert answer["api_key"] == "local-dev-key-3f9a1c"
    elif path.startswith("/sms/status/"):
        assert answer["route"] == "status"
        assert answer["phone"] == path.rsplit("/", 1)[1]
        assert (answer["kind"], answer["max"]) == (query["kind"], query["max"])
        assert answer["request_id"] == request_id
    else:
        assert answer == {"route": "message", "message_id": "msg-20261127-0001"}
        assert shaped["headers"]["X-Trace"] == "one, two"


def test_v2_cookies_reach_the_resolver() -> None:
    _, _, answer = _route("aws-http-api-cookies-stage.json")
    assert answer["cookie"] == "session=s3cr3t; lang=zh_CN"


@pytest.mark.parametrize("name", ["aws-apigw-rest.json", "aws-http-api.json", "scf-function-url.json"])
def test_unknown_route_is_a_shaped_404(name: str) -> None:
    event = load(name)
    event["path"] = event["rawPath"] = "/nope"
    if "requestContext" in event and "http" in event["requestContext"]:
        event["requestContext"]["http"]["path"] = "/nope"
    inv = parse_event(event)
    shaped = from_resolver_response(
        inv, app.resolve(to_rest_event(inv), cast(LambdaContext, wrap_context(None)))
    )
    assert shaped["statusCode"] == 404


def test_rest_event_shape() -> None:
    inv = parse_event(load("scf-function-url-nobody.json"), load("scf-context.json"))
    rest = to_rest_event(inv)
    assert rest["httpMethod"] == "GET" and rest["path"] == rest["resource"] == "/sms/status/+8613800000002"
    assert rest["queryStringParameters"] == {"kind": "replies", "max": "5"}
    assert rest["multiValueQueryStringParameters"] == {"kind": ["replies"], "max": ["5"]}
    assert rest["requestContext"]["requestId"] == inv.request_id
    assert rest["requestContext"]["identity"]["sourceIp"] == "198.51.100.9"
    assert rest["pathParameters"] is None and rest["body"] is None and rest["isBase64Encoded"] is False
    assert rest["multiValueHeaders"]["accept"] == ["application/json"]
    json.dumps(rest)  # plain JSON


def test_rest_event_needs_an_http_invocation() -> None:
    with pytest.raises(ValueError, match="no HTTP request"):
        to_rest_event(parse_event(load("scf-timer.json")))


def test_send_body_unchanged_through_base64() -> None:
    _, _, answer = _route("aws-function-url-base64.json")
    assert answer["body"] == SEND
