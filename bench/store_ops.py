"""The store's cost per send, as the day fills up: CPU per rate-limit check and per message row.

    python bench/store_ops.py [--url sqlite:///… | postgresql://…] [--hits 8000] [--rows 100000]

Rate limits: `hits_rate_limits` with what one `send_single` checks (the three default per-number
limits and the global daily cap; every send a new number, all within one day), CPU per call for
each block of `--block` calls — a figure that must not grow with the hits already recorded.
Message rows: `record_sends` of `--rows` accepted results in batches of 2,000 (send_multi's writer
thread), CPU per row. Receipts: `save_receipts` of a delivery report for each of those messages,
in batches of 100 (what one pull hands out), CPU and wall time per receipt. Default store: SQLite
in a temporary folder.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import _support  # also puts the repository on sys.path

from shared import limits
from shared.config import load_settings
from shared.models import Receipt, SendResult
from shared.store import Store, open_store


def accepted(index: int, prefix: int) -> SendResult:
    """A result Tencent accepted, with an id shaped like its SerialNo."""
    return SendResult(
        phone=f"+86138{index:08d}",
        message_id=f"2019:{prefix:010d}{index:09d}",
        status="submitted",
        fee=1,
        code="Ok",
        message="send success",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        help="the store (default: SQLite in a temporary folder); postgresql://… names a server: a fresh "
        "database is made on it (its user needs CREATEDB) and dropped at the end",
    )
    parser.add_argument("--hits", type=int, default=8000, help="rate-limited sends in all")
    parser.add_argument("--block", type=int, default=2000, help="sends per reported block")
    parser.add_argument("--rows", type=int, default=100_000, help="message rows to record")
    args = parser.parse_args()
    postgres = args.url if args.url and args.url.startswith(("postgresql://", "postgres://")) else ""
    url = _support.fresh_postgres_database(postgres) if postgres else args.url
    try:
        measure(args, open_store(url or f"sqlite:///{tempfile.mkdtemp(prefix='sms-store-bench-')}/store.db"))
    finally:
        if postgres:
            _support.drop_bench_databases(postgres)


def measure(args: argparse.Namespace, store: Store) -> None:
    """Print the rate-limit, message-row and receipt figures of `store`."""
    print(f"store: {store.dialect}")
    settings = load_settings({"SMS_LIMIT_PER_CALLER": "off", "SMS_LIMIT_GLOBAL_DAILY": "1000000000"})
    checks = limits.checks_for(settings, caller="direct", phones=["+8613800000000"])
    print("checks per send:", ", ".join(f"{c.name} ({c.limit} per {c.window_seconds} s)" for c in checks))
    now = int(time.time())
    for start in range(0, args.hits, args.block):
        began = time.process_time()
        for i in range(start, start + args.block):
            phone_checks = limits.checks_for(settings, caller="direct", phones=[f"+86139{i:08d}"])
            assert store.hit_rate_limits(phone_checks, now=now + i // 100).allowed
        spent = (time.process_time() - began) / args.block
        print(f"rate limits: sends {start + 1:>6}–{start + args.block:<6} {spent * 1e6:7.0f} µs CPU a send")
    rng = random.Random(1)
    batches = []
    for start in range(0, args.rows, 2000):  # one id prefix per batch, as Tencent gives per request
        prefix = rng.randrange(10**10)
        batches.append([accepted(i, prefix) for i in range(start, min(start + 2000, args.rows))])
    began = time.process_time()
    for batch in batches:
        store.record_sends(batch, template_id="7839", params=["1"], sign="腾讯云", caller="direct", now=now)
    spent = (time.process_time() - began) / args.rows
    print(f"message rows: {args.rows:,} in batches of 2,000 {spent * 1e6:7.1f} µs CPU a row")
    receipts = [
        Receipt(r.message_id, r.phone, "delivered", "DELIVRD", "user received", now + 5)
        for batch in batches
        for r in batch
    ]
    began, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(receipts), 100):
        assert store.save_receipts(receipts[start : start + 100], source="pull", now=now + 10) > 0
    spent, wall = (time.process_time() - began) / len(receipts), (time.perf_counter() - wall) / len(receipts)
    print(
        f"receipts: {len(receipts):,} in batches of 100    {spent * 1e6:7.1f} µs CPU a receipt"
        f" ({wall * 1e6:.1f} µs wall)"
    )
    store.close()


if __name__ == "__main__":
    main()
