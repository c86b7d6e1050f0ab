"""The emulator's HTTP server: Tencent's paths for both protocols plus `/_emulator/…` inspection.

Routes:
    POST /v5/tlssmssvr/{sendsms,sendmultisms2,pullstatus,pullstatus4mobile}   legacy v5 API
    POST /                                                                    API 3.0 (X-TC-Action)
    GET  /_emulator/messages[?phone=+86…]   accepted messages, newest first
    GET  /_emulator/stats                   {"accepted", "requests", "connections", "rejected"}
    POST /_emulator/replies                 {"phone", "text", "sign"?, "extend"?, "at"?}: inject a reply
    GET|POST|DELETE /_emulator/faults       read / set (JSON of `set_faults` kwargs) / clear faults
    POST /_emulator/reset                   forget messages, receipts, replies and counters

HTTP/1.1 with keep-alive; every answer carries Content-Length.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from local.emulator import legacy, v3
from local.emulator.catalogue import DEFAULT_SIGN, Catalogue
from local.emulator.engine import Engine, InboundReply, Protocol, SentMessage
from local.emulator.faults import FaultPlan, Faults
from local.emulator.jsontext import dumps
from local.emulator.numbers import normalize

LEGACY_PREFIX = "/v5/tlssmssvr/"
INSPECT_PREFIX = "/_emulator/"
MAX_BODY = 10 * 1024 * 1024
JSON = "application/json"  # exactly this: the official SDK only parses errors for this content type


@dataclass(frozen=True)
class RecordedRequest:
    """A Tencent request as the emulator received it (header names lower-cased)."""

    protocol: Protocol
    operation: str  # legacy path segment or API 3.0 action
    method: str
    path: str  # with the query string
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)


class Emulator:
    """Tencent Cloud SMS on a loopback port, for tests and local runs.

    `clock` is the emulator's notion of now (unix seconds) for signature windows, submission
    times and receipt due times; `receipt_delay` seconds after a message is accepted its delivery
    report becomes pullable; a deterministic `failure_rate` share of them (seeded by `seed`) fail.
    """

    def __init__(
        self,
        catalogue: Catalogue | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        receipt_delay: float = 0.0,
        failure_rate: float = 0.0,
        seed: int = 0,
        max_recorded_requests: int = 10_000,
    ) -> None:
        self._engine = Engine(
            catalogue if catalogue is not None else Catalogue.default(),
            clock=clock,
            receipt_delay=receipt_delay,
            failure_rate=failure_rate,
            seed=seed,
        )
        self._faults = FaultPlan()
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded_requests)
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        server = _Server((self._host, self._port), self)
        self._server, self._port = server, server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="sms-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start() if self._server is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the requested one before `start`)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (use as TENCENT_SMS_ENDPOINT)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    # ------------------------------------------------------------------ inspection

    @property
    def catalogue(self) -> Catalogue:
        return self._engine.catalogue

    @property
    def clock(self) -> Callable[[], float]:
        """The emulator's clock (unix seconds); sign requests with it when it is a fake one."""
        return self._engine.clock

    @property
    def failure_rate(self) -> float:
        """The share of accepted messages whose delivery fails (settable while running)."""
        return self._engine.failure_rate

    @failure_rate.setter
    def failure_rate(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        self._engine.failure_rate = rate

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (keep-alive reuse keeps this low)."""
        return self._engine.stats()["connections"]

    @property
    def accepted_count(self) -> int:
        """Messages accepted so far."""
        return self._engine.stats()["accepted"]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Tencent requests received, oldest first (the most recent `max_recorded_requests`)."""
        with self._engine.lock:
            return list(self._requests)

    def stats(self) -> dict[str, int]:
        """`{"accepted", "requests", "connections", "rejected"}`; rejected counts refused requests
        plus refused numbers inside otherwise processed sends."""
        return self._engine.stats()

    def messages(self, phone: str | None = None) -> list[SentMessage]:
        """Accepted messages, newest first, optionally for one number."""
        return self._engine.messages(None if phone is None else _phone_key(phone))

    def receipt_of(self, message_id: str) -> dict[str, Any] | None:
        """The delivery report of a message once it is due, else None."""
        receipt = self._engine.receipt(message_id)
        return None if receipt is None else receipt.to_dict()

    def inject_reply(
        self, phone: str, text: str, sign: str = DEFAULT_SIGN, extend: str = "", at: float | None = None
    ) -> InboundReply:
        """Queue an SMS sent back by `phone` (pullable from `at`, default now, on)."""
        return self._engine.inject_reply(phone, text, sign=sign, extend=extend, at=at)

    def reset(self) -> None:
        """Forget messages, receipts, replies, recorded requests and counters (faults stay)."""
        with self._engine.lock:
            self._requests.clear()
        self._engine.reset()

    # ------------------------------------------------------------------ faults

    @property
    def faults(self) -> Faults:
        return self._faults.current

    def set_faults(
        self,
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
        """Replace the faults (see `Faults`); returns the new setting."""
        faults = Faults.build(
            latency_ms=latency_ms,
            fail_status=fail_status,
            fail_count=fail_count,
            drop_count=drop_count,
            drop_after_processing=drop_after_processing,
            malformed_count=malformed_count,
            operations=operations,
            stall_count=stall_count,
            stall_ms=stall_ms,
        )
        self._faults.set(faults)
        return faults

    def clear_faults(self) -> None:
        self._faults.set(Faults())

    # ------------------------------------------------------------------ request handling

    def _serve_tencent(self, handler: _Handler, protocol: Protocol, operation: str, body: bytes) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._engine.lock:
            self._requests.append(
                RecordedRequest(protocol, operation, handler.command, handler.path, headers, body)
            )
            self._engine.counters.requests += 1
        decision = self._faults.take(operation)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.kind == "fail":
            page = _error_page(decision.status, handler.responses)
            handler.respond(decision.status, page, "text/html; charset=utf-8")
            return
        if handler.command != "POST":
            handler.respond_json(405, {"error": "Tencent SMS is called with POST"})
            return

        def process() -> dict[str, Any]:
            if protocol == "legacy":
                query = {k: v[-1] for k, v in parse_qs(urlsplit(handler.path).query).items()}
                return legacy.handle(self._engine, operation, query, body)
            return v3.handle(self._engine, handler.command, headers, body)

        if decision.kind == "drop":
            if decision.process:
                process()
            handler.close_connection = True  # and write nothing
            return
        content = dumps(process())
        if decision.kind == "stall":
            time.sleep(decision.stall)  # the items are handed out; the answer comes too late
        if decision.kind == "malformed":
            content = content[: len(content) // 2]  # a truncated object is never valid JSON
        handler.respond(200, content, JSON)

    def _serve_inspection(
        self, method: str, route: str, query: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if route == "messages" and method == "GET":
            phone = params.get("phone") or None
            items = []
            for message in self._engine.messages(None if phone is None else _phone_key(phone)):
                item = message.to_dict()
                item["receipt"] = self.receipt_of(message.message_id)
                items.append(item)
            return 200, {"messages": items}
        if route == "stats" and method == "GET":
            return 200, self.stats()
        if route == "reset" and method == "POST":
            self.reset()
            return 200, {"reset": True}
        if route == "replies" and method == "POST":
            try:
                data = _json_or_empty(body)
                reply = self.inject_reply(
                    str(data["phone"]),
                    str(data["text"]),
                    sign=str(data.get("sign", DEFAULT_SIGN)),
                    extend=str(data.get("extend", "")),
                    at=data.get("at"),
                )
            except (KeyError, TypeError, ValueError) as exc:
                return 400, {"error": f"a reply needs a valid phone and a text: {exc}"}
            return 200, {"reply": reply.to_dict()}
        if route == "faults":
            if method == "POST":
                try:
                    faults = self.set_faults(**_json_or_empty(body))
                except (TypeError, ValueError) as exc:
                    return 400, {"error": str(exc)}
                return 200, {"faults": faults.to_dict()}
            if method == "DELETE":
                self.clear_faults()
            if method in ("GET", "DELETE"):
                return 200, {"faults": self.faults.to_dict()}
        return 404, {"error": f"no inspection route {method} {INSPECT_PREFIX}{route}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # HTTPServer's would look the host name up (a DNS query)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        self.emulator._engine.count("connections")
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (a reset, a broken pipe) is no failure of the emulator: only the
        others are reported, with their traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TencentSmsEmulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator serves thousands of requests in benchmarks."""

    def _dispatch(self) -> None:
        emulator = cast(_Server, self.server).emulator
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self.respond_json(400, {"error": str(exc)})
            return
        split = urlsplit(self.path)
        path = split.path
        try:
            if path.startswith(LEGACY_PREFIX):
                emulator._serve_tencent(self, "legacy", path[len(LEGACY_PREFIX) :], body)
            elif path == "/" and self.command != "GET":
                emulator._serve_tencent(self, "v3", self.headers.get("X-TC-Action", ""), body)
            elif path.startswith(INSPECT_PREFIX):
                route = path[len(INSPECT_PREFIX) :].strip("/")
                status, answer = emulator._serve_inspection(self.command, route, split.query, body)
                self.respond_json(status, answer)
            elif path == "/":
                self.respond_json(
                    200,
                    {
                        "service": "Tencent Cloud SMS emulator",
                        "legacy": LEGACY_PREFIX,
                        "v3": "POST /",
                        "inspection": INSPECT_PREFIX,
                    },
                )
            else:
                self.respond_json(404, {"error": f"no route {self.command} {path}"})
        except ConnectionError:
            self.close_connection = True  # the client hung up: nobody to answer, nothing failed here
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self.respond_json(500, {"error": "the emulator failed; see its stderr"})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            if not length.strip().isdigit() or int(length) > MAX_BODY:
                raise ValueError("bad or too large Content-Length")
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if sum(len(c) for c in chunks) > MAX_BODY:
                    raise ValueError("body too large")
        return b""

    def respond(self, status: int, body: bytes, content_type: str) -> None:
        """Write the whole answer in one go (status line, headers with Content-Length, body)."""
        reason = self.responses.get(status, ("Error",))[0]
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def respond_json(self, status: int, answer: Mapping[str, Any]) -> None:
        self.respond(status, dumps(answer), JSON)


def _json_or_empty(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def _error_page(status: int, responses: Mapping[int, tuple[str, str]]) -> bytes:
    reason = responses.get(status, ("Error",))[0]
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>stgw</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def _phone_key(raw: str) -> str:
    """A number as the records key it: E.164. A `+` may arrive decoded into a space."""
    if raw[:1] in ("+", " "):
        return "+" + raw.strip().lstrip("+")
    try:
        return normalize(raw)[0]
    except ValueError:
        return raw.strip()
