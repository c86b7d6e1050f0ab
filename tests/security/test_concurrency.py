"""Limits and idempotency hold under concurrency: threads in one container, and separate
processes (separate containers) sharing one store."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, load_event
from tests.helpers import AwsContext, answer_body, handler, reconfigure, set_body, set_header

PARALLEL = 16


def http_send(body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
    event = load_event("aws-http-api.json")
    set_header(event, "x-api-key", API_KEY)
    set_header(event, "idempotency-key", idempotency_key)
    set_body(event, body)
    return handler("send_single").handler(event, AwsContext())


@pytest.mark.usefixtures("store_env")
def test_parallel_requests_for_one_number_send_the_allowed_count(sms_emulator: Emulator) -> None:
    body = {"phone": "+8613800000000", "template_id": "7839", "params": ["1"]}
    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(lambda _: http_send(body), range(PARALLEL)))
    statuses = sorted(a["statusCode"] for a in answers)
    assert statuses == [200] + [429] * (PARALLEL - 1)  # the per-number limit is 1 per 30 s
    limited = next(a for a in answers if a["statusCode"] == 429)
    assert answer_body(limited)["error"]["limit"] == "sms:phone:1/30s"
    assert int(limited["headers"]["Retry-After"]) > 0
    assert sms_emulator.accepted_count == 1


@pytest.mark.usefixtures("store_env")
def test_parallel_requests_with_one_idempotency_key_send_once(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, SMS_LIMIT_PER_PHONE="off")
    sms_emulator.set_faults(latency_ms=150)  # keep the first request in flight while the others arrive
    body = {"phone": "+8613800000001", "template_id": "7839", "params": ["1"]}
    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(lambda _: http_send(body, "order-42"), range(PARALLEL)))
    assert sms_emulator.accepted_count == 1
    ok = [a for a in answers if a["statusCode"] == 200]
    assert {answer_body(a)["message_id"] for a in ok} == {sms_emulator.messages()[0].message_id}
    assert sum(1 for a in ok if a["headers"].get("Idempotent-Replayed") == "true") == len(ok) - 1
    assert all(a["statusCode"] in (200, 409) for a in answers)


@pytest.mark.usefixtures("store_env")
def test_idempotency_key_with_another_body_is_refused(sms_emulator: Emulator) -> None:
    first = http_send({"phone": "+8613800000002", "params": ["1"]}, "k-1")
    assert first["statusCode"] == 200
    again = http_send({"phone": "+8613800000002", "params": ["1"]}, "k-1")
    assert again["statusCode"] == 200
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert answer_body(again) == answer_body(first)
    other = http_send({"phone": "+8613800000003", "params": ["1"]}, "k-1")
    assert other["statusCode"] == 422
    assert answer_body(other)["error"]["code"] == "idempotency_key_reused"
    assert sms_emulator.accepted_count == 1


@pytest.mark.usefixtures("store_env")
def test_a_failed_send_can_be_retried_with_the_same_key(sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(fail_status=503, fail_count=1)  # the gateway refused: outcome unknown
    first = http_send({"phone": "+8613800000004", "params": ["1"]}, "k-2")
    assert first["statusCode"] == 504
    again = http_send({"phone": "+8613800000004", "params": ["1"]}, "k-2")
    assert again["statusCode"] == 504
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert sms_emulator.accepted_count == 0  # never resent blindly


@pytest.mark.usefixtures("store_env")
def test_platform_retry_of_a_direct_invoke_is_recognised(sms_emulator: Emulator) -> None:
    event, context = load_event("scf-direct-invoke.json"), load_event("scf-context.json")
    first = handler("send_single").main_handler(event, context)
    retry = handler("send_single").main_handler(event, context)  # same request id: a platform retry
    assert first == retry
    assert sms_emulator.accepted_count == 1


def _send_in_a_new_container(args: tuple[dict[str, str], dict[str, Any], str | None]) -> tuple[int, bool]:
    """(status, replayed) of one request from a fresh process: a container of its own."""
    env, body, key = args
    os.environ.update(env)
    from shared.runtime import runtime

    runtime.reset()
    answer = http_send(body, key)
    return int(answer["statusCode"]), answer["headers"].get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize("mode", ["limit", "idempotency"])
def test_separate_containers_share_limits_and_keys(
    store_env: dict[str, str], sms_emulator: Emulator, mode: str
) -> None:
    env = dict(store_env)
    if mode == "idempotency":
        env["SMS_LIMIT_PER_PHONE"] = "off"
        sms_emulator.set_faults(latency_ms=300)
    body = {"phone": "+8613800000005", "template_id": "7839", "params": ["1"]}
    key = "cross-container" if mode == "idempotency" else None
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        answers = pool.map(_send_in_a_new_container, [(env, body, key)] * 6)
    statuses = [status for status, _ in answers]
    assert sms_emulator.accepted_count == 1
    if mode == "limit":
        assert sorted(statuses) == [200] + [429] * 5, statuses
    else:  # one request sent; every other 200 is a replay of its answer, the rest were told to retry
        assert set(statuses) <= {200, 409}, statuses
        assert [replayed for status, replayed in answers if status == 200].count(False) == 1, answers


@pytest.mark.usefixtures("store_env")
def test_platform_retry_of_a_multi_send_replays_its_counts_not_its_results(sms_emulator: Emulator) -> None:
    """A request id keeps the counts of a multi send (its answer goes to nobody); a client's
    idempotency key keeps every per-number result."""
    context = AwsContext()
    context.aws_request_id = "async-invoke-1"
    phones = [f"+86138000010{i:02d}" for i in range(30)]
    event = {"phones": phones, "template_id": "7839", "params": ["1"]}
    first = handler("send_multi").main_handler(event, context)
    retry = handler("send_multi").main_handler(event, context)
    assert [r["phone"] for r in first["results"]] == phones
    assert first["submitted"] == 30
    assert retry == {"submitted": 30, "failed": 0, "results_kept": False}
    keyed = {**event, "phones": [p[:-3] + "2" + p[-2:] for p in phones], "idempotency_key": "batch-7"}
    context.aws_request_id = "sync-invoke-2"
    once = handler("send_multi").main_handler(keyed, context)
    context.aws_request_id = "sync-invoke-3"  # a client retry: a new request id, the same key
    assert handler("send_multi").main_handler(keyed, context) == once
    assert len(once["results"]) == 30
    assert sms_emulator.accepted_count == 60
