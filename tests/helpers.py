"""Small helpers the test folders share: invoking handlers in-process, editing and reading events,
free ports, bounded waits and Python in a fresh process."""

from __future__ import annotations

import base64
import importlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from local.emulator import Emulator

from tests.conftest import API_KEY, load_event

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]  # the repository


def handler(name: str) -> Any:
    """The `functions/<name>/handler.py` module, imported as the runtimes do."""
    return importlib.import_module(f"functions.{name}.handler")


class AwsContext:
    """A Lambda context for in-process invocations (set `aws_request_id` per call to tell them apart)."""

    function_name = "sms-functions-test-send_single"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    aws_request_id = "11111111-2222-3333-4444-555555555555"
    invoked_function_arn = "arn:aws:lambda:ap-southeast-1:123456789012:function:send_single"
    log_group_name = "/aws/lambda/send_single"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def set_header(event: dict[str, Any], name: str, value: str | None) -> None:
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if not isinstance(headers, dict):
            continue
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        if value is not None:
            headers[name] = [value] if key == "multiValueHeaders" else value


def set_body(event: dict[str, Any], body: Any, *, base64_encoded: bool = False) -> None:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    if base64_encoded:
        event["body"], event["isBase64Encoded"] = base64.b64encode(text.encode()).decode(), True
    else:
        event["body"] = text


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    query: dict[str, str] | None = None,
    key: str | None = API_KEY,
) -> dict[str, Any]:
    """An HTTP API (v2) event for `path`."""
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = f"{method} {path}"
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event["queryStringParameters"] = query or None
    event["headers"].pop("x-api-key", None)
    if key:
        event["headers"]["x-api-key"] = key
    if body is None:
        event.pop("body", None)
    else:
        set_body(event, body)
    return event


def reconfigure(monkeypatch: Any, **env: str) -> None:
    """Set these environment variables and start a fresh runtime, as a container started with
    them would (the next invocation reads them)."""
    from shared.runtime import runtime

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()


def answer_body(answer: dict[str, Any]) -> dict[str, Any]:
    body = answer["body"]
    if answer.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05) -> T:
    """Poll until `predicate()` is truthy (bounded); return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def run_python(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run this Python with `args` in the repository, in a new process; its output, once it
    exited 0 (else the test fails with the end of its errors)."""
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def read_dead_letters(url: str) -> list[dict[str, Any]]:
    """Every entry of a `file://` dead-letter sink, oldest first (none when the file is missing)."""
    path = url.removeprefix("file://")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def push_of(emulator: Emulator, message_id: str) -> list[dict[str, Any]]:
    """The delivery-report push Tencent would send for a message the emulator accepted."""
    from shared.payloads import unix_to_beijing

    receipt = emulator.receipt_of(message_id)
    assert receipt is not None
    return [
        {
            "user_receive_time": unix_to_beijing(receipt["received_at"]),
            "nationcode": "86",
            "mobile": receipt["phone"][3:],
            "report_status": receipt["report_status"],
            "errmsg": receipt["carrier_code"],
            "description": receipt["description"],
            "sid": message_id,
        }
    ]
