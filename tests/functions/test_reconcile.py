"""Reconciliation in the scheduled pull: receipts a pull lost are asked for per number once the
messages are `SMS_RECONCILE_AFTER` old; a message without any within Tencent's 7 days ends
`unknown` with the reason. Time is moved by the container's clock (`runtime.clock`; the emulator
keeps real time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.emulator import Emulator
from shared.config import load_settings
from shared.errors import ConfigurationError
from tests.functions.test_tracking_handlers import timer
from tests.helpers import AwsContext, handler


def send(phones: list[str], param: str = "1") -> list[str]:
    """One multi send (its own invocation: a new request id, so no idempotent replay)."""
    import uuid

    context = AwsContext()
    context.aws_request_id = str(uuid.uuid4())
    answer = handler("send_multi").handler(
        {"phones": phones, "template_id": "7839", "params": [param]}, context
    )
    assert answer["submitted"] == len(phones), answer
    return [r["message_id"] for r in answer["results"]]


def lost_receipts(emulator: Emulator, operation: str, count: int) -> list[str]:
    """Send `count` messages and lose their receipts in a pull dropped after Tencent handed them out."""
    ids = send([f"+86138{i:08d}" for i in range(count)])
    emulator.set_faults(drop_count=1, operations=[operation])
    run = timer({"kind": "receipts"})
    assert run["runs"][0]["stopped"] == "connection_lost"
    assert run["reconciled"]["checked"] == 0  # too young to be reconciled yet
    emulator.clear_faults()
    assert timer({"kind": "receipts"})["runs"][0]["pulled"] == 0  # gone from Tencent's queue
    return ids


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the container's clock `seconds` ahead of the real one."""
    import time

    from shared.runtime import runtime

    def move(seconds: float) -> None:
        monkeypatch.setattr(runtime, "clock", lambda: time.time() + seconds)
        runtime.reset()

    return move


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("api", ["v3", "legacy"])
def test_receipts_lost_in_a_dropped_pull_are_recovered_per_number(
    sms_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    later: Any,
    api: str,
) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("TENCENT_SMS_API", api)
    runtime.reset()
    ids = lost_receipts(sms_emulator, "PullSmsSendStatus" if api == "v3" else "pullstatus", 5)
    assert all(runtime.services.store.get_message(i).status == "submitted" for i in ids)  # type: ignore[union-attr]

    later(901)
    result = timer({"kind": "receipts"})["reconciled"]

    assert (result["checked"], result["pulls"], result["found"], result["stored"]) == (5, 5, 5, 5)
    assert (result["deferred"], result["unknown"], result["stopped"]) == (0, 0, "done")
    for message_id in ids:
        message = runtime.services.store.get_message(message_id)
        assert message is not None
        assert message.status == "delivered"
        assert len(runtime.services.store.receipts_for(message_id)) == 1
    assert timer({"kind": "receipts"})["reconciled"]["checked"] == 0  # nothing is due any more
    per_number = "PullSmsSendStatusByPhoneNumber" if api == "v3" else "pullstatus4mobile"
    assert sum(r.operation == per_number for r in sms_emulator.requests) == 5


@pytest.mark.usefixtures("function_env")
def test_one_pull_per_number_covers_its_messages_and_the_batch_is_bounded_oldest_first(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, later: Any
) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_LIMIT_PER_PHONE", "off")
    monkeypatch.setenv("SMS_RECONCILE_BATCH", "4")
    runtime.reset()
    phones = ["+8613800000001", "+8613800000002", "+8613800000003"]
    first = send(phones)
    second = send(phones, "2")
    sms_emulator.set_faults(drop_count=1, operations=["PullSmsSendStatus"])
    timer({"kind": "receipts"})
    sms_emulator.clear_faults()

    later(901)
    result = timer({"kind": "receipts"})["reconciled"]

    # the 4 oldest: the first send's 3 and one of the second's; 3 numbers, so 3 pulls, and each
    # pull brings both of its number's receipts (6 new ones)
    assert (result["checked"], result["pulls"], result["found"], result["stored"]) == (4, 3, 4, 6)
    assert all(runtime.services.store.receipts_for(i) for i in first + second)
    assert timer({"kind": "receipts"})["reconciled"]["checked"] == 0


@pytest.fixture
def silent_emulator(monkeypatch: pytest.MonkeyPatch, function_env: dict[str, str]) -> Iterator[Emulator]:  # noqa: ARG001 - a fixture this one needs for its side effect
    """An emulator whose receipts never come (due in 10 years)."""
    from shared.runtime import runtime

    with Emulator(receipt_delay=10 * 365 * 86400) as emulator:
        monkeypatch.setenv("TENCENT_SMS_ENDPOINT", emulator.url)
        runtime.reset()
        yield emulator


@pytest.mark.usefixtures("silent_emulator")
def test_without_a_receipt_a_message_is_asked_again_later_then_ends_unknown_with_the_reason(
    later: Any,
) -> None:
    from shared.runtime import runtime

    [message_id] = send(["+8613800000000"])

    later(901)
    first = timer({"kind": "receipts"})["reconciled"]
    assert (first["checked"], first["pulls"], first["deferred"], first["unknown"]) == (1, 1, 1, 0)
    later(1500)  # asked again only at twice the age (about 30 minutes)
    assert timer({"kind": "receipts"})["reconciled"]["checked"] == 0
    later(1805)
    assert timer({"kind": "receipts"})["reconciled"]["checked"] == 1
    later(6 * 86400)
    assert timer({"kind": "receipts"})["reconciled"]["checked"] == 1
    later(6.9 * 86400)  # asked again at the 7-day mark, not at twice 6 days
    assert timer({"kind": "receipts"})["reconciled"]["checked"] == 0
    message = runtime.services.store.get_message(message_id)
    assert message is not None
    assert message.status == "submitted"

    later(7 * 86400 + 5)
    last = timer({"kind": "receipts"})["reconciled"]

    assert (last["checked"], last["pulls"], last["deferred"], last["unknown"]) == (1, 1, 0, 1)
    message = runtime.services.store.get_message(message_id)
    assert message is not None
    assert (message.status, message.status_reason) == ("unknown", "no_receipt_within_window")
    assert timer({"kind": "receipts"})["reconciled"]["checked"] == 0


@pytest.mark.usefixtures("function_env")
def test_a_tencent_failure_stops_reconciliation_and_changes_nothing(
    sms_emulator: Emulator, later: Any
) -> None:
    from shared.runtime import runtime

    ids = lost_receipts(sms_emulator, "PullSmsSendStatus", 3)
    sms_emulator.set_faults(fail_status=503, fail_count=1, operations=["PullSmsSendStatusByPhoneNumber"])

    later(901)
    result = timer({"kind": "receipts"})["reconciled"]

    assert (result["checked"], result["pulls"], result["stopped"]) == (0, 0, "tencent_error")
    assert result["error"]["code"] == "tencent_unavailable"
    assert all(runtime.services.store.get_message(i).status == "submitted" for i in ids)  # type: ignore[union-attr]
    assert timer({"kind": "receipts"})["reconciled"]["found"] == 3  # due again on the next run


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_reconciliation_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, later: Any) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_RECONCILE_AFTER", "off")
    runtime.reset()
    lost_receipts_ids = send(["+8613800000000"])
    later(901)
    assert timer({"kind": "receipts"})["reconciled"]["stopped"] == "disabled"
    assert "reconciled" not in timer({"kind": "replies"})
    assert runtime.services.store.get_message(lost_receipts_ids[0]) is not None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (900, 500, 10.0)),
        (
            {"SMS_RECONCILE_AFTER": "1h", "SMS_RECONCILE_BATCH": "50", "SMS_RECONCILE_PULL_RATE": "20"},
            (3600, 50, 20.0),
        ),
        ({"SMS_RECONCILE_AFTER": "120"}, (120, 500, 10.0)),
        ({"SMS_RECONCILE_AFTER": "off"}, (0, 500, 10.0)),
    ],
)
def test_reconcile_settings(env: dict[str, str], expected: tuple[int, int, float]) -> None:
    s = load_settings({"TENCENT_SMS_API": "v3", **env})
    assert (s.reconcile_after, s.reconcile_batch, s.reconcile_pull_rate) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"SMS_RECONCILE_AFTER": "30"},
        {"SMS_RECONCILE_AFTER": "15x"},
        {"SMS_RECONCILE_AFTER": "-900"},
        {"SMS_RECONCILE_BATCH": "0"},
        {"SMS_RECONCILE_PULL_RATE": "25"},
    ],
)
def test_bad_reconcile_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(env))):
        load_settings({"TENCENT_SMS_API": "v3", **env})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", 3600), ("900", 900), ("15m", 900), ("1d", 86400), ("off", 0), ("0", 0)],
)
def test_template_sync_interval_shares_the_duration_form(raw: str, expected: int) -> None:
    s = load_settings({"TENCENT_SMS_API": "v3", "SMS_TEMPLATE_SYNC_INTERVAL": raw})
    assert s.template_sync_interval == expected


@pytest.mark.parametrize("raw", ["0m", "15x", "-900", "m"])
def test_bad_template_sync_interval_is_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="SMS_TEMPLATE_SYNC_INTERVAL"):
        load_settings({"TENCENT_SMS_API": "v3", "SMS_TEMPLATE_SYNC_INTERVAL": raw})
