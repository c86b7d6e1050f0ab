"""CPU the emulator spends per number of a multi-number send, for each protocol.

    python bench/emulator_cpu.py                          # 100,000 numbers per protocol
    python bench/emulator_cpu.py --numbers 20000 --protocols v3 --repeat 5

Starts the emulator in its own process (`python -m local.emulator`), signs every
request up front (API 3.0 `SendSms` / legacy `sendmultisms2`, 200 distinct mainland numbers each,
built by `shared.payloads` exactly as the functions build them), warms the server up, then sends
them over `--connections` keep-alive connections and reads the server process's user + system CPU
from /proc before and after. Reports µs of server CPU per accepted number (median and lowest of
`--repeat` runs: on a shared machine single runs vary by tens of percent), the server's idle CPU
(its accept loop polls) for scale, and checks that every number was accepted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import _support

from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY
from shared import payloads
from shared.models import Message

CHUNK = 200
MESSAGE = Message(template_id="7839", params=("1234",), sign="腾讯云")
Request = tuple[str, dict[str, str], bytes]  # path, headers, body


def build(protocol: str, numbers: Sequence[str], base_url: str) -> list[Request]:
    """Signed requests of `CHUNK` numbers each, as (path, headers, body)."""
    now = int(time.time())
    out: list[Request] = []
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        if protocol == "v3":
            call = payloads.build_v3_send(chunk, MESSAGE, DEFAULT_APPID)
            signed = payloads.sign_v3(
                call,
                base_url=base_url,
                secret_id=DEFAULT_SECRET_ID,
                secret_key=DEFAULT_SECRET_KEY,
                session_token="",
                region="ap-guangzhou",
                timestamp=now,
            )
        else:
            call = payloads.build_legacy_send(chunk, MESSAGE)
            signed = payloads.sign_legacy(
                call,
                base_url=base_url,
                appid=DEFAULT_APPID,
                appkey=DEFAULT_APPKEY,
                timestamp=now,
                random=random.randrange(10**9),
            )
        split = urlsplit(signed.url)
        path = split.path + (f"?{split.query}" if split.query else "")
        out.append((path, signed.headers, signed.content))
    return out


def send_all(base_url: str, requests: Sequence[Request], connections: int) -> int:
    """Send every request, `connections` at a time on keep-alive connections; numbers accepted."""
    split = urlsplit(base_url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    local = threading.local()

    def send(request: Request) -> int:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, port, timeout=60)
        path, headers, body = request
        conn.request("POST", path, body=body, headers=headers)
        answer = json.loads(conn.getresponse().read())
        if "Response" in answer:
            items = answer["Response"].get("SendStatusSet", ())
            return sum(1 for item in items if item.get("Code") == "Ok")
        return sum(1 for item in answer.get("detail", ()) if item.get("result") == 0)

    with ThreadPoolExecutor(connections) as pool:
        return sum(pool.map(send, requests))


def measure(
    emulator: _support.EmulatorProcess, protocol: str, numbers: int, connections: int
) -> dict[str, float]:
    """Server CPU for sending `numbers` numbers by `protocol` (after a warm-up)."""
    warm = build(protocol, _support.pool(CHUNK * connections * 4, numbers), emulator.url)
    send_all(emulator.url, warm, connections)
    requests = build(protocol, _support.pool(numbers), emulator.url)
    emulator.reset()  # also the warm-up's frequency history
    cpu, wall = emulator.cpu(), time.perf_counter()
    accepted = send_all(emulator.url, requests, connections)
    wall, cpu = time.perf_counter() - wall, emulator.cpu() - cpu
    stats = emulator.stats()
    if accepted != numbers or stats["accepted"] != numbers:
        raise SystemExit(f"{protocol}: {accepted} answered Ok, {stats['accepted']} accepted of {numbers}")
    return {"cpu": cpu, "wall": wall, "per_number_us": cpu / numbers * 1e6}


def idle_cpu(emulator: _support.EmulatorProcess, seconds: float = 1.0) -> float:
    """CPU seconds per second the server spends doing nothing (its accept loop's polling)."""
    before = emulator.cpu()
    time.sleep(seconds)
    return (emulator.cpu() - before) / seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=_support.DEFAULT_NUMBERS, help="per protocol")
    parser.add_argument("--protocols", default="v3,legacy", help="comma-separated: v3, legacy")
    parser.add_argument("--connections", type=int, default=4, help="requests in flight")
    parser.add_argument("--repeat", type=int, default=3, help="runs per protocol (median, lowest)")
    args = parser.parse_args(argv)
    if args.numbers % CHUNK:
        parser.error(f"--numbers must be a multiple of {CHUNK}")
    protocols = [p for p in args.protocols.split(",") if p]
    if any(p not in ("v3", "legacy") for p in protocols):
        parser.error("--protocols takes v3 and/or legacy")
    with _support.emulator_process(0.0) as emulator:
        idle = idle_cpu(emulator)
        print(f"emulator idle CPU {idle * 100:.1f} % of a core", flush=True)
        for protocol in protocols:
            runs = [measure(emulator, protocol, args.numbers, args.connections) for _ in range(args.repeat)]
            per_number = [r["per_number_us"] for r in runs]
            wall = statistics.median(r["wall"] for r in runs)
            print(
                f"{protocol:>6}: {args.numbers:,} numbers, server CPU {statistics.median(per_number):.1f} "
                f"µs/number (lowest {min(per_number):.1f}, {len(runs)} runs), "
                f"wall {wall:.2f} s ({args.numbers / wall:,.0f} numbers/s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
