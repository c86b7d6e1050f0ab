"""One "container" of the cross-container tests: imports functions/<name>/handler.py once and runs
the invocations it reads from stdin, one JSON line each, as a warm Lambda container does.

    python -m tests.crosscontainer.worker FUNCTION [CONCURRENCY]

In:  {"id": 1, "event": {...}, "context": null | {...}}   (null: a Lambda context for FUNCTION)
Out: {"id": 1, "result": ...} or {"id": 1, "error": "Type: message"}, one line each on stdout.
Logs (powertools JSON and EMF metrics) go to stderr. CONCURRENCY > 1 runs that many invocations
at once (threads), to crowd the store from inside the process as well as from outside.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.deploy.zip_runner import LambdaContext


def main(function: str, concurrency: int) -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # loggers and metrics bind the stream at import: stdout is for answers
    module = importlib.import_module(f"functions.{function}.handler")
    lock = threading.Lock()

    def run(line: str) -> None:
        request = json.loads(line)
        context: Any = request.get("context")
        if context is None:
            context = LambdaContext(f"sms-functions-test-{function}")
            context.aws_request_id = str(uuid.uuid4())
        try:
            answer = {"id": request["id"], "result": module.handler(request["event"], context)}
        except Exception as exc:  # the platform would report it; the test sees it
            answer = {"id": request["id"], "error": f"{type(exc).__name__}: {exc}"}
        with lock:
            out.write(json.dumps(answer, ensure_ascii=False) + "\n")
            out.flush()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for line in sys.stdin:
            if line.strip():
                pool.submit(run, line)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
