"""parse_event on every sample and variant: trigger, ids, request fields, identity, payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import events
from shared.config import load_settings
from shared.context import wrap_context
from shared.entry import Request
from shared.errors import ValidationError
from shared.events import Invocation, parse_event
from shared.services import Services

from .conftest import load

SEND = {
    "phone": "+8613800000000",
    "template_id": "7839",
    "params": ["482913"],
    "sign": "腾讯云",
    "ext": "order-20261127-0001",
}
REST_ID = "5d1a2f3e-8b7c-4d6e-9f0a-1b2c3d4e5f60"
URL_ID = "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f"
SCF_CTX_ID = "aa7b70e6-ab76-40d7-a2cb-76bb9f5a30a3"
DRY = {"dryRun": "false"}
IP = "203.0.113.24"

# file, trigger, request id, method, path, query, source ip, body (dict, or "" for none)
HTTP_CASES: list[tuple[str, str, str, str, str, dict[str, str], str, Any]] = [
    ("aws-apigw-rest.json", "aws_rest", REST_ID, "POST", "/sms/send", DRY, IP, SEND),
    ("aws-apigw-rest-base64.json", "aws_rest", REST_ID, "POST", "/sms/send", DRY, IP, SEND),
    ("aws-apigw-rest-no-headers.json", "aws_rest", REST_ID, "POST", "/sms/send", {}, "", SEND),
    (
        "aws-apigw-rest-status.json",
        "aws_rest",
        "6e2b3a4f-9c8d-4e7f-a0b1-2c3d4e5f6a71",
        "GET",
        "/sms/status/+8613800000001",
        {"kind": "receipts", "max": "10"},
        IP,
        "",
    ),
    ("aws-http-api.json", "aws_http_api", "Cq3TbHXvSQ0EJvA=", "POST", "/sms/send", DRY, IP, SEND),
    (
        "aws-http-api-cookies-stage.json",
        "aws_http_api",
        "Dq4UcIYwTR1FKwB=",
        "GET",
        "/sms/status/+8613800000002",
        {"kind": "replies", "max": "5"},
        IP,
        "",
    ),
    ("aws-function-url.json", "aws_function_url", URL_ID, "POST", "/sms/send", DRY, IP, SEND),
    ("aws-function-url-base64.json", "aws_function_url", URL_ID, "POST", "/sms/send", DRY, IP, SEND),
    (
        "aws-function-url-get.json",
        "aws_function_url",
        URL_ID,
        "GET",
        "/sms/messages/msg-20261127-0001",
        {},
        IP,
        "",
    ),
    (
        "scf-apigw.json",
        "scf_apigw",
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "POST",
        "/sms/send",
        DRY,
        IP,
        SEND,
    ),
    (
        "scf-apigw-header-requestid.json",
        "scf_apigw",
        "b8f3c2a1d4e5f60718293a4b5c6d7e8f",
        "POST",
        "/sms/send",
        {"dryRun": "false", "tag": "b"},
        "192.0.2.44",
        SEND,
    ),
    ("scf-function-url.json", "scf_function_url", SCF_CTX_ID, "POST", "/sms/send", DRY, IP, SEND),
    (
        "scf-function-url-nobody.json",
        "scf_function_url",
        SCF_CTX_ID,
        "GET",
        "/sms/status/+8613800000002",
        {"kind": "replies", "max": "5"},
        "198.51.100.9",
        "",
    ),
    (
        "scf-function-url-upper-headers.json",
        "scf_function_url",
        SCF_CTX_ID,
        "POST",
        "/sms/send",
        {"dryRun": "true"},
        "198.51.100.9",
        SEND,
    ),
    (
        "cloudbase-http-access.json",
        "cloudbase_http",
        "cdbb96328072184d19d3fcd243e8cc4d",
        "POST",
        "/sms/send",
        DRY,
        IP,
        SEND,
    ),
    (
        "cloudbase-http-access-base64.json",
        "cloudbase_http",
        "cdbb96328072184d19d3fcd243e8cc4d",
        "POST",
        "/sms/send",
        DRY,
        IP,
        SEND,
    ),
]


def _context_for(trigger: str, scf_context: dict[str, Any], aws_context: Any) -> Any:
    return aws_context if trigger.startswith("aws") else scf_context


@pytest.mark.parametrize(
    ("name", "trigger", "request_id", "method", "path", "query", "ip", "body"), HTTP_CASES
)
def test_http_samples(
    name: str,
    trigger: str,
    request_id: str,
    method: str,
    path: str,
    query: dict[str, str],
    ip: str,
    body: Any,
    scf_context: dict[str, Any],
    aws_context: Any,
) -> None:
    inv = parse_event(load(name), _context_for(trigger, scf_context, aws_context))
    assert inv.trigger == trigger
    assert inv.trigger in events.HTTP_TRIGGERS
    assert inv.platform == ("aws" if trigger.startswith("aws") else "tencent")
    assert inv.request_id == request_id
    assert inv.http is not None
    assert inv.is_http
    assert (inv.http.method, inv.http.path, inv.http.query, inv.http.source_ip) == (method, path, query, ip)
    assert (json.loads(inv.http.body) if inv.http.body else "") == body
    assert all(k == k.lower() for k in inv.http.headers)
    assert all(isinstance(v, str) for v in inv.http.headers.values())
    assert inv.payload is None
    assert inv.records == ()
    assert inv.wx is None
    assert inv.raw_event == load(name)


@pytest.mark.parametrize("name", [c[0] for c in HTTP_CASES if c[7] == SEND and "no-headers" not in c[0]])
def test_http_headers_lower_cased_and_reachable(name: str) -> None:
    http = parse_event(load(name)).http
    assert http is not None
    assert http.headers["content-type"] == "application/json"
    assert events.header(http, "Content-Type") == "application/json"
    assert events.header(http, "CONTENT-TYPE") == "application/json"
    if "cloudbase" not in name:
        assert events.header(http, "Idempotency-Key") == "7f9d2c1e-6b4a-4f3e-9a51-2d8c0e4b7a13"
        assert events.header(http, "x-api-key") == "local-dev-key-3f9a1c"
    assert events.header(http, "x-not-there") is None


def test_rest_without_headers_has_empty_maps() -> None:
    http = parse_event(load("aws-apigw-rest-no-headers.json")).http
    assert http is not None
    assert http.headers == {}
    assert http.query == {}
    assert http.source_ip == ""


def test_path_params_kept() -> None:
    rest = parse_event(load("aws-apigw-rest-status.json")).http
    v2 = parse_event(load("aws-http-api-cookies-stage.json")).http
    assert rest is not None
    assert v2 is not None
    assert rest.path_params == {"phone": "+8613800000001"}
    assert v2.path_params == {"phone": "+8613800000002"}


def test_v2_cookies_become_a_cookie_header_and_stage_is_stripped() -> None:
    http = parse_event(load("aws-http-api-cookies-stage.json")).http
    assert http is not None
    assert http.headers["cookie"] == "session=s3cr3t; lang=zh_CN"
    assert http.path == "/sms/status/+8613800000002"  # rawPath was /prod/sms/status/…


def test_extra_top_level_fields_are_ignored() -> None:
    inv = parse_event(load("aws-function-url-base64.json"))
    assert inv.trigger == "aws_function_url"
    inv = parse_event(load("scf-function-url-upper-headers.json"))
    assert inv.trigger == "scf_function_url"


def test_scf_apigw_real_query_wins_over_declared_parameters() -> None:
    event = load("scf-apigw.json")
    event["queryStringParameters"] = {"dryRun": "declared-only"}
    http = parse_event(event).http
    assert http is not None
    assert http.query == {"dryRun": "false"}


def test_generic_v1_event_follows_the_platform(scf_context: dict[str, Any]) -> None:
    event = {
        "httpMethod": "get",
        "path": "sms/status/x",
        "requestContext": {"requestId": "r-1"},
        "headers": {},
    }
    assert parse_event(event).trigger == "aws_rest"
    inv = parse_event(event, scf_context)
    assert inv.trigger == "scf_function_url"
    assert inv.request_id == "r-1"
    assert inv.http is not None
    assert (inv.http.method, inv.http.path) == ("GET", "/sms/status/x")


def test_header_values_given_as_lists_are_joined() -> None:
    event = load("scf-function-url.json")
    event["headers"]["x-forwarded-for"] = ["198.51.100.1", "10.0.0.2"]
    event["headers"]["X-Number"] = 5
    http = parse_event(event).http
    assert http is not None
    assert http.headers["x-forwarded-for"] == "198.51.100.1, 10.0.0.2"
    assert http.source_ip == "198.51.100.1"
    assert http.headers["x-number"] == "5"
    assert events.header({"X-Multi": ["a", "b"]}, "x-multi") == "a, b"


def test_body_given_as_an_object_is_serialised() -> None:
    event = load("cloudbase-http-access.json")
    event["body"] = dict(SEND)
    http = parse_event(event).http
    assert http is not None
    assert json.loads(http.body) == SEND


def test_non_utf8_base64_body_is_invalid_body() -> None:
    with pytest.raises(ValidationError) as err:
        parse_event(load("aws-apigw-rest-bad-utf8.json"))
    assert err.value.code == "invalid_body"
    assert err.value.status == 400


def test_invalid_body_error_carries_the_invocation_for_an_http_answer() -> None:
    with pytest.raises(events.InvalidBodyError) as err:
        parse_event(load("aws-apigw-rest-bad-utf8.json"))
    inv = err.value.invocation
    assert inv is not None
    assert inv.trigger == "aws_rest"
    assert inv.request_id == REST_ID
    assert inv.http is not None
    assert inv.http.body == ""
    assert inv.http.path == "/sms/send"
    shaped = events.shape_http_response(inv, err.value.status, "{}", {})
    assert shaped["statusCode"] == 400
    assert "multiValueHeaders" in shaped


def test_broken_base64_body_is_invalid_body() -> None:
    event = load("aws-apigw-rest.json")
    event["isBase64Encoded"] = True  # but the body is plain JSON text
    with pytest.raises(ValidationError) as err:
        parse_event(event)
    assert err.value.code == "invalid_body"


def test_sqs_batch(aws_context: Any) -> None:
    inv = parse_event(load("aws-sqs.json"), aws_context)
    assert (inv.trigger, inv.platform, inv.request_id) == ("aws_sqs", "aws", aws_context.aws_request_id)
    assert [r.message_id for r in inv.records] == [
        "2e1424d4-f796-459a-8184-9c92662be6da",
        "9c4f1b7e-3a2d-4e5f-8b6c-7d8e9f0a1b2c",
    ]
    assert [r.receive_count for r in inv.records] == [1, 2]
    assert json.loads(inv.records[0].body)["chunk"] == 1
    assert inv.http is None
    assert inv.payload is None


@pytest.mark.parametrize(
    ("name", "trigger", "payload"),
    [
        ("aws-eventbridge-schedule.json", "aws_schedule", {}),
        ("aws-eventbridge-detail.json", "aws_schedule", {"kind": "replies", "max": 5}),
        ("aws-schedule-input.json", "direct", {"kind": "receipts", "max": 100}),
        ("scf-timer.json", "scf_timer", {"kind": "receipts", "max": 100}),
        ("scf-timer-text.json", "scf_timer", {"message": "pull now"}),
        ("scf-timer-empty.json", "scf_timer", {}),
        ("aws-direct-invoke.json", "direct", load("aws-direct-invoke.json")),
        ("scf-direct-invoke.json", "direct", load("scf-direct-invoke.json")),
    ],
)
def test_payload_triggers(name: str, trigger: str, payload: dict[str, Any]) -> None:
    inv = parse_event(load(name))
    assert (inv.trigger, inv.payload) == (trigger, payload)
    assert inv.http is None
    assert inv.records == ()
    assert inv.wx is None


def test_timer_json_array_message_is_kept_as_text() -> None:
    inv = parse_event({"Type": "Timer", "TriggerName": "t", "Message": "[1, 2]"})
    assert inv.payload == {"message": "[1, 2]"}


def test_wx_call_takes_the_trusted_identity_from_the_context(wx_context: dict[str, Any]) -> None:
    inv = parse_event(load("wx-cloud-function.json"), wx_context)
    assert (inv.trigger, inv.platform) == ("wx_callfunction", "tencent")
    assert inv.request_id == "3f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    assert inv.payload == {
        "mobile": "13800000000",
        "nationcode": "86",
        "template_id": "7839",
        "params": ["482913"],
    }
    assert inv.wx == events.WxIdentity(
        app_id="wx1a2b3c4d5e6f7a8b",
        open_id="oAbCd1EfGh2IjKl3MnOp4QrSt5Uv",
        union_id="oXyZ9AbC8dEf7GhI6jKl5MnO4pQr",
        source="wx_client",
        trusted=True,
    )


def test_wx_call_context_wins_over_a_spoofed_user_info(wx_context: dict[str, Any]) -> None:
    inv = parse_event(load("wx-cloud-function-spoofed.json"), wx_context)
    assert inv.wx is not None
    assert inv.wx.open_id == "oAbCd1EfGh2IjKl3MnOp4QrSt5Uv"
    assert inv.wx.trusted


@pytest.mark.parametrize("context_name", [None, "scf-context.json"])
def test_wx_call_falls_back_to_user_info(context_name: str | None) -> None:
    inv = parse_event(load("wx-cloud-function.json"), load(context_name) if context_name else None)
    assert inv.trigger == "wx_callfunction"
    assert inv.wx == events.WxIdentity(
        "wx1a2b3c4d5e6f7a8b", "oAbCd1EfGh2IjKl3MnOp4QrSt5Uv", None, None, False
    )


def test_wx_context_alone_marks_a_plain_event_as_a_mini_program_call(wx_context: dict[str, Any]) -> None:
    inv = parse_event(load("scf-direct-invoke.json"), wx_context)
    assert inv.trigger == "wx_callfunction"
    assert inv.payload == load("scf-direct-invoke.json")
    assert inv.wx is not None
    assert inv.wx.trusted


def test_tcb_context_only_gives_no_identity() -> None:
    inv = parse_event({"mobile": "13800000000", "tcbContext": {}})
    assert (inv.trigger, inv.wx, inv.payload) == ("wx_callfunction", None, {"mobile": "13800000000"})


def test_platform_from_context(scf_context: dict[str, Any], aws_context: Any) -> None:
    event = load("aws-direct-invoke.json")
    assert parse_event(event).platform == "local"
    assert parse_event(event, scf_context).platform == "tencent"
    assert parse_event(event, aws_context).platform == "aws"
    # an unrecognised context object: the event's shape decides
    assert parse_event(load("aws-sqs.json"), object()).platform == "aws"
    assert parse_event(load("scf-timer.json"), object()).platform == "tencent"


def test_request_id_falls_back_to_context_then_uuid(scf_context: dict[str, Any]) -> None:
    assert parse_event(load("scf-timer.json"), scf_context).request_id == SCF_CTX_ID
    first = parse_event(load("scf-timer.json")).request_id
    second = parse_event(load("scf-timer.json")).request_id
    assert len(first) == 36
    assert first != second


def test_invocation_is_frozen() -> None:
    inv = parse_event(load("aws-direct-invoke.json"))
    assert isinstance(inv, Invocation)
    with pytest.raises(AttributeError):
        inv.trigger = "other"  # type: ignore[misc]


def test_a_route_reads_the_http_request_from_the_entry_request() -> None:
    ctx = wrap_context(None)
    http = parse_event(load("aws-apigw-rest.json"), ctx)
    services = Services(load_settings({}))
    assert Request(http, ctx, "ip:test", ctx.deadline(), services).http is http.http
    direct = parse_event(SEND, ctx)
    with pytest.raises(AssertionError, match="not an HTTP invocation"):
        _ = Request(direct, ctx, "direct", ctx.deadline(), services).http
