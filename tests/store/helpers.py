"""Helpers for store tests: raw SQL against a store's database, injected failures."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from shared.store import Store
from shared.store.sql import Row, Tx
from shared.store.sqlite import parse_sqlite_url


def raw_script(url: str, script: Sequence[str], params: Sequence[Any] = ()) -> list[Row]:
    """Run statements (`?` placeholders; `params` for the last) on the store's database over a
    separate connection, in one transaction; the last one's rows."""
    if url.startswith("sqlite"):
        target, uri, _ = parse_sqlite_url(url)
        lite = sqlite3.connect(target, uri=uri)
        try:
            with lite:
                for statement in script[:-1]:
                    lite.execute(statement)
                return [tuple(r) for r in lite.execute(script[-1], tuple(params)).fetchall()]
        finally:
            lite.close()
    import psycopg

    with psycopg.connect(url) as conn:
        for statement in script[:-1]:
            conn.execute(statement)
        cursor = conn.execute(script[-1].replace("?", "%s"), tuple(params))
        return list(cursor.fetchall()) if cursor.description else []


def raw_rows(url: str, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """Run one query on the store's database over a separate connection."""
    return raw_script(url, [sql], params)


class InjectedFailure(RuntimeError):
    """Raised by `FailingTx` in the middle of a transaction."""


class FailingTx:
    """A `Tx` whose `fail_at`-th statement (1-based) raises `InjectedFailure`."""

    def __init__(self, tx: Tx, fail_at: int) -> None:
        self._tx = tx
        self._left = fail_at

    def _tick(self) -> None:
        self._left -= 1
        if self._left == 0:
            raise InjectedFailure("injected failure mid-transaction")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._tick()
        return self._tx.execute(sql, params)

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._tick()
        self._tx.execute_many(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._tick()
        return self._tx.one(sql, params)

    def copy_in(self, copy_sql: str, rows: Iterable[Sequence[Any]]) -> None:  # PostgreSQL's Tx only
        self._tick()
        self._tx.copy_in(copy_sql, rows)  # type: ignore[attr-defined]

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._tick()
        return self._tx.all(sql, params)


def fail_statement(monkeypatch: pytest.MonkeyPatch, store: Store, fail_at: int) -> None:
    """Make the store's next transactions fail at their `fail_at`-th statement."""
    original: Callable[..., Any] = store._run  # type: ignore[attr-defined]

    def run(fn: Callable[[Tx], Any], *, write: bool = True) -> Any:
        return original(lambda tx: fn(FailingTx(tx, fail_at)), write=write)

    monkeypatch.setattr(store, "_run", run)
