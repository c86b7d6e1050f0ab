"""Opening stores: URLs, the per-process cache, lazy driver imports, masked passwords."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.store import close_stores, default_url, get_store, open_store
from shared.store.base import redact_url, scrub, url_secrets
from shared.store.sqlite import SqliteStore, parse_sqlite_url
from tests.helpers import ROOT


def test_import_does_not_load_drivers() -> None:
    code = (
        "import sys, shared.store as s; s.open_store('postgresql://u:p@127.0.0.1:1/x');"
        " s.open_store('sqlite:///:memory:');"
        " print('psycopg' in sys.modules, 'sqlite3' in sys.modules)"
    )
    bare = "import sys, shared.store; print('psycopg' in sys.modules, 'sqlite3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", bare], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["True", "True"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///:memory:", (":memory:", False)),
        ("sqlite://", (":memory:", False)),
        ("sqlite:////abs/dir/x.db", ("file:/abs/dir/x.db", True)),
        ("sqlite:////abs/dir/x.db?mode=ro", ("file:/abs/dir/x.db?mode=ro", True)),
        ("sqlite:////abs/my%20dir/x.db", ("file:/abs/my%20dir/x.db", True)),
    ],
)
def test_parse_sqlite_url(url: str, expected: tuple[str, bool]) -> None:
    target, uri, busy = parse_sqlite_url(url)
    assert (target, uri) == expected
    assert busy == 5000


def test_sqlite_relative_path_is_resolved_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target, uri, busy = parse_sqlite_url("sqlite:///data/x.db?busy_timeout=250")
    assert uri
    assert target == f"file:{tmp_path}/data/x.db"
    assert busy == 250
    (tmp_path / "data").mkdir()
    with open_store("sqlite:///data/x.db") as store:
        store.ping()
    assert (tmp_path / "data" / "x.db").exists()


def test_default_url_is_a_file_in_the_temp_dir() -> None:
    assert default_url() == "sqlite:///" + os.path.join(tempfile.gettempdir(), "sms-functions.db")
    store = open_store("")
    assert isinstance(store, SqliteStore)
    assert store.url == default_url()


def test_postgres_schemes_and_unknown_scheme() -> None:
    for url in ("postgresql://u:secret@127.0.0.1:1/db", "postgres://u:secret@127.0.0.1:1/db"):
        store = open_store(url)
        assert store.dialect == "postgresql"
        assert "secret" not in store.url
    with pytest.raises(ConfigurationError) as info:
        open_store("mysql://u:hunter2@localhost/db")
    assert "hunter2" not in str(info.value)


def test_both_postgres_spellings_connect(store_url: str) -> None:
    for url in (store_url, store_url.replace("postgresql://", "postgres://", 1)):
        with open_store(url) as store:
            store.ping()


def test_get_store_caches_per_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cached.db"
    try:
        first = get_store(url)
        assert get_store(url) is first
        assert get_store(f"sqlite:///{tmp_path}/other.db") is not first
    finally:
        close_stores()
    again = get_store(url)  # close_stores forgot every store: this one is opened anew
    try:
        assert again is not first
    finally:
        close_stores()


def test_memory_store_shared_by_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with open_store("sqlite:///:memory:") as store:
        with ThreadPoolExecutor(8) as pool:
            owners = list(pool.map(lambda i: store.idempotency_begin(
                "k", fingerprint=str(i), now=1, in_progress_ttl=9, ttl=9), range(16)))  # fmt: skip
        assert sum(o is None for o in owners) == 1
        assert store.idempotency_begin("k", fingerprint="", now=2, in_progress_ttl=9, ttl=9) is not None


def test_redaction() -> None:
    url = "postgresql://app:p%40ss@db:5432/sms?sslmode=require&password=other"
    assert redact_url(url) == "postgresql://app:***@db:5432/sms?sslmode=require&password=***"
    assert set(url_secrets(url)) == {"p%40ss", "p@ss", "other"}
    assert scrub("failed for p@ss and other", url_secrets(url)) == "failed for *** and ***"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
