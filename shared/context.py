"""One invocation context for every platform: AWS LambdaContext, Tencent SCF/CloudBase dict, or none.

`FunctionContext` exposes the attributes powertools reads from a LambdaContext (`function_name`,
`memory_limit_in_mb`, `invoked_function_arn`, `aws_request_id`, `get_remaining_time_in_millis()`),
so `Logger.inject_lambda_context`, idempotency and batch processing work on SCF too, plus
`platform`, `environment` (SCF's per-invocation variables) and `deadline()`.

Stdlib only: cheap to import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_BUDGET_MS = 30_000
"""Time budget of a local/direct call that has no platform context (milliseconds)."""

_DEFAULT_MEMORY_MB = 128

Clock = Callable[[], float]


def _text(value: Any, default: str = "") -> str:
    """`value` as a string; `default` for None, containers and empty strings."""
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return default
    text = str(value)
    return text or default


def _int(value: Any, default: int) -> int:
    """`value` as an int (accepts numeric strings); `default` when it is not a number."""
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def parse_environ(text: str) -> dict[str, str]:
    """Parse SCF's `environ` string (`K=V;K=V`) into a dict; malformed parts are skipped."""
    result: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if sep and key:
            result[key] = value
    return result


def _environment(raw: Mapping[str, Any]) -> dict[str, str]:
    """SCF's `environment` (JSON string or dict), else its parsed `environ`, else {}."""
    env = raw.get("environment")
    if isinstance(env, str) and env.strip():
        try:
            env = json.loads(env)
        except (ValueError, RecursionError):
            env = None
    if isinstance(env, dict) and env:
        return {str(k): _text(v) for k, v in env.items() if v is not None}
    environ = raw.get("environ")
    if isinstance(environ, str) and environ.strip():
        return parse_environ(environ)
    if isinstance(environ, dict):
        return {str(k): _text(v) for k, v in environ.items() if v is not None}
    return {}


class FunctionContext:
    """A LambdaContext look-alike over an AWS context object, an SCF/CloudBase dict, or nothing.

    Build it once at the start of the invocation (`wrap_context`): on SCF and locally the
    remaining time is counted from that moment.
    """

    platform: str
    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    environment: dict[str, str]
    region: str
    namespace: str

    def __init__(
        self,
        raw: Any = None,
        *,
        default_budget_ms: int = DEFAULT_BUDGET_MS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.raw = raw
        self._clock = clock
        self._started = clock()
        self._budget_ms: int | None = None  # None: ask the AWS context
        self._default_budget_ms = default_budget_ms
        self.identity: Any = None
        self.client_context: Any = None
        if isinstance(raw, Mapping):
            self._init_tencent(raw, default_budget_ms)
        elif raw is not None and hasattr(raw, "aws_request_id"):
            self._init_aws(raw, default_budget_ms)
        else:
            self._init_local(default_budget_ms)

    def _init_tencent(self, raw: Mapping[str, Any], default_budget_ms: int) -> None:
        self.platform = "tencent"
        self.environment = _environment(raw)
        self.function_name = _text(raw.get("function_name"), "UNDEFINED")
        self.function_version = _text(raw.get("function_version"), "$LATEST")
        self.namespace = _text(raw.get("namespace")) or self.environment.get("SCF_NAMESPACE") or "default"
        self.region = _text(raw.get("tencentcloud_region"))
        uin = _text(raw.get("tencentcloud_uin"))
        self.invoked_function_arn = (
            f"qcs::scf:{self.region}:uin/{uin}:namespace/{self.namespace}/function/{self.function_name}"
        )
        self.memory_limit_in_mb = _int(raw.get("memory_limit_in_mb"), _DEFAULT_MEMORY_MB)
        self.aws_request_id = _text(raw.get("request_id")) or _new_request_id()
        self.log_group_name = ""
        self.log_stream_name = ""
        limit = _int(raw.get("time_limit_in_ms"), 0)
        self._budget_ms = limit if limit > 0 else default_budget_ms

    def _init_aws(self, raw: Any, default_budget_ms: int) -> None:
        self.platform = "aws"
        self.environment = {}
        self.function_name = _text(getattr(raw, "function_name", None), "UNDEFINED")
        self.function_version = _text(getattr(raw, "function_version", None), "$LATEST")
        self.invoked_function_arn = _text(getattr(raw, "invoked_function_arn", None), "UNDEFINED")
        self.memory_limit_in_mb = _int(getattr(raw, "memory_limit_in_mb", None), _DEFAULT_MEMORY_MB)
        self.aws_request_id = _text(getattr(raw, "aws_request_id", None)) or _new_request_id()
        self.log_group_name = _text(getattr(raw, "log_group_name", None))
        self.log_stream_name = _text(getattr(raw, "log_stream_name", None))
        self.identity = getattr(raw, "identity", None)
        self.client_context = getattr(raw, "client_context", None)
        arn_parts = self.invoked_function_arn.split(":")
        self.region = arn_parts[3] if len(arn_parts) > 3 else ""
        self.namespace = ""
        if not callable(getattr(raw, "get_remaining_time_in_millis", None)):
            self._budget_ms = default_budget_ms

    def _init_local(self, default_budget_ms: int) -> None:
        self.platform = "local"
        self.environment = {}
        self.function_name = "local"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "local"
        self.memory_limit_in_mb = _DEFAULT_MEMORY_MB
        self.aws_request_id = _new_request_id()
        self.log_group_name = ""
        self.log_stream_name = ""
        self.region = ""
        self.namespace = ""
        self._budget_ms = default_budget_ms

    @property
    def request_id(self) -> str:
        """The platform's request id (alias of `aws_request_id`)."""
        return self.aws_request_id

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the platform stops the invocation (never negative)."""
        if self._budget_ms is None:
            try:
                remaining = self.raw.get_remaining_time_in_millis()
            except Exception:  # a broken stub must not break the handler
                remaining = None
            if isinstance(remaining, (int, float)) and not isinstance(remaining, bool):
                return max(0, int(remaining))
            self._budget_ms = self._default_budget_ms
        elapsed_ms = (self._clock() - self._started) * 1000.0
        return max(0, int(self._budget_ms - elapsed_ms))

    def deadline(self) -> float:
        """The `time.monotonic()` value by which the invocation must be done."""
        if self._budget_ms is not None:
            return self._started + self._budget_ms / 1000.0
        return self._clock() + self.get_remaining_time_in_millis() / 1000.0

    def __repr__(self) -> str:  # never the environment: it may hold secrets
        return (
            f"FunctionContext(platform={self.platform!r}, function_name={self.function_name!r}, "
            f"request_id={self.aws_request_id!r})"
        )


def wrap_context(
    context: Any,
    *,
    default_budget_ms: int = DEFAULT_BUDGET_MS,
    clock: Clock = time.monotonic,
) -> FunctionContext:
    """Wrap whatever the platform passed (or None); an existing FunctionContext is returned as is."""
    if isinstance(context, FunctionContext):
        return context
    return FunctionContext(context, default_budget_ms=default_budget_ms, clock=clock)


def _new_request_id() -> str:
    """A request id where the platform gave none (local runs): a UUID, like the platforms'. Imported
    here, as deployed functions always get theirs from the platform (`uuid` imports `platform`)."""
    import uuid

    return str(uuid.uuid4())
