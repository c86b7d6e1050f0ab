"""A local API gateway: HTTP on 127.0.0.1 → the API Gateway (REST v1) event the handlers get in the
cloud → the handler, in-process → the HTTP answer. It also fires the scheduled pull every N seconds.
"""

from __future__ import annotations

import base64
import importlib
import json
import queue
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
    ("/sms/messages", "pull_status"),
    ("/sms/stats", "pull_status"),
    ("/sms/stats/", "pull_status"),
    ("/dashboard", "pull_status"),
    ("/sms/callback/", "status_callback"),
    ("/otp/", "otp"),
    ("/openapi.json", "send_single"),
)
FUNCTIONS = ("send_single", "send_multi", "pull_status", "status_callback", "otp")
MAX_BODY = 8 * 1024 * 1024
QUEUE_PATH = "/_local/queue"  # the local stand-in for SQS (SMS_FANOUT_QUEUE_URL=local+http://…)
MAX_RECEIVES = 5
REDELIVERY_DELAY = 1.0


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


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS batch event, as Lambda's event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": r["messageId"],
                "receiptHandle": r["messageId"],
                "body": r["body"],
                "attributes": {
                    "ApproximateReceiveCount": str(r.get("receives", 1)),
                    "SentTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:local:000000000000:sms-functions-local-batch",
                "awsRegion": "local",
            }
            for r in records
        ]
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
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.dead_letters: list[dict[str, Any]] = []
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
        worker = threading.Thread(target=self._queue_loop, name="batch-queue", daemon=True)
        worker.start()
        self._threads.append(worker)
        return self

    @property
    def queue_url(self) -> str:
        """Where `SMS_FANOUT_QUEUE_URL` points for a local run."""
        return f"local+{self.url}{QUEUE_PATH}"

    def queue_idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def _queue_loop(self) -> None:
        """Deliver queued chunks to send_multi in SQS batches of up to 10, redelivering failed
        records (up to MAX_RECEIVES times, then they are dead letters), as SQS and Lambda do."""
        while not self._stop.is_set():
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < 10:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                answer = self.handler("send_multi")(
                    sqs_event(batch), LocalContext("send_multi", self.timeout_s)
                )
                failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            except Exception:  # the whole batch failed: every record comes back
                failed = {r["messageId"] for r in batch}
            for record in batch:
                if record["messageId"] in failed:
                    if record.get("receives", 1) >= MAX_RECEIVES:
                        self.dead_letters.append(record)
                    else:
                        threading.Timer(
                            REDELIVERY_DELAY,
                            self._queue.put,
                            ({**record, "receives": record.get("receives", 1) + 1},),
                        ).start()
                self._queue.task_done()

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
        if urlsplit(request.path).path == QUEUE_PATH and request.command == "POST" and length <= MAX_BODY:
            records = json.loads(request.rfile.read(length) or b"{}").get("records", [])
            for record in records:
                self._queue.put({"messageId": str(record["messageId"]), "body": str(record["body"])})
            self._write(
                request,
                200,
                {"Content-Type": "application/json"},
                json.dumps({"queued": len(records)}).encode(),
            )
            return
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
