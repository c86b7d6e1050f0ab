"""`python -m local`: the Tencent SMS emulator plus a local gateway serving the HTTP API on 127.0.0.1,
with the scheduled receipt pull running every N seconds. No credentials, no cloud."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path


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
    return parser.parse_args(argv)


def prepare_environment(env: MutableMapping[str, str], emulator_url: str, state_dir: Path) -> dict[str, bool]:
    """Point the functions at the emulator, with local defaults for whatever is unset.
    Returns which secrets were generated here (only those may be printed)."""
    from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    env["TENCENT_SMS_ENDPOINT"] = emulator_url
    defaults = {
        "TENCENT_SMS_API": "v3",
        "TENCENT_SMS_APPID": DEFAULT_APPID,
        "TENCENT_SMS_APPKEY": DEFAULT_APPKEY,
        "TENCENTCLOUD_SECRETID": DEFAULT_SECRET_ID,
        "TENCENTCLOUD_SECRETKEY": DEFAULT_SECRET_KEY,
        "TENCENT_SMS_SIGN": "腾讯云",
        "TENCENT_SMS_TEMPLATE_ID": "7839",
        "SMS_STORE_URL": f"sqlite:///{(state_dir / 'sms-functions.db').resolve()}",
        "SMS_DEAD_LETTER_URL": f"file://{(state_dir / 'dead-letter.jsonl').resolve()}",
        "POWERTOOLS_METRICS_NAMESPACE": "SmsFunctionsLocal",
    }
    for name, value in defaults.items():
        env.setdefault(name, value)
    # A per-run key for the one-time codes' HMAC (never printed): codes of an earlier run stop matching.
    if not env.get("SMS_OTP_SECRET", "").strip():
        env["SMS_OTP_SECRET"] = secrets.token_urlsafe(32)
    generated = {}
    for name in ("SMS_API_KEYS", "SMS_CALLBACK_TOKEN"):
        generated[name] = not env.get(name)
        if generated[name]:
            env[name] = "local-" + secrets.token_urlsafe(18)
    return generated


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)

    from local.emulator import Catalogue, Emulator

    catalogue = Catalogue.from_file(args.templates) if args.templates else Catalogue.default()
    emulator = Emulator(
        catalogue,
        host=args.host,
        port=args.emulator_port,
        receipt_delay=args.receipt_delay,
        failure_rate=args.failure_rate,
    ).start()
    generated = prepare_environment(os.environ, emulator.url, state_dir)

    from local.gateway import Gateway

    gateway = Gateway(host=args.host, port=args.port, pull_interval=args.pull_interval)
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


def print_banner(
    gateway_url: str, emulator_url: str, generated: dict[str, bool], pull_interval: float
) -> None:
    key = os.environ["SMS_API_KEYS"].split(",")[0].strip()
    body = json.dumps(
        {"phone": "+8613800000000", "template_id": "7839", "params": ["5678"]}, ensure_ascii=False
    )
    lines = [
        "sms-functions running locally (Tencent SMS emulator, embedded store, no credentials)",
        f"  HTTP API          {gateway_url}   (OpenAPI: {gateway_url}/openapi.json)",
        f"  dashboard         {gateway_url}/dashboard   (asks for the API key)",
        f"  Tencent emulator  {emulator_url}   (inbox: {emulator_url}/_emulator/messages)",
        f"  store             {os.environ['SMS_STORE_URL']}",
        f"  scheduled pull    every {pull_interval:g} s" if pull_interval > 0 else "  scheduled pull    off",
    ]
    if generated.get("SMS_API_KEYS"):
        lines.append(f"  API key           {key}   (generated for this run)")
    else:
        lines.append("  API key           from SMS_API_KEYS (not shown)")
        key = "$SMS_API_KEY"
    if generated.get("SMS_CALLBACK_TOKEN"):
        token = os.environ["SMS_CALLBACK_TOKEN"]
        lines.append(f"  callbacks         {gateway_url}/sms/callback/receipts?token={token}")
    lines += [
        "",
        "Send one:",
        f"  curl -s -X POST {gateway_url}/sms/send -H 'X-Api-Key: {key}' "
        "-H 'Content-Type: application/json' \\",
        f"       -d '{body}'",
        "Then read its status (message_id from the answer):",
        f"  curl -s {gateway_url}/sms/messages/<message_id> -H 'X-Api-Key: {key}'",
        "Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
