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


WRITES = {"put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items"}


def fail_statement(monkeypatch: pytest.MonkeyPatch, store: Store, fail_at: int) -> None:
    """Make the store's next transactions fail at their `fail_at`-th statement.

    DynamoDB has no statements: one write request (a transaction, a batch) is what fails there,
    the first one (`fail_write` picks a later one)."""
    if store.dialect == "dynamodb":
        fail_write(monkeypatch, store, 1)
        return
    original: Callable[..., Any] = store.transaction  # type: ignore[attr-defined]

    def run(fn: Callable[[Tx], Any], *, write: bool = True) -> Any:
        return original(lambda tx: fn(FailingTx(tx, fail_at)), write=write)

    monkeypatch.setattr(store, "transaction", run)


def fail_write(monkeypatch: pytest.MonkeyPatch, store: Store, nth: int) -> None:
    """DynamoDB: the store's `nth` write request from now on (and every later one) raises."""
    original: Callable[..., Any] = store.request  # type: ignore[attr-defined]
    seen = [0]

    def call(operation: str, **params: Any) -> Any:
        if operation in WRITES:
            seen[0] += 1
            if seen[0] >= nth:
                raise InjectedFailure(f"injected failure at write request {seen[0]} ({operation})")
        return original(operation, **params)

    monkeypatch.setattr(store, "request", call)


def count_items(store: Store, prefix: str, sk: str | None = None) -> int:
    """DynamoDB: how many items have a pk starting with `prefix` (and this sk)."""
    from shared.store.dynamodb import DynamoDbStore, iter_items

    assert isinstance(store, DynamoDbStore)
    return sum(1 for item in iter_items(store, prefix) if sk is None or item["sk"]["S"] == sk)
