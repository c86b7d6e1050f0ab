"""`python -m local.emulator --port N`: the Tencent SMS emulator alone, until Ctrl-C or SIGTERM.

Credentials come from the same environment variables the functions read (TENCENT_SMS_APPID,
TENCENT_SMS_APPKEY, TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY, TENCENTCLOUD_SESSIONTOKEN,
TENCENT_SMS_SDKAPPID), with built-in defaults for a local run. Secrets are only printed when they
are those public defaults.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from local.emulator.catalogue import Catalogue
from local.emulator.server import INSPECT_PREFIX, LEGACY_PREFIX, Emulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.emulator", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port to listen on; 0 picks a free one")
    parser.add_argument("--templates", metavar="FILE", help="JSON catalogue replacing signs and templates")
    parser.add_argument(
        "--receipt-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds until a delivery report becomes pullable",
    )
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        metavar="F",
        help="share of delivery reports that fail, 0..1",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, metavar="N", help="latency added per request"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the failure draw and message ids")
    return parser.parse_args(argv)


def describe(emulator: Emulator) -> str:
    """What a person needs to point a client at the emulator; secrets only if they are the defaults."""
    catalogue, url = emulator.catalogue, emulator.url
    lines = [f"Tencent SMS emulator listening on {url}"]
    for app in catalogue.apps:
        line = f"  legacy v5 API: POST {url}{LEGACY_PREFIX}<op>  SDK AppID {app.appid}"
        if catalogue.uses_default_secret(app.appkey):
            line += f"  AppKey {app.appkey} (built-in default credentials)"
        lines.append(line)
    for credential in catalogue.credentials:
        app_ids = ",".join(credential.sdk_app_ids)
        line = f"  API 3.0: POST {url}/  SecretId {credential.secret_id}  SmsSdkAppId {app_ids}"
        if catalogue.uses_default_secret(credential.secret_key):
            line += f"  SecretKey {credential.secret_key} (built-in default credentials)"
        if credential.session_token:
            line += "  (a session token is required)"
        lines.append(line)
    templates = ", ".join(
        f"{t.id} ({t.param_count} param{'' if t.param_count == 1 else 's'}"
        f"{', international' if t.international else ', every region' if t.both else ''})"
        for t in catalogue.templates.values()
    )
    lines.append(f"  signs: {', '.join(sorted(catalogue.signs))}; templates: {templates}")
    lines.append(f"  sent messages: GET {url}{INSPECT_PREFIX}messages?phone=%2B86…")
    lines.append(f"  point the functions at it with TENCENT_SMS_ENDPOINT={url}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    catalogue = Catalogue.from_file(args.templates) if args.templates else Catalogue.default()
    emulator = Emulator(
        catalogue,
        host=args.host,
        port=args.port,
        receipt_delay=args.receipt_delay,
        failure_rate=args.failure_rate,
        seed=args.seed,
    )
    if args.latency_ms:
        emulator.set_faults(latency_ms=args.latency_ms)
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emulator.start()
    print(describe(emulator), flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
