"""Atomicity under concurrent callers: threads with their own connections, and processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from shared.models import Receipt
from shared.store import OtpRecord, RateCheck, Store, open_store

T = TypeVar("T")


def race(stores: list[Store], action: Callable[[Store], T]) -> list[T]:
    """Run `action` once per store, all released at the same moment; return the results."""
    for store in stores:
        store.ping()  # connect and migrate before the start line
    barrier = threading.Barrier(len(stores))

    def run(store: Store) -> T:
        barrier.wait()
        return action(store)

    with ThreadPoolExecutor(max_workers=len(stores)) as pool:
        return list(pool.map(run, stores))


def claim(store: Store) -> Any:
    return store.idempotency_begin("order-1", fingerprint="fp", now=1000, in_progress_ttl=60, ttl=600)


def test_idempotency_one_owner_among_threads(open_stores: Callable[[], Store]) -> None:
    results = race([open_stores() for _ in range(20)], claim)
    assert sum(r is None for r in results) == 1
    assert all(r.status == "in_progress" for r in results if r is not None)


def test_idempotency_one_owner_on_a_shared_store(store: Store) -> None:
    results = race([store] * 20, claim)
    assert sum(r is None for r in results) == 1


def _claim_in_process(url: str, barrier: Any, results: Any) -> None:
    store = open_store(url)
    try:
        store.ping()
        barrier.wait(60)
        owned = race([store] * 5, claim)  # several threads in each process too
        results.put(sum(r is None for r in owned))
    except BaseException as exc:
        results.put(repr(exc))  # the parent fails fast with the reason
        raise
    finally:
        store.close()


def test_idempotency_one_owner_among_processes(store_url: str, store: Store) -> None:
    store.ping()  # schema in place, so the race is about the key
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(store_url, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    owners = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(isinstance(n, int) for n in owners), owners
    assert [p.exitcode for p in procs] == [0] * 4
    assert sum(owners) == 1
    record = claim(store)
    assert record is not None
    assert record.status == "in_progress"


def test_rate_limit_admits_exactly_the_limit(open_stores: Callable[[], Store]) -> None:
    check = RateCheck("phone-minute", "+8613800000000", limit=5, window_seconds=60)
    other = RateCheck("app-minute", "app:1", limit=1000, window_seconds=60)
    stores = [open_stores() for _ in range(50)]
    decisions = race(stores, lambda s: s.hit_rate_limits([check, other], now=1000))
    assert sum(d.allowed for d in decisions) == 5
    assert all(d.check == check and d.retry_after == 60 for d in decisions if not d.allowed)
    # the blocked calls recorded nothing on the other check either
    assert not stores[0].hit_rate_limits([RateCheck("app-minute", "app:1", 5, 60)], now=1001).allowed
    assert stores[0].hit_rate_limits([RateCheck("app-minute", "app:1", 6, 60)], now=1001).allowed


def test_rate_limit_on_a_shared_store(store: Store) -> None:
    check = RateCheck("phone-minute", "+8613800000001", limit=5, window_seconds=60)
    decisions = race([store] * 30, lambda s: s.hit_rate_limits([check], now=1000))
    assert sum(d.allowed for d in decisions) == 5


def test_otp_verified_exactly_once(open_stores: Callable[[], Store]) -> None:
    stores = [open_stores() for _ in range(20)]
    record = OtpRecord(id="otp-1", phone="+8613800000000", purpose="login", code_hash="h",
                       created_at=1000, expires_at=1300, max_attempts=3)  # fmt: skip
    stores[0].otp_create(record, supersede_active=True)
    results = race(stores, lambda s: s.otp_attempt("otp-1", matched=True, now=1010))
    assert [r.status for r in results].count("verified") == 1
    assert {r.status for r in results} == {"verified", "used"}


def test_otp_wrong_attempts_counted_exactly(open_stores: Callable[[], Store]) -> None:
    stores = [open_stores() for _ in range(12)]
    record = OtpRecord(id="otp-2", phone="+8613800000000", purpose="login", code_hash="h",
                       created_at=1000, expires_at=1300, max_attempts=5)  # fmt: skip
    stores[0].otp_create(record, supersede_active=True)
    results = race(stores, lambda s: s.otp_attempt("otp-2", matched=False, now=1010))
    assert sorted(r.attempts for r in results) == [1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5]
    assert [r.status for r in results].count("active") == 4
    assert stores[0].otp_get("otp-2").status == "locked"  # type: ignore[union-attr]


def test_overlapping_receipt_batches(open_stores: Callable[[], Store]) -> None:
    receipts = [Receipt(f"m{i}", "+8613800000000", "delivered", "DELIVRD", "", 1000 + i) for i in range(30)]
    stores = [open_stores() for _ in range(8)]
    batches = [receipts[i::2] + receipts[::-1] for i in range(len(stores))]
    by_store = dict(zip(map(id, stores), batches, strict=True))
    counts = race(stores, lambda s: s.save_receipts(by_store[id(s)], source="pull", now=2000))
    assert sum(counts) == len(receipts)
    assert all(len(stores[0].receipts_for(r.message_id)) == 1 for r in receipts)
