"""OTP over real HTTP: `python -m local` as a subprocess (gateway + emulator), codes read from the
emulator's inbox (`GET /_emulator/messages?phone=`) as a person running locally would."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests import local_run as local_run_module
from tests.otp.conftest import OTP_SECRET, Leaks
from tests.otp.helpers import code_in, wrong


class LocalRun(local_run_module.LocalRun):
    def code(self, http: httpx.Client, phone: str, leaks: Leaks) -> str:
        """The code of the newest SMS to `phone`, parsed out of its rendered text."""
        messages = self.inbox(http, phone)
        assert messages, f"no SMS for {phone}"
        return leaks.remember(code_in(messages[0]["text"]))


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRun]:
    """One `python -m local` for the module, with `SMS_OTP_SECRET` set."""
    with local_run_module.local_run(
        tmp_path_factory.mktemp("otp-local"), {"SMS_OTP_SECRET": OTP_SECRET}
    ) as run:
        assert OTP_SECRET not in run.log.read_text(encoding="utf-8")
        yield LocalRun(run.gateway, run.emulator, run.key, run.log, run.process)


@pytest.fixture
def run(local_run: LocalRun, leaks: Leaks) -> LocalRun:
    """The running gateway; its output (the functions' logs) joins this test's leak check."""
    leaks.files.append(local_run.log)
    return local_run


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


def test_send_then_verify_once(run: LocalRun, http: httpx.Client, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    sent = http.post(
        f"{run.gateway}/otp/send", headers=run.headers, json={"phone": phone, "purpose": "login"}
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert set(body) == {"id", "expires_in", "resend_after"}
    assert (body["expires_in"], body["resend_after"]) == (300, 60)
    [sms] = run.inbox(http, phone)
    assert sms["template_id"] == "7840"
    assert "分钟内有效" in sms["text"]
    code = run.code(http, phone, leaks)
    assert code not in sent.text
    request = {"phone": phone, "code": code, "purpose": "login"}
    verified = http.post(f"{run.gateway}/otp/verify", headers=run.headers, json=request)
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"verified": True, "id": body["id"], "phone": phone}
    again = http.post(f"{run.gateway}/otp/verify", headers=run.headers, json={**request, "id": body["id"]})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "otp_used"
    assert http.post(f"{run.gateway}/otp/verify", json=request).status_code == 401


def test_five_wrong_codes_lock_it(run: LocalRun, http: httpx.Client, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    otp_id = http.post(f"{run.gateway}/otp/send", headers=run.headers, json={"phone": phone}).json()["id"]
    code = run.code(http, phone, leaks)
    answers = [
        http.post(
            f"{run.gateway}/otp/verify",
            headers=run.headers,
            json={"phone": phone, "code": wrong(code), "id": otp_id},
        )
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 423]
    assert [a.json()["error"]["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    right = http.post(
        f"{run.gateway}/otp/verify", headers=run.headers, json={"phone": phone, "code": code, "id": otp_id}
    )
    assert right.status_code == 423
    assert right.json()["error"]["code"] == "otp_locked"


def test_resend_inside_the_window_is_429(run: LocalRun, http: httpx.Client, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    first = http.post(f"{run.gateway}/otp/send", headers=run.headers, json={"phone": phone})
    assert first.status_code == 200
    second = http.post(f"{run.gateway}/otp/send", headers=run.headers, json={"phone": phone})
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "otp_resend_too_soon"
    assert 55 <= int(second.headers["Retry-After"]) <= 60
    assert len(run.inbox(http, phone)) == 1
    run.code(http, phone, leaks)


def test_twenty_parallel_verifies_succeed_once(run: LocalRun, http: httpx.Client, leaks: Leaks) -> None:
    phone = leaks.new_phone()
    otp_id = http.post(f"{run.gateway}/otp/send", headers=run.headers, json={"phone": phone}).json()["id"]
    code = run.code(http, phone, leaks)

    def verify(_: int) -> tuple[int, str]:
        with httpx.Client(timeout=20) as own:
            answer = own.post(
                f"{run.gateway}/otp/verify",
                headers=run.headers,
                json={"phone": phone, "code": code, "id": otp_id},
            )
        return answer.status_code, answer.json().get("error", {}).get("code", "ok")

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(verify, range(20)))
    assert outcomes.count((200, "ok")) == 1, outcomes
    assert outcomes.count((409, "otp_used")) == 19, outcomes


def test_ten_parallel_sends_send_one_sms(run: LocalRun, http: httpx.Client, leaks: Leaks) -> None:
    phone = leaks.new_phone()

    def send(_: int) -> int:
        with httpx.Client(timeout=20) as own:
            return own.post(f"{run.gateway}/otp/send", headers=run.headers, json={"phone": phone}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(send, range(10)))
    assert sorted(statuses) == [200] + [429] * 9, statuses
    assert len(run.inbox(http, phone)) == 1
    code = run.code(http, phone, leaks)
    verified = http.post(
        f"{run.gateway}/otp/verify", headers=run.headers, json={"phone": phone, "code": code}
    )
    assert verified.status_code == 200


def test_gateway_process_is_still_up(run: LocalRun) -> None:
    assert run.process.poll() is None
