"""HTTP to Tencent over httpcore, httpx's connection layer: pooled connections per container,
deadlines, and a retry policy that never duplicates an SMS.

httpx's `Client` layer (URL and header models, cookies, redirects, auth) has nothing to do for a
signed POST; it added CPU to every call and ~20 ms to every cold start (its import pulls
`urllib.request`, `http.client` and `email`), so requests go to httpcore's pools directly
(`bench/cold_start.py` shows both stacks' import times).

A request is retried only when it provably never reached the server (connection refused, DNS
failure, connect timeout, no pool slot). Anything that fails after the request left this process
(read timeout, dropped connection, a non-200 answer to a send) is an `UnknownOutcomeError` naming
the numbers involved: the caller decides, nothing is resent blindly.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, Protocol

import httpcore

from shared.errors import DeadlineExceededError, TencentUnavailableError, UnknownOutcomeError
from shared.outbound import OutboundRequest

USER_AGENT = "sms-functions"
_USER_AGENT = USER_AGENT.encode("ascii")

# Connection-level failures that happen before a single byte of the request is sent.
_NOT_SENT = (
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.PoolTimeout,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)
# Everything else httpcore raises for a request (a read or write failing, a malformed answer).
_TRANSPORT_ERRORS = (httpcore.NetworkError, httpcore.TimeoutException, httpcore.ProtocolError)


class RequestHandler(Protocol):
    """What `Transport` sends through: an httpcore pool, or a `PoolSet` of them."""

    def handle_request(self, request: httpcore.Request) -> httpcore.Response: ...

    def close(self) -> None: ...


class TransportOptions(NamedTuple):
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    proxy: str = ""
    max_connections: int = 32  # keep-alive connections to Tencent, in all
    pool_size: int = 4  # connections per httpcore pool (see `PoolSet`)
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
        http_transport: RequestHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options or TransportOptions()
        self._clock = clock
        self._sleep = sleep
        opts = self.options
        if http_transport is None:
            http_transport = (
                _proxy_transport(opts)
                if opts.proxy
                else PoolSet(
                    max_connections=opts.max_connections,
                    pool_size=opts.pool_size,
                    socket_options=_NODELAY,
                )
            )
        self._http = http_transport
        self._default_timeout = _timeouts(opts.read_timeout, opts.connect_timeout)

    def close(self) -> None:
        self._http.close()

    def post(
        self,
        request: OutboundRequest,
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
            prepared = self._prepare(request, deadline)
            try:
                response = self._http.handle_request(prepared)
                try:
                    content = response.read()
                finally:
                    response.close()
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
            except _TRANSPORT_ERRORS as exc:
                raise _after_sending(exc, is_send, phones, deadline_hit=self._past(deadline)) from None
            if response.status != 200:
                if is_send:
                    raise UnknownOutcomeError(
                        f"Tencent SMS answered HTTP {response.status} to a send; the numbers may or may "
                        "not have been sent",
                        phones=phones,
                        details={"http_status": response.status},
                    )
                raise TencentUnavailableError(
                    f"Tencent SMS answered HTTP {response.status}",
                    details={"http_status": response.status},
                )
            return content

    def _prepare(self, request: OutboundRequest, deadline: float | None) -> httpcore.Request:
        """The httpcore request: Host (unless signed in), Content-Length and User-Agent added."""
        url = httpcore.URL(request.url)
        headers = [(name.encode("ascii"), value.encode("ascii")) for name, value in request.headers.items()]
        if not any(name.lower() == b"host" for name, _ in headers):
            default_port = 443 if url.scheme == b"https" else 80
            host = url.host if url.port in (None, default_port) else b"%b:%d" % (url.host, url.port)
            headers.insert(0, (b"Host", host))
        headers += [(b"Content-Length", b"%d" % len(request.content)), (b"User-Agent", _USER_AGENT)]
        timeout = {"timeout": self._timeout(deadline)}
        return httpcore.Request(b"POST", url, headers=headers, content=request.content, extensions=timeout)

    def _timeout(self, deadline: float | None) -> dict[str, float | None]:
        opts = self.options
        if deadline is None:
            return self._default_timeout
        remaining = deadline - self._clock() - opts.deadline_margin
        if remaining < opts.min_budget:
            raise DeadlineExceededError(
                "too little of the invocation's time remains to call Tencent SMS; nothing was sent"
            )
        return _timeouts(
            min(opts.read_timeout, remaining),
            min(opts.connect_timeout, remaining),
            pool=min(opts.connect_timeout, remaining),
        )

    def _can_wait(self, deadline: float | None, seconds: float) -> bool:
        if deadline is None:
            return True
        return deadline - self._clock() - self.options.deadline_margin - seconds >= self.options.min_budget

    def _past(self, deadline: float | None) -> bool:
        return deadline is not None and self._clock() >= deadline - self.options.deadline_margin - 0.05


def _timeouts(read: float, connect: float, pool: float | None = None) -> dict[str, float | None]:
    """httpcore's timeout extension: reads and writes get `read`; the pool wait `pool` (else `read`)."""
    return {"connect": connect, "read": read, "write": read, "pool": read if pool is None else pool}


def _after_sending(exc: Exception, is_send: bool, phones: Sequence[str], deadline_hit: bool) -> Exception:
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


_NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def _proxy_transport(opts: TransportOptions) -> httpcore.ConnectionPool:
    """Behind a proxy (from our settings only, never the environment): one httpcore pool of
    `max_connections` through it."""
    return httpcore.ConnectionPool(
        proxy=httpcore.Proxy(opts.proxy),
        ssl_context=_tls_context(),
        max_connections=opts.max_connections,
        max_keepalive_connections=opts.max_connections,
        keepalive_expiry=_KEEPALIVE_EXPIRY,
    )


_KEEPALIVE_EXPIRY = 60.0


class PoolSet:
    """Several small httpcore connection pools behind one `handle_request`; a request goes to the first pool
    with a free connection (else the least busy), so sequential use always reuses pool 0.

    httpcore's pool does bookkeeping over all its connections and queued requests under one lock
    on every request and every response close (encode/httpcore#1035): with 32 or more requests in
    flight that work grows with the square of the pool and costs more CPU than the HTTP itself
    (`bench/tune_concurrency.py --server canned`: one pool of 64 in flight does ~50-70,000
    numbers/s at 13-17 µs of CPU a number, pools of 4 ~100,000 at 8-9 µs; pools of 1 to 4 measure
    alike, 8 a little worse). Pools are created on first use, and the TLS context (loading the CA
    bundle costs tens of ms of a cold start) only for the first `https` request; an `http` pool
    gets a context that trusts nothing, so TLS through it could never work.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        pool_size: int,
        socket_options: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        self._pool_size = max(1, min(pool_size, max_connections))
        self._count = -(-max(1, max_connections) // self._pool_size)
        self._socket_options = list(socket_options)
        self._lock = threading.Lock()
        self._pools: dict[bytes, list[httpcore.ConnectionPool | None]] = {}
        self._busy: dict[bytes, list[int]] = {}
        self._closed = False

    @property
    def pool_count(self) -> int:
        return self._count

    def slots(self, scheme: bytes) -> list[tuple[bool, int]]:
        """Per pool of `scheme` (b"http", b"https"): whether it was opened, and its requests in flight."""
        with self._lock:
            pools = self._pools.get(scheme, [None] * self._count)
            busy = self._busy.get(scheme, [0] * self._count)
            return [(pool is not None, n) for pool, n in zip(pools, busy, strict=True)]

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        scheme = request.url.scheme
        index, pool = self._acquire(scheme)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                with self._lock:
                    self._busy[scheme][index] -= 1

        try:
            response = pool.handle_request(request)
        except BaseException:
            release()
            raise
        stream = response.stream
        assert isinstance(stream, Iterable)  # a sync pool's body
        response.stream = _ReleasingStream(stream, release)
        return response

    def _acquire(self, scheme: bytes) -> tuple[int, httpcore.ConnectionPool]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the transport is closed")
            pools = self._pools.get(scheme)
            if pools is None:
                pools = self._pools[scheme] = [None] * self._count
                self._busy[scheme] = [0] * self._count
            busy = self._busy[scheme]
            index = next((i for i, n in enumerate(busy) if n < self._pool_size), None)
            if index is None:
                index = busy.index(min(busy))
            pool = pools[index]
            if pool is None:
                pool = pools[index] = self._new_pool(scheme)
            busy[index] += 1
            return index, pool

    def _new_pool(self, scheme: bytes) -> httpcore.ConnectionPool:
        return httpcore.ConnectionPool(
            ssl_context=_tls_context() if scheme == b"https" else _no_trust_context(),
            max_connections=self._pool_size,
            max_keepalive_connections=self._pool_size,
            keepalive_expiry=_KEEPALIVE_EXPIRY,
            socket_options=self._socket_options or None,
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools = [p for group in self._pools.values() for p in group if p is not None]
            self._pools.clear()
        for pool in pools:
            pool.close()


class _ReleasingStream:
    """The response body; closing it gives the request's slot in its pool back."""

    def __init__(self, stream: Iterable[bytes], release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        finally:
            self._release()


_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """The verifying TLS context (certifi's CA bundle, httpcore's default), made once per process."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = httpcore.default_ssl_context()
        return _tls


def _no_trust_context() -> ssl.SSLContext:
    """For plain-http pools, which never use it: verifies certificates but trusts no CA."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


_shared: dict[TransportOptions, Transport] = {}
_shared_lock = threading.Lock()


def shared_transport(options: TransportOptions) -> Transport:
    """The one pooled transport for these options in this process (kept across warm invocations)."""
    with _shared_lock:
        transport = _shared.get(options)
        if transport is None:
            transport = _shared[options] = Transport(options)
        return transport
