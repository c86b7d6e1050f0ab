"""Fixtures that run every store test against SQLite and a real PostgreSQL server.

PostgreSQL: `SMS_TEST_POSTGRES_URL` (a server someone else runs; each test gets its own database
created through it) or else a private server started once per session from the local binaries
(`tests/pg_server.py`). Without binaries the PostgreSQL half fails, unless
`SMS_TEST_SKIP_POSTGRES=1`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from shared.store import Store, open_store
from tests.pg_server import POSTGRES_URL_ENV, server_for_tests


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL database the session may create databases through."""
    external = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if external:
        yield external
        return
    server = server_for_tests()
    try:
        server.start()
    except Exception:
        server.cleanup()
        raise
    try:
        yield server.url
    finally:
        server.cleanup()


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database for one test."""
    import psycopg

    name = "sms_t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(postgres_url, name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A URL of an empty store of each kind (SQLite: a file, so several connections share it)."""
    if request.param == "sqlite":
        return f"sqlite:///{os.path.join(tmp_path, 'store.db')}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
def open_stores(store_url: str) -> Iterator[Callable[[], Store]]:
    """Open more stores (connections) on the same database; all closed after the test."""
    opened: list[Store] = []

    def opener() -> Store:
        store = open_store(store_url)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_stores: Callable[[], Store]) -> Store:
    """An empty store of each kind."""
    return open_stores()
