"""A warm container reuses its connections to Tencent: a second invocation opens no new TCP
connection, for one SMS and for a 450-number multi send (three concurrent API calls).

A warm container is one process and one `runtime` kept between invocations: nothing is reset
between the two calls. Connection counts are the emulator's (TCP connections it accepted)."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator import Emulator
from shared.runtime import runtime


def send_single(phone: str) -> dict[str, Any]:
    from functions.send_single import handler

    answer: dict[str, Any] = handler.handler({"phone": phone, "params": ["1"]}, None)
    return answer


def send_multi(phones: list[str]) -> dict[str, Any]:
    from functions.send_multi import handler

    answer: dict[str, Any] = handler.handler({"phones": phones, "template_id": "7839", "params": ["1"]}, None)
    return answer


def numbers(start: int, count: int) -> list[str]:
    return [f"+86137{i:08d}" for i in range(start, start + count)]


@pytest.mark.usefixtures("function_env")
def test_second_send_single_opens_no_connection(sms_emulator: Emulator) -> None:
    assert send_single("+8613800000000")["status"] == "submitted"
    after_first = sms_emulator.connections
    assert send_single("+8613800000001")["status"] == "submitted"
    assert sms_emulator.connections == after_first
    assert sms_emulator.accepted_count == 2


@pytest.mark.usefixtures("function_env")
def test_second_send_multi_opens_no_connection(sms_emulator: Emulator) -> None:
    # with latency every call of an invocation is in flight at once: both need three connections
    sms_emulator.set_faults(latency_ms=150)
    assert send_multi(numbers(0, 450))["submitted"] == 450
    after_first = sms_emulator.connections
    assert send_multi(numbers(450, 450))["submitted"] == 450
    assert sms_emulator.connections == after_first
    assert sms_emulator.accepted_count == 900
    assert len(sms_emulator.requests) == 6


@pytest.mark.usefixtures("function_env")
def test_single_and_multi_share_the_warm_connections(sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(latency_ms=150)
    assert send_multi(numbers(900, 450))["submitted"] == 450
    after_multi = sms_emulator.connections
    assert send_single("+8613800000002")["status"] == "submitted"
    assert send_multi(numbers(1350, 450))["submitted"] == 450
    assert sms_emulator.connections == after_multi


@pytest.mark.usefixtures("function_env")
def test_the_transport_outlives_a_runtime_reset(sms_emulator: Emulator) -> None:
    """The pooled transport is per process (keyed by its options), not per runtime: settings and
    client may be rebuilt, the connections stay."""
    assert send_single("+8613800000003")["status"] == "submitted"
    transport = runtime.services.client.transport
    after_first = sms_emulator.connections
    runtime.reset()
    assert send_single("+8613800000004")["status"] == "submitted"
    assert runtime.services.client.transport is transport
    assert sms_emulator.connections == after_first


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("concurrency", [1, 4])
def test_multi_send_is_bounded_by_the_configured_concurrency(
    sms_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
) -> None:
    """Ten calls with every call slow: never more connections than SMS_SEND_CONCURRENCY, and every
    number's result in the caller's order."""
    from shared.client import SmsClient, transport_options
    from shared.services import Services
    from shared.transport import Transport

    monkeypatch.setenv("SMS_SEND_CONCURRENCY", str(concurrency))
    runtime.reset()
    settings = runtime.services.settings
    # a client with a fresh pool of its own, so every connection is counted
    runtime.install(Services(settings, client=SmsClient(settings, Transport(transport_options(settings)))))
    sms_emulator.set_faults(latency_ms=100)
    phones = numbers(2000 + concurrency * 2000, 2000)[::-1]
    answer = send_multi(phones)
    assert answer["submitted"] == 2000
    assert len(sms_emulator.requests) == 10
    assert [r["phone"] for r in answer["results"]] == phones
    assert sms_emulator.connections <= concurrency
    runtime.services.client.transport.close()
