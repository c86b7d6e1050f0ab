"""PostgreSQL stops in the middle of a scheduled pull: every receipt Tencent handed out is either in
the store or in the dead-letter sink — none lost, none twice — and the run ends cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.functions.test_tracking_handlers import send, timer
from tests.helpers import read_dead_letters
from tests.pg_server import PostgresServer, postgres_disabled

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A private server this test may stop (the session's shared one must keep running)."""
    if postgres_disabled():
        pytest.skip("SMS_TEST_SKIP_POSTGRES is set")
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.mark.usefixtures("sms_emulator")
def test_postgres_stopping_mid_pull_loses_nothing(
    function_env: dict[str, str],
    own_postgres: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.runtime import runtime
    from shared.store import close_stores

    monkeypatch.setenv("SMS_STORE_URL", own_postgres.url)
    runtime.reset()
    ids = send([f"+86138{i:08d}" for i in range(25)])
    real_pull = runtime.services.client.pull
    pulls: list[int] = []

    def pull_then_stop_postgres(*args: Any, **kwargs: Any) -> Any:
        result = real_pull(*args, **kwargs)
        pulls.append(result.count)
        if len(pulls) == 2:  # the first batch is committed; now the database goes away
            own_postgres.stop(mode="fast")  # the test server runs synchronous_commit=off
        return result

    monkeypatch.setattr(runtime.services.client, "pull", pull_then_stop_postgres)
    run = timer({"kind": "receipts", "max": 10})["runs"][0]
    assert run["stopped"] == "store_unavailable"
    assert run["error"]["code"] == "store_unavailable"
    assert (run["pulled"], run["stored"], run["dead_lettered"]) == (20, 10, 10)

    own_postgres.start()
    close_stores()
    runtime.reset()
    monkeypatch.undo()  # the real pull again
    monkeypatch.setenv("SMS_STORE_URL", own_postgres.url)
    for name, value in function_env.items():
        if name != "SMS_STORE_URL":
            monkeypatch.setenv(name, value)
    runtime.reset()
    stored = {r.message_id for i in ids for r in runtime.services.store.receipts_for(i)}
    sink = read_dead_letters(function_env["SMS_DEAD_LETTER_URL"])
    dead = [item["message_id"] for entry in sink for item in entry["items"]]
    assert len(stored) == 10
    assert len(dead) == len(set(dead)) == 10
    assert not stored & set(dead)
    rest = timer({"kind": "receipts", "max": 10})["runs"][0]  # the 5 Tencent still held
    assert rest["stored"] == 5
    assert len({r.message_id for i in ids for r in runtime.services.store.receipts_for(i)}) == 15
