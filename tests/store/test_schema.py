"""Schema creation, re-opening and racing migrations."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from shared.store import Store, open_store
from shared.store.base import RateCheck
from shared.store.postgres import MIGRATIONS as PG_MIGRATIONS
from shared.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from shared.store.sqlite import WAL_CHECKPOINT_PAGES, WAL_SIZE_LIMIT
from tests.store.helpers import raw_rows

TABLES = {
    "schema_version",
    "messages",
    "receipts",
    "replies",
    "idempotency",
    "rate_counts",
    "otp_codes",
    "read_cache",
    "templates",
    "suppressions",
    "stats_rollup",
}


def tables(url: str) -> set[str]:
    if url.startswith("sqlite"):
        rows = raw_rows(url, "SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = raw_rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r[0] for r in rows}


@pytest.fixture(autouse=True)
def _sql_only(request: pytest.FixtureRequest) -> None:
    """DynamoDB has no schema: its table is the stack's (or `create=true`'s, see test_dynamodb)."""
    callspec = getattr(request.node, "callspec", None)
    if (
        callspec is not None
        and callspec.params.get("store_url") == "dynamodb"
        and "store_url" in request.fixturenames
    ):
        pytest.skip(
            "SQL schema and migrations: DynamoDB has neither (its table: tests/store/test_dynamodb.py)"
        )


def test_both_dialects_have_the_same_migrations() -> None:
    assert len(SQLITE_MIGRATIONS) == len(PG_MIGRATIONS)


def test_schema_created_on_first_use_and_version_recorded(store_url: str, store: Store) -> None:
    assert not (TABLES & tables(store_url))  # opening connects lazily: nothing yet
    store.ping()
    assert tables(store_url) >= TABLES
    versions = raw_rows(store_url, "SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == list(range(1, len(SQLITE_MIGRATIONS) + 1))


def test_sqlite_uses_wal(store_url: str, store: Store) -> None:
    store.ping()
    if store_url.startswith("sqlite"):
        assert raw_rows(store_url, "PRAGMA journal_mode") == [("wal",)]


def test_sqlite_counters_have_no_expiry_index_and_still_purge(store_url: str, store: Store) -> None:
    """SQLite's purge scans the counters (on a timer) rather than every send updating an index of
    their expiry; PostgreSQL keeps its index (its purge takes expired rows in locked batches)."""
    if not store_url.startswith("sqlite"):
        pytest.skip("SQLite's counters only")
    indexes = raw_rows(store_url, "SELECT name FROM sqlite_master WHERE tbl_name = 'rate_counts'")
    assert ("rate_counts_expires",) not in indexes
    store.hit_rate_limits([RateCheck("per_phone", "+8613800000000", 5, 60)], now=0)
    assert store.purge_expired(now=10_000) == 1


def test_sqlite_checkpoints_its_wal_in_large_steps_and_cuts_the_file_back(tmp_path: Path) -> None:
    """The WAL is copied into the database once `WAL_CHECKPOINT_PAGES` have built up (a larger
    step than SQLite's 1,000 pages), and a WAL a long reader let grow past `WAL_SIZE_LIMIT` is cut
    back to it when it restarts."""
    path = tmp_path / "wal.db"
    wal = path.with_name(path.name + "-wal")
    store = open_store(f"sqlite:///{path}")
    value = {"text": "x" * 1_000_000}
    try:
        largest = 0
        for index in range(70):  # ~70 MB through the WAL, each megabyte its own transaction
            store.cache_put(f"k{index}", value, now=1, ttl=1_000_000)
            largest = max(largest, wal.stat().st_size)
            assert wal.stat().st_size <= WAL_SIZE_LIMIT, f"the WAL passed the limit after {index + 1} MB"
        with closing(sqlite3.connect(path)) as conn:
            step = WAL_CHECKPOINT_PAGES * conn.execute("PRAGMA page_size").fetchone()[0]
        assert largest >= step  # no checkpoint before the step
        assert path.stat().st_size > step  # checkpoints moved pages in

        reader = sqlite3.connect(path)  # a read transaction keeps every later frame in the WAL
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM read_cache").fetchall()
        for index in range(70):
            store.cache_put(f"r{index}", value, now=1, ttl=1_000_000)
        assert wal.stat().st_size > WAL_SIZE_LIMIT
        reader.close()
        for index in range(5):  # the next commits checkpoint it, then restart it
            store.cache_put(f"a{index}", value, now=1, ttl=1_000_000)
        assert wal.stat().st_size <= WAL_SIZE_LIMIT
        assert store.cache_get("k0", now=2) == value
    finally:
        store.close()


def test_reopen_is_idempotent_and_keeps_data(store_url: str, open_stores: Callable[[], Store]) -> None:
    first = open_stores()
    first.idempotency_begin("k", fingerprint="f", now=100, in_progress_ttl=60, ttl=600)
    first.close()
    for _ in range(3):
        again = open_stores()
        again.ping()
        again.close()
    versions = raw_rows(store_url, "SELECT COUNT(*), MAX(version) FROM schema_version")
    assert versions == [(len(SQLITE_MIGRATIONS), len(SQLITE_MIGRATIONS))]
    record = open_stores().idempotency_begin("k", fingerprint="f", now=101, in_progress_ttl=60, ttl=600)
    assert record is not None
    assert record.status == "in_progress"


def test_closed_store_reopens_on_next_use(store: Store) -> None:
    store.ping()
    store.close()
    store.close()  # twice is fine
    assert store.idempotency_begin("x", fingerprint="", now=1, in_progress_ttl=5, ttl=5) is None


def test_threads_racing_to_migrate_a_new_database(store_url: str, open_stores: Callable[[], Store]) -> None:
    stores = [open_stores() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def first_use(store: Store) -> None:
        barrier.wait()
        try:
            store.ping()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert raw_rows(store_url, "SELECT COUNT(*) FROM schema_version") == [(len(SQLITE_MIGRATIONS),)]


def _migrate_in_process(url: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    store = open_store(url)
    barrier.wait()
    store.ping()
    store.close()


def test_processes_racing_to_migrate_a_new_database(store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_migrate_in_process, args=(store_url, barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert raw_rows(store_url, "SELECT COUNT(*) FROM schema_version") == [(len(SQLITE_MIGRATIONS),)]
