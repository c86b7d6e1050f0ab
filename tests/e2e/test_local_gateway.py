"""`python -m local` as a user runs it: a subprocess, real HTTP, the scheduled pull, the status."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port, wait_for
from tests.local_run import ROOT, LocalRun, local_run


@pytest.fixture
def run(tmp_path: Path) -> Iterator[LocalRun]:
    with local_run(tmp_path) as started:
        yield started


def test_send_then_scheduled_pull_then_delivered(run: LocalRun) -> None:
    gateway, emulator, headers, process = run.gateway, run.emulator, run.headers, run.process
    with httpx.Client(timeout=10) as http:
        sent = http.post(
            f"{gateway}/sms/send",
            headers=headers,
            json={"phone": "+8613800000000", "template_id": "7839", "params": ["5678"]},
        )
        assert sent.status_code == 200, sent.text
        message_id = sent.json()["message_id"]
        inbox = http.get(f"{emulator}/_emulator/messages", params={"phone": "+8613800000000"}).json()
        assert inbox["messages"][0]["message_id"] == message_id
        assert "5678" in inbox["messages"][0]["text"]

        def delivered() -> dict[str, Any] | None:
            answer = http.get(f"{gateway}/sms/messages/{message_id}", headers=headers)
            return (
                answer.json()
                if answer.status_code == 200 and answer.json()["status"] == "delivered"
                else None
            )

        status = wait_for(delivered, timeout=20, interval=0.3)
        assert status["latest_receipt"]["carrier_code"] == "DELIVRD"
        assert http.get(f"{gateway}/sms/messages/{message_id}").status_code == 401
        assert http.get(f"{gateway}/openapi.json").json()["openapi"].startswith("3.")
    assert process.poll() is None


def test_a_configured_key_is_never_echoed(tmp_path: Path) -> None:
    port, emulator_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "SMS_"))},
        "SMS_API_KEYS": "configured-secret-key-4711",
        "SMS_CALLBACK_TOKEN": "configured-token-0815",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "--port",
            str(port),
            "--emulator-port",
            str(emulator_port),
            "--pull-interval",
            "0",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (
                httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
                if _listening(port)
                else False
            ),
            timeout=30,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    assert "from SMS_API_KEYS (not shown)" in out
    assert "configured-secret-key-4711" not in out
    assert "configured-token-0815" not in out


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
