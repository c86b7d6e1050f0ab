"""`python -m local`: the Tencent SMS emulator plus a local gateway serving the HTTP API on 127.0.0.1,
with the scheduled receipt pull running every N seconds. No credentials, no cloud."""

from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="gateway port (default 8080; 0 picks a free one)"
    )
    parser.add_argument(
        "--emulator-port", type=int, default=9000, help="emulator port (default 9000; 0 = free)"
    )
    parser.add_argument(
        "--pull-interval",
        type=float,
        default=5.0,
        help="seconds between scheduled receipt pulls (default 5; 0 turns it off)",
    )
    parser.add_argument(
        "--receipt-delay",
        type=float,
        default=1.0,
        help="seconds before the emulator turns a sent message into a receipt (default 1)",
    )
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        help="fraction of messages the emulator reports as not delivered (default 0)",
    )
    parser.add_argument("--templates", help="JSON file replacing the emulator's signs and templates")
    parser.add_argument("--state-dir", default=".local", help="where the SQLite store and dead letters go")
    parser.add_argument(
        "--store-url",
        help="the store: sqlite:///…, postgresql://…, dynamodb://… (default: SMS_STORE_URL, "
        "else the embedded SQLite file in --state-dir)",
    )
    return parser.parse_args(argv)


def prepare_environment(
    env: MutableMapping[str, str], emulator_url: str, state_dir: Path, catalogue: Any = None
) -> dict[str, bool]:
    """Point the functions at the emulator, with local defaults for whatever is unset: every country
    allowed, the emulator's international templates for numbers abroad, and its catalogue as
    `SMS_TEMPLATES` (so template ids, regions and parameter counts are checked before sending).
    Returns which secrets were generated here (only those may be printed)."""
    from local.emulator.catalogue import (
        DEFAULT_APPID,
        DEFAULT_APPKEY,
        DEFAULT_SECRET_ID,
        DEFAULT_SECRET_KEY,
        Catalogue,
    )

    catalogue = catalogue or Catalogue.default(env)

    env["TENCENT_SMS_ENDPOINT"] = emulator_url
    defaults = {
        "TENCENT_SMS_API": "v3",
        "TENCENT_SMS_APPID": DEFAULT_APPID,
        "TENCENT_SMS_APPKEY": DEFAULT_APPKEY,
        "TENCENTCLOUD_SECRETID": DEFAULT_SECRET_ID,
        "TENCENTCLOUD_SECRETKEY": DEFAULT_SECRET_KEY,
        "TENCENT_SMS_SIGN": "腾讯云",
        "TENCENT_SMS_TEMPLATE_ID": "7839",
        "TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL": "7841",
        "SMS_OTP_TEMPLATE_ID_INTERNATIONAL": "7841",
        "SMS_ALLOWED_COUNTRIES": "*",
        "SMS_TEMPLATES": templates_setting(catalogue),
        "SMS_STORE_URL": f"sqlite:///{(state_dir / 'sms-functions.db').resolve()}",
        "SMS_DEAD_LETTER_URL": f"file://{(state_dir / 'dead-letter.jsonl').resolve()}",
        "POWERTOOLS_METRICS_NAMESPACE": "SmsFunctionsLocal",
    }
    for name, value in defaults.items():
        env.setdefault(name, value)
    # The one-time codes' HMAC key (never printed), kept in the state folder so that a code sent by
    # `python -m local invoke otp` can be verified by the running gateway, and the other way round.
    if not env.get("SMS_OTP_SECRET", "").strip():
        env["SMS_OTP_SECRET"] = _local_secret(state_dir / "otp-secret")
    generated = {}
    for name in ("SMS_API_KEYS", "SMS_CALLBACK_TOKEN"):
        generated[name] = not env.get(name)
        if generated[name]:
            env[name] = "local-" + secrets.token_urlsafe(18)
    return generated


def _local_secret(path: Path) -> str:
    """A random secret kept in `path` (owner-only), made on first use."""
    try:
        return path.read_text(encoding="utf-8").strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)


def _new_secret(path: Path) -> str:
    value = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def templates_setting(catalogue: Any) -> str:
    """The emulator's catalogue as `SMS_TEMPLATES` JSON (`"international": 3` for either region)."""
    return json.dumps(
        {
            t.id: {"params": t.param_count, "international": 3 if t.both else t.international, "text": t.text}
            for t in catalogue.templates.values()
            if getattr(t, "status", 0) == 0  # only live templates may be sent
        },
        ensure_ascii=False,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["invoke"]:
        return invoke(argv[1:])
    args = parse_args(argv)
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)

    from local.emulator import Catalogue, Emulator

    catalogue = Catalogue.from_file(args.templates) if args.templates else Catalogue.default()
    try:
        emulator = Emulator(
            catalogue,
            host=args.host,
            port=args.emulator_port,
            receipt_delay=args.receipt_delay,
            failure_rate=args.failure_rate,
        ).start()
    except OSError as error:
        print(port_problem(error, args.host, args.emulator_port, "the Tencent emulator", "--emulator-port"),
              file=sys.stderr, flush=True)  # fmt: skip
        return 2
    if args.store_url:
        os.environ["SMS_STORE_URL"] = args.store_url
    generated = prepare_environment(os.environ, emulator.url, state_dir, catalogue)
    problem = store_problem(os.environ["SMS_STORE_URL"])
    if problem:
        emulator.stop()
        print(problem, file=sys.stderr, flush=True)
        return 2

    from local.gateway import Gateway

    try:
        gateway = Gateway(host=args.host, port=args.port, pull_interval=args.pull_interval)
    except OSError as error:
        emulator.stop()
        print(
            port_problem(error, args.host, args.port, "the HTTP API", "--port"), file=sys.stderr, flush=True
        )
        return 2
    os.environ.setdefault("SMS_FANOUT_QUEUE_URL", gateway.queue_url)  # big lists go through the local queue
    gateway.start()
    print_banner(gateway.url, emulator.url, generated, args.pull_interval)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    gateway.stop()
    emulator.stop()
    return 0


def port_problem(error: OSError, host: str, port: int, what: str, option: str) -> str:
    """One line saying which port could not be had, for what, and which option picks another."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"python -m local: port {port} on {host} ({what}) is already in use, perhaps by another "
            f"`make run`: stop it, or pick another port with {option}, e.g. "
            f'make run ARGS="{option} {port + 1}" (0 picks a free one)'
        )
    return f"python -m local: cannot listen on {host}:{port} ({what}, {option}): {error.strerror or error}"


def store_problem(url: str) -> str | None:
    """Why the store at `url` cannot be used (opened and pinged once), or None; says it before the
    first request would, and names the URL without its password."""
    from shared.store import open_store
    from shared.store.base import redact_url, scrub, url_secrets

    try:
        with open_store(url) as store:
            store.ping()
    except Exception as exc:  # whatever the driver raises: one clear line instead of a traceback
        return f"python -m local: cannot use the store {redact_url(url)}: {scrub(str(exc), url_secrets(url))}"
    return None


def print_banner(
    gateway_url: str, emulator_url: str, generated: dict[str, bool], pull_interval: float
) -> None:
    from shared.store.base import redact_url

    key = os.environ["SMS_API_KEYS"].split(",")[0].strip()
    body = json.dumps(
        {"phone": "+8613800000000", "template_id": "7839", "params": ["5678"]}, ensure_ascii=False
    )
    lines = [
        "sms-functions running locally (Tencent SMS emulator, no credentials)",
        f"  HTTP API          {gateway_url}   (OpenAPI: {gateway_url}/openapi.json)",
        f"  dashboard         {gateway_url}/dashboard   (asks for the API key)",
        f"  Tencent emulator  {emulator_url}   (inbox: {emulator_url}/_emulator/messages)",
        f"  store             {redact_url(os.environ['SMS_STORE_URL'])}",
        f"  scheduled pull    every {pull_interval:g} s" if pull_interval > 0 else "  scheduled pull    off",
    ]
    if generated.get("SMS_API_KEYS"):
        lines.append(f"  API key           {key}   (generated for this run)")
        set_key = f"  KEY={key}"
    else:
        lines.append("  API key           from SMS_API_KEYS (not shown)")
        set_key = '  KEY="${SMS_API_KEYS%%,*}"   # the first of your SMS_API_KEYS (its plain form)'
    if generated.get("SMS_CALLBACK_TOKEN"):
        token = os.environ["SMS_CALLBACK_TOKEN"]
        lines.append(f"  callbacks         {gateway_url}/sms/callback/receipts?token={token}")
    lines += [
        "",
        "Send one:",
        set_key,
        f'  curl -s -X POST {gateway_url}/sms/send -H "X-Api-Key: $KEY" '
        "-H 'Content-Type: application/json' \\",
        f"       -d '{body}'",
        "Then read its status (message_id from the answer):",
        f'  curl -s {gateway_url}/sms/messages/<message_id> -H "X-Api-Key: $KEY"',
        "Invoke a function directly, as Lambda or SCF would (no key: the platform's permission):",
        f"  python -m local invoke send_single '{body}'",
        "Mainland and international numbers at once (templates 7839 and 7841, one per region):",
        f'  curl -s -X POST {gateway_url}/sms/send-multi -H "X-Api-Key: $KEY" '
        "-H 'Content-Type: application/json' \\",
        '       -d \'{"phones": ["+8613800000000", "+14155552671"], "params": ["5678"]}\'',
        "Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)


def invoke(argv: list[str]) -> int:
    """`python -m local invoke FUNCTION [JSON]`: one direct invoke of a function, as Lambda or SCF
    would make it, against the emulator of a running `make run` and its store; prints the answer."""
    from local.gateway import FUNCTIONS, LocalContext, load_handler

    parser = argparse.ArgumentParser(
        prog="python -m local invoke",
        description="Invoke one function directly (the body itself as the event, as Lambda's Invoke, "
        "SCF's Invoke or wx.cloud.callFunction pass it) against a running `make run`'s emulator and store.",
    )
    parser.add_argument("function", choices=FUNCTIONS)
    parser.add_argument("event", nargs="?", default="{}", help="the event as JSON (default {})")
    parser.add_argument("--emulator-url", default="http://127.0.0.1:9000", help="the running emulator")
    parser.add_argument("--state-dir", default=".local", help="the running gateway's --state-dir")
    parser.add_argument("--store-url", help="the running gateway's --store-url, if it was given one")
    args = parser.parse_args(argv)
    try:
        event = json.loads(args.event)
    except ValueError as error:
        print(f"python -m local invoke: the event is not JSON: {error}", file=sys.stderr)
        return 2
    if not _reachable(args.emulator_url):
        print(
            f"python -m local invoke: no emulator answers at {args.emulator_url}: start `make run` in "
            "another terminal first (or pass --emulator-url)",
            file=sys.stderr,
        )
        return 2
    if args.store_url:
        os.environ["SMS_STORE_URL"] = args.store_url
    prepare_environment(os.environ, args.emulator_url.rstrip("/"), Path(args.state_dir))

    import contextlib

    with contextlib.redirect_stdout(sys.stderr):  # the functions' log lines; stdout is the answer's
        answer = load_handler(args.function)(event, LocalContext(args.function))
    print(json.dumps(answer, ensure_ascii=False, indent=2), flush=True)
    failed = isinstance(answer, dict) and "error" in answer
    return 1 if failed else 0


def _reachable(url: str) -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=2):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
