"""SMS pumping through `POST /sms/send-multi` (issue #14, item 1): one budget per number on every
route, a global daily cap counted in numbers, a caller's multi allowance counted in numbers, and
queued chunks checked when they are sent. Real handlers, the emulator's own record of what it got."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from local.emulator import Emulator
from local.gateway import Gateway
from tests.conftest import API_KEY, load_event
from tests.functions.test_fanout import local_queue  # noqa: F401  (a fixture)
from tests.helpers import AwsContext, answer_body, handler, set_body, set_header, wait_for
from tests.security.test_concurrency import http_send

TARGET = "+8613800000042"  # the number being pumped
TEMPLATE = {"template_id": "7839", "params": ["1"]}


def http_multi(phones: list[str], idempotency_key: str | None = None) -> dict[str, Any]:
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/sms/send-multi"
    set_header(event, "x-api-key", API_KEY)
    set_header(event, "idempotency-key", idempotency_key)
    set_body(event, {"phones": phones, **TEMPLATE})
    return handler("send_multi").handler(event, AwsContext())


def results_by_phone(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["phone"]: r for r in answer_body(answer)["results"]}


def use_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    from shared.runtime import runtime

    for name, value in values.items():
        monkeypatch.setenv(name, value)
    runtime.reset()


@pytest.mark.usefixtures("store_env")
def test_ten_multi_sends_of_one_number_send_only_its_budget(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, SMS_LIMIT_PER_PHONE="3/1h")
    answers = [http_multi([TARGET, f"+861380000010{i}"]) for i in range(10)]
    assert [a["statusCode"] for a in answers] == [200] * 10  # the other number of each went out
    assert len(sms_emulator.messages(TARGET)) == 3
    assert sms_emulator.accepted_count == 3 + 10
    first = answer_body(answers[0])
    assert "rate_limited" not in first
    assert all("limit" not in r for r in first["results"])
    for answer in answers[3:]:
        body, target = answer_body(answer), results_by_phone(answer)[TARGET]
        assert (body["submitted"], body["failed"], body["rate_limited"]) == (1, 0, 1)
        assert (target["status"], target["code"], target["limit"]) == (
            "rate_limited",
            "rate_limited",
            "sms:phone:3/1h",
        )
        assert target["message_id"] == ""
        assert target["retry_after"] > 0
    # the same budget holds a single send and a multi send of that number alone
    single = http_send({"phone": TARGET, **TEMPLATE})
    assert single["statusCode"] == 429
    assert answer_body(single)["error"]["limit"] == "sms:phone:3/1h"
    alone = http_multi([TARGET])
    assert alone["statusCode"] == 429
    assert int(alone["headers"]["Retry-After"]) > 0
    error = answer_body(alone)["error"]
    assert (error["code"], error["limit"], error["rate_limited"]) == ("rate_limited", "sms:phone:3/1h", 1)
    assert len(sms_emulator.messages(TARGET)) == 3


@pytest.mark.usefixtures("function_env")
def test_codes_and_multi_sends_share_a_number_budget(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, SMS_LIMIT_PER_PHONE="1/1h", SMS_OTP_SECRET="pumping-test-secret-0123456789")
    assert http_multi([TARGET])["statusCode"] == 200
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/otp/send"
    set_header(event, "x-api-key", API_KEY)
    set_body(event, {"phone": TARGET})
    code = handler("otp").handler(event, AwsContext())
    assert code["statusCode"] == 429
    assert answer_body(code)["error"]["limit"] == "sms:phone:1/1h"
    assert len(sms_emulator.messages(TARGET)) == 1


@pytest.mark.usefixtures("store_env")
def test_parallel_multi_sends_of_one_number_send_it_once(sms_emulator: Emulator) -> None:
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: http_multi([TARGET, f"+86138000002{i:02d}"]), range(16)))
    assert all(a["statusCode"] == 200 for a in answers)
    assert len(sms_emulator.messages(TARGET)) == 1  # the per-number limit is 1 per 30 s
    statuses = sorted(results_by_phone(a)[TARGET]["status"] for a in answers)
    assert statuses == ["rate_limited"] * 15 + ["submitted"]
    assert sms_emulator.accepted_count == 1 + 16


@pytest.mark.usefixtures("store_env")
def test_the_global_daily_cap_counts_numbers_on_every_route(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, SMS_LIMIT_GLOBAL_DAILY="5")
    assert [http_send({"phone": f"+861380000030{i}", **TEMPLATE})["statusCode"] for i in range(2)] == [
        200,
        200,
    ]
    partial = http_multi([f"+861380000031{i}" for i in range(5)])
    assert partial["statusCode"] == 200
    body = answer_body(partial)
    assert (body["submitted"], body["rate_limited"]) == (3, 2)
    assert {r["limit"] for r in body["results"] if r["status"] == "rate_limited"} == {"global:daily"}
    for i in range(5):  # once the cap is reached, multi sends go no further than single sends
        refused = http_multi([f"+861380000032{i}"])
        assert refused["statusCode"] == 429
        assert answer_body(refused)["error"]["limit"] == "global:daily"
    assert http_send({"phone": "+8613800000330", **TEMPLATE})["statusCode"] == 429
    assert sms_emulator.accepted_count == 5


@pytest.mark.usefixtures("function_env")
def test_a_callers_multi_allowance_counts_numbers(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, SMS_LIMIT_MULTI_PER_CALLER="4/1h")
    assert answer_body(http_multi([f"+861380000040{i}" for i in range(3)]))["submitted"] == 3
    second = http_multi([f"+861380000041{i}" for i in range(3)])
    body = answer_body(second)
    assert (second["statusCode"], body["submitted"], body["rate_limited"]) == (200, 1, 2)
    assert {r["limit"] for r in body["results"] if r["status"] == "rate_limited"} == {"multi:numbers:4/1h"}
    assert http_send({"phone": "+8613800000420", **TEMPLATE})["statusCode"] == 200  # single sends: own limits
    assert sms_emulator.accepted_count == 5


@pytest.mark.usefixtures("function_env")
def test_a_retry_after_a_504_does_not_send_again(sms_emulator: Emulator) -> None:
    phones = [TARGET, "+8613800000501"]
    sms_emulator.set_faults(drop_count=1)  # processed, then the connection closes unanswered
    assert http_multi(phones)["statusCode"] == 504
    retry = http_multi(phones)  # no idempotency key: the numbers' budget is what stops a resend
    assert retry["statusCode"] == 429
    assert sms_emulator.accepted_count == 2
    assert len(sms_emulator.messages(TARGET)) == 1


@pytest.mark.usefixtures("function_env")
def test_quota_is_given_back_for_numbers_tencent_refused(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    phones = [TARGET, "+8613800000601"]
    use_env(monkeypatch, TENCENT_SMS_ENDPOINT="http://127.0.0.1:9", TENCENT_SMS_CONNECT_TIMEOUT="0.2")
    failed = http_multi(phones)
    assert failed["statusCode"] == 503
    assert answer_body(failed)["failed"] == 2
    use_env(monkeypatch, TENCENT_SMS_ENDPOINT=sms_emulator.url)
    assert answer_body(http_multi(phones))["submitted"] == 2  # the failure used up no budget
    assert http_multi(phones)["statusCode"] == 429  # and the sends did
    assert sms_emulator.accepted_count == 2


def sqs_chunk(phones: list[str], index: int, message_id: str) -> dict[str, Any]:
    chunk = {"phones": phones, **TEMPLATE, "sign": "腾讯云", "batch_id": "batch-pump", "chunk": index}
    event = load_event("aws-sqs.json")
    event["Records"] = event["Records"][:1]
    event["Records"][0]["messageId"] = message_id
    event["Records"][0]["body"] = json.dumps(chunk)
    return event


@pytest.mark.usefixtures("function_env")
def test_a_queued_chunk_is_checked_when_it_is_sent(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, SMS_LIMIT_GLOBAL_DAILY="3")
    assert http_send({"phone": TARGET, **TEMPLATE})["statusCode"] == 200  # while the chunk was queued
    others = [f"+861380000070{i}" for i in range(3)]
    answer = handler("send_multi").handler(sqs_chunk([TARGET, *others], 0, "chunk-0"), AwsContext())
    assert answer == {"batchItemFailures": []}  # not retried: that would send what limits held back
    assert len(sms_emulator.messages(TARGET)) == 1  # its per-number limit held
    assert sms_emulator.accepted_count == 3  # and the global cap: 1 single + 2 of the chunk
    late = sqs_chunk([f"+861380000071{i}" for i in range(2)], 1, "chunk-1")  # the cap is reached
    assert handler("send_multi").handler(late, AwsContext()) == {"batchItemFailures": []}
    assert sms_emulator.accepted_count == 3


def test_a_queued_list_needs_the_callers_allowance_for_every_number(
    local_queue: Gateway,  # noqa: F811
    sms_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_env(monkeypatch, SMS_LIMIT_MULTI_PER_CALLER="500/1h")
    headers = {"X-Api-Key": API_KEY}
    url = f"{local_queue.url}/sms/send-multi"
    big = {"phones": [f"+86139{i:08d}" for i in range(600)], **TEMPLATE}
    refused = httpx.post(url, json=big, headers=headers, timeout=30)
    assert refused.status_code == 429
    assert refused.json()["error"]["limit"] == "multi:numbers:500/1h"
    fits = {"phones": [f"+86137{i:08d}" for i in range(400)], **TEMPLATE}
    queued = httpx.post(url, json=fits, headers=headers, timeout=30)
    assert queued.status_code == 202, queued.text
    more = {**big, "phones": big["phones"][:350]}
    refused = httpx.post(url, json=more, headers=headers, timeout=30)
    assert refused.status_code == 429  # 400 + 350 > 500
    wait_for(lambda: sms_emulator.accepted_count == 400 and local_queue.queue_idle())
