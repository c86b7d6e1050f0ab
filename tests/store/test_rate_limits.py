"""Sliding-window rate limits: exact for small limits, in steps of 1/100 window for big caps."""

from __future__ import annotations

import random

import pytest

from shared.store import RateCheck, Store, open_store
from shared.store.common import WINDOW_STEPS, bucket_width
from shared.store.postgres import MIGRATIONS as PG_MIGRATIONS
from shared.store.sql import statements
from shared.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from tests.store.helpers import raw_rows, raw_script

PER_MINUTE = RateCheck("phone-minute", "+8613800000000", limit=2, window_seconds=60)
PER_HOUR = RateCheck("phone-hour", "+8613800000000", limit=3, window_seconds=3600)


def test_sliding_window(store: Store) -> None:
    assert store.hit_rate_limits([PER_MINUTE], now=0).allowed
    assert store.hit_rate_limits([PER_MINUTE], now=10).allowed
    blocked = store.hit_rate_limits([PER_MINUTE], now=20)
    assert not blocked.allowed
    assert blocked.check == PER_MINUTE
    assert blocked.retry_after == 40
    assert store.hit_rate_limits([PER_MINUTE], now=59).retry_after == 1
    assert store.hit_rate_limits([PER_MINUTE], now=60).allowed  # the hit at 0 left the window
    blocked = store.hit_rate_limits([PER_MINUTE], now=61)
    assert not blocked.allowed
    assert blocked.retry_after == 9


def test_blocked_call_records_nothing(store: Store) -> None:
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=0).allowed
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=1).allowed
    blocked = store.hit_rate_limits([PER_HOUR, PER_MINUTE], now=2)
    assert not blocked.allowed
    assert blocked.check == PER_MINUTE
    # PER_HOUR got no hit from the blocked call: one more is still allowed later
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=100).allowed
    blocked = store.hit_rate_limits([PER_HOUR], now=101)
    assert not blocked.allowed
    assert blocked.check == PER_HOUR
    assert blocked.retry_after == 3600 - 101


def test_keys_and_names_are_independent(store: Store) -> None:
    for i in range(2):
        assert store.hit_rate_limits([PER_MINUTE], now=i).allowed
    assert store.hit_rate_limits([RateCheck("phone-minute", "+8613900000000", 2, 60)], now=3).allowed
    assert store.hit_rate_limits([RateCheck("app-minute", "+8613800000000", 2, 60)], now=3).allowed
    assert not store.hit_rate_limits([PER_MINUTE], now=3).allowed


def test_the_same_check_twice_in_one_call_counts_twice(store: Store) -> None:
    """Both stores agree on a call naming one counter twice (PostgreSQL's one-statement upsert
    counts it once with two hits, where a row twice would be an error)."""
    per_ten = RateCheck("phone-ten", "+8613800000000", limit=10, window_seconds=60)
    assert store.hit_rate_limits([per_ten, PER_MINUTE, per_ten], now=0).allowed
    assert store.hit_rate_limits([per_ten] * 8, now=1).allowed  # 2 + 8 = 10, the limit
    blocked = store.hit_rate_limits([per_ten], now=2)
    assert not blocked.allowed
    assert blocked.check == per_ten


def test_many_checks_in_one_call(store: Store) -> None:
    """More checks than one cached statement takes (PostgreSQL then goes back to executemany)."""
    checks = [RateCheck(f"name-{i}", f"key-{i % 3}", limit=1, window_seconds=60) for i in range(30)]
    assert store.hit_rate_limits(checks, now=0).allowed
    for check in (checks[0], checks[17], checks[29]):
        blocked = store.hit_rate_limits([check], now=30)
        assert not blocked.allowed
        assert blocked.retry_after == 30
    assert store.hit_rate_limits(checks, now=60).allowed  # every earlier hit left its window


def test_zero_limit_and_empty_checks(store: Store) -> None:
    closed = RateCheck("closed", "x", limit=0, window_seconds=30)
    decision = store.hit_rate_limits([closed], now=5)
    assert not decision.allowed
    assert decision.retry_after == 30
    assert store.hit_rate_limits([], now=5).allowed
    with pytest.raises(ValueError, match="window_seconds > 0"):
        store.hit_rate_limits([RateCheck("bad", "x", limit=1, window_seconds=0)], now=5)


def test_undo_gives_a_hit_back(store: Store) -> None:
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=0).allowed
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=1).allowed
    store.undo_rate_hits([PER_MINUTE, PER_HOUR], now=1)
    assert store.hit_rate_limits([PER_MINUTE], now=2).allowed
    assert not store.hit_rate_limits([PER_MINUTE], now=3).allowed
    store.undo_rate_hits([RateCheck("unused", "k", 1, 1)], now=3)
    store.undo_rate_hits([], 3)


def test_purge_removes_expired_hits(store: Store) -> None:
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=0).allowed
    assert store.purge_expired(now=59) == 0
    purged = 0 if store.expires_by_itself else 1  # DynamoDB: TTL deletes counters (`expires_at`)
    assert store.purge_expired(now=60) == purged
    assert store.purge_expired(now=3600) == purged
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=3600).allowed


BIG_CAP = RateCheck("global:daily", "all", limit=150, window_seconds=86400)  # counted in 864 s rows


def test_a_big_cap_counts_in_steps_of_its_window(store: Store) -> None:
    assert bucket_width(BIG_CAP) == 864
    assert bucket_width(PER_HOUR) == 1
    for _ in range(150):
        assert store.hit_rate_limits([BIG_CAP], now=10).allowed
    blocked = store.hit_rate_limits([BIG_CAP], now=20)
    # the hits at 10 share the row [0, 864): they count until its last second, 863, leaves the window
    assert not blocked.allowed
    assert blocked.check == BIG_CAP
    assert blocked.retry_after == 863 + 86400 - 20
    assert not store.hit_rate_limits([BIG_CAP], now=862 + 86400).allowed
    assert store.hit_rate_limits([BIG_CAP], now=863 + 86400).allowed


def test_a_big_cap_never_admits_more_than_its_limit_in_any_window(store: Store) -> None:
    check = RateCheck("caller:day", "app:1", limit=120, window_seconds=3600)  # 36 s rows
    rng = random.Random(7)
    moments = sorted(rng.randrange(0, 4 * 3600) for _ in range(900))
    admitted = [t for t in moments if store.hit_rate_limits([check], now=t).allowed]
    assert len(admitted) >= 3 * 120  # it does admit (about 4 windows' worth, less one row per window)
    for t in admitted:
        assert sum(1 for u in admitted if t - 3600 < u <= t) <= 120


def test_rows_per_key_stay_bounded_however_busy_the_key(store_url: str, store: Store) -> None:
    for second in range(0, 2 * 86400, 97):  # ~1,800 sends over two days
        assert store.hit_rate_limits([RateCheck("global:daily", "all", 10**9, 86400)], now=second).allowed
    if store.dialect == "dynamodb":  # one item per key, its counters a map of buckets
        from shared.store.dynamodb import iter_items

        (item,) = iter_items(store, "L#")  # type: ignore[arg-type]
        assert len(item["c"]["M"]["global:daily"]["S"].split()) <= WINDOW_STEPS + 1
        return
    (rows,) = raw_rows(store_url, "SELECT COUNT(*) FROM rate_counts WHERE name = 'global:daily'")
    assert rows[0] <= WINDOW_STEPS + 1


def test_hits_recorded_before_the_counter_schema_still_count(store_url: str) -> None:
    """Migration 2 carries the per-hit rows of migration 1 over into counters."""
    if store_url.startswith("dynamodb"):
        pytest.skip("SQL migrations: the DynamoDB store never had per-hit rows")
    legacy = SQLITE_MIGRATIONS[0] if store_url.startswith("sqlite") else PG_MIGRATIONS[0]
    raw_script(
        store_url,
        [
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
            *statements(legacy),
            "INSERT INTO schema_version (version, applied_at) VALUES (1, 0)",
            "INSERT INTO rate_hits (name, rkey, hit_at, expires_at)"
            " VALUES ('phone-minute', '+8613800000000', 0, 60), ('phone-minute', '+8613800000000', 10, 70)",
        ],
    )
    store = open_store(store_url)
    try:
        blocked = store.hit_rate_limits([PER_MINUTE], now=20)
        assert not blocked.allowed
        assert blocked.retry_after == 40
        assert store.hit_rate_limits([PER_MINUTE], now=60).allowed
    finally:
        store.close()
