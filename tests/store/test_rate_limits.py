"""Sliding-window rate limits."""

from __future__ import annotations

import pytest

from shared.store import RateCheck, Store

PER_MINUTE = RateCheck("phone-minute", "+8613800000000", limit=2, window_seconds=60)
PER_HOUR = RateCheck("phone-hour", "+8613800000000", limit=3, window_seconds=3600)


def test_sliding_window(store: Store) -> None:
    assert store.hit_rate_limits([PER_MINUTE], now=0).allowed
    assert store.hit_rate_limits([PER_MINUTE], now=10).allowed
    blocked = store.hit_rate_limits([PER_MINUTE], now=20)
    assert not blocked.allowed and blocked.check == PER_MINUTE and blocked.retry_after == 40
    assert store.hit_rate_limits([PER_MINUTE], now=59).retry_after == 1
    assert store.hit_rate_limits([PER_MINUTE], now=60).allowed  # the hit at 0 left the window
    blocked = store.hit_rate_limits([PER_MINUTE], now=61)
    assert not blocked.allowed and blocked.retry_after == 9  # the hit at 10 leaves at 70


def test_blocked_call_records_nothing(store: Store) -> None:
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=0).allowed
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=1).allowed
    blocked = store.hit_rate_limits([PER_HOUR, PER_MINUTE], now=2)
    assert not blocked.allowed and blocked.check == PER_MINUTE
    # PER_HOUR got no hit from the blocked call: one more is still allowed later
    assert store.hit_rate_limits([PER_MINUTE, PER_HOUR], now=100).allowed
    blocked = store.hit_rate_limits([PER_HOUR], now=101)
    assert not blocked.allowed and blocked.check == PER_HOUR and blocked.retry_after == 3600 - 101


def test_keys_and_names_are_independent(store: Store) -> None:
    for i in range(2):
        assert store.hit_rate_limits([PER_MINUTE], now=i).allowed
    assert store.hit_rate_limits([RateCheck("phone-minute", "+8613900000000", 2, 60)], now=3).allowed
    assert store.hit_rate_limits([RateCheck("app-minute", "+8613800000000", 2, 60)], now=3).allowed
    assert not store.hit_rate_limits([PER_MINUTE], now=3).allowed


def test_zero_limit_and_empty_checks(store: Store) -> None:
    closed = RateCheck("closed", "x", limit=0, window_seconds=30)
    decision = store.hit_rate_limits([closed], now=5)
    assert not decision.allowed and decision.retry_after == 30
    assert store.hit_rate_limits([], now=5).allowed
    with pytest.raises(ValueError):
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
    assert store.purge_expired(now=60) == 1
    assert store.purge_expired(now=3600) == 1
