"""A long list's first chunks go out while SQLite is still writing its budget's hits, and the
handler answers only once they are committed (`SqliteStore._decide_then_write`, `Store.settle`).

The hits' write is held at its start (a pause put into the real store's write step) so the
overlap is seen, not timed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from local.emulator.server import Emulator
from shared.runtime import runtime
from shared.store.sqlite import EARLY_DECISIONS_FROM
from tests.helpers import AwsContext, handler, wait_for

pytestmark = pytest.mark.usefixtures("function_env")

COUNT = EARLY_DECISIONS_FROM + 200
PHONES = [f"+86138{i:08d}" for i in range(COUNT)]


def context(request_id: str) -> AwsContext:
    made = AwsContext()
    made.aws_request_id = request_id  # each invocation its own (a shared one would be a retry)
    return made


def test_chunks_go_out_while_the_hits_are_written(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = runtime.services.store
    go_on, writing = threading.Event(), threading.Event()
    write = store._add_key_hits  # type: ignore[attr-defined]

    def held(*args: Any) -> None:
        writing.set()
        assert go_on.wait(30)
        write(*args)

    monkeypatch.setattr(store, "_add_key_hits", held)
    answers: list[Any] = []
    event = {"phones": PHONES, "template_id": "7839", "params": ["1"]}
    sending = threading.Thread(
        target=lambda: answers.append(handler("send_multi").handler(event, context("first"))), daemon=True
    )
    sending.start()
    assert writing.wait(30)
    wait_for(lambda: sms_emulator.accepted_count >= 200, timeout=30)  # out before the hits are in
    sending.join(0.3)
    assert sending.is_alive()  # and no answer until they are committed
    go_on.set()
    sending.join(60)
    (answer,) = answers
    assert answer["submitted"] == COUNT
    assert sms_emulator.accepted_count == COUNT
    monkeypatch.undo()
    again = handler("send_multi").handler({**event, "phones": PHONES[:3]}, context("second"))
    assert again["error"]["code"] == "rate_limited"  # the hits were kept: every number held back
    assert again["error"]["rate_limited"] == 3
