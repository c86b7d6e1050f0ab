"""FunctionContext: LambdaContext look-alike over SCF dicts, AWS objects and nothing."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from shared.context import DEFAULT_BUDGET_MS, FunctionContext, parse_environ, wrap_context

from .conftest import FakeLambdaContext, load


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_scf_context_attributes(scf_context: dict[str, Any]) -> None:
    ctx = wrap_context(scf_context)
    assert ctx.platform == "tencent"
    assert ctx.function_name == "sms-send_single"
    assert ctx.function_version == "$LATEST"
    assert ctx.memory_limit_in_mb == 256
    assert ctx.aws_request_id == ctx.request_id == "aa7b70e6-ab76-40d7-a2cb-76bb9f5a30a3"
    assert ctx.invoked_function_arn == (
        "qcs::scf:ap-guangzhou:uin/100012345678:namespace/default/function/sms-send_single"
    )
    assert (ctx.region, ctx.namespace) == ("ap-guangzhou", "default")
    assert ctx.environment == {"SCF_NAMESPACE": "default"}
    assert isinstance(ctx.log_group_name, str)
    assert isinstance(ctx.log_stream_name, str)
    assert ctx.raw is scf_context


def test_wx_environment_is_parsed(wx_context: dict[str, Any]) -> None:
    env = wrap_context(wx_context).environment
    assert env["WX_OPENID"] == "oAbCd1EfGh2IjKl3MnOp4QrSt5Uv"
    assert env["TCB_SOURCE"] == "wx_client"
    assert env["WX_CLIENTIPV6"] == "::ffff:198.51.100.7"


def test_environ_is_the_fallback(wx_context: dict[str, Any]) -> None:
    from_json = wrap_context(wx_context).environment
    for broken in ("not json", "", None, "[1, 2]"):
        ctx = dict(wx_context, environment=broken)
        assert wrap_context(ctx).environment == from_json
    assert wrap_context({"environ": {"A": 1}}).environment == {"A": "1"}
    assert wrap_context({}).environment == {}


def test_parse_environ() -> None:
    assert parse_environ("A=1;B=x=y;;junk;C=") == {"A": "1", "B": "x=y", "C": ""}


def test_scf_remaining_time_counts_down(scf_context: dict[str, Any]) -> None:
    clock = FakeClock()
    ctx = wrap_context(scf_context, clock=clock)
    assert ctx.get_remaining_time_in_millis() == 10_000
    clock.now += 2.5
    assert ctx.get_remaining_time_in_millis() == 7_500
    assert ctx.deadline() == pytest.approx(1010.0)
    clock.now += 60
    assert ctx.get_remaining_time_in_millis() == 0


def test_remaining_time_decreases_in_real_time(scf_context: dict[str, Any]) -> None:
    ctx = wrap_context(scf_context)
    first = ctx.get_remaining_time_in_millis()
    time.sleep(0.02)
    second = ctx.get_remaining_time_in_millis()
    assert 0 < second < first <= 10_000
    assert ctx.deadline() - time.monotonic() == pytest.approx(second / 1000, abs=0.05)


def test_no_context_gets_a_default_budget() -> None:
    clock = FakeClock()
    ctx = wrap_context(None, clock=clock)
    assert ctx.platform == "local"
    assert ctx.get_remaining_time_in_millis() == DEFAULT_BUDGET_MS
    assert wrap_context(None, default_budget_ms=5000).get_remaining_time_in_millis() <= 5000
    assert len(ctx.aws_request_id) == 36
    assert ctx.memory_limit_in_mb == 128
    assert ctx.environment == {}
    assert (
        wrap_context({"time_limit_in_ms": "junk"}, default_budget_ms=1234).get_remaining_time_in_millis()
        <= 1234
    )


def test_aws_context_is_delegated() -> None:
    raw = FakeLambdaContext(remaining_ms=8000)
    ctx = wrap_context(raw)
    assert ctx.platform == "aws"
    assert ctx.function_name == raw.function_name
    assert ctx.memory_limit_in_mb == 256
    assert ctx.invoked_function_arn == raw.invoked_function_arn
    assert ctx.aws_request_id == raw.aws_request_id
    assert ctx.log_group_name == raw.log_group_name
    assert ctx.log_stream_name == raw.log_stream_name
    assert ctx.region == "ap-southeast-1"
    assert ctx.get_remaining_time_in_millis() == 8000
    raw.remaining_ms = 100
    assert ctx.get_remaining_time_in_millis() == 100
    assert ctx.deadline() - time.monotonic() == pytest.approx(0.1, abs=0.05)


def test_aws_like_context_without_timer_uses_the_budget() -> None:
    class Stub:
        aws_request_id = "fixed"

    ctx = wrap_context(Stub(), default_budget_ms=2000)
    assert ctx.platform == "aws"
    assert ctx.function_name == "UNDEFINED"
    assert 0 < ctx.get_remaining_time_in_millis() <= 2000


def test_wrap_is_idempotent(scf_context: dict[str, Any]) -> None:
    ctx = wrap_context(scf_context)
    assert wrap_context(ctx) is ctx
    assert isinstance(ctx, FunctionContext)


def test_repr_hides_the_environment(wx_context: dict[str, Any]) -> None:
    text = repr(wrap_context(wx_context))
    assert "WX_OPENID" not in text
    assert "send_single" in text


def _logger() -> tuple[Logger, io.StringIO]:
    stream = io.StringIO()
    # a fresh service name each time: powertools keeps the first handler of a named logger
    return Logger(service=f"sms-test-{uuid.uuid4().hex}", stream=stream), stream


def test_powertools_logger_fails_on_a_plain_scf_dict(scf_context: dict[str, Any]) -> None:
    logger, _ = _logger()

    @logger.inject_lambda_context
    def handler(_event: dict[str, Any], _context: Any) -> str:
        return "ok"

    with pytest.raises(AttributeError):
        handler({}, scf_context)


@pytest.mark.parametrize("context_name", ["scf-context.json", "wx-cloud-function-context.json"])
def test_powertools_logger_works_with_a_wrapped_scf_context(context_name: str) -> None:
    from aws_lambda_powertools.logging import correlation_paths

    logger, stream = _logger()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(_event: dict[str, Any], _context: Any) -> str:
        logger.info("handled")
        return "ok"

    raw = load(context_name)
    assert handler(load("scf-apigw.json"), wrap_context(raw)) == "ok"
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "handled"
    assert line["function_name"] == raw["function_name"]
    assert line["function_request_id"] == raw["request_id"]
    assert line["function_memory_size"] == 256
    assert line["function_arn"].startswith("qcs::scf:")
    assert line["correlation_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
