"""`python -m local` started the way a user starts it, for end-to-end tests: a subprocess in its own
process group, free ports, a clean environment, its output in a log file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LocalRun:
    gateway: str
    emulator: str
    key: str  # the API key the run generated and printed
    log: Path
    process: subprocess.Popen[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.key}

    def inbox(self, http: httpx.Client, phone: str) -> list[dict[str, Any]]:
        """The SMS the emulator accepted for `phone`, newest first (what a person would read)."""
        answer = http.get(f"{self.emulator}/_emulator/messages", params={"phone": phone})
        assert answer.status_code == 200
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages


@contextmanager
def local_run(
    state: Path,
    env: Mapping[str, str] | None = None,
    *,
    pull_interval: str = "0.5",
    timeout: float = 30,
    args: Sequence[str] = (),
    require_key: bool = True,
) -> Iterator[LocalRun]:
    """Start `python -m local`, wait for its banner, stop its process group after. With `require_key`
    the run must have generated its API key (no SMS_API_KEYS given)."""
    port, emulator_port = free_port(), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "SMS_"))}
    log = state / "out.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", "--port", str(port), "--emulator-port", str(emulator_port),
             "--pull-interval", pull_interval, "--receipt-delay", "0.2", "--state-dir", str(state / "state"),
             *args],
            cwd=ROOT, env={**clean, **(env or {})}, stdout=sink, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while "Ctrl-C stops" not in (banner := log.read_text(encoding="utf-8")):
            assert process.poll() is None, f"python -m local did not start:\n{banner}"
            assert time.monotonic() < deadline, f"python -m local did not start:\n{banner}"
            time.sleep(0.1)
        key = re.search(r"API key\s+(\S+)\s+\(generated", banner)
        assert key or not require_key, banner
        yield LocalRun(
            f"http://127.0.0.1:{port}", f"http://127.0.0.1:{emulator_port}", key.group(1) if key else "", log,
            process,
        )  # fmt: skip
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
