"""Fixtures for the trigger-adapter tests: the sample events under tests/data/events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "events"


def load(name: str) -> Any:
    """A sample event (or context) by file name."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def scf_context() -> dict[str, Any]:
    return load("scf-context.json")


@pytest.fixture
def wx_context() -> dict[str, Any]:
    return load("wx-cloud-function-context.json")


class FakeLambdaContext:
    """The attributes of an AWS LambdaContext, with a fixed remaining time."""

    function_name = "sms-functions-dev-send_single"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:ap-southeast-1:123456789012:function:sms-functions-dev-send_single"
    memory_limit_in_mb = "256"
    aws_request_id = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"
    log_group_name = "/aws/lambda/sms-functions-dev-send_single"
    log_stream_name = "2026/11/27/[$LATEST]0123456789abcdef"

    def __init__(self, remaining_ms: int = 8000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def aws_context() -> FakeLambdaContext:
    return FakeLambdaContext()
