"""The store's cost per send, as the day fills up: CPU per rate-limit check and per message row.

    python bench/store_ops.py [--url sqlite:///… | postgresql://… | dynamodb://…] [--hits 8000]
                              [--budget 100000] [--rows 100000] [--repeat 20]

Rate limits: `hits_rate_limits` with what one `send_single` checks (the three default per-number
limits and the global daily cap; every send a new number, all within one day), CPU per call for
each block of `--block` calls — a figure that must not grow with the hits already recorded.
A multi send's budget: `limits.reserve_numbers` (each number's three counters, the caller's
allowance, the global cap) for `--budget` numbers never sent to, then for the same numbers again
(each now with live counter rows), CPU per number.
Message rows: `record_sends` of `--rows` accepted results in batches of 2,000 (send_multi's writer
thread), CPU per row. Receipts: `save_receipts` of a delivery report for each of those messages,
in batches of 100 (what one pull hands out), CPU and wall time per receipt. Default store: SQLite
in a temporary folder. DynamoDB (`dynamodb://t?region=us-east-1&endpoint=http://127.0.0.1:PORT&create=true`,
e.g. against `python -m tests.dynamo_server`) adds a table of requests, read and write request units
(computed from item sizes: bench/dynamo_units.py) and CPU per operation.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import _support  # also puts the repository on sys.path

from shared import limits
from shared.config import load_settings
from shared.models import Receipt, SendResult
from shared.store import Store, open_store

if TYPE_CHECKING:
    from dynamo_units import Meter


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
    parser.add_argument("--budget", type=int, default=100_000, help="numbers of the multi send's budget")
    parser.add_argument("--rows", type=int, default=100_000, help="message rows to record")
    parser.add_argument(
        "--repeat", type=int, default=20, help="DynamoDB: runs of each operation for its units"
    )
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
    if args.budget:
        budget(store, args.budget, now)
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
    if store.dialect == "dynamodb":
        units(store, args.repeat)
    store.close()


def budget(store: Store, count: int, now: int) -> None:
    """CPU per number of a multi send's budget (`limits.reserve_numbers`), numbers new and again."""
    from shared.services import Services

    env = {
        "SMS_LIMIT_PER_CALLER": "off",
        "SMS_LIMIT_GLOBAL_DAILY": "1000000000",
        "SMS_LIMIT_PER_PHONE": "1000/30s,1000/1h,1000/1d",  # the bench's own: nobody held back
        "SMS_LIMIT_MULTI_PER_CALLER": "1000000000/1d",
    }
    services = Services(load_settings(env), store=store, clock=lambda: now + 60)
    numbers = [f"+86137{i:08d}" for i in range(count)]
    for label in ("new numbers", "the same again"):
        began = time.process_time()
        reserved = limits.reserve_numbers(services, numbers, caller="direct")
        spent = (time.process_time() - began) / count
        assert not reserved.refused
        print(f"multi send budget: {count:,} numbers, {label:<15} {spent * 1e6:7.1f} µs CPU a number")


def units(store: Store, repeat: int) -> None:
    """Requests, read/write request units and CPU per store operation (DynamoDB)."""
    from dynamo_units import Meter

    from shared.store import OtpRecord
    from shared.store.dynamodb import DynamoDbStore

    assert isinstance(store, DynamoDbStore)
    meter = Meter(store)
    settings = load_settings({})  # the default limits: per number, per caller, global daily cap
    now = int(time.time())
    counter = [0]

    def fresh(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]:09d}"

    def single_send() -> None:
        phone = "+86137" + fresh("")[-8:]
        assert store.hit_rate_limits(
            limits.checks_for(settings, caller="key:1", phones=[phone]), now=now
        ).allowed
        result = SendResult(phone, fresh("s:"), "submitted", 1, "Ok", "ok")
        store.record_sends([result], template_id="7839", params=["1234"], sign="s", caller="key:1", now=now)

    def idempotent_single_send() -> None:
        key = fresh("idem-")
        assert (
            store.idempotency_begin(key, fingerprint="f" * 64, now=now, in_progress_ttl=60, ttl=86400) is None
        )
        single_send()
        store.idempotency_complete(key, {"message_id": "2019:x", "status": "submitted", "fee": 1}, now=now)

    def multi_send_200() -> None:
        phones = ["+86136" + fresh("")[-8:] for _ in range(200)]
        checks = limits.checks_for(settings, caller="key:2", phones=phones)
        assert store.hit_rate_limits(checks, now=now).allowed
        results = [SendResult(p, fresh("m:"), "submitted", 1, "Ok", "ok") for p in phones]
        store.record_sends(
            results, template_id="7839", params=["1234"], sign="腾讯云", caller="key:2", now=now
        )

    def stored(count: int) -> list[Receipt]:
        results = [
            SendResult("+8613500000000", fresh("r:"), "submitted", 1, "Ok", "ok") for _ in range(count)
        ]
        store.record_sends(results, template_id="7839", params=[], sign="", caller="key:3", now=now)
        return [
            Receipt(r.message_id, r.phone, "delivered", "DELIVRD", "user received", now + 5) for r in results
        ]

    pending: dict[str, list[Receipt]] = {}

    def receipt() -> None:
        store.save_receipts(pending["one"][:1], source="callback", now=now + 6)

    def receipt_again() -> None:
        store.save_receipts(pending["one"][:1], source="pull", now=now + 7)

    def receipts_100() -> None:
        store.save_receipts(pending["hundred"], source="pull", now=now + 6)

    otp: dict[str, str] = {}

    def otp_send() -> None:
        otp["id"] = fresh("otp-")
        record = OtpRecord(
            otp["id"], "+8613400000000", "login", "h" * 64, now, now + 300, "key:4", resend_after=now + 60
        )
        store.otp_create(record, supersede_active=True)

    def otp_verify() -> None:
        found = store.otp_latest_active("+8613400000000", "login")
        assert found is not None
        assert store.otp_attempt(found.id, matched=True, now=now + 1).status == "verified"

    def get_message() -> None:
        assert store.get_message(pending["one"][0].message_id) is not None

    operations: list[tuple[str, Callable[[], None], Callable[[], None] | None, int]] = [
        ("single send (limits + message)", single_send, None, 1),
        ("single send with Idempotency-Key", idempotent_single_send, None, 1),
        ("multi send, per number (200 a call)", multi_send_200, None, 200),
        ("receipt (callback, message known)", receipt, lambda: pending.update(one=stored(1)), 1),
        ("same receipt again (pull overlap)", receipt_again, None, 1),
        (
            "receipts, per receipt (100 a pull)",
            receipts_100,
            lambda: pending.update(hundred=stored(100)),
            100,
        ),
        ("GET /sms/messages/{id}", get_message, None, 1),
        ("OTP send (supersedes the last code)", otp_send, None, 1),
        ("OTP verify by phone + purpose", otp_verify, otp_send, 1),
    ]
    print(f"\n{'operation':<40} {'requests':>9} {'RRU':>7} {'WRU':>7} {'CPU µs':>9}   (per unit of work)")
    for name, run, prepare, per in operations:
        requests, rru, wru, cpu = meter_operation(
            meter, run, prepare, receipt if run is receipt_again else None, repeat
        )
        k = repeat * per
        print(f"{name:<40} {requests / k:>9.2f} {rru / k:>7.2f} {wru / k:>7.2f} {cpu / k * 1e6:>9.0f}")


def meter_operation(
    meter: Meter,
    run: Callable[[], None],
    prepare: Callable[[], None] | None,
    between: Callable[[], None] | None,
    repeat: int,
) -> tuple[int, float, float, float]:
    """Totals over `repeat` rounds: requests, RRU and WRU of a metered run, CPU seconds of an unmetered
    one (`prepare` before each run; `between` puts back what the timed run changed)."""
    total_cpu, total = 0.0, (0, 0.0, 0.0)
    for _ in range(repeat):
        meter.active = False
        if prepare:
            prepare()
        began = time.process_time()
        run()
        total_cpu += time.process_time() - began
        if prepare:
            prepare()
        if between:
            between()
        meter.reset()
        meter.active = True
        run()
        meter.active = False
        snap = meter.snapshot()
        total = (total[0] + snap[0], total[1] + snap[1], total[2] + snap[2])
    return total[0], total[1], total[2], total_cpu


if __name__ == "__main__":
    main()
