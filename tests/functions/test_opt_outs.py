"""Opt-outs honoured, through the real handlers and the emulator on both protocols: a reply `R`
(pulled or pushed) puts the number on the suppression list, the next marketing send skips it and
bills nothing for it (the emulator's record shows nothing sent to it), and a code still arrives."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, CALLBACK_TOKEN, load_event
from tests.helpers import AwsContext, answer_body, handler, http_event

CN, CN2, US = "+8613800000000", "+8613800000001", "+14155552671"
MARKETING = {"template_id": {"mainland": "7850", "international": "7851"}, "params": ["6.18"]}
CATALOGUE = json.dumps(
    {
        "7839": {"params": 1},
        "7840": {"params": 2},
        "7841": {"params": 1, "international": True},
        "7850": {"params": 1, "text": "【会员日】{1}全场5折，拒收请回复R"},
        "7851": {"params": 1, "international": True, "text": "{1} at half price. Reply STOP to opt out"},
        "7852": {"params": 1, "international": 3},
    }
)


@pytest.fixture
def env(function_env: dict[str, str], protocol: str, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: ARG001 - a fixture this one needs for its side effect
    from shared.runtime import runtime

    def set_env(**values: str) -> None:
        base = {
            "TENCENT_SMS_API": protocol,
            "SMS_ALLOWED_COUNTRIES": "*",
            "SMS_TEMPLATES": CATALOGUE,
            "SMS_OTP_SECRET": "s" * 32,
            "SMS_OTP_TEMPLATE_ID_INTERNATIONAL": "7841",
            "SMS_LIMIT_PER_PHONE": "off",
        }
        for name, value in {**base, **values}.items():
            monkeypatch.setenv(name, value)
        runtime.reset()

    set_env()
    return set_env


def invoke(function: str, body: dict[str, Any]) -> dict[str, Any]:
    """A direct invoke with its own request id (a platform retry of one would be answered once)."""
    context = AwsContext()
    context.aws_request_id = str(uuid.uuid4())
    answer: dict[str, Any] = handler(function).handler(body, context)
    return answer


def send_multi(body: dict[str, Any]) -> dict[str, Any]:
    return invoke("send_multi", body)


def pull_replies() -> None:
    event = load_event("scf-timer.json")
    event["Message"] = json.dumps({"kind": "replies"})
    answer = handler("pull_status").main_handler(event, load_event("scf-context.json"))
    assert answer["runs"][0]["stored"] >= 1, answer


def push_reply(phone: str, text: str, at: int) -> None:
    event = load_event("scf-function-url.json")
    event["path"] = "/sms/callback/replies"
    event["headers"] = {"content-type": "application/json"}
    event["queryString"] = {"token": CALLBACK_TOKEN}
    push = {"extend": "", "mobile": phone[3:], "nationcode": "86", "sign": "腾讯云", "text": text, "time": at}
    event["body"] = json.dumps(push, ensure_ascii=False)
    answer = handler("status_callback").main_handler(event, load_event("scf-context.json"))
    assert answer["statusCode"] == 200, answer


def api(method: str, path: str, query: dict[str, str] | None = None, key: str | None = API_KEY) -> Any:
    answer = handler("pull_status").handler(http_event(method, path, query=query, key=key), AwsContext())
    return answer["statusCode"], answer_body(answer)


def check_skipped(emulator: Emulator, skipped: str, sent_to: str) -> None:
    before = {phone: len(emulator.messages(phone)) for phone in (skipped, sent_to)}
    answer = send_multi({"phones": [sent_to, skipped], **MARKETING})
    by_phone = {r["phone"]: r for r in answer["results"]}
    assert by_phone[sent_to]["status"] == "submitted", answer
    assert (by_phone[skipped]["status"], by_phone[skipped]["fee"]) == ("suppressed", 0)
    assert (answer["submitted"], answer["suppressed"], answer["failed"]) == (1, 1, 0)
    assert len(emulator.messages(skipped)) == before[skipped]  # nothing sent, nothing billed
    assert len(emulator.messages(sent_to)) == before[sent_to] + 1


def code_arrives(emulator: Emulator, phone: str) -> None:
    answer = invoke("otp", {"action": "send", "phone": phone})
    assert "id" in answer, answer
    assert emulator.messages(phone)[0].template_id == "7840"  # newest first


@pytest.mark.usefixtures("env")
def test_a_pulled_r_stops_marketing_but_not_codes(sms_emulator: Emulator) -> None:
    sms_emulator.inject_reply(CN2, " r ")  # whole text, trimmed, any case
    sms_emulator.inject_reply(CN, "R is my favourite letter")  # not a keyword
    pull_replies()
    check_skipped(sms_emulator, skipped=CN2, sent_to=CN)
    code_arrives(sms_emulator, CN2)


@pytest.mark.usefixtures("env")
def test_a_pushed_opt_out_stops_marketing_but_not_codes(sms_emulator: Emulator) -> None:
    push_reply(CN2, "退订", int(time.time()))
    check_skipped(sms_emulator, skipped=CN2, sent_to=CN)
    code_arrives(sms_emulator, CN2)


def test_a_single_marketing_send_is_409(env: Any, sms_emulator: Emulator) -> None:
    push_reply(CN, "TD", int(time.time()))
    answer = invoke("send_single", {"phone": CN, **MARKETING})
    assert (answer["error"]["code"], answer["error"]["field"]) == ("suppressed", "phone"), answer
    # a notification (no refusal phrase, not listed as marketing) still goes
    answer = invoke("send_single", {"phone": CN, "template_id": "7839", "params": ["1"]})
    assert answer["status"] == "submitted", answer
    assert [m.template_id for m in sms_emulator.messages(CN)] == ["7839"]
    env(SMS_MARKETING_TEMPLATES="7839")  # now it counts as marketing too
    answer = invoke("send_single", {"phone": CN, "template_id": "7839", "params": ["2"]})
    assert answer["error"]["code"] == "suppressed"
    assert len(sms_emulator.messages(CN)) == 1


@pytest.mark.usefixtures("env")
def test_the_later_reply_wins_whatever_order_they_arrive_in(sms_emulator: Emulator) -> None:
    now = int(time.time())
    push_reply(CN, "START", now - 10)  # an opt-in, then an older opt-out arriving late
    push_reply(CN, "R", now - 20)
    push_reply(CN2, "R", now - 20)  # an opt-out, then a later opt-in
    push_reply(CN2, "start", now - 10)
    answer = send_multi({"phones": [CN, CN2], **MARKETING})
    assert answer["submitted"] == 2, answer
    sms_emulator.inject_reply(CN2, "STOP")  # abroad's keyword works here too
    pull_replies()
    check_skipped(sms_emulator, skipped=CN2, sent_to=CN)


def test_suppress_all_stops_codes_too(env: Any, sms_emulator: Emulator) -> None:
    env(SMS_SUPPRESS_ALL="1")
    push_reply(CN, "R", int(time.time()))
    answer = invoke("otp", {"action": "send", "phone": CN})
    assert answer["error"]["code"] == "suppressed", answer
    assert not sms_emulator.requests


@pytest.mark.usefixtures("env", "sms_emulator")
def test_suppression_routes_audited_with_masked_numbers(captured_logs: Any) -> None:
    assert api("GET", "/sms/suppressions", key=None)[0] == 401
    assert api("GET", f"/sms/suppressions/{CN}") == (
        404,
        {"error": {"code": "suppression_not_found", "message": "+86138****0000 never opted out"}},
    )
    push_reply(CN, "R", 1795758000)
    status, body = api("GET", "/sms/suppressions/+8613800000000")  # as an HTTP API hands it over (decoded)
    assert status == 200
    assert body == {
        "phone": CN,
        "suppressed": True,
        "changed_at": 1795758000,
        "sign": "腾讯云",
        "keyword": "r",
        "source": "callback",
    }
    status, body = api("PUT", f"/sms/suppressions/{US}")
    assert status == 200
    assert body["suppressed"]
    assert body["source"] == "api"
    assert api("GET", "/sms/suppressions", {"limit": "1"})[1] == {
        "items": [api("GET", f"/sms/suppressions/{US}")[1]],
        "next": US,
    }
    listed = api("GET", "/sms/suppressions", {"after": US})[1]
    assert [i["phone"] for i in listed["items"]] == [CN]
    assert listed["next"] is None
    status, body = api("DELETE", f"/sms/suppressions/{CN}")
    assert status == 200
    assert body["suppressed"] is False
    assert body["changed_at"] >= 1795758000  # an operator's change is never older than the reply
    assert [i["phone"] for i in api("GET", "/sms/suppressions")[1]["items"]] == [US]
    assert api("GET", "/sms/suppressions", {"limit": "0"})[1]["error"]["field"] == "limit"
    assert api("PUT", "/sms/suppressions/12345")[1]["error"]["field"] == "phone"
    logs = captured_logs.getvalue()
    assert logs.count('"message":"suppression: ') == 3
    assert '"phone":"+86138****0000"' in logs
    assert "8613800000000" not in logs
    assert "4155552671" not in logs


@pytest.mark.usefixtures("env")
def test_an_international_opt_out_is_honoured(sms_emulator: Emulator) -> None:
    api("PUT", f"/sms/suppressions/{US}")
    answer = send_multi({"phones": [US, CN], **MARKETING})
    assert [r["status"] for r in answer["results"]] == ["suppressed", "submitted"], answer
    assert sms_emulator.messages(US) == []


@pytest.mark.usefixtures("env")
def test_only_the_region_whose_template_is_marketing_skips_its_opt_outs(sms_emulator: Emulator) -> None:
    """A list's mainland and international templates are told apart: an opt-out holds a number back
    only where its own region's template is marketing."""
    for number in (US, CN2):
        api("PUT", f"/sms/suppressions/{number}")
    mainland_marketing = {"template_id": {"mainland": "7850", "international": "7841"}, "params": ["6.18"]}
    answer = send_multi({"phones": [US, CN, CN2], **mainland_marketing})
    assert [r["status"] for r in answer["results"]] == ["submitted", "submitted", "suppressed"], answer
    abroad_marketing = {"template_id": {"mainland": "7839", "international": "7851"}, "params": ["6.18"]}
    answer = send_multi({"phones": [CN2, US, CN], **abroad_marketing})
    assert [r["status"] for r in answer["results"]] == ["submitted", "suppressed", "submitted"], answer
    assert len(sms_emulator.messages(US)) == 1
    assert len(sms_emulator.messages(CN2)) == 1
