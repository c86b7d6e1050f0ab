"""A local API gateway: HTTP on 127.0.0.1 → the API Gateway (REST v1) event the handlers get in the
cloud → the handler, in-process → the HTTP answer. It also fires the scheduled pull every N seconds.

The HTTP itself is waitress's (pure Python, no dependencies, no C build; well kept): it reads
chunked bodies, refuses a bad `Content-Length` with a 400, buffers a whole request before a worker
thread sees it (a slow or lying client holds a socket, never a thread), closes idle connections
after `channel_timeout`, and stops accepting above `connection_limit`. Its own error answers are
turned into the project's error shape here.
"""

from __future__ import annotations

import base64
import hmac
import importlib
import json
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from shared import routes

Handler = Callable[[dict[str, Any], Any], Any]

FUNCTIONS = ("send_single", "send_multi", "pull_status", "status_callback", "otp")
MAX_BODY = 8 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
CHANNEL_TIMEOUT = 15  # seconds a connection may sit idle (or mid-request) before it is closed
CONNECTION_LIMIT = 100  # open connections; above it new ones wait in the listen backlog
WORKER_THREADS = 8  # requests served at once (handlers run in-process)
SERVER_NAME = "sms-functions-local"  # the Server header: no Python or library version
QUEUE_PATH = "/_local/queue"  # the local stand-in for SQS (SMS_FANOUT_QUEUE_URL=local+http://…)
MAX_RECEIVES = 5
REDELIVERY_DELAY = 1.0


def load_handler(name: str) -> Handler:
    """`functions/<name>/handler.py`'s `handler`, imported as the cloud runtimes do."""
    module = importlib.import_module(f"functions.{name}.handler")
    handler: Handler = module.handler
    return handler


def function_for(path: str) -> str | None:
    """Which function serves `path`: the declared route table's answer (`shared.routes`)."""
    return routes.function_for(path)


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


_ERROR_CODES = {413: "payload_too_large", 431: "headers_too_large"}


def error_body(code: str, message: str) -> bytes:
    """The project's error shape, as bytes."""
    return json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode("utf-8")


class _JsonErrorTask(ErrorTask):
    """waitress's answer to a request it could not parse, in the error shape (always a 4xx). Its
    detail is kept only when it quotes nothing from the request (a header line may hold a number)."""

    def execute(self) -> None:
        error = self.request.error
        status = error.code if 400 <= error.code < 500 else 400
        detail = str(error.body)
        if '"' in detail or "'" in detail:
            detail = "malformed request line or header"
        reason = error.reason if status == error.code else "Bad Request"
        body = error_body(_ERROR_CODES.get(status, "malformed_request"), f"{reason}: {detail}")
        self.status = f"{status} {reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    error_task_class = _JsonErrorTask


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers from a WSGI environ (`HTTP_X_API_KEY` → `X-Api-Key`)."""
    headers: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            headers[name[5:].replace("_", "-").title()] = value
        elif name in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[name.replace("_", "-").title()] = value
    return headers


class Gateway:
    """The local HTTP server plus the schedule thread and the stand-in for SQS."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        pull_interval: float = 0,
        loader: Callable[[str], Handler] = load_handler,
        timeout_s: float = 30.0,
        channel_timeout: int = CHANNEL_TIMEOUT,
        connection_limit: int = CONNECTION_LIMIT,
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
        # the gateway's own fan-out (already limited when its request was) carries this token
        self._queue_token = secrets.token_urlsafe(24)
        self._map: dict[int, Any] = {}
        self._server = waitress.create_server(
            self._wsgi,
            map=self._map,
            host=host,
            port=port,
            ident=SERVER_NAME,
            threads=WORKER_THREADS,
            connection_limit=connection_limit,
            channel_timeout=channel_timeout,
            cleanup_interval=max(1, min(30, channel_timeout // 2)),
            max_request_body_size=MAX_BODY,
            max_request_header_size=MAX_HEADER_BYTES,
            expose_tracebacks=False,
            log_socket_errors=False,
        )
        self._server.channel_class = _Channel
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._server.effective_host, self._server.effective_port
        return f"http://{host!s}:{port}"

    def handler(self, name: str) -> Handler:
        with self._lock:
            if name not in self._handlers:
                self._handlers[name] = self._loader(name)
            return self._handlers[name]

    def start(self) -> Gateway:
        serve = threading.Thread(target=self._serve, name="gateway", daemon=True)
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
        """Where `SMS_FANOUT_QUEUE_URL` points for a local run (with this gateway's own token)."""
        return f"local+{self.url}{QUEUE_PATH}?token={self._queue_token}"

    @property
    def connections(self) -> int:
        """Client connections open now (the server bounds them by `connection_limit`)."""
        return sum(1 for dispatcher in list(self._map.values()) if isinstance(dispatcher, HTTPChannel))

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

    def _serve(self) -> None:
        """waitress's serve loop. `stop` closes the sockets under it, so a `select` may then meet a
        closed descriptor (EBADF): that ends the loop quietly; before `stop` it is a real failure."""
        try:
            self._server.run()
        except OSError:
            if not self._stop.is_set():
                raise

    def stop(self) -> None:
        self._stop.set()
        self._server.task_dispatcher.shutdown()
        wasyncore.close_all(self._map)  # the serve loop ends once no socket is left

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

    # ------------------------------------------------------------------------------ HTTP

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """One whole request (waitress has read and bounded it) → the handler → the answer."""
        method = environ["REQUEST_METHOD"]
        raw_uri = environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/"
        split = urlsplit(raw_uri)
        path = split.path or "/"
        raw_path = path + (f"?{split.query}" if split.query else "")
        headers = _request_headers(environ)
        body = environ["wsgi.input"].read()
        try:
            if path == QUEUE_PATH:
                status, out_headers, data = self._enqueue(method, split.query, headers, body)
            else:
                status, out_headers, data = self._invoke(
                    method, path, raw_path, headers, body, environ.get("REMOTE_ADDR", "")
                )
        except Exception as exc:  # a handler bug: logged by type only, never with the request
            from shared.observability import logger

            logger.error("local gateway failure", extra={"error_type": type(exc).__name__})
            status, out_headers = 500, {"Content-Type": "application/json"}
            data = error_body("internal_error", "an internal error occurred; it has been logged")
        reason = _reason(status)
        skip = ("content-length", "connection", "transfer-encoding", "server", "date")
        pairs = [(k, v) for k, v in out_headers.items() if k.lower() not in skip]
        start_response(f"{status} {reason}".strip(), [*pairs, ("Content-Length", str(len(data)))])
        return [data]

    def _invoke(
        self, method: str, path: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        name = function_for(path)
        if name is None:
            return (
                404,
                {"Content-Type": "application/json"},
                error_body("no_route", "no function serves this path"),
            )
        event = rest_event(method, raw_path, headers, body, source_ip)
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
        return status, out_headers, data

    def _enqueue(
        self, method: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """`POST /_local/queue`: the stand-in for SQS. The gateway's own fan-out shows its token;
        anyone else needs an API key and passes the limits of `POST /sms/send-multi`."""
        from shared import entry, events, limits
        from shared.errors import SmsError, ValidationError
        from shared.http import encode, error_answer
        from shared.runtime import runtime

        json_type = {"Content-Type": "application/json"}
        try:
            if method != "POST":
                raise ValidationError("the queue takes POST only", code="method_not_allowed")
            token = parse_qs(query).get("token", [""])[-1]
            internal = bool(token) and hmac.compare_digest(token.encode(), self._queue_token.encode())
            services = runtime.services
            if not internal:
                request = events.HttpRequest(
                    method=method, path=QUEUE_PATH, headers={k.lower(): v for k, v in headers.items()}
                )
                caller = entry.authenticate(request, services.settings.api_keys)
            records = _queue_records(body)
            if not internal:
                limits.reserve(
                    services,
                    limits.checks_for(
                        services.settings, caller=caller, phones=(), scope="multi", global_cap=False
                    ),
                )
        except SmsError as error:
            answer = error_answer(error)
            return answer.status, {**json_type, **answer.headers}, encode(answer.body).encode("utf-8")
        for record in records:
            self._queue.put(record)
        return 200, json_type, json.dumps({"queued": len(records)}).encode()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _queue_records(body: bytes) -> list[dict[str, Any]]:
    """`{"records": [{"messageId": str, "body": str}, …]}`, or a ValidationError saying what is wrong."""
    from shared.errors import ValidationError

    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValidationError("the queue body is not JSON", code="invalid_json") from None
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list) or not records:
        raise ValidationError('the queue body must be {"records": [...]} with records', code="invalid_body")
    out = []
    for record in records:
        if not (
            isinstance(record, dict)
            and isinstance(record.get("messageId"), str)
            and isinstance(record.get("body"), str)
            and record["messageId"]
        ):
            raise ValidationError("every record needs a messageId and a body (strings)", code="invalid_body")
        out.append({"messageId": record["messageId"], "body": record["body"]})
    return out
