"""`python -m local` as a user runs it: a subprocess, real HTTP, the scheduled pull, the status."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll until predicate() is truthy (bounded); return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def local_run(tmp_path: Path) -> Iterator[tuple[str, str, str, subprocess.Popen[str]]]:
    port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "SMS_"))}
    output = tmp_path / "out.log"
    with output.open("w") as sink:
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
                "0.5",
                "--receipt-delay",
                "0.2",
                "--state-dir",
                str(tmp_path / "state"),
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        text = wait_for(lambda: "Ctrl-C stops" in output.read_text() and output.read_text(), timeout=30)
        key = re.search(r"API key\s+(\S+)\s+\(generated", text)
        assert key, text
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{emulator_port}", key.group(1), process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_send_then_scheduled_pull_then_delivered(
    local_run: tuple[str, str, str, subprocess.Popen[str]],
) -> None:
    gateway, emulator, key, process = local_run
    headers = {"X-Api-Key": key}
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

        def delivered() -> dict | None:  # type: ignore[type-arg]
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
    assert "configured-secret-key-4711" not in out and "configured-token-0815" not in out


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
