"""functions/otp/handler.py invoked in-process: HTTP events (API Gateway HTTP API) and the
mini-program cloud-function call, varying `action`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.otp import handler as otp_function
from local.emulator import Emulator
from tests.helpers import AwsContext
from tests.otp.conftest import Clock, Leaks
from tests.otp.helpers import (
    OPEN_ID,
    OTHER_OPEN_ID,
    answer_of,
    http_event,
    wrong,
    wx_context,
    wx_event,
)

pytestmark = pytest.mark.usefixtures("otp_env")


def post(path: str, body: Any, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    return answer_of(otp_function.handler(http_event(path, body, **kwargs), AwsContext()))


def call(action: str | None, open_id: str = OPEN_ID, **fields: Any) -> dict[str, Any]:
    answer: dict[str, Any] = otp_function.main_handler(wx_event(action, **fields), wx_context(open_id))
    return answer


# --------------------------------------------------------------------------- HTTP


def test_http_send_then_verify(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    status, sent, headers = post("/otp/send", {"phone": phone, "purpose": "login"})
    assert status == 200, sent
    assert set(sent) == {"id", "expires_in", "resend_after"}
    assert headers["cache-control"] == "no-store"
    assert "application/json" in headers["content-type"]
    code = leaks.code_from(sms_emulator, phone)
    assert code not in json.dumps(sent)
    status, verified, _ = post("/otp/verify", {"phone": phone, "code": code, "purpose": "login"})
    assert (status, verified) == (200, {"verified": True, "id": sent["id"], "phone": phone})
    status, again, _ = post("/otp/verify", {"phone": phone, "code": code, "id": sent["id"]})
    assert (status, again["error"]["code"]) == (409, "otp_used")


def test_http_needs_the_api_key(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    for key in (None, "not-the-key"):
        status, body, _ = post("/otp/send", {"phone": phone}, key=key)
        assert (status, body["error"]["code"]) == (401, "unauthorized")
        status, body, _ = post("/otp/verify", {"phone": phone, "code": "123456"}, key=key)
        assert status == 401
    assert sms_emulator.accepted_count == 0


def test_http_resend_inside_the_window_is_429_with_retry_after(
    sms_emulator: Emulator, leaks: Leaks, clock: Clock
) -> None:
    phone = leaks.new_phone()
    status, first, _ = post("/otp/send", {"phone": phone})
    old = leaks.code_from(sms_emulator, phone)
    clock.advance(20)
    status, body, headers = post("/otp/send", {"phone": phone})
    assert (status, body["error"]["code"], headers["retry-after"]) == (429, "otp_resend_too_soon", "40")
    assert body["error"]["retry_after"] == 40
    clock.advance(40)
    status, second, _ = post("/otp/send", {"phone": phone})
    assert status == 200
    assert second["id"] != first["id"]
    new = leaks.code_from(sms_emulator, phone)
    status, body, _ = post("/otp/verify", {"phone": phone, "code": old, "id": first["id"]})
    assert (status, body["error"]["code"]) == (410, "otp_superseded")
    status, body, _ = post("/otp/verify", {"phone": phone, "code": new})
    assert status == 200
    assert body["id"] == second["id"]


def test_http_expired_locked_and_mismatch(sms_emulator: Emulator, leaks: Leaks, clock: Clock) -> None:
    phone = leaks.new_phone()
    _, sent, _ = post("/otp/send", {"phone": phone})
    code = leaks.code_from(sms_emulator, phone)
    for left in (4, 3, 2, 1):
        status, body, _ = post("/otp/verify", {"phone": phone, "code": wrong(code), "id": sent["id"]})
        assert (status, body["error"]["code"], body["error"]["attempts_left"]) == (400, "otp_mismatch", left)
    status, body, _ = post("/otp/verify", {"phone": phone, "code": wrong(code), "id": sent["id"]})
    assert (status, body["error"]["code"]) == (423, "otp_locked")
    status, body, _ = post("/otp/verify", {"phone": phone, "code": code, "id": sent["id"]})
    assert (status, body["error"]["code"]) == (423, "otp_locked")

    other = leaks.new_phone()
    _, sent, _ = post("/otp/send", {"phone": other})
    code = leaks.code_from(sms_emulator, other)
    clock.advance(301)
    status, body, _ = post("/otp/verify", {"phone": other, "code": code, "id": sent["id"]})
    assert (status, body["error"]["code"]) == (410, "otp_expired")
    status, body, _ = post("/otp/verify", {"phone": other, "code": code, "id": "otp_" + "x" * 24})
    assert (status, body["error"]["code"]) == (404, "otp_not_found")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/otp/send", {"phone": "12345"}, "phone"),
        ("/otp/send", {}, "phone"),
        ("/otp/send", {"phone": "+8613912345678", "purpose": "Login!"}, "purpose"),
        ("/otp/send", {"phone": "+8613912345678", "purpose": "x" * 33}, "purpose"),
        ("/otp/send", {"phone": "+8613912345678", "length": 3}, "length"),
        ("/otp/send", {"phone": "+8613912345678", "length": 5}, "length"),  # shorter than configured
        ("/otp/send", {"phone": "+8613912345678", "template_id": "7839"}, "template_id"),
        ("/otp/verify", {"phone": "+8613912345678"}, "code"),
        ("/otp/verify", {"phone": "+8613912345678", "code": 123456}, "code"),
        ("/otp/verify", {"phone": "+8613912345678", "code": "12a456"}, "code"),
        ("/otp/verify", {"phone": "+8613912345678", "code": "123"}, "code"),
        ("/otp/verify", {"phone": "+8613912345678", "code": "123456", "id": "nope"}, "id"),
    ],
)
def test_http_bad_requests_are_400_naming_the_field(
    sms_emulator: Emulator, path: str, body: dict[str, Any], field: str
) -> None:
    status, answer, _ = post(path, body)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "invalid_request", field)
    assert sms_emulator.accepted_count == 0


def test_http_longer_code_on_request(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    status, _, _ = post("/otp/send", {"phone": phone, "length": 8})
    assert status == 200
    code = leaks.code_from(sms_emulator, phone)
    assert len(code) == 8
    assert post("/otp/verify", {"phone": phone, "code": code})[0] == 200


def test_http_without_a_secret_is_500_misconfigured(
    sms_emulator: Emulator, leaks: Leaks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import runtime

    monkeypatch.delenv("SMS_OTP_SECRET")
    runtime.reset()
    status, body, _ = post("/otp/send", {"phone": leaks.new_phone()})
    assert (status, body["error"]["code"]) == (500, "misconfigured")
    assert "SMS_OTP_SECRET" in body["error"]["message"]
    assert sms_emulator.accepted_count == 0


# --------------------------------------------------------------------------- mini-program


def test_mini_program_send_then_verify(sms_emulator: Emulator, leaks: Leaks) -> None:
    from shared.runtime import runtime

    phone = leaks.new_phone()
    sent = call("send", mobile=phone[3:], nationcode="86", purpose="bind_phone")
    assert set(sent) == {"id", "expires_in", "resend_after"}, sent
    record = runtime.services.store.otp_get(sent["id"])
    assert record is not None
    assert record.caller == f"wx:{OPEN_ID}"
    assert record.purpose == "bind_phone"
    code = leaks.code_from(sms_emulator, phone)
    assert code not in json.dumps(sent)
    verified = call("verify", mobile=phone[3:], nationcode="86", code=code, purpose="bind_phone")
    assert verified == {"verified": True, "id": sent["id"], "phone": phone}
    again = call("verify", mobile=phone[3:], nationcode="86", code=code, purpose="bind_phone", id=sent["id"])
    assert again["error"]["code"] == "otp_used"


def test_mini_program_with_phone_instead_of_mobile(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = call("send", phone=phone)
    code = leaks.code_from(sms_emulator, phone)
    assert call("verify", phone=phone, code=code)["id"] == sent["id"]


def test_another_openid_cannot_verify(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = call("send", mobile=phone[3:], nationcode="86")
    code = leaks.code_from(sms_emulator, phone)
    stolen = call("verify", open_id=OTHER_OPEN_ID, mobile=phone[3:], nationcode="86", code=code)
    assert stolen["error"]["code"] == "otp_wrong_caller"
    status, body, _ = post("/otp/verify", {"phone": phone, "code": code})  # nor a backend
    assert (status, body["error"]["code"]) == (403, "otp_wrong_caller")
    assert call("verify", mobile=phone[3:], nationcode="86", code=code)["id"] == sent["id"]


def test_mini_program_resend_and_errors(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    call("send", phone=phone)
    refused = call("send", phone=phone)
    assert refused["error"]["code"] == "otp_resend_too_soon"
    assert 0 < refused["error"]["retry_after"] <= 60
    code = leaks.code_from(sms_emulator, phone)
    assert call("verify", phone=phone, code=wrong(code))["error"]["attempts_left"] == 4
    for action in (None, "check", "SEND"):
        answer = call(action, phone=phone)
        assert answer["error"]["code"] == "invalid_request"
        assert answer["error"]["field"] == "action"
    assert len(sms_emulator.messages(phone)) == 1


def test_direct_invoke_without_a_mini_program(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = otp_function.handler({"action": "send", "phone": phone}, AwsContext())
    code = leaks.code_from(sms_emulator, phone)
    verified = otp_function.handler({"action": "verify", "phone": phone, "code": code}, AwsContext())
    assert verified == {"verified": True, "id": sent["id"], "phone": phone}
