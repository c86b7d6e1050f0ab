"""Functions as separate OS processes ("containers"), each with its own temp dir, working directory
and environment, sharing nothing but what the test hands every one of them (the store URL, the
emulator's URL, the deployment's keys)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from tests.helpers import ROOT


class Container:
    """A warm container of one function: `invoke(event)` runs its handler in that process."""

    def __init__(self, function: str, env: dict[str, str], workdir: Path, *, concurrency: int = 1) -> None:
        self.function = function
        self.workdir = workdir
        self.log_path = workdir / "stderr.log"
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.crosscontainer.worker", function, str(concurrency)],
                cwd=workdir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                encoding="utf-8",
            )
        self._reader = threading.Thread(target=self._read, name=f"{function}-answers", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            answer = json.loads(line)
            with self._lock:
                future = self._pending.pop(answer["id"])
            if "error" in answer:
                future.set_exception(AssertionError(f"{self.function} raised {answer['error']}"))
            else:
                future.set_result(answer["result"])
        with self._lock:  # the process ended: nothing more will answer
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            future.set_exception(AssertionError(f"{self.function} exited:\n{self.stderr()[-3000:]}"))

    def submit(self, event: Any, context: Any = None) -> Future[Any]:
        """Hand the container one invocation; its answer arrives in the future."""
        future: Future[Any] = Future()
        with self._lock:
            ident = next(self._ids)
            self._pending[ident] = future
        assert self.process.stdin is not None
        line = json.dumps({"id": ident, "event": event, "context": context}, ensure_ascii=False)
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return future

    def invoke(self, event: Any, context: Any = None, timeout: float = 60) -> Any:
        return self.submit(event, context).result(timeout)

    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines the container wrote (EMF metric blobs left out)."""
        records = []
        for line in self.stderr().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if "_aws" not in record:
                    records.append(record)
        return records

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)


def container_env(base: dict[str, str], function: str, workdir: Path) -> dict[str, str]:
    """What the platform gives one container: the deployment's settings (`base`), the function's
    name, its own temp dir, and none of this test process's settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TENCENT", "SMS_", "AWS_", "POWERTOOLS_", "SCF_", "TCB_"))
        and k not in ("PYTHONPATH", "TMPDIR", "IS_OFFLINE")
    }
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "TMPDIR": str(tmp),
            "AWS_LAMBDA_FUNCTION_NAME": f"sms-functions-test-{function}",
            "AWS_REGION": "ap-southeast-1",
            "POWERTOOLS_METRICS_NAMESPACE": "SmsFunctionsTest",
            "SMS_DEAD_LETTER_URL": f"file://{workdir / 'dead-letter.jsonl'}",
        }
    )
    env.update(base)
    return env
