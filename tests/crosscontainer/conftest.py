"""Fixtures of the cross-container tests: a shared store per test, the deployment's settings, and
a factory of function containers (separate processes) that the test stops at its end."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, CALLBACK_TOKEN, emulator_env
from tests.crosscontainer.containers import Container, container_env

# Every store the functions can share across containers, by the fixture that yields a fresh,
# empty one per test. Adding a store is one line here (e.g. "dynamodb": "fresh_dynamodb_url").
SHARED_STORES = {
    "postgres": "fresh_postgres_url",
    "dynamodb": "fresh_dynamodb_url",
}


@pytest.fixture(params=list(SHARED_STORES))
def shared_store_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty shared store's URL (every store in SHARED_STORES in turn)."""
    return str(request.getfixturevalue(SHARED_STORES[request.param]))


@pytest.fixture
def deployment(sms_emulator: Emulator) -> dict[str, str]:
    """The settings every container of one deployment gets (without its store)."""
    return {
        **emulator_env(sms_emulator.url),
        "SMS_API_KEYS": API_KEY,
        "SMS_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "SMS_OTP_SECRET": "crosscontainer-otp-secret-5d1f0c",
        "TENCENT_SMS_READ_TIMEOUT": "5",
        # every sample event comes from one client IP: take the end-user limit out of the way so
        # the per-number limit (the default 1/30s) is the one that decides
        "SMS_LIMIT_PER_END_USER": "off",
    }


StartContainer = Callable[..., Container]


@pytest.fixture
def start_container(tmp_path: Path, deployment: dict[str, str]) -> Iterator[StartContainer]:
    """`start_container(function, store_url, concurrency=1, **env)`: a new container of `function`
    with its own temp dir, sharing only `store_url` and the deployment's settings."""
    started: list[Container] = []
    numbers = itertools.count(1)

    def start(function: str, store_url: str, concurrency: int = 1, **env: str) -> Container:
        workdir = tmp_path / f"{function}-{next(numbers)}"
        workdir.mkdir()
        base = {**deployment, "SMS_STORE_URL": store_url, **env}
        if store_url.startswith("dynamodb://"):  # Lambda hands a role's credentials in env vars
            from tests.dynamo_server import use_fake_credentials

            use_fake_credentials(base)
        container = Container(
            function, container_env(base, function, workdir), workdir, concurrency=concurrency
        )
        started.append(container)
        return container

    yield start
    for container in started:
        container.stop()
