"""`GET /sms/stats` on a big store: how long `Store.stats` takes over 1,000,000 message rows.

    python bench/stats.py [--url postgresql://…|dynamodb://…] [--rows 1000000] [--days 30] [--repeat 5]

Fills a fresh store with `--rows` messages spread over `--days` (skewed over 40 templates, 8
callers, mainland and other numbers, about 10 % failed with 6 carrier codes, 2 % pending, the
rest delivered with latencies from seconds to an hour) and their receipts, by bulk insert (SQLite:
one executemany; PostgreSQL: COPY), then fills the rollup with the same statement an upgrade runs
(migration 3). Then times `stats()` for the last 24 h, 7 days and the whole span, by every
grouping: the best of `--repeat` runs, wall time. Default store: SQLite in a temporary folder;
`--url postgresql://…` makes (and drops) a database on that server.

`--url dynamodb://<table>?…&create=true`: the rollup items the store would hold after those
messages (computed with the store's own key and delta functions) are written with BatchWriteItem;
the query is the store's. Against a local server (moto) the time is that server's, not AWS's.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import _support  # also puts the repository on sys.path

from shared.store import Store, open_store
from shared.store.base import GROUP_BYS
from shared.store.sql import statements
from shared.store.stats import migration

CODES = [
    ("MK:0001", "空号"),
    ("MK:0005", "停机"),
    ("MK:0012", "黑名单"),
    ("UNDELIV", ""),
    ("ID:0076", ""),
    ("-106", ""),
]
PREFIXES = ["+86138", "+86139", "+86186", "+86150", "+1415", "+44791", "+65912", "+81901"]


def rows(count: int, days: int, seed: int = 7) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...] | None]]:
    """(message row, receipt row or None) for `count` messages ending now."""
    rng = random.Random(seed)
    end = int(time.time())
    start = end - days * 86400
    templates = [str(100000 + i) for i in range(40)]
    weights = [1 / (i + 1) for i in range(40)]
    callers = [f"key:{i:016x}" for i in range(8)]
    for i in range(count):
        created = start + (i * days * 86400) // count
        phone = f"{rng.choices(PREFIXES, [40, 20, 15, 10, 5, 4, 3, 3])[0]}{rng.randrange(10**7):07d}"
        message_id = f"2019:{i:019d}"
        draw = rng.random()
        if draw < 0.02:
            status, receipt = "submitted", None
        elif draw < 0.12:
            code, description = rng.choice(CODES)
            status, receipt = "failed", ("failed", code, description, created + rng.randrange(1, 120))
        else:
            latency = int(rng.expovariate(1 / 8)) if rng.random() < 0.95 else rng.randrange(60, 3600)
            status, receipt = "delivered", ("delivered", "DELIVRD", "用户短信送达成功", created + latency)
        message = (message_id, phone, rng.choices(templates, weights)[0], "[]", "腾讯云", status,
                   1 + (rng.random() < 0.1), "Ok", rng.choice(callers), created, created, "")  # fmt: skip
        yield message, None if receipt is None else (message_id, phone, *receipt, "", "pull", receipt[3])


MESSAGE_COLUMNS = (
    "message_id, phone, template_id, params, sign, status, fee, code, caller, created_at, updated_at,"
    " session_context"
)
RECEIPT_COLUMNS = (
    "message_id, phone, status, carrier_code, description, received_at, session_context, source, stored_at"
)


def fill(store: Store, url: str, count: int, days: int) -> float:
    """Bulk-insert the rows and fill the rollup; the seconds it took."""
    began = time.perf_counter()
    fill_rollup = ["DELETE FROM stats_rollup", *statements(migration("BIGINT"))[2:]]
    if store.dialect == "sqlite":
        import sqlite3

        from shared.store.sqlite import parse_sqlite_url

        target, uri, _ = parse_sqlite_url(url)
        conn = sqlite3.connect(target, uri=uri)
        with conn:
            messages, receipts = [], []
            for message, receipt in rows(count, days):
                messages.append(message)
                if receipt:
                    receipts.append(receipt)
            conn.executemany(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 12)})",  # noqa: S608
                messages,
            )
            conn.executemany(
                f"INSERT INTO receipts ({RECEIPT_COLUMNS}) VALUES ({', '.join('?' * 9)})",  # noqa: S608
                receipts,
            )
            for statement in fill_rollup:
                conn.execute(statement)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url) as pg:
            generated = list(rows(count, days))
            with pg.cursor() as cur:
                with cur.copy(f"COPY messages ({MESSAGE_COLUMNS}) FROM STDIN") as copy:
                    for message, _ in generated:
                        copy.write_row(message)
                with cur.copy(f"COPY receipts ({RECEIPT_COLUMNS}) FROM STDIN") as copy:
                    for _, receipt in generated:
                        if receipt:
                            copy.write_row(receipt)
                for statement in fill_rollup:
                    cur.execute(statement)
                cur.execute("ANALYZE")
    return time.perf_counter() - began


def fill_dynamodb(store: Any, count: int, days: int) -> tuple[float, int]:
    """Write the rollup items `count` messages leave on the DynamoDB store; (seconds, items)."""
    from shared.models import Receipt
    from shared.store import dynamodb_stats
    from shared.store.stats import deltas

    began = time.perf_counter()
    totals: dict[Any, list[int]] = {}
    snapshot: dict[str, tuple[Any, ...]] = {}
    for message, receipt in rows(count, days):
        message_id, phone, template, _, _, status, fee, code, caller, created, _, _ = message
        decided = Receipt(message_id, phone, *receipt[2:6], "") if receipt else None  # type: ignore[call-arg]
        item = {
            "pk": {"S": "M#" + message_id},
            "ca": {"N": str(created)},
            "tpl": {"S": template},
            "phone": {"S": phone},
            "caller": {"S": caller},
            "st": {"S": status},
            "fee": {"N": str(fee)},
            "code": {"S": code},
        }
        snapshot[message_id] = dynamodb_stats.row_of(item, status, decided)
        if len(snapshot) >= 50_000:
            for key, delta in deltas({}, snapshot).items():
                totals[key] = [a + b for a, b in zip(totals.get(key, [0] * len(delta)), delta, strict=True)]
            snapshot.clear()
    for key, delta in deltas({}, snapshot).items():
        totals[key] = [a + b for a, b in zip(totals.get(key, [0] * len(delta)), delta, strict=True)]
    puts = []
    for key, delta in totals.items():
        names = ["n", "fee", *(f"h{i}" for i in range(len(delta) - 2))]
        counters = {name: {"N": str(value)} for name, value in zip(names, delta, strict=True) if value}
        puts.append({"PutRequest": {"Item": {**dynamodb_stats.rollup_key(key), **counters}}})
    store._batch_write(puts)
    return time.perf_counter() - began, len(puts)


class Reads:
    """Queries, items and read units of the DynamoDB store's requests (eventually consistent
    Query pages: half a unit per 4 KB of the page's items, rounded up)."""

    def __init__(self, store: Any) -> None:
        self.queries = self.items = 0
        self.units = 0.0
        store.boto_client().meta.events.register("after-call.dynamodb.Query", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        from shared.store.dynamodb import item_size

        page = parsed.get("Items", [])
        self.queries += 1
        self.items += len(page)
        self.units += max(1, -(-sum(item_size(i) for i in page) // 4096)) / 2


def best(store: Store, frm: int, to: int, group_by: str, repeat: int) -> tuple[float, int, str]:
    """(best wall seconds, groups, DynamoDB reads of one call) of `repeat` calls."""
    times, groups = [], 0
    reads = Reads(store) if store.dialect == "dynamodb" else None
    for _ in range(repeat):
        began = time.perf_counter()
        answer = store.stats(frm, to, group_by)
        times.append(time.perf_counter() - began)
        groups = len(answer.groups)
    if reads is None:
        return min(times), groups, ""
    per = f"; {reads.queries // repeat} Q, {reads.items // repeat} items, {reads.units / repeat:.0f} RRU"
    store.boto_client().meta.events.unregister("after-call.dynamodb.Query", reads._count)  # type: ignore[attr-defined]
    return min(times), groups, per


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="postgresql://… (a database is made and dropped); default SQLite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    postgres = args.url if args.url and args.url.startswith(("postgresql://", "postgres://")) else ""
    url = _support.fresh_postgres_database(postgres) if postgres else ""
    url = url or f"sqlite:///{tempfile.mkdtemp(prefix='sms-stats-bench-')}/store.db"
    if args.url and args.url.startswith("dynamodb://"):
        url = args.url
    store = open_store(url)
    store.ping()  # creates the schema
    try:
        if store.dialect == "dynamodb":
            seconds, items = fill_dynamodb(store, args.rows, args.days)
        else:
            seconds = fill(store, url, args.rows, args.days)
            items = store.transaction(lambda tx: tx.one("SELECT COUNT(*) FROM stats_rollup"), write=False)[0]  # type: ignore[attr-defined]
        print(
            f"store: {store.dialect}; {args.rows:,} messages over {args.days} days,"
            f" filled in {seconds:.1f} s;"
            f" rollup rows: {items:,}"
        )
        now = int(time.time())
        windows = [("24 h", 86400), ("7 days", 7 * 86400), (f"{args.days} days", args.days * 86400)]
        print("| window | " + " | ".join(GROUP_BYS) + " |")
        print("|---|" + "---|" * len(GROUP_BYS))
        for name, span in windows:
            cells = []
            for group_by in GROUP_BYS:
                took, groups, reads = best(store, now - span, now, group_by, args.repeat)
                cells.append(f"{took * 1000:.0f} ms ({groups}{reads})")
            print(f"| {name} | " + " | ".join(cells) + " |")
        print("(best of", args.repeat, "calls, wall; in brackets: groups returned", end="")
        print(
            "; DynamoDB: Queries, items and read units of one call)" if store.dialect == "dynamodb" else ")"
        )
    finally:
        store.close()
        if postgres:
            _support.drop_bench_databases(postgres)


if __name__ == "__main__":
    main()
