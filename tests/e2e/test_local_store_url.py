"""`python -m local --store-url <url>`: the local gateway on any store, the embedded SQLite file by
default, a store it cannot use refused at start with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from shared.store import open_store
from tests.helpers import free_port
from tests.local_run import ROOT, local_run


def _send(gateway: str, headers: dict[str, str], phone: str) -> str:
    with httpx.Client(timeout=10) as http:
        sent = http.post(
            f"{gateway}/sms/send",
            headers=headers,
            json={"phone": phone, "template_id": "7839", "params": ["1"]},
        )
    assert sent.status_code == 200, sent.text
    return str(sent.json()["message_id"])


def test_store_url_puts_the_gateway_on_that_store(tmp_path: Path, fresh_postgres_url: str) -> None:
    with local_run(tmp_path, args=["--store-url", fresh_postgres_url], pull_interval="0") as run:
        message_id = _send(run.gateway, run.headers, "+8613800000011")
        banner = run.log.read_text(encoding="utf-8")
    with open_store(fresh_postgres_url) as store:
        stored = store.get_message(message_id)
    assert stored is not None
    assert stored.phone == "+8613800000011"
    password = fresh_postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert "postgresql://postgres:***@127.0.0.1" in banner
    assert password not in banner
    assert not (tmp_path / "state" / "sms-functions.db").exists()  # nothing went to the default


def test_the_flag_wins_over_the_environment_and_the_default_stays_the_sqlite_file(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.db"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = {"SMS_STORE_URL": f"sqlite:///{tmp_path / 'from-env.db'}"}
    with local_run(
        tmp_path / "a", env, args=["--store-url", f"sqlite:///{chosen}"], pull_interval="0"
    ) as run:
        message_id = _send(run.gateway, run.headers, "+8613800000012")
    with open_store(f"sqlite:///{chosen}") as store:
        assert store.get_message(message_id) is not None
    assert not (tmp_path / "from-env.db").exists()

    with local_run(tmp_path / "b", pull_interval="0") as run:  # no flag, no SMS_STORE_URL
        message_id = _send(run.gateway, run.headers, "+8613800000013")
    default = tmp_path / "b" / "state" / "sms-functions.db"
    with open_store(f"sqlite:///{default}") as store:
        assert store.get_message(message_id) is not None


def test_a_store_it_cannot_use_stops_it_at_start_with_one_line(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "SMS_"))}
    url = f"postgresql://sms:hunter2-secret@127.0.0.1:{free_port()}/sms?connect_timeout=2"
    done = subprocess.run(
        [sys.executable, "-m", "local", "--port", "0", "--emulator-port", "0", "--state-dir",
         str(tmp_path / "state"), "--store-url", url],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot use the store postgresql://sms:***@127.0.0.1" in done.stderr
    assert "hunter2-secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "Ctrl-C stops" not in done.stdout
