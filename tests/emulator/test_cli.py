"""`python -m local.emulator` as a subprocess: it serves, prints only non-secret credentials, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.emulator import DEFAULT_APPKEY, DEFAULT_SECRET_KEY
from tests.helpers import ROOT

STARTUP_TIMEOUT = 20.0


class Running:
    """A started emulator process and the lines it printed so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def url(self) -> str:
        """The URL from the first line (waits at most STARTUP_TIMEOUT)."""
        line = self.lines.get(timeout=STARTUP_TIMEOUT)
        self.output.append(line)
        assert line.startswith("Tencent SMS emulator listening on http://127.0.0.1:"), line
        return line.split()[-1]

    def stop(self) -> str:
        """SIGTERM, wait, and return everything printed."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=STARTUP_TIMEOUT)
        rest, _ = self.process.communicate(timeout=STARTUP_TIMEOUT)
        while not self.lines.empty():
            self.output.append(self.lines.get_nowait())
        return "".join(self.output) + (rest or "")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "HTTP_PROXY", "HTTPS_PROXY"))}
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", **extra)
    return env


@pytest.fixture
def start() -> Iterator[object]:
    started: list[Running] = []

    def run(*args: str, env: dict[str, str] | None = None) -> Running:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.emulator", "--port", "0", *args],
            cwd=ROOT,
            env=env or clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        running = Running(process)
        started.append(running)
        return running

    yield run
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=STARTUP_TIMEOUT)


def test_cli_serves_and_stops_on_sigterm(start: object, http: httpx.Client) -> None:
    running = start()  # type: ignore[operator]
    url = running.url()

    stats = http.get(url + "/_emulator/stats")
    output = running.stop()

    assert stats.json() == {"accepted": 0, "requests": 0, "connections": 1, "rejected": 0}
    assert running.process.returncode == 0
    assert "SDK AppID 1400009099" in output
    assert "built-in default credentials" in output
    assert DEFAULT_APPKEY in output
    assert DEFAULT_SECRET_KEY in output
    assert "emulator stopped" in output


@pytest.mark.usefixtures("http")
def test_cli_never_prints_real_secrets(start: object) -> None:
    env = clean_env(
        TENCENT_SMS_APPID="1400123456",
        TENCENT_SMS_APPKEY="real-appkey-do-not-print",
        TENCENTCLOUD_SECRETID="AKIDreal",
        TENCENTCLOUD_SECRETKEY="real-secret-do-not-print",
        TENCENTCLOUD_SESSIONTOKEN="real-token-do-not-print",
    )
    running = start(env=env)  # type: ignore[operator]
    running.url()
    output = running.stop()

    assert "1400123456" in output
    assert "AKIDreal" in output
    assert "do-not-print" not in output
    assert "built-in default" not in output


def test_cli_templates_file_and_options(start: object, http: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(
        json.dumps({"signs": ["测试"], "templates": [{"id": "100", "text": "Hello {1}"}]}), "utf-8"
    )
    running = start(
        "--templates",
        str(path),
        "--receipt-delay",
        "5",
        "--failure-rate",
        "0.5",  # type: ignore[operator]
        "--latency-ms",
        "1",
    )
    url = running.url()
    faults = http.get(url + "/_emulator/faults").json()["faults"]
    output = running.stop()

    assert faults["latency_ms"] == 1.0
    assert "templates: 100 (1 param)" in output
    assert "signs: 测试" in output
