"""Many sends' limits in one transaction (`hit_rate_limits_each`): partial allow, shared counters."""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared.store import RateCheck, Store
from tests.store.helpers import raw_rows


def phone_check(phone: str, limit: int = 1, window: int = 30) -> RateCheck:
    return RateCheck(f"sms:phone:{limit}/{window}s", phone, limit, window)


GLOBAL = RateCheck("global:daily", "all", limit=3, window_seconds=86400)
PHONES = [f"+86138000000{i:02d}" for i in range(6)]


def test_each_group_is_decided_alone(store: Store) -> None:
    assert store.hit_rate_limits([phone_check(PHONES[1])], now=0).allowed  # used before
    decisions = store.hit_rate_limits_each([[phone_check(p)] for p in PHONES[:3]], now=10)
    assert [d.allowed for d in decisions] == [True, False, True]
    assert decisions[1].check == phone_check(PHONES[1])
    assert decisions[1].retry_after == 20
    # the allowed ones recorded their hit, the refused one nothing more
    assert not store.hit_rate_limits([phone_check(PHONES[0])], now=11).allowed
    assert store.hit_rate_limits([phone_check(PHONES[1])], now=30).allowed


def test_a_counter_shared_by_groups_counts_every_allowed_group(store: Store) -> None:
    decisions = store.hit_rate_limits_each([[phone_check(p), GLOBAL] for p in PHONES], now=5)
    assert [d.allowed for d in decisions] == [True, True, True, False, False, False]
    assert {d.check for d in decisions[3:]} == {GLOBAL}
    assert decisions[3].retry_after == 86400  # the hits at 5 leave the window at 86405
    # a refused group left its own number untouched: it can go once the cap has room
    assert not store.hit_rate_limits([GLOBAL], now=6).allowed
    assert store.hit_rate_limits([phone_check(PHONES[4])], now=6).allowed


def test_the_first_blocking_check_of_a_group_is_named(store: Store) -> None:
    hourly = phone_check(PHONES[0], limit=2, window=3600)
    assert store.hit_rate_limits([hourly], now=0).allowed
    assert store.hit_rate_limits([hourly], now=100).allowed
    decisions = store.hit_rate_limits_each([[GLOBAL, hourly], [phone_check(PHONES[1]), GLOBAL]], now=200)
    assert not decisions[0].allowed
    assert decisions[0].check == hourly
    assert decisions[0].retry_after == 3400
    assert decisions[1].allowed
    assert store.hit_rate_limits_each([[GLOBAL]] * 3, now=201)[2].allowed is False  # 1 + 2 = 3


def test_a_counter_named_twice_in_a_group_needs_two_free_hits(store: Store) -> None:
    allowance = RateCheck("multi:numbers:5/1m", "key-1", limit=5, window_seconds=60)
    assert store.hit_rate_limits_each([[allowance] * 3], now=0)[0].allowed
    refused = store.hit_rate_limits_each([[allowance] * 3], now=1)[0]  # 3 + 3 > 5: nothing recorded
    assert not refused.allowed
    assert refused.check == allowance
    assert refused.retry_after == 59
    assert store.hit_rate_limits_each([[allowance] * 2], now=2)[0].allowed
    assert not store.hit_rate_limits([allowance], now=3).allowed


def test_agrees_with_single_hits_and_undo(store: Store) -> None:
    minute = phone_check(PHONES[0], limit=2, window=60)
    assert store.hit_rate_limits_each([[minute, GLOBAL]], now=0)[0].allowed
    assert store.hit_rate_limits([minute, GLOBAL], now=1).allowed
    assert not store.hit_rate_limits_each([[minute]], now=2)[0].allowed
    store.undo_rate_hits([minute, GLOBAL], now=0)  # the group at 0 sent nothing after all
    assert [d.allowed for d in store.hit_rate_limits_each([[minute, GLOBAL], [GLOBAL], [GLOBAL]], now=3)] == [
        True,
        True,
        False,
    ]


def test_undo_gives_back_a_shared_counter_many_times(store: Store) -> None:
    big = RateCheck("global:daily", "all", limit=1000, window_seconds=86400)
    assert all(d.allowed for d in store.hit_rate_limits_each([[big]] * 1000, now=0))
    assert not store.hit_rate_limits([big], now=1).allowed
    store.undo_rate_hits([big] * 400, now=0)
    decisions = store.hit_rate_limits_each([[big]] * 401, now=2)
    assert sum(d.allowed for d in decisions) == 400
    assert not decisions[-1].allowed


def test_big_lists_in_one_call(store: Store) -> None:
    """A multi send's worth of counters (more than any IN list or lock statement takes)."""
    phones = [f"+8613{i:09d}" for i in range(3000)]
    rules = [(1, 30), (5, 3600), (10, 86400)]
    cap = RateCheck("global:daily", "all", limit=2500, window_seconds=86400)
    groups = [[*(phone_check(p, n, w) for n, w in rules), cap] for p in phones]
    decisions = store.hit_rate_limits_each(groups, now=100)
    assert sum(d.allowed for d in decisions) == 2500
    assert all(d.check == cap for d in decisions[2500:])
    again = store.hit_rate_limits_each(groups[:10] + groups[-10:], now=101)
    assert [d.check for d in again] == [phone_check(p) for p in phones[:10]] + [cap] * 10
    assert store.hit_rate_limits_each([], now=102) == []
    assert store.hit_rate_limits_each([[]], now=102)[0].allowed


def test_concurrent_calls_never_exceed_a_shared_cap(open_stores: Callable[[], Store]) -> None:
    cap = RateCheck("global:daily", "all", limit=150, window_seconds=86400)
    allowed: list[int] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        store = open_stores()
        groups = [[phone_check(f"+86139{worker:02d}{i:06d}"), cap] for i in range(100)]
        decisions = store.hit_rate_limits_each(groups, now=50)
        with lock:
            allowed.append(sum(d.allowed for d in decisions))

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 150


def test_stale_rows_it_reads_are_pruned(store_url: str, store: Store) -> None:
    phones = [f"+86137000000{i:02d}" for i in range(40)]
    assert all(d.allowed for d in store.hit_rate_limits_each([[phone_check(p)] for p in phones], now=0))
    assert all(d.allowed for d in store.hit_rate_limits_each([[phone_check(p)] for p in phones], now=100))
    if store.dialect == "dynamodb":  # one item per number, its buckets in one string per rule
        from shared.store.dynamodb import DynamoDbStore, iter_items

        assert isinstance(store, DynamoDbStore)
        buckets = [
            int(bucket.split(":")[0])
            for item in iter_items(store, "L#")
            for rule in item["c"]["M"].values()
            for bucket in rule["S"].split()
        ]
        assert (len(buckets), min(buckets)) == (40, 100)
        return
    (rows,) = raw_rows(store_url, "SELECT COUNT(*), MIN(bucket_at) FROM rate_counts")
    assert (rows[0], rows[1]) == (40, 100)  # the rows of second 0 left the window and the table
