"""Fixtures that run every store test against SQLite, a real PostgreSQL server and a DynamoDB-API
server (moto's server mode, started by the tests: tests/dynamo_server.py).

PostgreSQL: `SMS_TEST_POSTGRES_URL` (a server someone else runs; each test gets its own database
created through it) or else a private server started once per session from the local binaries
(`tests/pg_server.py`). Without binaries the PostgreSQL half fails, unless
`SMS_TEST_SKIP_POSTGRES=1`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from shared.store import Store, open_store


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("dynamodb", marks=pytest.mark.dynamodb),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A URL of an empty store of each kind (SQLite: a file, so several connections share it)."""
    if request.param == "sqlite":
        return f"sqlite:///{os.path.join(tmp_path, 'store.db')}"
    if request.param == "dynamodb":
        dynamo: str = request.getfixturevalue("fresh_dynamodb_url")
        return dynamo
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
