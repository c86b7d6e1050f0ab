"""serverless-offline (the real one, `osls offline start --stage local`) serving serverless.yml on
127.0.0.1, with the functions pointed at the Tencent SMS emulator through plain environment values.

serverless-offline runs Python handlers from the repository sources with the virtualenv's Python.
It answers HTTP 200 with a timeout body when a handler fails to import, so bodies are checked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, emulator_env
from tests.deploy.conftest import Built
from tests.deploy.helpers import ROOT, clean_environ, free_port

pytestmark = pytest.mark.slow

READY_TIMEOUT = 90.0


@dataclass(frozen=True)
class Offline:
    url: str
    log: Path


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the whole process group (npx/osls fork node children and Python workers)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def offline(
    node_tools: Path,
    built: Built,  # noqa: ARG001 - serverless-offline runs the zips this fixture builds
    emulator_server: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Offline]:
    """`osls offline start --stage local` in its own session, on free loopback ports."""
    folder = tmp_path_factory.mktemp("offline")
    http_port, lambda_port, ws_port = free_port(), free_port(), free_port()
    venv = Path(sys.executable).parent.parent  # serverless-offline runs $VIRTUAL_ENV/bin/python
    env = clean_environ(
        **emulator_env(emulator_server.url),
        SMS_STORE_URL=f"sqlite:///{folder / 'offline.db'}",
        SMS_API_KEYS=API_KEY,
        SMS_DEAD_LETTER_URL=f"file://{folder / 'dead-letter.jsonl'}",
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        AWS_SHARED_CREDENTIALS_FILE=str(folder / "none"),
        AWS_CONFIG_FILE=str(folder / "none"),
    )
    scratch = ROOT / ".serverless-offline"  # where serverless-offline unpacks the artifacts
    scratch_existed = scratch.exists()
    log = folder / "offline.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(node_tools),
                "offline",
                "start",
                "--stage",
                "local",
                "--host",
                "127.0.0.1",
                "--httpPort",
                str(http_port),
                "--lambdaPort",
                str(lambda_port),
                "--websocketPort",
                str(ws_port),
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # = setsid
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while b"Server ready" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serverless-offline did not start:\n{log.read_text(errors='replace')[-5000:]}")
            time.sleep(0.2)
        yield Offline(f"http://127.0.0.1:{http_port}", log)
    finally:
        _stop(process)
        if not scratch_existed:
            shutil.rmtree(scratch, ignore_errors=True)


def _json(response: httpx.Response, log: Path) -> dict[str, object]:
    body = response.json()
    assert "errorMessage" not in body, (
        f"the handler failed: {body}\n{log.read_text(errors='replace')[-4000:]}"
    )
    return body


def test_post_sms_send_through_serverless_offline(offline: Offline, sms_emulator: Emulator) -> None:
    request = {"phone": "+8613800000000", "template_id": "7839", "params": ["246810"], "sign": "腾讯云"}
    with httpx.Client(base_url=offline.url, timeout=60, trust_env=False) as client:
        response = client.post("/sms/send", json=request, headers={"x-api-key": API_KEY})
        body = _json(response, offline.log)
        assert response.status_code == 200, body
        assert body["status"] == "submitted", body
        assert body["message_id"], body
        (sent,) = sms_emulator.messages("+8613800000000")
        assert sent.message_id == body["message_id"]
        assert sent.params == ("246810",)

        stored = client.get(f"/sms/messages/{body['message_id']}", headers={"x-api-key": API_KEY})
        assert stored.status_code == 200, stored.text
        assert _json(stored, offline.log)["message_id"] == body["message_id"]


def test_offline_refuses_a_missing_api_key(offline: Offline) -> None:
    with httpx.Client(base_url=offline.url, timeout=60, trust_env=False) as client:
        response = client.post("/sms/send", json={"phone": "+8613800000000"})
    body = _json(response, offline.log)
    assert response.status_code == 401, body
    assert body["error"]["code"]  # type: ignore[index]
