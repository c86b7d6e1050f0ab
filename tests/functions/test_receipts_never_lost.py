"""The proof that no receipt is lost: hundreds of messages sent through the real handler; the
emulator hands receipts out while each pull fault it can inject happens (an answer that is not
JSON, the connection dropped after the queue was read, a stall past the client's read timeout)
and while a pulling process is killed with SIGKILL mid-batch. After the next scheduled run with
reconciliation, every message has its receipt in the store, exactly once. The figures are
printed (`pytest -s`) and kept in docs/security.md."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from local.emulator import Emulator
from tests.functions.test_reconcile import send
from tests.functions.test_tracking_handlers import timer
from tests.helpers import ROOT, read_dead_letters

NUMBERS = 60  # each gets SENDS messages: one per-number pull covers all of a number's
SENDS = 10


def kill_a_pull_mid_batch() -> None:
    """A real process runs the scheduled pull; killed -9 while it holds a pulled batch unstored."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.functions.pull_child"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # blocks until the child holds its second batch
        assert line.strip() == "holding", line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("api", ["v3", "legacy"])
def test_every_receipt_is_stored_once_after_pull_faults_and_a_killed_puller(
    function_env: dict[str, str],
    sms_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    api: str,
) -> None:
    from shared.runtime import runtime

    for name, value in {
        "TENCENT_SMS_API": api,
        "TENCENT_SMS_READ_TIMEOUT": "1",
        "SMS_LIMIT_PER_PHONE": "off",
        "SMS_LIMIT_PER_CALLER": "off",
        "SMS_RECONCILE_PULL_RATE": "20",
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    pull = "PullSmsSendStatus" if api == "v3" else "pullstatus"
    phones = [f"+86139{i:08d}" for i in range(NUMBERS)]
    ids = [i for n in range(SENDS) for i in send(phones, str(n))]
    assert len(set(ids)) == NUMBERS * SENDS

    runs: list[dict[str, Any]] = []
    faults: list[dict[str, Any]] = [
        {"malformed_count": 1},
        {"drop_count": 1},
        {"stall_count": 1, "stall_ms": 1500},
    ]
    for fault in faults:
        sms_emulator.set_faults(**fault, operations=[pull])
        runs.append(timer({"kind": "receipts", "max": 100}))
        sms_emulator.clear_faults()
    kill_a_pull_mid_batch()
    runs.append(timer({"kind": "receipts", "max": 100}))  # the next scheduled run drains the rest

    stopped = [r["runs"][0]["stopped"] for r in runs]
    assert stopped == ["bad_answer", "connection_lost", "connection_lost", "empty"]
    assert all(r["reconciled"]["checked"] == 0 for r in runs)  # nothing was overdue yet
    sink = read_dead_letters(function_env["SMS_DEAD_LETTER_URL"])
    assert [(e["reason"], e["operation"]) for e in sink] == [("unparseable_answer", pull)]

    def receipts() -> dict[str, int]:
        return {i: len(runtime.services.store.receipts_for(i)) for i in ids}

    before = receipts()
    lost_before = sum(1 for n in before.values() if n == 0)
    assert lost_before == 400  # 100 in each fault, 100 in the killed process
    assert max(before.values()) == 1

    ahead = runtime.services.settings.reconcile_after + 1
    monkeypatch.setattr(runtime, "clock", lambda: time.time() + ahead)
    runtime.reset()
    final = timer({"kind": "receipts", "max": 100})

    after = receipts()
    lost_after = sum(1 for n in after.values() if n == 0)
    result = final["reconciled"]
    print(
        f"\n[{api}] messages={len(ids)} faults=4 (malformed, drop after read, stall, kill -9)"
        f" lost_before={lost_before} lost_after={lost_after} per_number_pulls={result['pulls']}"
    )
    assert lost_after == 0
    assert set(after.values()) == {1}
    assert (result["checked"], result["found"], result["stored"], result["stopped"]) == (
        400,
        400,
        400,
        "done",
    )
    assert result["pulls"] == NUMBERS
    assert all(runtime.services.store.get_message(i).status == "delivered" for i in ids)  # type: ignore[union-attr]
