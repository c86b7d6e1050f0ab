"""Function environments on each store kind (SQLite file, PostgreSQL database)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(
    request: pytest.FixtureRequest, function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """`function_env` whose store is SQLite or a fresh PostgreSQL database."""
    from shared.runtime import runtime

    if request.param == "postgres":
        url = request.getfixturevalue("fresh_postgres_url")
        monkeypatch.setenv("SMS_STORE_URL", url)
        function_env = {**function_env, "SMS_STORE_URL": url}
        runtime.reset()
    return function_env
