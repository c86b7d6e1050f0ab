"""Sliding-window rate limits: exact for small limits, in steps of 1/100 window for big caps."""

from __future__ import annotations

import random

import pytest

from shared import limits
from shared.config import Settings, parse_rates
from shared.store import RateCheck, RateDecision, RateRule, Store, open_store
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


def test_a_numbers_counters_from_before_the_series_still_count(store_url: str) -> None:
    """Migration 9 merges a number's rows of each rule (limits up to 100) into its series' rows."""
    if store_url.startswith("dynamodb"):
        pytest.skip("SQL migrations: the DynamoDB store keeps each rule's counters as they were")
    migrations = SQLITE_MIGRATIONS if store_url.startswith("sqlite") else PG_MIGRATIONS
    phone = "+8613800000000"
    before = [  # sends at 1000 (two) and 3000; the half minute's row of 1000 was pruned
        ("sms:phone:5/1h", phone, 1000, 2, 4600),
        ("sms:phone:10/1d", phone, 1000, 2, 87400),
        ("sms:phone:1/30s", phone, 3000, 1, 3030),
        ("sms:phone:5/1h", phone, 3000, 1, 6600),
        ("sms:phone:10/1d", phone, 3000, 1, 89400),
        ("sms:phone:200/1d", phone, 2592, 3, 89855),  # counted in 864 s rows: its own still
        ("sms:caller:60/1m", "app", 3000, 1, 3060),
    ]
    raw_script(
        store_url,
        [
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
            *(statement for script in migrations[:8] for statement in statements(script)),
            *(f"INSERT INTO schema_version (version, applied_at) VALUES ({v}, 0)" for v in range(1, 9)),  # noqa: S608
            "INSERT INTO rate_counts (name, rkey, bucket_at, hits, expires_at) VALUES "  # noqa: S608
            + ", ".join(["(?, ?, ?, ?, ?)"] * len(before)),
        ],
        [value for row in before for value in row],
    )
    settings = Settings(
        api="v3", limit_per_phone=parse_rates("SMS_LIMIT_PER_PHONE", "1/30s,5/1h,10/1d,200/1d")
    )
    checks = limits.phone_checks(settings, phone)
    store = open_store(store_url)
    try:
        assert store.peek_rate_limits(checks, now=3010) == RateDecision(False, checks[0], 20)  # migrates
        rows = raw_rows(store_url, "SELECT name, rkey, bucket_at, hits, expires_at FROM rate_counts")
        assert sorted(rows) == [
            ("sms:caller:60/1m", "app", 3000, 1, 3060),
            ("sms:phone", phone, 1000, 2, 87400),
            ("sms:phone", phone, 3000, 1, 89400),
            ("sms:phone:200/1d", phone, 2592, 3, 89855),
        ]
        assert store.hit_rate_limits(checks, now=3010) == RateDecision(False, checks[0], 20)
        assert store.hit_rate_limits(checks, now=3040).allowed  # the hour's fourth send
        assert store.hit_rate_limits(checks, now=3080).allowed  # and its fifth
        assert store.hit_rate_limits(checks, now=3120) == RateDecision(False, checks[1], 1000 + 3600 - 3120)
    finally:
        store.close()


# A number's rules as one series (see RateCheck): the same sends, each counted in its own window.
PER_HALF_MINUTE = RateCheck("phone:1/30s", "+8613800000000", 1, 30, series="phone")
THREE_AN_HOUR = RateCheck("phone:3/1h", "+8613800000000", 3, 3600, series="phone")
PATHS = ["hit_rate_limits", "hit_rate_limits_each", "hit_rate_limits_per_key"]


def _rules(checks: list[RateCheck]) -> list[RateRule]:
    return [RateRule(c.name, c.limit, c.window_seconds, c.series) for c in checks]


def _send(store: Store, path: str, checks: list[RateCheck], now: int) -> RateDecision:
    """One send's decision through one of the store's ways in; the peek must agree with it."""
    peeked = store.peek_rate_limits(checks, now=now)
    if path == "hit_rate_limits":
        decision = store.hit_rate_limits(checks, now=now)
    elif path == "hit_rate_limits_each":
        (decision,) = store.hit_rate_limits_each([checks], now=now)
    else:
        (decision,) = store.hit_rate_limits_per_key([checks[0].key], _rules(checks), [], now=now)
    assert peeked == decision
    return decision


@pytest.mark.parametrize("path", PATHS)
def test_a_series_counts_its_sends_in_each_checks_own_window(store: Store, path: str) -> None:
    series = [PER_HALF_MINUTE, THREE_AN_HOUR]
    assert _send(store, path, series, 0).allowed
    assert _send(store, path, series, 10) == RateDecision(False, PER_HALF_MINUTE, 20)
    assert _send(store, path, series, 40).allowed  # the half minute no longer counts the send at 0
    # only the send at 40 is in the half minute: the one at 0 is no reason to wait
    assert _send(store, path, series, 50) == RateDecision(False, PER_HALF_MINUTE, 20)
    assert _send(store, path, series, 80).allowed
    assert _send(store, path, series, 120) == RateDecision(False, THREE_AN_HOUR, 3600 - 120)
    store.undo_rate_hits(series, now=80)  # the send at 80 never went out: one hit back, for both
    assert _send(store, path, series, 121).allowed
    store.purge_expired(now=200)  # the series' rows stay while its longest window counts them
    assert _send(store, path, series, 200) == RateDecision(False, THREE_AN_HOUR, 3600 - 200)


@pytest.mark.parametrize("path", PATHS)
def test_a_series_gives_back_one_hit_a_send(store: Store, path: str) -> None:
    five = RateCheck("phone:5/1m", "+8613800000000", 5, 60, series="phone")
    nine = RateCheck("phone:9/1h", "+8613800000000", 9, 3600, series="phone")
    for _ in range(3):
        assert _send(store, path, [five, nine], 0).allowed
    store.undo_rate_hits([five, nine], now=0)
    for _ in range(3):  # two of the first three stand: three more fit in the minute's five
        assert _send(store, path, [five, nine], 1).allowed
    assert _send(store, path, [five, nine], 1) == RateDecision(False, five, 59)


def test_sql_stores_keep_a_series_in_one_counter_row_a_second(store_url: str, store: Store) -> None:
    """One row a second for the series' exact rules; a rule over 100 counts in wider rows of its own."""
    if store.dialect == "dynamodb":
        pytest.skip("SQL counter rows (DynamoDB keeps a key's counters in one item)")
    series = [PER_HALF_MINUTE, THREE_AN_HOUR]
    wide = RateCheck("phone:200/1d", PER_HALF_MINUTE.key, 200, 86400, series="phone")  # 864 s rows
    assert store.hit_rate_limits([*series, wide], now=0).allowed
    assert store.hit_rate_limits_per_key(["+8613800000001"], _rules(series), [], now=0)[0].allowed
    assert store.hit_rate_limits_each([[c._replace(key="+8613800000002") for c in series]], now=40)[0].allowed
    assert sorted(raw_rows(store_url, "SELECT name, rkey, bucket_at, hits, expires_at FROM rate_counts")) == [
        ("phone", "+8613800000000", 0, 1, 3600),
        ("phone", "+8613800000001", 0, 1, 3600),
        ("phone", "+8613800000002", 40, 1, 3640),
        ("phone:200/1d", "+8613800000000", 0, 1, 863 + 86400),
    ]
