"""Which concurrency and connection-pool layout `SmsClient.send_plan` should use.

    python bench/tune_concurrency.py [--numbers 50000] [--latency-ms 30] [--repeat 3]
                                     [--concurrency 8,16,24,32,48,64] [--server emulator|canned]

Sends `--numbers` numbers (≤200 per API call) through `SmsClient.send_plan` — the transport and
concurrency part of `send_multi`, without validation and the store — to the project's emulator in
its own process with `--latency-ms` per request, for every concurrency × pool layout, and prints
numbers/s (counted by the emulator, median of `--repeat` runs) and the client's CPU per number.
The raw asyncio client of `bench/raw_client.py` with as many requests in flight is the reference.
Against the emulator (default) the emulator's own CPU (~5 µs per number on its one core,
`bench/emulator_cpu.py`) puts a ceiling near 200,000 numbers/s; `--server canned`
(`bench/canned_server.py`) checks nothing and has capacity to spare, so the pool's own cost shows.

Pool layouts:
  1 pool (0.28 default)  one httpcore pool of 2×concurrency connections, Nagle on (httpx 0.28's):
                         how `shared/transport.py` was configured before this measurement
  1 pool, nodelay        one pool of `concurrency` connections, TCP_NODELAY
  pools of 8, nodelay    `PoolSet`: pools of 8 connections, TCP_NODELAY
  pools of 4, nodelay    `PoolSet`: pools of 4 connections, TCP_NODELAY (the default since)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable

import _support
import httpcore
import raw_client

from shared.client import SmsClient
from shared.config import load_settings
from shared.models import Message
from shared.plan import plan_multi_send
from shared.transport import Transport, TransportOptions

MESSAGE = Message(template_id="7839", params=("1",), sign="腾讯云")
LAYOUTS = ["1 pool (0.28 default)", "1 pool, nodelay", "pools of 8, nodelay", "pools of 4, nodelay"]


def make_transport(layout: str, concurrency: int) -> Transport:
    base = TransportOptions(max_connections=concurrency)
    if layout == "1 pool (0.28 default)":
        pool = httpcore.ConnectionPool(  # what httpx.HTTPTransport made of httpx.Limits(2×, 2×, 60)
            max_connections=2 * concurrency, max_keepalive_connections=2 * concurrency, keepalive_expiry=60
        )
        return Transport(base, http_transport=pool)
    if layout == "1 pool, nodelay":
        return Transport(base._replace(pool_size=concurrency))
    size = 8 if layout == "pools of 8, nodelay" else 4
    return Transport(base._replace(pool_size=size))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=50_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", default="8,16,24,32,48,64")
    parser.add_argument("--layouts", default=",".join(str(i) for i in range(len(LAYOUTS))))
    parser.add_argument("--server", choices=_support.SERVERS, default="emulator")
    args = parser.parse_args()
    levels = [int(k) for k in args.concurrency.split(",")]
    layouts = [LAYOUTS[int(i)] for i in args.layouts.split(",")]
    numbers = _support.pool(args.numbers)
    plan = plan_multi_send(numbers)
    started = time.perf_counter()
    with _support.emulator_process(args.latency_ms, server=args.server) as emulator:
        _support.apply_env(_support.function_env(emulator.url, tempfile.mkdtemp()))
        settings = load_settings()
        credentials = raw_client.credentials_from_env()

        def measure(run: Callable[[], object], warm: Callable[[], object]) -> tuple[float, float]:
            rates, cpus = [], []
            for _ in range(args.repeat):
                emulator.reset()
                warm()
                emulator.reset()
                gc.collect()
                cpu, wall = time.process_time(), time.perf_counter()
                run()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                accepted = emulator.stats()["accepted"]
                rates.append(accepted / wall)
                cpus.append(cpu / max(1, accepted) * 1e6)
            return statistics.median(rates), statistics.median(cpus)

        results: dict[tuple[str, int], tuple[float, float]] = {}
        for k in levels:
            warm_plan = plan_multi_send(_support.pool(200 * k, args.numbers))
            results[("raw asyncio (d)", k)] = measure(
                lambda: raw_client.run(emulator.url, plan.chunks, MESSAGE, credentials, k),  # noqa: B023
                lambda: raw_client.run(emulator.url, warm_plan.chunks, MESSAGE, credentials, k),  # noqa: B023
            )
            for layout in layouts:
                client = SmsClient(settings._replace(send_concurrency=k), make_transport(layout, k))
                results[(layout, k)] = measure(
                    lambda: client.send_plan(plan, MESSAGE),  # noqa: B023
                    lambda: client.send_plan(warm_plan, MESSAGE),  # noqa: B023
                )
                client.transport.close()
            print(f"  concurrency {k} done ({time.perf_counter() - started:.0f} s)", flush=True)

    print()
    print(
        f"`SmsClient.send_plan`, {args.numbers:,} numbers, server `{args.server}` with "
        f"{args.latency_ms:g} ms latency, median of {args.repeat}: numbers/s (client CPU µs per number)"
    )
    print()
    rows = ["raw asyncio (d)", *layouts]
    print("| layout | " + " | ".join(f"{k} in flight" for k in levels) + " |")
    print("|---|" + "---:|" * len(levels))
    for row in rows:
        cells = [f"{results[(row, k)][0]:,.0f} ({results[(row, k)][1]:.1f})" for k in levels]
        print(f"| {row} | " + " | ".join(cells) + " |")
    print()
    print(
        f"command: python bench/tune_concurrency.py --numbers {args.numbers} --repeat {args.repeat} "
        f"--server {args.server}"
    )


if __name__ == "__main__":
    main()
