"""SQLite answers a long list's budget once it is decided and writes its hits while the list is
sent (`SqliteStore._decide_then_write`). What must still hold: the decisions are those of
`hit_rate_limits_each`; no writer, in this process or another, decides on counts without these
hits; a failure before deciding reaches the caller, one after is logged; `settle` waits for the
commit.

The pauses and the failure are put into the real store's write step (`_add_key_hits`): SQLite
itself runs as deployed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.errors import StoreUnavailableError
from shared.store import RateCheck, RateRule, open_store
from shared.store.sqlite import EARLY_DECISIONS_FROM, SqliteStore

RULES = [RateRule("sms:phone:1/30s", 1, 30), RateRule("sms:phone:5/1h", 5, 3600)]
LONG = EARLY_DECISIONS_FROM + 200
PHONES = [f"+8613{i:09d}" for i in range(LONG)]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Callable[..., SqliteStore]]:
    """Stores (connections) on one database file, as two containers' would be."""
    opened: list[SqliteStore] = []

    def opener(**query: str) -> SqliteStore:
        url = f"sqlite:///{tmp_path / 'store.db'}"
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        store = open_store(url)
        assert isinstance(store, SqliteStore)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


def _held(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make `store`'s next budget write wait (after deciding) until the returned event is set."""
    go_on = threading.Event()
    write = store._add_key_hits

    def held(*args: Any) -> None:
        assert go_on.wait(30)
        write(*args)

    monkeypatch.setattr(store, "_add_key_hits", held)
    return go_on


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_a_long_list_decides_as_hit_rate_limits_each(stores: Callable[..., SqliteStore]) -> None:
    store = stores()
    caps = {ns: RateCheck("global:daily", f"{ns}:all", 1000, 86400) for ns in "ab"}
    early = [PHONES[i] for i in range(0, LONG, 7)]  # numbers with live counters: the loop decides
    for ns in "ab":
        store.hit_rate_limits_per_key([f"{ns}{p}" for p in early], RULES, [caps[ns]], now=0)
    a = store.hit_rate_limits_per_key([f"a{p}" for p in PHONES], RULES, [caps["a"]], now=10)
    b = store.hit_rate_limits_each([[*(r.on(f"b{p}") for r in RULES), caps["b"]] for p in PHONES], now=10)
    strip = [(d.allowed, d.retry_after, d.check and d.check.name) for d in a]
    assert strip == [(d.allowed, d.retry_after, d.check and d.check.name) for d in b]
    assert sum(d.allowed for d in a) == 1000 - len(early)  # the cap, of which the early ones took some
    assert sum(d.check == RULES[0].on(f"a{p}") for p, d in zip(PHONES, a, strict=True)) == len(early)
    # and the hits left behind are the same: one more of each number at 40 s, both ways
    later = {
        ns: store.hit_rate_limits_each([[*(r.on(f"{ns}{p}") for r in RULES)] for p in PHONES], now=40)
        for ns in "ab"
    }
    assert [d.allowed for d in later["a"]] == [d.allowed for d in later["b"]]


def test_another_connection_waits_for_the_hits(
    stores: Callable[..., SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another container deciding on the same numbers meanwhile waits for the commit, then sees
    every hit: the write lock is held from the first read to the commit."""
    first, second = stores(), stores()
    go_on = _held(first, monkeypatch)
    decided = first.hit_rate_limits_per_key(PHONES, RULES, [], now=0)  # answered, not yet written
    assert all(d.allowed for d in decided)
    other, out = _in_thread(lambda: second.hit_rate_limits_per_key(PHONES, RULES, [], now=1))
    other.join(0.5)
    assert other.is_alive(), "the other container decided while the hits were still being written"
    go_on.set()
    other.join(30)
    assert [d.check for d in out[0]] == [RULES[0].on(p) for p in PHONES]  # every number refused


def test_this_process_waits_too_and_settle_waits_for_the_commit(
    stores: Callable[..., SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = stores()
    go_on = _held(store, monkeypatch)
    store.hit_rate_limits_per_key(PHONES, RULES, [], now=0)
    settling, _ = _in_thread(store.settle)
    again, out = _in_thread(lambda: store.hit_rate_limits([RULES[0].on(PHONES[0])], now=1))
    settling.join(0.3)
    again.join(0.3)
    assert settling.is_alive()
    assert again.is_alive()
    go_on.set()
    settling.join(30)
    again.join(30)
    assert not settling.is_alive()
    assert not out[0].allowed


def test_two_long_lists_at_once_in_one_process(stores: Callable[..., SqliteStore]) -> None:
    """Two sends of one list in one process (a local gateway's threads): one takes every number,
    the other none, and `settle` waits for both."""
    store = stores()
    start = threading.Barrier(2)

    def send() -> list[bool]:
        start.wait()
        return [d.allowed for d in store.hit_rate_limits_per_key(PHONES, RULES, [], now=0)]

    threads = [_in_thread(send) for _ in range(2)]
    for thread, _ in threads:
        thread.join(30)
    store.settle()
    assert not any(t.is_alive() for t in store._writing)
    outcomes = sorted(out[0] for _, out in threads)
    assert outcomes == [[False] * LONG, [True] * LONG]


def test_a_failure_before_deciding_reaches_the_caller(stores: Callable[..., SqliteStore]) -> None:
    blocker = sqlite3.connect(stores().url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
    try:
        with pytest.raises(StoreUnavailableError):
            stores(busy_timeout="50").hit_rate_limits_per_key(PHONES, RULES, [], now=0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_a_failure_after_deciding_is_logged_and_writes_nothing(
    stores: Callable[..., SqliteStore], monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    """The numbers were let through (their chunks may be out): the caller is not told, the log is,
    and the transaction leaves nothing half written."""
    store = stores()

    def disk_error(*_args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_add_key_hits", disk_error)
    decided = store.hit_rate_limits_per_key(PHONES, RULES, [], now=0)
    store.settle()
    assert all(d.allowed for d in decided)
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    (line,) = [line for line in lines if line["message"] == "rate-limit hits not recorded"]
    assert line["level"] == "ERROR"
    assert line["numbers"] == LONG
    assert line["error_code"] == "store_unavailable"
    monkeypatch.undo()
    assert all(d.allowed for d in store.hit_rate_limits_per_key(PHONES, RULES, [], now=1))


def test_a_short_list_is_written_before_it_is_answered(
    stores: Callable[..., SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = stores()
    go_on = _held(store, monkeypatch)
    short, out = _in_thread(lambda: store.hit_rate_limits_per_key(PHONES[:10], RULES, [], now=0))
    short.join(0.3)
    assert short.is_alive()  # the answer waits for the write
    go_on.set()
    short.join(30)
    assert all(d.allowed for d in out[0])
