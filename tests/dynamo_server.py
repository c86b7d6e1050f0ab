"""A DynamoDB-API server for tests: moto's server mode in a process of its own, on loopback.

    server = DynamoServer(); server.start()   # python -m tests.dynamo_server on a free port
    server.endpoint                            # http://127.0.0.1:<port>
    server.url("table")                        # dynamodb://table?region=…&endpoint=…&create=true
    server.stop()

boto3 talks to it over HTTP exactly as to DynamoDB (no in-process mock). moto answers each
request in a thread of its own and does not lock items, so two conditional writes racing on
one item could both pass there; DynamoDB applies every request atomically. The server here
therefore handles one request at a time (connections stay concurrent), which is what the
store's conditions rely on.

`FaultProxy` sits between a store and that server and, on demand, answers with throttling
errors or hands back part of a BatchWriteItem as unprocessed: faults moto cannot produce.

`python -m tests.dynamo_server` runs the server and prints `PORT <n>` (Ctrl-C stops it).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REGION = "us-east-1"
#: dummy credentials: botocore signs every request; moto checks nothing
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
ROOT = Path(__file__).resolve().parent.parent


def use_fake_credentials(env: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Dummy AWS credentials for the local server (never a real account's)."""
    for name, value in FAKE_CREDENTIALS.items():
        env[name] = value
    env.pop("AWS_PROFILE", None)


class DynamoServer:
    """moto's DynamoDB in a child process, one request at a time."""

    def __init__(self) -> None:
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, table: str | None = None, **options: str) -> str:
        """A store URL on a table of its own (created on first use)."""
        name = table or "t-" + uuid.uuid4().hex[:16]
        settings = {"region": REGION, "endpoint": self.endpoint, "create": "true", **options}
        query = "&".join(f"{k}={v}" for k, v in settings.items())
        return f"dynamodb://{name}?{query}"

    def start(self) -> None:
        env = {**os.environ}
        use_fake_credentials(env)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.dynamo_server"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the DynamoDB test server did not start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


class FaultProxy:
    """An HTTP proxy to the server that can throttle requests or leave batch items unprocessed."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.throttle_next = 0  # answer this many next requests with a throttling error
        self.throttle_code = "ProvisionedThroughputExceededException"
        self.unprocessed_rounds = 0  # BatchWriteItem: process only `processed` items, this many times
        self.processed = 1
        self.requests: list[str] = []  # X-Amz-Target operation of every request seen
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers, answer = proxy.handle(self.headers, body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, headers: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        operation = str(headers.get("X-Amz-Target", "")).rpartition(".")[2]
        with self._lock:
            self.requests.append(operation)
            throttle = self.throttle_next > 0
            if throttle:
                self.throttle_next -= 1
            partial = operation == "BatchWriteItem" and self.unprocessed_rounds > 0
            if partial:
                self.unprocessed_rounds -= 1
        if throttle:
            error = {
                "__type": f"com.amazonaws.dynamodb.v20120810#{self.throttle_code}",
                "message": "slow down",
            }
            return 400, [("Content-Type", "application/x-amz-json-1.0")], json.dumps(error).encode()
        held: dict[str, list[Any]] = {}
        if partial:
            request = json.loads(body)
            for table, items in request["RequestItems"].items():
                request["RequestItems"][table], rest = items[: self.processed], items[self.processed :]
                if rest:
                    held[table] = rest
            body = json.dumps(request).encode()
        if partial and not any(json.loads(body)["RequestItems"].values()):
            answer = json.dumps({"UnprocessedItems": held}).encode()
            return 200, [("Content-Type", "application/x-amz-json-1.0")], answer
        status, out_headers, answer = self._forward(headers, body)
        if held and status == 200:
            parsed = json.loads(answer)
            parsed["UnprocessedItems"] = held
            answer = json.dumps(parsed).encode()
        return status, out_headers, answer

    def _forward(self, headers: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host")}
            conn.request("POST", "/", body=body, headers=forwarded)
            response = conn.getresponse()
            answer = response.read()
            keep = [
                (k, v) for k, v in response.getheaders() if k.lower() in ("content-type", "x-amzn-requestid")
            ]
            return response.status, keep, answer
        finally:
            conn.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _copy_each_table_once_per_transaction() -> None:
    """moto backs a table up before a TransactWriteItems once per item in it (a deep copy of the
    whole table a hundred times for a 100-item transaction: minutes for a big multi send's
    counters). One backup per table does the same; requests are served one at a time."""
    import copy
    import types

    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: dict[int, Any] = {}

        def deepcopy(obj: Any, memo: Any = None) -> Any:
            if not isinstance(obj, models.Table):
                return copy.deepcopy(obj, memo)
            if id(obj) not in backups:
                backups[id(obj)] = copy.deepcopy(obj)
            return backups[id(obj)]

        models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)  # type: ignore[assignment]
        try:
            original(self, transact_items)
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _serve() -> None:
    """Run moto's DynamoDB on a free loopback port, one request at a time."""
    _copy_each_table_once_per_transaction()
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    app = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        with one_at_a_time:
            return iter(list(app(environ, start_response)))

    server = make_server("127.0.0.1", 0, serialised, threaded=True, request_handler=MotoRequestHandler)
    print(f"PORT {server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    _serve()
