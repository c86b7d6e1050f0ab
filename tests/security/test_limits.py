"""The README's rate-limit promises, through the real handlers: quota given back when Tencent provably
sent nothing, per-end-user and global daily caps, multi sends counted per request."""

from __future__ import annotations

import pytest

from local.emulator import Emulator
from tests.conftest import load_event
from tests.helpers import AwsContext, handler, reconfigure
from tests.security.test_concurrency import http_send

BODY = {"phone": "+8613800000007", "template_id": "7839", "params": ["1"]}


@pytest.mark.usefixtures("store_env")
def test_quota_is_given_back_when_nothing_was_sent(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing listens: provably not sent
    reconfigure(monkeypatch, TENCENT_SMS_ENDPOINT="http://127.0.0.1:9", TENCENT_SMS_CONNECT_TIMEOUT="0.2")
    assert http_send(BODY)["statusCode"] == 503
    reconfigure(monkeypatch, TENCENT_SMS_ENDPOINT=sms_emulator.url)
    assert http_send(BODY)["statusCode"] == 200  # the per-number 1/30s was not used up by the failure
    assert http_send(BODY)["statusCode"] == 429  # and now it is


@pytest.mark.usefixtures("store_env")
def test_an_unknown_outcome_keeps_the_quota(sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(drop_count=1)
    assert http_send(BODY)["statusCode"] == 504
    assert http_send(BODY)["statusCode"] == 429  # it may have gone out: the number's quota stays spent


@pytest.mark.usefixtures("store_env")
def test_end_user_limit_for_mini_program_callers(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, SMS_LIMIT_PER_END_USER="2/1h")
    answers = []
    for i in range(3):  # three calls (three request ids) from one mini-program user
        context = {**load_event("wx-cloud-function-context.json"), "request_id": f"call-{i}"}
        event = {**load_event("wx-cloud-function.json"), "mobile": f"1380000001{i}"}
        answers.append(handler("send_single").main_handler(event, context))
    assert [a.get("status") for a in answers[:2]] == ["submitted", "submitted"]
    assert answers[2]["error"]["code"] == "rate_limited"
    assert answers[2]["error"]["limit"] == "sms:caller:2/1h"
    assert sms_emulator.accepted_count == 2


@pytest.mark.usefixtures("store_env")
def test_global_daily_cap(sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    reconfigure(monkeypatch, SMS_LIMIT_GLOBAL_DAILY="2")
    statuses = [http_send({**BODY, "phone": f"+861380000002{i}"})["statusCode"] for i in range(3)]
    assert statuses == [200, 200, 429]
    assert sms_emulator.accepted_count == 2


@pytest.mark.usefixtures("store_env")
def test_multi_sends_count_per_request(sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    reconfigure(monkeypatch, SMS_LIMIT_PER_CALLER="2/1m")
    answers = []
    for i in range(3):  # three invocations (three request ids) by one direct invoker
        context = AwsContext()
        context.aws_request_id = f"invoke-{i}"
        event = {"phones": [f"+8613800{i}003{n:02d}" for n in range(50)], "params": ["1"]}  # new numbers
        answers.append(handler("send_multi").handler(event, context))
    first, second, third = answers
    assert first["submitted"] == 50
    assert second["submitted"] == 50
    assert third["error"]["limit"] == "multi:caller:2/1m"
    assert sms_emulator.accepted_count == 100
