"""Message rows after a send: send_multi's writer thread, several chunks per transaction; and a
store that fails after the SMS went out, which must never turn the send into an error."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from local.emulator import Emulator
from shared import sending
from shared.errors import StoreUnavailableError
from shared.models import Message, SendResult
from shared.runtime import runtime
from tests.helpers import AwsContext, handler

MESSAGE = Message(template_id="7839", params=("1",), sign="腾讯云")


def chunk(index: int, size: int = 200) -> list[SendResult]:
    return [
        SendResult(
            phone=f"+86138{index * size + i:08d}",
            message_id=f"2019:{index:06d}{i:04d}",
            status="submitted",
            fee=1,
            code="Ok",
            message="send success",
        )
        for i in range(size)
    ]


@pytest.mark.usefixtures("function_env")
def test_every_chunk_is_stored_in_fewer_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    store = runtime.services.store
    calls: list[int] = []
    record = store.record_sends
    release, writing = threading.Event(), threading.Event()

    def counted(results: Any, **kwargs: Any) -> None:
        calls.append(len(results))
        if len(calls) == 1:  # hold the writer on its first batch so that the next chunks pile up
            writing.set()
            release.wait(10)
        record(results, **kwargs)

    monkeypatch.setattr(store, "record_sends", counted)
    with sending.ChunkRecorder(runtime.services, MESSAGE, "app:1", max_rows=1000) as recorder:
        recorder.add(chunk(0))
        assert writing.wait(10)
        for index in range(1, 25):
            recorder.add(chunk(index))
        release.set()
    assert calls == [200, 1000, 1000, 1000, 1000, 800]  # the waiting chunks, up to max_rows at a time
    for index in (0, 7, 24):
        stored = store.get_message(f"2019:{index:06d}0199")
        assert stored is not None
        assert stored.phone == f"+86138{index * 200 + 199:08d}"


@pytest.mark.usefixtures("function_env")
def test_a_failing_store_logs_each_message_and_later_batches_still_go_in(
    monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    store = runtime.services.store
    record = store.record_sends
    failures = iter([StoreUnavailableError("store down"), RuntimeError("a bug")])

    def failing_twice(results: Any, **kwargs: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        record(results, **kwargs)

    monkeypatch.setattr(store, "record_sends", failing_twice)
    with sending.ChunkRecorder(runtime.services, MESSAGE, "app:1", max_rows=200) as recorder:
        for index in range(3):
            recorder.add(chunk(index))  # max_rows=200: one chunk per batch
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    unrecorded = [line for line in lines if line["message"] == "sent but not recorded"]
    assert len(unrecorded) == 2
    assert all(len(line["messages"]) == 200 for line in unrecorded)
    assert all("****" in m["phone"] for line in unrecorded for m in line["messages"])
    stored = [store.get_message(f"2019:{index:06d}0000") for index in range(3)]
    assert sum(message is not None for message in stored) == 1  # the third batch, after two failures


@pytest.mark.usefixtures("function_env")
def test_a_sent_sms_stays_sent_when_storing_its_row_fails(
    monkeypatch: pytest.MonkeyPatch, captured_logs: Any, sms_emulator: Emulator
) -> None:
    """Even a bug in the store (not a store error) is logged, not raised: raising would release
    the idempotency key, and a retry would send the SMS again."""

    def broken(_results: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(runtime.services.store, "record_sends", broken)
    context = AwsContext()
    answer = handler("send_single").handler({"phone": "+8613800000009", "params": ["1"]}, context)
    retry = handler("send_single").handler({"phone": "+8613800000009", "params": ["1"]}, context)
    assert answer["status"] == "submitted"
    assert retry == answer
    assert sms_emulator.accepted_count == 1
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    (unrecorded,) = [line for line in lines if line["message"] == "sent but not recorded"]
    assert unrecorded["error_code"] == "internal_error"
    assert "a bug" in unrecorded["exception"]
    assert unrecorded["messages"] == [{"message_id": answer["message_id"], "phone": "+86138****0009"}]
