"""A local API gateway: HTTP on 127.0.0.1 → the API Gateway (REST v1) event the handlers get in the
cloud → the handler, in-process → the HTTP answer. It also fires the scheduled pull every N seconds.
"""

from __future__ import annotations

import base64
import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Handler = Callable[[dict[str, Any], Any], Any]

# Path prefix → function (the same split as serverless.yml).
ROUTES: tuple[tuple[str, str], ...] = (
    ("/sms/send-multi", "send_multi"),
    ("/sms/send", "send_single"),
    ("/sms/pull", "pull_status"),
    ("/sms/status/", "pull_status"),
    ("/sms/messages/", "pull_status"),
    ("/sms/callback/", "status_callback"),
    ("/otp/", "otp"),
    ("/openapi.json", "send_single"),
)
FUNCTIONS = ("send_single", "send_multi", "pull_status", "status_callback", "otp")
MAX_BODY = 8 * 1024 * 1024


def load_handler(name: str) -> Handler:
    """`functions/<name>/handler.py`'s `handler`, imported as the cloud runtimes do."""
    module = importlib.import_module(f"functions.{name}.handler")
    handler: Handler = module.handler
    return handler


def function_for(path: str) -> str | None:
    """Which function serves `path` (prefixes ending in / match below them, others exactly)."""
    for prefix, name in ROUTES:
        if path.startswith(prefix) if prefix.endswith("/") else path == prefix:
            return name
    return None


class LocalContext:
    """A Lambda-like context for in-process invocations."""

    def __init__(self, function_name: str, timeout_s: float = 30.0) -> None:
        self.function_name = f"sms-functions-local-{function_name}"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def rest_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event for one HTTP request."""
    split = urlsplit(raw_path)
    multi_query = parse_qs(split.query, keep_blank_values=True)
    request_id = str(uuid.uuid4())
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": split.path,
        "path": split.path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": split.path,
            "httpMethod": method,
            "path": split.path,
            "stage": "local",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def schedule_event() -> dict[str, Any]:
    """An EventBridge scheduled event, as AWS sends it when the rule has no input."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "local",
        "resources": ["arn:aws:events:local:000000000000:rule/pull-status"],
        "detail": {},
    }


class Gateway:
    """The local HTTP server plus the schedule thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        pull_interval: float = 0,
        loader: Callable[[str], Handler] = load_handler,
        timeout_s: float = 30.0,
    ) -> None:
        self._loader = loader
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.pull_interval = pull_interval
        self.timeout_s = timeout_s
        self.pull_runs = 0
        self._stop = threading.Event()
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "sms-functions-local"

            def do_GET(self) -> None:
                gateway._serve(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the handlers log JSON
                return

        self._server = ThreadingHTTPServer((host, port), RequestHandler)
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def handler(self, name: str) -> Handler:
        with self._lock:
            if name not in self._handlers:
                self._handlers[name] = self._loader(name)
            return self._handlers[name]

    def start(self) -> Gateway:
        serve = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self.pull_interval > 0:
            ticker = threading.Thread(target=self._schedule_loop, name="scheduled-pull", daemon=True)
            ticker.start()
            self._threads.append(ticker)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def run_scheduled_pull(self) -> Any:
        """Invoke pull_status with a scheduled event, as EventBridge would."""
        result = self.handler("pull_status")(schedule_event(), LocalContext("pull_status", self.timeout_s))
        self.pull_runs += 1
        return result

    def _schedule_loop(self) -> None:
        while not self._stop.wait(self.pull_interval):
            try:
                self.run_scheduled_pull()
            except Exception:  # the handler logs its own failures; keep the schedule alive
                time.sleep(0)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._write(
                request,
                413,
                {"Content-Type": "application/json"},
                json.dumps({"error": {"code": "payload_too_large", "message": "body too large"}}).encode(),
            )
            request.close_connection = True
            return
        body = request.rfile.read(length) if length else b""
        path = urlsplit(request.path).path
        name = function_for(path)
        if name is None:
            message = {"error": {"code": "no_route", "message": f"no function serves {path}"}}
            self._write(request, 404, {"Content-Type": "application/json"}, json.dumps(message).encode())
            return
        headers = {k: v for k, v in request.headers.items()}
        event = rest_event(request.command, request.path, headers, body, request.client_address[0])
        answer = self.handler(name)(event, LocalContext(name, self.timeout_s))
        status = int(answer.get("statusCode", 200))
        out_headers = {
            k: (", ".join(v) if isinstance(v, list) else str(v))
            for k, v in (answer.get("headers") or {}).items()
        }
        for key, values in (answer.get("multiValueHeaders") or {}).items():
            out_headers.setdefault(key, ", ".join(str(v) for v in values))
        payload = answer.get("body") or ""
        data = base64.b64decode(payload) if answer.get("isBase64Encoded") else str(payload).encode("utf-8")
        self._write(request, status, out_headers, data)

    @staticmethod
    def _write(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], data: bytes) -> None:
        request.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
