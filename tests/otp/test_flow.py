"""The OTP flow through `shared.otp`, against the emulator, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.emulator import Emulator
from shared import otp
from shared.errors import SmsError
from shared.runtime import runtime
from tests.helpers import free_port
from tests.otp.conftest import OTP_SECRET, Clock, Leaks
from tests.otp.helpers import wrong

KEY_CALLER = "key:0123456789abcdef"
WX_CALLER = "wx:oAbCd1EfGh2IjKl3MnOp4QrSt5Uv"

pytestmark = pytest.mark.usefixtures("backend_env")


def send(phone: str, caller: str = KEY_CALLER, **fields: Any) -> dict[str, Any]:
    return otp.send_code(runtime.services, {"phone": phone, **fields}, caller=caller, deadline=None)


def verify(phone: str, code: str, caller: str = KEY_CALLER, **fields: Any) -> dict[str, Any]:
    return otp.verify_code(runtime.services, {"phone": phone, "code": code, **fields}, caller=caller)


def refused(call: Any, *args: Any, **kwargs: Any) -> SmsError:
    with pytest.raises(SmsError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_send_then_verify(sms_emulator: Emulator, leaks: Leaks, clock: Clock) -> None:
    from shared.runtime import runtime

    phone = leaks.new_phone()
    sent = send(phone)
    assert set(sent) == {"id", "expires_in", "resend_after"}
    assert (sent["expires_in"], sent["resend_after"]) == (300, 60)
    [sms] = sms_emulator.messages(phone)
    assert (sms.template_id, sms.sign) == ("7840", "腾讯云")
    code = leaks.code_from(sms_emulator, phone)
    assert len(code) == 6
    assert sms.params == (code, "5")
    assert code not in json.dumps(sent)

    record = runtime.services.store.otp_get(sent["id"])
    assert record is not None
    assert (record.phone, record.purpose, record.caller, record.status) == (
        phone,
        "login",
        KEY_CALLER,
        "active",
    )
    assert record.expires_at == int(clock()) + 300
    assert record.max_attempts == 5
    assert record.attempts == 0
    assert record.code_hash == otp.hash_code(OTP_SECRET, record.id, phone, "login", code)
    assert code not in record.code_hash
    stored_sms = runtime.services.store.get_message(sms.message_id)
    assert stored_sms is not None
    assert stored_sms.params == ["******", "5"]

    assert verify(phone, code, id=sent["id"]) == {"verified": True, "id": sent["id"], "phone": phone}


def test_verify_by_latest_active_code(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = send(phone, purpose="bind_phone")
    code = leaks.code_from(sms_emulator, phone)
    error = refused(verify, phone, code)  # purpose login: not this code
    assert (error.status, error.code) == (404, "otp_not_found")
    assert verify(phone, code, purpose="bind_phone")["id"] == sent["id"]


def test_a_code_is_good_once(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = send(phone)
    code = leaks.code_from(sms_emulator, phone)
    assert verify(phone, code, id=sent["id"])["verified"] is True
    error = refused(verify, phone, code, id=sent["id"])
    assert (error.status, error.code) == (409, "otp_used")
    error = refused(verify, phone, code)  # without the id: no active code is left
    assert (error.status, error.code) == (404, "otp_not_found")


def test_wrong_attempts_lock_the_code(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = send(phone)
    code = leaks.code_from(sms_emulator, phone)
    for left in (4, 3, 2, 1):
        error = refused(verify, phone, wrong(code), id=sent["id"])
        assert (error.status, error.code) == (400, "otp_mismatch")
        assert error.to_body()["error"]["attempts_left"] == left
    error = refused(verify, phone, wrong(code), id=sent["id"])
    assert (error.status, error.code) == (423, "otp_locked")
    assert error.to_body()["error"]["attempts_left"] == 0
    error = refused(verify, phone, code, id=sent["id"])
    assert (error.status, error.code) == (423, "otp_locked")


def test_expiry(sms_emulator: Emulator, leaks: Leaks, clock: Clock) -> None:
    phone = leaks.new_phone()
    first = send(phone)
    code = leaks.code_from(sms_emulator, phone)
    clock.advance(300)
    error = refused(verify, phone, code, id=first["id"])
    assert (error.status, error.code) == (410, "otp_expired")
    error = refused(verify, phone, code)
    assert (error.status, error.code) == (410, "otp_expired")

    second = send(phone)  # the window is long over
    code = leaks.code_from(sms_emulator, phone)
    clock.advance(299)
    assert verify(phone, code)["id"] == second["id"]


def test_resend_window_and_supersede(sms_emulator: Emulator, leaks: Leaks, clock: Clock) -> None:
    phone = leaks.new_phone()
    first = send(phone)
    old = leaks.code_from(sms_emulator, phone)
    clock.advance(45)
    error = refused(send, phone)
    assert (error.status, error.code, error.retry_after) == (429, "otp_resend_too_soon", 15)
    assert len(sms_emulator.messages(phone)) == 1
    clock.advance(15)
    second = send(phone)
    new = leaks.code_from(sms_emulator, phone)
    error = refused(verify, phone, old, id=first["id"])
    assert (error.status, error.code) == (410, "otp_superseded")
    clock.advance(30)
    other = send(phone, purpose="bind_phone")  # the window and the supersede are per purpose
    assert other["id"] != second["id"]
    assert verify(phone, new)["id"] == second["id"]


def test_mini_program_codes_verify_only_for_their_openid(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = send(phone, caller=WX_CALLER)
    code = leaks.code_from(sms_emulator, phone)
    for caller in ("wx:oSomebodyElse0000000000000", KEY_CALLER, "direct"):
        error = refused(verify, phone, code, caller=caller)
        assert (error.status, error.code) == (403, "otp_wrong_caller")
    assert verify(phone, code, caller=WX_CALLER, id=sent["id"])["verified"] is True


def test_backend_codes_verify_for_any_authenticated_caller(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    send(phone, caller=KEY_CALLER)
    code = leaks.code_from(sms_emulator, phone)
    assert verify(phone, code, caller="key:fedcba9876543210")["verified"] is True


@pytest.mark.usefixtures("containers")
def test_parallel_verifies_of_one_code_succeed_once(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = send(phone)
    code = leaks.code_from(sms_emulator, phone)

    def attempt(_: int) -> str:
        try:
            return "ok" if verify(phone, code, id=sent["id"])["verified"] else "?"
        except SmsError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "otp_used"}, outcomes


@pytest.mark.usefixtures("containers")
def test_parallel_sends_for_one_number_send_one_sms(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()

    def attempt(_: int) -> str:
        try:
            return send(phone)["id"]
        except SmsError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))
    ids = [o for o in outcomes if o.startswith("otp_") and o != "otp_resend_too_soon"]
    assert len(ids) == 1, outcomes
    assert outcomes.count("otp_resend_too_soon") == 9, outcomes
    assert len(sms_emulator.messages(phone)) == 1
    code = leaks.code_from(sms_emulator, phone)
    assert verify(phone, code)["id"] == ids[0]


def test_refused_send_leaves_no_code_and_frees_the_window(
    sms_emulator: Emulator, leaks: Leaks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import runtime

    phone = leaks.new_phone()
    monkeypatch.setenv("SMS_OTP_TEMPLATE_ID", "9999")  # not approved: Tencent refuses
    runtime.reset()
    error = refused(send, phone)
    assert error.status == 502
    assert error.tencent_code == "FailedOperation.TemplateIncorrectOrUnapproved"
    assert runtime.services.store.otp_latest_active(phone, "login") is None
    monkeypatch.setenv("SMS_OTP_TEMPLATE_ID", "7840")
    runtime.reset()
    assert send(phone)["id"]  # no resend window was left behind
    assert len(sms_emulator.messages(phone)) == 1


def test_unreachable_tencent_leaves_no_code(
    sms_emulator: Emulator, leaks: Leaks, monkeypatch: pytest.MonkeyPatch
) -> None:

    from shared.runtime import runtime

    closed = f"http://127.0.0.1:{free_port()}"  # a port nobody listens on: the connection is refused
    monkeypatch.setenv("TENCENT_SMS_ENDPOINT", closed)
    runtime.reset()
    phone = leaks.new_phone()
    error = refused(send, phone)
    assert (error.status, error.code) == (503, "tencent_unavailable")
    assert runtime.services.store.otp_latest_active(phone, "login") is None
    monkeypatch.setenv("TENCENT_SMS_ENDPOINT", sms_emulator.url)
    runtime.reset()
    assert send(phone)["id"]  # no resend window was left behind
    assert len(sms_emulator.messages(phone)) == 1


def test_unknown_outcome_keeps_the_code_and_the_window(sms_emulator: Emulator, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sms_emulator.set_faults(drop_count=1)  # processed, then the connection drops unanswered
    error = refused(send, phone)
    assert (error.status, error.code) == (504, "outcome_unknown")
    body = error.to_body()["error"]
    assert body["expires_in"] == 300
    assert body["resend_after"] == 60
    code = leaks.code_from(sms_emulator, phone)  # it did arrive
    assert code not in json.dumps(error.to_body())
    error = refused(send, phone)
    assert error.code == "otp_resend_too_soon"
    assert verify(phone, code)["id"] == body["id"]


def test_send_limits_apply(
    sms_emulator: Emulator, leaks: Leaks, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_OTP_RESEND_AFTER", "1")
    monkeypatch.setenv("SMS_LIMIT_PER_PHONE", "2/1h")
    monkeypatch.setenv("SMS_LIMIT_PER_CALLER", "3/1h")
    runtime.reset()
    phone = leaks.new_phone()
    send(phone)
    clock.advance(2)
    send(phone)
    clock.advance(2)
    error = refused(send, phone)
    assert (error.status, error.code) == (429, "rate_limited")
    assert error.to_body()["error"]["limit"] == "sms:phone:2/1h"  # one budget per number, every route
    send(leaks.new_phone())
    error = refused(send, leaks.new_phone())
    assert error.to_body()["error"]["limit"] == "otp:caller:3/1h"
    error = refused(send, "+14155552671")
    assert (error.status, error.code) == (403, "country_not_allowed")
    assert sms_emulator.accepted_count == 3


def test_without_a_secret_nothing_works(
    sms_emulator: Emulator, leaks: Leaks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import runtime

    monkeypatch.delenv("SMS_OTP_SECRET")
    runtime.reset()
    phone = leaks.new_phone()
    for call, args in ((send, (phone,)), (verify, (phone, "123456"))):
        error = refused(call, *args)
        assert (error.status, error.code) == (500, "misconfigured")
        assert "SMS_OTP_SECRET" in error.message
    assert sms_emulator.accepted_count == 0


def test_another_secret_does_not_match(
    sms_emulator: Emulator, leaks: Leaks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import runtime

    phone = leaks.new_phone()
    send(phone)
    code = leaks.code_from(sms_emulator, phone)
    monkeypatch.setenv("SMS_OTP_SECRET", "a-rotated-secret-000000000000")
    runtime.reset()
    assert refused(verify, phone, code).code == "otp_mismatch"


@pytest.mark.usefixtures("sms_emulator")
def test_scheduled_purge_removes_expired_codes(leaks: Leaks, clock: Clock) -> None:
    from functions.pull_status.handler import handler
    from shared.runtime import runtime
    from tests.conftest import load_event
    from tests.helpers import AwsContext

    phone = leaks.new_phone()
    clock.advance(-1000)  # issued long ago: expired by now
    old = send(phone)
    clock.advance(1000)
    fresh = send(phone, purpose="bind_phone")
    answer = handler(load_event("aws-eventbridge-schedule.json"), AwsContext())
    assert answer["purged"] >= 1, answer
    assert runtime.services.store.otp_get(old["id"]) is None
    assert runtime.services.store.otp_get(fresh["id"]) is not None
