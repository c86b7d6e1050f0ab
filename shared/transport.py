"""HTTP to Tencent over httpx: one pooled client per container, deadlines, and a retry policy
that never duplicates an SMS.

A request is retried only when it provably never reached the server (connection refused, DNS
failure, connect timeout, no pool slot). Anything that fails after the request left this process
(read timeout, dropped connection, a non-200 answer to a send) is an `UnknownOutcomeError` naming
the numbers involved: the caller decides, nothing is resent blindly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from shared.errors import DeadlineExceededError, TencentUnavailableError, UnknownOutcomeError
from shared.payloads import HttpRequest

# Connection-level failures that happen before a single byte of the request is sent.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
)


@dataclass(frozen=True)
class TransportOptions:
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    proxy: str = ""
    max_connections: int = 32
    attempts: int = 3  # for never-sent failures only
    backoff: float = 0.1  # seconds, doubled per attempt
    deadline_margin: float = 0.3  # seconds kept back for the function to answer after the call
    min_budget: float = 0.2  # below this much remaining time a call is not started


class Transport:
    """Sends signed requests; thread-safe; reuses connections across calls and warm invocations."""

    def __init__(
        self,
        options: TransportOptions | None = None,
        *,
        http_transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options or TransportOptions()
        self._clock = clock
        self._sleep = sleep
        opts = self.options
        self._client = httpx.Client(
            timeout=httpx.Timeout(opts.read_timeout, connect=opts.connect_timeout),
            limits=httpx.Limits(
                max_connections=opts.max_connections,
                max_keepalive_connections=opts.max_connections,
                keepalive_expiry=60,
            ),
            proxy=opts.proxy or None,
            transport=http_transport,
            trust_env=False,  # the proxy comes from our settings only
            headers={"User-Agent": "sms-functions"},
        )

    def close(self) -> None:
        self._client.close()

    def post(
        self,
        request: HttpRequest,
        *,
        is_send: bool,
        phones: Sequence[str] = (),
        deadline: float | None = None,
    ) -> bytes:
        """POST the request and return the body of an HTTP 200 answer."""
        opts = self.options
        attempt = 0
        while True:
            attempt += 1
            timeout = self._timeout(deadline)
            try:
                response = self._client.post(
                    request.url, content=request.content, headers=request.headers, timeout=timeout
                )
            except _NOT_SENT as exc:
                if attempt >= opts.attempts or not self._can_wait(
                    deadline, opts.backoff * 2 ** (attempt - 1)
                ):
                    raise TencentUnavailableError(
                        f"Tencent SMS could not be reached ({type(exc).__name__}); nothing was sent",
                        phones=phones,
                    ) from None
                self._sleep(opts.backoff * 2 ** (attempt - 1))
                continue
            except httpx.TransportError as exc:
                raise _after_sending(exc, is_send, phones, deadline_hit=self._past(deadline)) from None
            if response.status_code != 200:
                if is_send:
                    raise UnknownOutcomeError(
                        f"Tencent SMS answered HTTP {response.status_code} to a send; the numbers may or may "
                        "not have been sent",
                        phones=phones,
                        details={"http_status": response.status_code},
                    )
                raise TencentUnavailableError(
                    f"Tencent SMS answered HTTP {response.status_code}",
                    details={"http_status": response.status_code},
                )
            return response.content

    def _timeout(self, deadline: float | None) -> httpx.Timeout:
        opts = self.options
        if deadline is None:
            return httpx.Timeout(opts.read_timeout, connect=opts.connect_timeout)
        remaining = deadline - self._clock() - opts.deadline_margin
        if remaining < opts.min_budget:
            raise DeadlineExceededError(
                "too little of the invocation's time remains to call Tencent SMS; nothing was sent"
            )
        return httpx.Timeout(
            min(opts.read_timeout, remaining),
            connect=min(opts.connect_timeout, remaining),
            pool=min(opts.connect_timeout, remaining),
        )

    def _can_wait(self, deadline: float | None, seconds: float) -> bool:
        if deadline is None:
            return True
        return deadline - self._clock() - self.options.deadline_margin - seconds >= self.options.min_budget

    def _past(self, deadline: float | None) -> bool:
        return deadline is not None and self._clock() >= deadline - self.options.deadline_margin - 0.05


def _after_sending(
    exc: httpx.TransportError, is_send: bool, phones: Sequence[str], deadline_hit: bool
) -> Exception:
    reason = "the invocation's time ran out" if deadline_hit else f"{type(exc).__name__}"
    if is_send:
        return UnknownOutcomeError(
            f"no answer from Tencent SMS after the request was sent ({reason}); the numbers may or may not "
            "have been sent",
            phones=phones,
        )
    return UnknownOutcomeError(
        f"no answer from Tencent SMS after the request was sent ({reason}); items it handed out may be lost"
    )


_shared: dict[TransportOptions, Transport] = {}
_shared_lock = threading.Lock()


def shared_transport(options: TransportOptions) -> Transport:
    """The one pooled transport for these options in this process (kept across warm invocations)."""
    with _shared_lock:
        transport = _shared.get(options)
        if transport is None:
            transport = _shared[options] = Transport(options)
        return transport
