"""Injected transport faults: latency, HTTP errors, dropped connections, malformed answers."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, NamedTuple

FaultKind = Literal["fail", "drop", "malformed", "stall"]


class FaultDecision(NamedTuple):
    """What to do to one request."""

    latency: float  # seconds to sleep first
    kind: FaultKind | None
    process: bool = True  # for a drop: whether the request is acted on before the connection closes
    status: int = 503  # for a fail: the HTTP status to answer
    stall: float = 0.0  # for a stall: seconds to wait after processing, before answering


@dataclass(frozen=True)
class Faults:
    """What to do to the next Tencent requests (inspection routes are never faulted).

    latency_ms: added to every matching request.
    fail_status / fail_count: the next `fail_count` matching requests get HTTP `fail_status`
        (default 503) with an HTML body, without being processed.
    drop_count / drop_after_processing: the next `drop_count` matching requests are read, processed
        (unless `drop_after_processing` is False) and then the connection is closed unanswered.
    malformed_count: the next `malformed_count` matching requests are processed and answered HTTP 200
        with invalid JSON.
    stall_count / stall_ms: the next `stall_count` matching requests are processed (a pull hands its
        items out) and answered only `stall_ms` later, past a client's read timeout.
    operations: limit the faults to these operations (legacy paths such as `sendsms`, API 3.0
        actions such as `SendSms`); None means all.
    """

    latency_ms: float = 0.0
    fail_status: int | None = None
    fail_count: int = 0
    drop_count: int = 0
    drop_after_processing: bool = True
    malformed_count: int = 0
    operations: frozenset[str] | None = None
    stall_count: int = 0
    stall_ms: float = 0.0

    @classmethod
    def build(
        cls,
        latency_ms: float = 0.0,
        fail_status: int | None = None,
        fail_count: int = 0,
        drop_count: int = 0,
        drop_after_processing: bool = True,
        malformed_count: int = 0,
        operations: Iterable[str] | None = None,
        stall_count: int = 0,
        stall_ms: float = 0.0,
    ) -> Faults:
        """Validated faults; `fail_count` without `fail_status` means 503."""
        for name, value in (
            ("fail_count", fail_count),
            ("drop_count", drop_count),
            ("malformed_count", malformed_count),
            ("stall_count", stall_count),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if not isinstance(latency_ms, (int, float)) or isinstance(latency_ms, bool) or latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative number")
        if not isinstance(stall_ms, (int, float)) or isinstance(stall_ms, bool) or stall_ms < 0:
            raise ValueError("stall_ms must be a non-negative number")
        if fail_status is not None and (not isinstance(fail_status, int) or not 100 <= fail_status <= 599):
            raise ValueError("fail_status must be an HTTP status code")
        if isinstance(operations, str):
            raise ValueError("operations must be a list of operation names")
        return cls(
            latency_ms=float(latency_ms),
            fail_status=fail_status if fail_status is not None or not fail_count else 503,
            fail_count=fail_count,
            drop_count=drop_count,
            drop_after_processing=bool(drop_after_processing),
            malformed_count=malformed_count,
            operations=None if operations is None else frozenset(str(o) for o in operations),
            stall_count=stall_count,
            stall_ms=float(stall_ms),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["operations"] = None if self.operations is None else sorted(self.operations)
        return data


class FaultPlan:
    """The current faults and their countdowns, shared by all handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults

    def take(self, operation: str) -> FaultDecision:
        """The decision for one request of `operation`, counting the chosen fault down."""
        with self._lock:
            faults = self._faults
            if faults.operations is not None and operation not in faults.operations:
                return FaultDecision(0.0, None)
            latency = faults.latency_ms / 1000.0
            if faults.fail_count:
                self._faults = replace(faults, fail_count=faults.fail_count - 1)
                return FaultDecision(latency, "fail", status=faults.fail_status or 503)
            if faults.drop_count:
                self._faults = replace(faults, drop_count=faults.drop_count - 1)
                return FaultDecision(latency, "drop", faults.drop_after_processing)
            if faults.malformed_count:
                self._faults = replace(faults, malformed_count=faults.malformed_count - 1)
                return FaultDecision(latency, "malformed")
            if faults.stall_count:
                self._faults = replace(faults, stall_count=faults.stall_count - 1)
                return FaultDecision(latency, "stall", stall=faults.stall_ms / 1000.0)
            return FaultDecision(latency, None)
