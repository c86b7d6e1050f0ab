"""The suppression list on SQLite and PostgreSQL: changes apply in reply-time order whatever order
they are processed in, operators' changes always apply, paging, and the batch check."""

from __future__ import annotations

import itertools

from shared.store import Store
from shared.store.base import Suppression

A, B, C = "+8613800000000", "+8613800000001", "+14155552671"


def out(phone: str, at: int, keyword: str = "R") -> Suppression:
    return Suppression(phone, True, at, "腾讯云", keyword, "pull")


def back(phone: str, at: int) -> Suppression:
    return Suppression(phone, False, at, "腾讯云", "start", "callback")


def test_an_opt_out_puts_the_number_on_the_list(store: Store) -> None:
    assert store.get_suppression(A) is None
    assert store.suppressed([A, B]) == set()
    assert store.set_suppressions([out(A, 100)], now=200) == 1
    assert store.get_suppression(A) == out(A, 100)
    assert store.suppressed([A, B, A]) == {A}
    assert store.set_suppressions([out(A, 100)], now=300) == 0  # the same reply again changes nothing


def test_reply_time_decides_not_processing_order(store: Store) -> None:
    for n, order in enumerate(itertools.permutations(range(3))):
        a, b = f"+861380000{n:04d}", f"+861390000{n:04d}"
        changes = [out(a, 100), back(a, 200), out(b, 150)]
        for index in order:  # one call each: the store, not the batch, must order them
            store.set_suppressions([changes[index]], now=500)
        assert store.suppressed([a, b]) == {b}
        assert store.get_suppression(a) == back(a, 200)
    # in one batch too, and at the same second an opt-out wins
    store.set_suppressions([out(C, 300), back(C, 300), back(A, 400), out(A, 350)], now=500)
    assert store.suppressed([A, C]) == {C}


def test_an_operator_change_always_applies(store: Store) -> None:
    store.set_suppressions([out(A, 1000)], now=1000)
    manual = Suppression(A, False, 900, source="api")  # our clock behind the reply's
    assert store.set_suppressions([manual], now=900, force=True) == 1
    assert store.suppressed([A]) == set()
    assert store.get_suppression(A) == manual._replace(changed_at=1000)
    store.set_suppressions([out(A, 999)], now=1000)  # an older reply processed late: no effect
    assert store.suppressed([A]) == set()


def test_list_pages_through_suppressed_numbers_only(store: Store) -> None:
    phones = [f"+86138000{i:05d}" for i in range(7)]
    store.set_suppressions([out(p, 100) for p in phones] + [back(phones[3], 200)], now=300)
    first = store.list_suppressions(limit=4)
    assert [s.phone for s in first] == [phones[i] for i in (0, 1, 2, 4)]
    rest = store.list_suppressions(after=first[-1].phone, limit=4)
    assert [s.phone for s in rest] == phones[5:]
    assert all(s.suppressed for s in first + rest)


def test_the_batch_check_takes_many_numbers(store: Store) -> None:
    phones = [f"+86139{i:08d}" for i in range(1200)]
    store.set_suppressions([out(p, 100) for p in phones[::100]], now=200)
    assert store.suppressed(phones) == set(phones[::100])
