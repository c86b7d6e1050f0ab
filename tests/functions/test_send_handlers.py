"""send_single and send_multi invoked with every supported event shape, checked against what the
emulator recorded as sent."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, load_event
from tests.helpers import AwsContext, answer_body, handler, set_body, set_header

SAMPLE_KEY = "local-dev-key-3f9a1c"  # the key the shared samples carry
HTTP_SAMPLES = [
    "aws-apigw-rest.json",
    "aws-http-api.json",
    "aws-function-url.json",
    "scf-apigw.json",
    "scf-function-url.json",
    "cloudbase-http-access.json",
]


def context_for(sample: str) -> Any:
    if sample.startswith(("scf", "cloudbase", "wx")):
        return load_event("wx-cloud-function-context.json" if sample.startswith("wx") else "scf-context.json")
    return AwsContext()


@pytest.fixture
def keys(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ARG001 - a fixture this one needs for its side effect
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_API_KEYS", f"{API_KEY},{SAMPLE_KEY}")
    runtime.reset()


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
def test_send_single_over_every_http_trigger(sample: str, sms_emulator: Emulator) -> None:
    event = load_event(sample)
    set_header(event, "X-Api-Key", SAMPLE_KEY)
    answer = handler("send_single").handler(event, context_for(sample))
    assert answer["statusCode"] == 200, answer
    body = answer_body(answer)
    assert body["status"] == "submitted"
    assert body["phone"] == "+8613800000000"
    [sent] = sms_emulator.messages("+8613800000000")
    assert sent.message_id == body["message_id"]
    assert (sent.template_id, list(sent.params), sent.sign) == ("7839", ["482913"], "腾讯云")
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (answer.get("multiValueHeaders") or {}).items()}
    assert "application/json" in str(headers.get("content-type") or multi.get("content-type"))
    if sample == "aws-apigw-rest.json":
        assert "multiValueHeaders" in answer or "headers" in answer
    assert "isBase64Encoded" in answer


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
def test_base64_body_and_upper_case_headers(sample: str, sms_emulator: Emulator) -> None:
    event = load_event(sample)
    set_header(event, "X-API-KEY", SAMPLE_KEY)
    set_body(
        event, {"phone": "+8613800000001", "template_id": "7839", "params": ["1234"]}, base64_encoded=True
    )
    answer = handler("send_single").handler(event, context_for(sample))
    assert answer["statusCode"] == 200, answer
    assert sms_emulator.messages("+8613800000001")[0].params == ("1234",)


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
def test_missing_or_wrong_key_is_401_and_sends_nothing(sample: str, sms_emulator: Emulator) -> None:
    for key in (None, "not-the-key"):
        event = load_event(sample)
        set_header(event, "X-Api-Key", key)
        answer = handler("send_single").handler(event, context_for(sample))
        assert answer["statusCode"] == 401
        assert answer_body(answer)["error"]["code"] == "unauthorized"
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_bearer_token_and_hashed_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from shared.runtime import runtime

    monkeypatch.setenv("SMS_API_KEYS", "sha256:" + hashlib.sha256(b"hashed-secret-key").hexdigest())
    runtime.reset()
    event = load_event("aws-http-api.json")
    set_header(event, "x-api-key", None)
    set_header(event, "authorization", "Bearer hashed-secret-key")
    assert handler("send_single").handler(event, AwsContext())["statusCode"] == 200


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ("{not json", 400, "invalid_json", None),
        ("", 400, "invalid_body", None),
        ("[1, 2]", 400, "invalid_body", None),
        ({"phone": "12345", "template_id": "7839", "params": ["1"]}, 400, "invalid_request", "phone"),
        (
            {"phone": "+8613800000000", "template_id": "7839", "params": ["1"], "surprise": 1},
            400,
            "invalid_request",
            "surprise",
        ),
        (
            {"phone": "+8613800000000", "template_id": "abc", "params": ["1"]},
            400,
            "invalid_request",
            "template_id",
        ),
        ({"phone": "+8613800000000", "params": ["x" * 13]}, 400, "invalid_request", "params[0]"),
        ({"phone": "+8613800000000", "params": ["see http://x.cn"]}, 400, "invalid_request", "params[0]"),
        (
            {"phone": "+14155552671", "template_id": "7841", "params": ["1"]},
            403,
            "country_not_allowed",
            "phone",
        ),
        ({"phone": "+8613800000000", "params": "1234"}, 400, "invalid_request", "params"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_sends_nothing(
    sms_emulator: Emulator, body: Any, status: int, code: str, field: str | None
) -> None:
    event = load_event("aws-http-api.json")
    set_body(event, body)
    answer = handler("send_single").handler(event, AwsContext())
    assert answer["statusCode"] == status, answer
    error = answer_body(answer)["error"]
    assert error["code"] == code
    assert error["message"]
    if field:
        assert error["field"] == field
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("keys", "sms_emulator")
def test_tencent_failure_keeps_its_code() -> None:
    event = load_event("aws-http-api.json")
    set_body(event, {"phone": "+8613800000000", "template_id": "9999", "params": ["1"]})
    answer = handler("send_single").handler(event, AwsContext())
    assert answer["statusCode"] == 502
    error = answer_body(answer)["error"]
    assert error["tencent_code"] == "FailedOperation.TemplateIncorrectOrUnapproved"


@pytest.mark.usefixtures("keys")
def test_unknown_outcome_is_504_naming_the_number(sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(drop_count=1)
    answer = handler("send_single").handler(load_event("aws-http-api.json"), AwsContext())
    assert answer["statusCode"] == 504
    error = answer_body(answer)["error"]
    assert error["code"] == "outcome_unknown"
    assert error["phones"] == ["+8613800000000"]
    assert sms_emulator.accepted_count == 1


@pytest.mark.usefixtures("keys")
def test_unsupported_route_and_method() -> None:
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/sms/nothing"
    answer = handler("send_single").handler(event, AwsContext())
    assert answer["statusCode"] == 404
    assert answer_body(answer)["error"]["code"] == "no_route"


@pytest.mark.usefixtures("function_env")
def test_openapi_is_public() -> None:
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/openapi.json"
    event["requestContext"]["http"]["method"] = "GET"
    set_header(event, "x-api-key", None)
    event.pop("body")
    answer = handler("send_single").handler(event, AwsContext())
    assert answer["statusCode"] == 200
    document = answer_body(answer)
    assert set(document["paths"]) >= {
        "/sms/send",
        "/sms/send-multi",
        "/sms/pull",
        "/sms/status/{phone}",
        "/sms/messages/{message_id}",
        "/sms/callback/{kind}",
        "/otp/send",
    }
    assert SAMPLE_KEY not in answer["body"]
    assert API_KEY not in answer["body"]


# --------------------------------------------------------------------------- direct invokes


@pytest.mark.usefixtures("function_env")
def test_seed_cloud_function_event_from_scf(sms_emulator: Emulator) -> None:
    answer = handler("send_single").main_handler(
        load_event("scf-direct-invoke.json"), load_event("scf-context.json")
    )
    assert answer["status"] == "submitted"
    assert answer["phone"] == "+8613800000000"
    assert sms_emulator.messages("+8613800000000")[0].message_id == answer["message_id"]


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_mini_program_call_records_the_openid() -> None:
    from shared.runtime import runtime

    answer = handler("send_single").main_handler(
        load_event("wx-cloud-function.json"), load_event("wx-cloud-function-context.json")
    )
    assert answer["status"] == "submitted"
    stored = runtime.services.store.get_message(answer["message_id"])
    assert stored is not None
    assert stored.caller == "wx:oAbCd1EfGh2IjKl3MnOp4QrSt5Uv"


@pytest.mark.usefixtures("function_env")
def test_seed_minimal_event_uses_default_template(sms_emulator: Emulator) -> None:
    answer = handler("send_single").main_handler(
        {"mobile": "13800000002", "nationcode": "86", "params": ["42"]}, load_event("scf-context.json")
    )
    assert answer["status"] == "submitted"
    assert sms_emulator.messages("+8613800000002")[0].template_id == "7839"


@pytest.mark.usefixtures("function_env")
def test_direct_invoke_errors_are_plain_json(sms_emulator: Emulator) -> None:
    answer = handler("send_single").main_handler(
        {"mobile": "123", "nationcode": "86"}, load_event("scf-context.json")
    )
    assert answer["error"]["code"] == "invalid_request"
    assert answer["error"]["field"] == "mobile"
    for junk in ([1, 2], "text", None, 42):
        result = handler("send_single").handler(junk, AwsContext())
        assert result["error"]["code"] == "unsupported_event"
    assert sms_emulator.accepted_count == 0


# --------------------------------------------------------------------------- send_multi


@pytest.mark.usefixtures("function_env")
def test_send_multi_direct_invoke(sms_emulator: Emulator) -> None:
    answer = handler("send_multi").handler(load_event("aws-direct-invoke.json"), AwsContext())
    assert answer["submitted"] == 2
    assert answer["failed"] == 0
    assert {m.phone for m in sms_emulator.messages()} == {"+8613800000000", "+8613800000001"}


@pytest.mark.usefixtures("keys")
def test_send_multi_http_reports_duplicates_and_order(sms_emulator: Emulator) -> None:
    event = load_event("aws-apigw-rest.json")
    event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = "/sms/send-multi"
    phones = [f"+86138{i:08d}" for i in range(230)] + ["+8613800000003"]
    set_body(event, {"phones": phones, "template_id": "7839", "params": ["1"]})
    answer = handler("send_multi").handler(event, AwsContext())
    assert answer["statusCode"] == 200
    body = answer_body(answer)
    assert [r["phone"] for r in body["results"]] == phones[:230]
    assert body["duplicates_removed"] == ["+8613800000003"]
    assert body["submitted"] == 230
    assert sms_emulator.accepted_count == 230


@pytest.mark.usefixtures("function_env")
def test_sqs_batch_sends_each_record(sms_emulator: Emulator) -> None:
    answer = handler("send_multi").handler(load_event("aws-sqs.json"), AwsContext())
    assert answer == {"batchItemFailures": []}
    assert sms_emulator.accepted_count == 5


@pytest.mark.usefixtures("function_env")
def test_sqs_batch_reports_only_failed_records(sms_emulator: Emulator) -> None:
    event = load_event("aws-sqs.json")
    bad = copy.deepcopy(event["Records"][1])
    bad["messageId"] = "bad-record"
    bad["body"] = json.dumps({"phones": ["not-a-number"], "template_id": "7839", "params": ["1"]})
    event["Records"].append(bad)
    answer = handler("send_multi").handler(event, AwsContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad-record"}]}
    assert sms_emulator.accepted_count == 5


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_sqs_record_with_tencent_unreachable_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("TENCENT_SMS_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("TENCENT_SMS_CONNECT_TIMEOUT", "0.2")
    runtime.reset()
    event = load_event("aws-sqs.json")
    answer = handler("send_multi").handler(event, AwsContext())
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    assert failed == {r["messageId"] for r in event["Records"]}
