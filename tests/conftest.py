"""Fixtures shared by every test folder: the Tencent SMS emulator, settings pointing at it, and a
function environment (env vars + a fresh runtime + a SQLite store in a temp dir)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import settings as hypothesis_settings

from local.emulator import Emulator
from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY
from shared.config import Settings, load_settings
from tests.pg_server import POSTGRES_URL_ENV, server_for_tests

EVENTS = Path(__file__).parent / "data" / "events"

# CI explores the same examples every run (a landing never hangs on a lucky draw); a developer's
# runs draw new ones, and whatever fails is replayed from the local example database.
# No example has a deadline: on a shared 2-core machine a slow example says nothing about the code
# (the guide's rule: no timed assertions in tests).
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")
API_KEY = "test-api-key-7f3a9c2e5b1d"
CALLBACK_TOKEN = "test-callback-token-91c4e2"


def load_event(name: str) -> dict[str, Any]:
    """A trigger event sample from tests/data/events."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server


@pytest.fixture
def sms_emulator(emulator_server: Emulator) -> Iterator[Emulator]:
    """The session's emulator, emptied and fault-free for this test."""
    emulator_server.clear_faults()
    emulator_server.reset()
    yield emulator_server
    emulator_server.clear_faults()


def emulator_env(url: str, api: str = "v3") -> dict[str, str]:
    return {
        "TENCENT_SMS_API": api,
        "TENCENT_SMS_ENDPOINT": url,
        "TENCENT_SMS_APPID": DEFAULT_APPID,
        "TENCENT_SMS_APPKEY": DEFAULT_APPKEY,
        "TENCENTCLOUD_SECRETID": DEFAULT_SECRET_ID,
        "TENCENTCLOUD_SECRETKEY": DEFAULT_SECRET_KEY,
        "TENCENT_SMS_SIGN": "腾讯云",
        "TENCENT_SMS_TEMPLATE_ID": "7839",
    }


@pytest.fixture(params=["v3", "legacy"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(sms_emulator: Emulator, protocol: str) -> Settings:
    """Settings for the parametrised protocol, pointing at the emulator."""
    return load_settings(
        {
            **emulator_env(sms_emulator.url, protocol),
            "TENCENT_SMS_READ_TIMEOUT": "2",
            "TENCENT_SMS_CONNECT_TIMEOUT": "1",
        }
    )


@pytest.fixture
def function_env(
    sms_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Environment of a deployed function, pointing at the emulator and a fresh SQLite store."""
    from shared.runtime import runtime
    from shared.store import close_stores

    env = {
        **emulator_env(sms_emulator.url),
        "SMS_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "SMS_API_KEYS": API_KEY,
        "SMS_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "SMS_DEAD_LETTER_URL": f"file://{tmp_path / 'dead-letter.jsonl'}",
        "TENCENT_SMS_READ_TIMEOUT": "3",
        "POWERTOOLS_METRICS_NAMESPACE": "SmsFunctionsTest",
    }
    for name in list(os.environ):
        if name.startswith(("TENCENT", "SMS_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield env
    runtime.reset()
    close_stores()


@pytest.fixture
def captured_logs() -> Iterator[Any]:
    """Every log line the functions write during the test, formatted exactly as in production."""
    import io
    import logging

    from shared.observability import formatter, logger

    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(formatter)
    underlying = logging.getLogger(logger.name)  # the logging.Logger powertools writes to
    underlying.addHandler(capture)
    try:
        yield stream
    finally:
        underlying.removeHandler(capture)


# --------------------------------------------------------------------------- PostgreSQL


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


# --------------------------------------------------------------------------- DynamoDB


@pytest.fixture(scope="session")
def dynamodb_server() -> Iterator[Any]:
    """moto's DynamoDB server in a process of its own (tests/dynamo_server.py), for the session."""
    from tests.dynamo_server import DynamoServer, use_fake_credentials

    use_fake_credentials()  # inherited by every process the tests start
    server = DynamoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_dynamodb_url(dynamodb_server: Any) -> str:
    """A store URL on a table of this test's own (created on first use)."""
    url: str = dynamodb_server.url()
    return url
