"""Persistence for messages, receipts, replies, idempotency keys, rate limits and one-time codes.

`open_store(url)` opens a store for `sqlite:///relative.db`, `sqlite:////absolute.db`,
`sqlite:///:memory:`, `postgresql://…` / `postgres://…` or `dynamodb://<table>?region=…`;
`get_store()` keeps one per URL for the life of the process, so warm invocations reuse the
connection. Database drivers (and boto3) are imported only when a store of their kind is opened.
"""

from __future__ import annotations

import os
import threading

from shared.errors import ConfigurationError
from shared.store.base import (
    IdempotencyRecord,
    OtpAttempt,
    OtpRecord,
    RateCheck,
    RateDecision,
    RateRule,
    Store,
    StoredMessage,
    redact_url,
)

__all__ = [
    "DEFAULT_SQLITE_NAME",
    "IdempotencyRecord",
    "OtpAttempt",
    "OtpRecord",
    "RateCheck",
    "RateDecision",
    "RateRule",
    "Store",
    "StoredMessage",
    "close_stores",
    "default_url",
    "get_store",
    "open_store",
]

DEFAULT_SQLITE_NAME = "sms-functions.db"

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def default_url() -> str:
    """The store used when none is configured: a SQLite file in the temp dir."""
    import tempfile  # not at module level: it drags in random, shutil, … on every cold start

    return "sqlite:///" + os.path.join(tempfile.gettempdir(), DEFAULT_SQLITE_NAME)


def open_store(url: str) -> Store:
    """A new store for `url` (empty: `default_url()`). Connects lazily, on first use."""
    url = (url or "").strip() or default_url()
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        from shared.store.sqlite import SqliteStore

        return SqliteStore(url)
    if scheme in ("postgresql", "postgres"):
        try:
            from shared.store.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigurationError(
                "a postgresql:// store needs psycopg 3: attach the postgres-layer built by "
                f"`scripts/build.py --with-postgres` (or pip install 'psycopg[binary]'): {exc}"
            ) from None

        return PostgresStore(url)
    if scheme == "dynamodb":
        try:
            from shared.store.dynamodb import DynamoDbStore
        except ImportError as exc:
            raise ConfigurationError(
                f"a dynamodb:// store needs boto3 (the Lambda runtime has it; pip install boto3): {exc}"
            ) from None

        return DynamoDbStore(url)
    raise ConfigurationError(
        f"SMS_STORE_URL must start with sqlite:///, postgresql:// or dynamodb://, got {redact_url(url)!r}"
    )


def get_store(url: str) -> Store:
    """The process-wide store for `url` (empty: the default SQLite file)."""
    key = (url or "").strip() or default_url()
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = open_store(key)
        return store


def close_stores() -> None:
    """Close and forget every store `get_store` handed out (tests, shutdown hooks)."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()
