"""Tencent's template catalogue through the real pull_status handler and the emulator: synced on
demand and on the schedule, listed, and every send checked against it before Tencent is called."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, load_event
from tests.helpers import AwsContext, answer_body, handler, set_body

CN, US = "+8613800000000", "+14155552671"


@pytest.fixture
def env(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_ALLOWED_COUNTRIES", "*")
    monkeypatch.setenv("SMS_OTP_SECRET", "s" * 32)
    monkeypatch.setenv("SMS_OTP_TEMPLATE_ID_INTERNATIONAL", "7841")
    runtime.reset()


def api(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = f"{method} {path}"
    event["headers"]["x-api-key"] = API_KEY
    event.pop("body", None)
    if body is not None:
        set_body(event, body)
    function = "pull_status" if path.startswith("/sms/templates") else "send_multi"
    answer = handler(function).handler(event, AwsContext())
    return answer["statusCode"], answer_body(answer)


def invoke(function: str, body: dict[str, Any]) -> dict[str, Any]:
    context = AwsContext()
    context.aws_request_id = str(uuid.uuid4())
    answer: dict[str, Any] = handler(function).handler(body, context)
    return answer


def sends(emulator: Emulator) -> int:
    return sum(r.headers.get("x-tc-action") == "SendSms" for r in emulator.requests)


def test_sync_then_list(env: None, sms_emulator: Emulator) -> None:
    status, body = api("POST", "/sms/templates/sync")
    assert status == 200 and (body["templates"], body["live"]) == (8, 6), body
    status, listed = api("GET", "/sms/templates")
    by_id = {t["template_id"]: t for t in listed["templates"]}
    assert list(by_id) == [str(i) for i in range(7839, 7847)]
    assert by_id["7845"]["status"] == 1 and by_id["7845"]["status_text"] == "in review"
    assert by_id["7846"]["review_reply"] == "内容涉嫌诈骗" and by_id["7844"]["international"] == 3
    assert by_id["7840"]["params"] == 2 and listed["synced_at"] == body["synced_at"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"phones": [CN], "template_id": "7845", "params": ["1"]}, "template_not_live", "template_id"),
        ({"phones": [CN], "template_id": "7846", "params": ["1"]}, "template_not_live", "template_id"),
        ({"phones": [CN], "template_id": "7840", "params": ["1"]}, "wrong_param_count", "params"),
        ({"phones": [CN], "template_id": "9999", "params": ["1"]}, "unknown_template", "template_id"),
        (
            {"phones": [CN, US], "template_id": "7839", "params": ["1"]},
            "template_region_mismatch",
            "phones[1]",
        ),
    ],
)
def test_a_send_is_checked_against_the_catalogue_before_tencent(
    env: None, sms_emulator: Emulator, body: dict[str, Any], code: str, field: str
) -> None:
    before = sends(sms_emulator)
    assert api("POST", "/sms/templates/sync")[0] == 200
    answer = invoke("send_multi", body)
    assert (answer["error"]["code"], answer["error"]["field"]) == (code, field), answer
    assert sends(sms_emulator) == before  # nothing went to Tencent


def test_the_catalogue_gives_the_codes_parameters_and_the_marketing_text(
    env: None, sms_emulator: Emulator
) -> None:
    api("POST", "/sms/templates/sync")
    assert "id" in invoke("otp", {"action": "send", "phone": US})
    assert sms_emulator.messages(US)[0].params[0].isdigit() and len(sms_emulator.messages(US)[0].params) == 1
    from shared.runtime import runtime
    from shared.store.base import Suppression

    runtime.store.set_suppressions([Suppression(CN, True, 1, keyword="r", source="api")], now=1)
    # 7842's text (拒收请回复R) is known from Tencent's catalogue alone: a marketing send
    answer = invoke("send_multi", {"phones": [CN], "template_id": "7842", "params": ["6.18"]})
    assert answer["results"][0]["status"] == "suppressed", answer


def test_the_schedule_refreshes_a_stale_catalogue(env: None, sms_emulator: Emulator) -> None:
    def timer() -> dict[str, Any]:
        event = load_event("scf-timer.json")
        event["Message"] = json.dumps({"kind": "replies"})
        answer: dict[str, Any] = handler("pull_status").main_handler(event, load_event("scf-context.json"))
        return answer

    assert timer()["templates"]["templates"] == 8
    assert "templates" not in timer()  # synced within the interval


def test_the_legacy_api_has_no_catalogue(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("TENCENT_SMS_API", "legacy")
    runtime.reset()
    status, body = api("POST", "/sms/templates/sync")
    assert status == 400 and "SMS_TEMPLATES" in body["error"]["message"]
