"""A database that cannot be reached or written is `StoreUnavailableError`, password never shown."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.errors import ConfigurationError, SmsError, StoreUnavailableError
from shared.models import Receipt
from shared.store import Store, open_store
from tests.pg_server import POSTGRES_URL_ENV, PostgresServer, find_bindir, server_for_tests

RECEIPT = Receipt("m1", "+8613800000000", "delivered", "DELIVRD", "", 1000)


def claim(store: Store, key: str = "k") -> object:
    return store.idempotency_begin(key, fingerprint="f", now=1, in_progress_ttl=10, ttl=10)


# -- SQLite ----------------------------------------------------------------------------------------
def test_sqlite_path_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    store = open_store(f"sqlite:///{tmp_path}/a-file/store.db")
    with pytest.raises(StoreUnavailableError, match="unable to open"):
        store.ping()
    with pytest.raises(StoreUnavailableError):
        store.save_receipts([RECEIPT], source="pull", now=1)


def test_sqlite_read_only_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with open_store(url) as store:
        store.save_receipts([RECEIPT], source="pull", now=1)
    read_only = open_store(url + "?mode=ro")
    try:
        with pytest.raises(StoreUnavailableError) as info:
            read_only.save_receipts([RECEIPT], source="pull", now=2)
        assert info.value.status == 503
        assert info.value.code == "store_unavailable"
    finally:
        read_only.close()


def test_sqlite_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StoreUnavailableError):
        open_store(f"sqlite:///{path}").ping()


def test_sqlite_locked_beyond_the_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db?busy_timeout=200"
    store = open_store(url)
    store.ping()
    blocker = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailableError, match="locked"):
            claim(store)
        assert store.get_message("m1") is None  # readers are not blocked in WAL mode
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert claim(store) is None  # and it recovers once the lock is gone
    store.close()


def test_sqlite_other_database_errors_are_internal(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/store.db")

    def bad(tx: object) -> None:
        tx.execute("INSERT INTO otp_codes (id) VALUES ('x')")  # type: ignore[attr-defined]

    with pytest.raises(SmsError) as info:
        store.transaction(bad)  # type: ignore[attr-defined]
    assert not isinstance(info.value, StoreUnavailableError)
    assert info.value.code == "store_error"
    store.close()


# -- PostgreSQL ------------------------------------------------------------------------------------
@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, so it can be stopped."""
    if os.environ.get(POSTGRES_URL_ENV) and find_bindir() is None:
        pytest.skip(f"needs local PostgreSQL binaries to stop a server ({POSTGRES_URL_ENV} is set)")
    server = server_for_tests()
    server.password = "s3cr3t-Pa55word"
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.mark.postgres
def test_postgres_server_down_then_back(own_server: PostgresServer) -> None:
    store = open_store(own_server.url)
    assert own_server.password not in store.url
    assert claim(store, "before") is None

    # restarted while the container was idle: the dead connection is replaced transparently
    own_server.stop()
    own_server.start()
    assert claim(store, "after-restart") is None

    own_server.stop()
    for _ in range(2):
        with pytest.raises(StoreUnavailableError) as info:
            claim(store, "while-down")
        message = str(info.value)
        assert own_server.password not in message
        assert "unavailable" in message
        assert info.value.status == 503
        assert own_server.url.split("@")[1] in message
        assert info.value.__cause__ is None
        assert info.value.__context__ is None
    with pytest.raises(StoreUnavailableError):
        open_store(own_server.url).ping()

    own_server.start()
    assert claim(store, "back") is None
    assert claim(store, "before") is not None  # nothing was lost
    store.close()


@pytest.mark.postgres
def test_postgres_wrong_password(own_server: PostgresServer) -> None:
    url = own_server.url.replace(own_server.password, "Wr0ng-Pa55word")
    with pytest.raises(StoreUnavailableError) as info:
        open_store(url).ping()
    assert "Wr0ng-Pa55word" not in str(info.value)
    assert own_server.password not in str(info.value)
    assert "password authentication failed" in str(info.value)


@pytest.mark.postgres
def test_postgres_connection_killed_is_reopened(postgres_url: str, fresh_postgres_url: str) -> None:
    import psycopg

    store = open_store(fresh_postgres_url)
    assert claim(store, "one") is None
    dbname = fresh_postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    assert killed == [(True,)]
    assert claim(store, "two") is None
    assert claim(store, "one") is not None
    store.close()


def test_postgres_unreachable_or_invalid_url() -> None:
    with pytest.raises(StoreUnavailableError) as info:
        open_store("postgresql://u:hunter2@127.0.0.1:1/x?connect_timeout=1").ping()
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigurationError) as bad:
        open_store("postgresql://u:hunter2@127.0.0.1:1/x?nonsense_option=1").ping()
    assert "hunter2" not in str(bad.value)
