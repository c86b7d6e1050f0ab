"""A multi send holds Python's cyclic garbage collector off while it runs (its full collections
would walk every live result for nothing), and always gives it back: after an error too, only
when the last of several sends in one process ends, and never when something else had turned it
off before."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared.runtime import runtime
from tests.helpers import AwsContext, handler, wait_for

pytestmark = pytest.mark.usefixtures("function_env")


def event(first: int, count: int = 3) -> dict[str, Any]:
    return {
        "phones": [f"+86138{first + i:08d}" for i in range(count)],
        "template_id": "7839",
        "params": ["1"],
    }


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def context(request_id: str) -> AwsContext:
    made = AwsContext()
    made.aws_request_id = request_id  # each invocation its own (a shared one would be a retry)
    return made


def watch_writes(monkeypatch: pytest.MonkeyPatch, *, hold_first: threading.Event | None = None) -> list[bool]:
    """Whether the collector was on at each `record_sends` (the writer thread, mid-send);
    `hold_first`: the first write waits for it."""
    store = runtime.services.store
    record, seen = store.record_sends, []

    def watched(results: Any, **kwargs: Any) -> None:
        seen.append(gc.isenabled())
        if hold_first is not None and len(seen) == 1:
            hold_first.wait(10)
        record(results, **kwargs)

    monkeypatch.setattr(store, "record_sends", watched)
    return seen


def test_off_while_a_multi_send_runs_and_on_after(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = watch_writes(monkeypatch)
    answer = handler("send_multi").handler(event(0), context("one"))
    assert answer["submitted"] == 3
    assert seen == [False]
    assert gc.isenabled()


def test_on_again_after_a_rejected_list() -> None:
    bad = {**event(0), "phones": ["+8613800000001", "not a number"]}
    answer = handler("send_multi").handler(bad, context("bad"))
    assert answer["error"]["code"] == "invalid_request"
    assert answer["error"]["field"] == "phones[1]"
    assert gc.isenabled()


def test_two_sends_at_once_turn_it_on_when_the_last_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    seen = watch_writes(monkeypatch, hold_first=release)
    answers: list[dict[str, Any]] = []
    first = threading.Thread(
        target=lambda: answers.append(handler("send_multi").handler(event(0), context("first")))
    )
    first.start()
    try:
        wait_for(lambda: seen or None)  # the first send is writing its rows, held there
        assert handler("send_multi").handler(event(100), context("second"))["submitted"] == 3
        assert not gc.isenabled()  # the second ended, the first still runs
    finally:
        release.set()
        first.join(10)
    assert answers[0]["submitted"] == 3
    assert seen == [False, False]
    assert gc.isenabled()


def test_left_off_when_it_was_off_before(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = watch_writes(monkeypatch)
    gc.disable()
    assert handler("send_multi").handler(event(0), context("off"))["submitted"] == 3
    assert seen == [False]
    assert not gc.isenabled()
