"""GET /sms/status/{phone}: limited per caller, and a recent answer for the same number and window
reused (from the store, so across containers) instead of another call to Tencent."""

from __future__ import annotations

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY
from tests.functions.test_tracking_handlers import send
from tests.helpers import AwsContext, answer_body, handler, http_event, reconfigure

OTHER_KEY = "second-api-key-4c1d9e"
PHONE = "+8613800000000"


def per_number_pulls(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.operation == "PullSmsSendStatusByPhoneNumber")


def status(query: dict[str, str] | None = None, *, key: str = API_KEY) -> dict:
    event = http_event("GET", f"/sms/status/{PHONE}", query=query or {"kind": "receipts"}, key=key)
    return handler("pull_status").handler(event, AwsContext())


@pytest.fixture
def env(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    reconfigure(monkeypatch, SMS_API_KEYS=f"{API_KEY},{OTHER_KEY}", SMS_STATUS_LIMIT_PER_CALLER="60/1m")
    return function_env


@pytest.mark.usefixtures("env")
def test_fifty_reads_make_one_call_to_tencent(sms_emulator: Emulator) -> None:
    [message_id] = send([PHONE])
    answers = [status() for _ in range(50)]
    assert all(a["statusCode"] == 200 for a in answers)
    bodies = [answer_body(a) for a in answers]
    assert per_number_pulls(sms_emulator) == 1
    assert [b["cached"] for b in bodies] == [False] + [True] * 49
    assert {b["items"][0]["message_id"] for b in bodies} == {message_id}
    assert bodies[0]["stored"] == 1
    assert all(b["stored"] == 0 for b in bodies[1:])


@pytest.mark.usefixtures("env")
def test_the_answer_is_shared_across_containers(sms_emulator: Emulator) -> None:
    from shared.runtime import runtime

    send([PHONE])
    assert answer_body(status())["cached"] is False
    runtime.reset()  # a new container: new settings, client and store connection
    assert answer_body(status())["cached"] is True
    assert per_number_pulls(sms_emulator) == 1


@pytest.mark.usefixtures("env")
def test_another_window_kind_or_size_is_read_through(sms_emulator: Emulator) -> None:
    send([PHONE])
    status()
    status({"kind": "receipts", "max": "5"})
    status({"kind": "replies"})
    explicit = {"kind": "receipts", "end": "1900000000"}
    assert answer_body(status(explicit))["cached"] is False
    assert answer_body(status(explicit))["cached"] is True
    assert per_number_pulls(sms_emulator) == 3
    assert sum(1 for r in sms_emulator.requests if r.operation == "PullSmsReplyStatusByPhoneNumber") == 1


@pytest.mark.usefixtures("env")
def test_cache_can_be_turned_off(sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    reconfigure(monkeypatch, SMS_STATUS_CACHE_TTL="0")
    for _ in range(3):
        assert answer_body(status())["cached"] is False
    assert per_number_pulls(sms_emulator) == 3


@pytest.mark.usefixtures("env")
def test_over_the_per_caller_limit_is_a_429_and_other_callers_go_on(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, SMS_STATUS_LIMIT_PER_CALLER="3/1m")
    assert [status()["statusCode"] for _ in range(3)] == [200, 200, 200]
    refused = status()
    assert refused["statusCode"] == 429
    error = answer_body(refused)["error"]
    assert error["code"] == "rate_limited"
    assert "status:caller" in error["message"]
    assert int(refused["headers"]["Retry-After"]) >= 1
    assert status(key=OTHER_KEY)["statusCode"] == 200
    assert per_number_pulls(sms_emulator) == 1
