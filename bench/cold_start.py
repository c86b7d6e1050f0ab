"""Cold start: import time of each handler module in a fresh interpreter (median of N runs), next to
the official Tencent SMS SDK client's import, and the installed size of each HTTP stack.

    python bench/cold_start.py [--runs 15] [--dynamodb-url URL]

With `--dynamodb-url` (a DynamoDB-API server such as `python -m tests.dynamo_server`) it also times
opening that store and pinging it (boto3's import and client included), next to a SQLite store.

Import time is measured as the wall time of `python -c "import <module>"` minus that of
`python -c "pass"` (interpreter start-up), each in a new process, median of the runs. Every child
reads compiled bytecode from one cache (`_support.with_bytecode`), as deployed packages carry it.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _support

ROOT = _support.ROOT
HANDLERS = ["send_single", "send_multi", "pull_status", "status_callback", "otp"]
SDK_IMPORT = (
    "from tencentcloud.sms.v20210111 import sms_client, models; from tencentcloud.common import credential"
)
HTTP_STACK = ["httpcore", "h11", "certifi"]  # what the functions ship: httpx's connection layer
HTTPX_STACK = ["httpx", *HTTP_STACK, "anyio", "sniffio", "idna", "exceptiongroup"]
OUR_STACK = [*HTTP_STACK, "aws-lambda-powertools", "jmespath", "typing_extensions", "phonenumberslite"]
SDK_STACK = [
    "tencentcloud-sdk-python-sms",
    "tencentcloud-sdk-python-common",
    "requests",
    "urllib3",
    "charset-normalizer",
    "idna",
    "certifi",
]


def wall_ms(code: str, runs: int) -> float:
    """Median wall time in ms of a fresh interpreter running `code`."""
    samples = []
    env = _support.with_bytecode(dict(os.environ))
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def installed_kb(distributions: list[str]) -> int:
    """Installed size (files on disk) of the given distributions, in KiB; missing ones count 0."""
    total = 0
    for name in distributions:
        try:
            files = metadata.files(name) or []
        except metadata.PackageNotFoundError:
            continue
        for file in files:
            path = Path(str(file.locate()))
            if path.is_file() and "__pycache__" not in path.parts:
                total += path.stat().st_size
    return total // 1024


def package_bytecode(runs: int) -> None:
    """A built Lambda package (`make build`) imported as Lambda would, with the bytecode it ships and
    with that bytecode removed (a read-only code folder cannot cache what it compiles)."""
    import shutil
    import tempfile

    package = ROOT / "build" / "aws" / "send_single"
    if not (package / "functions").exists():
        print("(no build/aws/send_single: run `make build` to compare bytecode against source)")
        return
    sys.path.insert(0, str(ROOT))
    from scripts.build import TARGET_PYTHON, find_interpreter

    python = find_interpreter(TARGET_PYTHON["aws"])  # the bytecode is for Lambda's Python, not this one
    code = "import sys; sys.path.insert(0, '.'); import functions.send_single.handler, shared.client"
    with tempfile.TemporaryDirectory() as scratch:
        source_only = Path(scratch) / "send_single"
        shutil.copytree(package, source_only, ignore=shutil.ignore_patterns("__pycache__"))
        for label, folder in (("with its bytecode", package), ("source only", source_only)):
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                subprocess.run([*python.argv, "-S", "-B", "-c", code], cwd=folder, env=python.env, check=True)
                samples.append((time.perf_counter() - started) * 1000)
            name = f"build/aws/send_single, {label}"
            print(
                f"{name:<44} {statistics.median(samples):>18.0f}  (Python {python.version}: handler + "
                "client, start-up included)"
            )


def store_open(runs: int, dynamodb_url: str | None, baseline: float) -> None:
    """Import `shared.store`, open the store and ping it, in a fresh interpreter: what a container's
    first request pays for its store."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        urls = [("SQLite", f"sqlite:///{Path(scratch) / 'cold.sqlite3'}")]
        if dynamodb_url:
            urls.append(("DynamoDB", dynamodb_url))
        for label, url in urls:
            code = f"from shared.store import open_store; open_store({url!r}).ping()"
            ms = wall_ms(code, runs) - baseline
            print(f"{'open + ping, ' + label + ' store':<44} {ms:>18.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--dynamodb-url", help="also time opening this DynamoDB store (dynamodb://…)")
    args = parser.parse_args()
    # warm the file cache and byte-code once so every measured run sees the same state
    for handler in HANDLERS:
        if (ROOT / "functions" / handler / "handler.py").exists():
            subprocess.run(
                [sys.executable, "-c", f"import functions.{handler}.handler"],
                cwd=ROOT,
                env=_support.with_bytecode(dict(os.environ)),
                check=True,
            )
    baseline = wall_ms("pass", args.runs)
    print(
        f"python {sys.version.split()[0]}, {args.runs} runs each, interpreter start-up {baseline:.0f} ms "
        "(subtracted)"
    )
    print(f"{'module':<44} {'import ms (median)':>18}")
    for handler in HANDLERS:
        if not (ROOT / "functions" / handler / "handler.py").exists():
            continue
        ms = wall_ms(f"import functions.{handler}.handler", args.runs) - baseline
        print(f"{'functions/' + handler + '/handler.py':<44} {ms:>18.0f}")
    for label, code in [
        ("official SDK: sms_client + models + credential", SDK_IMPORT),
        ("shared.client (our signing, httpcore)", "import shared.client"),
        ("httpx (its Client layer: not used at run time)", "import httpx"),
        ("powertools Logger + Metrics", "from aws_lambda_powertools import Logger, Metrics"),
        ("powertools event_handler (not used at run time)", "import aws_lambda_powertools.event_handler"),
    ]:
        print(f"{label:<44} {wall_ms(code, args.runs) - baseline:>18.0f}")
    store_open(args.runs, args.dynamodb_url, baseline)
    package_bytecode(args.runs)
    print()
    print(f"installed size, httpcore and its dependencies: {installed_kb(HTTP_STACK)} KiB")
    print(f"installed size, httpx and its dependencies: {installed_kb(HTTPX_STACK)} KiB")
    print(f"installed size, tencentcloud-sdk-python-sms + -common + requests: {installed_kb(SDK_STACK)} KiB")
    ours = installed_kb(OUR_STACK)
    print(f"installed size, our runtime (httpcore, powertools, phonenumberslite): {ours} KiB")


if __name__ == "__main__":
    main()
