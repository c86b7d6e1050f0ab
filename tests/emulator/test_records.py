"""The engine keeps one record per accepted send; messages and receipts built from it on demand
behave as one record per message would."""

from __future__ import annotations

from local.emulator import Catalogue, Receipt
from local.emulator.codes import BAD_NUMBER, Rejection
from local.emulator.engine import Engine, SendSpec
from local.emulator.numbers import v3_destinations
from tests.emulator.wire import FakeClock

APP = "1400009099"
A, B, C = "+8613800138000", "+8613800138001", "+8613800138002"


def engine(clock: FakeClock, *, delay: float = 0.0, failure_rate: float = 0.0) -> Engine:
    return Engine(
        Catalogue.default(env={}), clock=clock, receipt_delay=delay, failure_rate=failure_rate, seed=7
    )


def send(target: Engine, *numbers: str) -> list[str | Rejection]:
    spec = SendSpec(
        protocol="v3",
        operation="SendSms",
        app_id=APP,
        destinations=v3_destinations(numbers),
        template_id="7839",
        params=("1234",),
        sign="腾讯云",
    )
    return target.send(spec).results


def ids(receipts: list[Receipt]) -> list[str]:
    return [r.message.message_id for r in receipts]


def test_pulls_hand_each_receipt_out_once_across_and_within_sends() -> None:
    clock = FakeClock()
    target = engine(clock, delay=10)
    first = send(target, A, "+86123", B)
    clock.advance(1)
    second = send(target, C, A)
    assert first[1] == BAD_NUMBER
    sent = [r for r in first + second if isinstance(r, str)]

    assert target.pull_receipts(APP, 100) == []  # not due yet
    clock.advance(10)
    assert ids(target.pull_receipts(APP, 1)) == sent[:1]
    assert ids(target.pull_receipts(APP, 2)) == sent[1:3]
    assert ids(target.pull_receipts(APP, 100)) == sent[3:]
    assert target.pull_receipts(APP, 100) == []
    assert target.pull_receipts("other-app", 100) == []


def test_receipts_wait_for_their_own_send_to_come_due() -> None:
    clock = FakeClock()
    target = engine(clock, delay=10)
    first = send(target, A, B)
    clock.advance(5)
    send(target, C)
    clock.advance(5)
    assert ids(target.pull_receipts(APP, 100)) == first
    clock.advance(5)
    assert [r.message.phone for r in target.pull_receipts(APP, 100)] == [C]


def test_per_number_receipts_and_messages_any_number_of_times_and_after_later_sends() -> None:
    clock = FakeClock()
    target = engine(clock)
    first = send(target, A, B)
    now = int(clock())
    assert ids(target.receipts_for(APP, A, now, now, 10)) == first[:1]
    assert [m.message_id for m in target.messages(A)] == first[:1]
    clock.advance(1)
    second = send(target, A)
    for _ in range(2):
        assert ids(target.receipts_for(APP, A, now, now + 1, 10)) == [first[0], second[0]]
        assert ids(target.receipts_for(APP, A, now, now + 1, 1)) == [first[0]]
        assert ids(target.receipts_for(APP, A, now + 1, now + 1, 10)) == second
    assert target.receipts_for("other-app", A, now, now + 1, 10) == []
    assert [m.message_id for m in target.messages(A)] == [second[0], first[0]]
    assert [m.message_id for m in target.messages()] == [second[0], first[1], first[0]]


def test_a_message_id_finds_its_receipt_and_nothing_else_does() -> None:
    clock = FakeClock()
    target = engine(clock, failure_rate=0.5)
    sent = [r for r in send(target, A, B, C) + send(target, B) if isinstance(r, str)]
    receipts = [target.receipt(message_id) for message_id in sent]
    assert [r.message.message_id for r in receipts if r is not None] == sent
    assert {r.status for r in receipts if r is not None} == {"SUCCESS", "FAIL"}
    assert [target.receipt(m) for m in sent] == receipts  # the same answer every time
    last = sent[-1]
    wrong = [
        "",
        "2019:",
        last[:-1],
        last + "0",
        last[:5] + ("1" if last[5] != "1" else "2") + last[6:],  # another random part
        last[:15] + "999999999",
        last[:15] + "000000000",
        last[:15] + "abc",
    ]
    assert [target.receipt(message_id) for message_id in wrong] == [None] * len(wrong)


def test_failure_draws_follow_the_seed_per_accepted_number() -> None:
    def statuses() -> list[str]:
        target = engine(FakeClock(), failure_rate=0.5)
        send(target, A, "+86123", B, C)
        send(target, A, B)
        return [r.status for r in target.pull_receipts(APP, 100)]

    assert statuses() == statuses()
    assert len(statuses()) == 5
