"""The first minutes of a newcomer: a taken port says which one and how to pick another, the banner's
curl works when pasted, and `python -m local invoke` calls a function directly against a running
local emulator and store."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port
from tests.local_run import ROOT, local_run


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "SMS_"))}
    return {**env, **extra}


def _local(args: list[str], env: dict[str, str], state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", *args, "--state-dir", str(state)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(("option", "what"), [("--emulator-port", "emulator"), ("--port", "HTTP API")])
def test_a_taken_port_names_itself_and_the_option_that_moves_it(
    tmp_path: Path, option: str, what: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "--port" if option == "--emulator-port" else "--emulator-port"
        done = _local([option, str(port), other, "0", "--pull-interval", "0"], _clean_env(), tmp_path)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert f"port {port}" in line, line
    assert what in line, line
    assert option in line, line
    assert "Traceback" not in done.stderr
    assert "Errno" not in done.stderr


def test_the_banners_curl_works_when_pasted_with_keys_already_set(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    assert bash, "bash runs the pasted lines"
    key = "pasted-key-5c1e"
    with local_run(
        tmp_path, {"SMS_API_KEYS": f"{key},another-key"}, pull_interval="0", require_key=False
    ) as run:
        banner = run.log.read_text(encoding="utf-8")
        lines = banner.split("Send one:\n", 1)[1].split("Then read", 1)[0]
        pasted = subprocess.run(
            [bash, "-c", lines], env={"PATH": os.environ["PATH"], "SMS_API_KEYS": f"{key},another-key"},
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert key not in banner  # a configured key is not printed
    answer = json.loads(pasted.stdout)
    assert answer["status"] == "submitted", pasted.stdout + pasted.stderr


def test_invoke_calls_a_function_directly_against_the_running_emulator(tmp_path: Path) -> None:
    with local_run(tmp_path, pull_interval="0") as run:
        state = tmp_path / "state"
        emulator = ["--emulator-url", run.emulator]
        event = json.dumps({"mobile": "13800000077", "nationcode": "86", "params": ["4321"]})
        sent = _local(["invoke", "send_single", event, *emulator], _clean_env(), state)
        assert sent.returncode == 0, sent.stderr
        answer = json.loads(sent.stdout)
        assert answer["status"] == "submitted"
        assert answer["phone"] == "+8613800000077"
        with httpx.Client(timeout=10) as http:
            assert run.inbox(http, "+8613800000077")  # the running emulator received it
            stored = http.get(f"{run.gateway}/sms/messages/{answer['message_id']}", headers=run.headers)
        assert stored.status_code == 200  # the running gateway's store has it
        code = _local(["invoke", "otp", json.dumps({"action": "send", "phone": "+8613800000078"}), *emulator],
                      _clean_env(), state)  # fmt: skip
        assert code.returncode == 0, code.stderr
        with httpx.Client(timeout=10) as http:
            [sms] = run.inbox(http, "+8613800000078")
            digits = re.search(r"\d{6}", sms["text"])
            assert digits, sms
            verified = http.post(
                f"{run.gateway}/otp/verify", headers=run.headers,
                json={"phone": "+8613800000078", "code": digits.group(0), "purpose": "login"},
            )  # fmt: skip
        assert verified.status_code == 200, verified.text  # a code sent by invoke, checked by the gateway


def test_invoke_without_a_running_emulator_says_what_to_start(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = _local(["invoke", "send_single", "{}", "--emulator-url", url], _clean_env(), tmp_path)
    assert done.returncode == 2
    assert "make run" in done.stderr
    assert url in done.stderr
    assert "Traceback" not in done.stderr


def test_invoke_refuses_an_event_that_is_not_json(tmp_path: Path) -> None:
    done = _local(["invoke", "send_single", "{nope"], _clean_env(), tmp_path)
    assert done.returncode == 2
    assert "not JSON" in done.stderr
