"""Invoke a handler from an unpacked package, the way the platform would (run as `python -S -E -c`).

    python -S -E -B -c "$(cat zip_runner.py)" FOLDER MODULE.FUNCTION EVENT.json|- CONTEXT.json|aws:NAME

Only <folder>, the layer folders in ZIP_RUNNER_LAYERS (os.pathsep-separated; mounted after the
code, as the platforms mount /opt) and the standard library are importable (no site-packages). With
`-` as the event it only imports. Logs go to stderr; the one line on stdout is JSON:
{"result", "python", "origins"}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


class LambdaContext:
    """What the Lambda runtime passes as `context` (the fields our code reads)."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "0f4f9c3e-5d1b-4c8a-9f3e-2a7b6c1d0e9f"
        self.invoked_function_arn = f"arn:aws:lambda:ap-southeast-1:123456789012:function:{name}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/11/27/[$LATEST]0123456789abcdef"
        self._deadline = time.monotonic() + 10

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(folder: str, spec: str, event_path: str, context_arg: str) -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # loggers bind the stream at import: keep stdout for the answer
    layers = [p for p in os.environ.get("ZIP_RUNNER_LAYERS", "").split(os.pathsep) if p]
    kept = [p for p in sys.path if p not in ("", ".") and "site-packages" not in p]
    sys.path[:] = [folder, *layers, *kept]
    module_path, _, function_name = spec.rpartition(".")
    module = __import__(module_path.replace("/", "."), fromlist=[function_name])
    handler = getattr(module, function_name)
    result: Any
    if event_path == "-":
        result = {
            "imported": module.__name__,
            "handler_is_main_handler": module.handler is module.main_handler,
        }
    else:
        with open(event_path, encoding="utf-8") as handle:
            event = json.load(handle)
        context: Any
        if context_arg.startswith("aws:"):
            context = LambdaContext(context_arg[4:])
        else:
            with open(context_arg, encoding="utf-8") as handle:
                context = json.load(handle)
        result = handler(event, context)
    origins = {
        name: getattr(sys.modules.get(name), "__file__", None)
        for name in ("shared", "httpx", "aws_lambda_powertools", "phonenumbers", "psycopg", module.__name__)
    }
    out.write(
        json.dumps(
            {
                "result": result,
                "python": ".".join(map(str, sys.version_info[:3])),
                "origins": origins,
                "site": "site" in sys.modules,
                "cwd": os.getcwd(),
            }
        )
        + "\n"
    )
    out.flush()


if __name__ == "__main__":
    main(*sys.argv[1:5])
