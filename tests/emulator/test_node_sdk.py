"""Tencent's Node.js SDK (`tencentcloud-sdk-nodejs-sms`, what Node cloud functions use) as a
referee: pointed at the emulator, its SendSms goes through.

The SDK signs the endpoint's host name without the port (Tencent's host never has one), so the
emulator must accept a signature over the Host with or without its port. Node and the pinned SDK
come from package.json / package-lock.json (`npm ci` when node_modules lacks them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.emulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, Emulator

ROOT = Path(__file__).resolve().parents[2]
SDK = "tencentcloud-sdk-nodejs-sms"
SCRIPT = Path(__file__).with_name("node_sdk_send.js")
MOBILES = ["+8613800138000", "+8613800138001"]


def _installed() -> bool:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    wanted = lock["packages"][f"node_modules/{SDK}"]["version"]
    manifest = ROOT / "node_modules" / SDK / "package.json"
    return manifest.is_file() and json.loads(manifest.read_text(encoding="utf-8"))["version"] == wanted


@pytest.fixture(scope="module")
def node() -> str:
    """The `node` executable, with the pinned SDK installed from the lock file."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed: the Node.js SDK is one of the emulator's referees")
    if not _installed():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return node


def node_send(node: str, emulator: Emulator, request: dict[str, Any], secret_key: str) -> dict[str, Any]:
    args = {"port": emulator.port, "secretId": DEFAULT_SECRET_ID, "secretKey": secret_key, "request": request}
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    done = subprocess.run(
        [node, str(SCRIPT), json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def send_request() -> dict[str, Any]:
    return {
        "PhoneNumberSet": MOBILES,
        "SmsSdkAppId": DEFAULT_APPID,
        "TemplateId": "7839",
        "SignName": "腾讯云",
        "TemplateParamSet": ["5678"],
        "SessionContext": "node",
    }


def test_node_sdk_send_sms_is_accepted(node: str, emulator: Emulator) -> None:
    answer = node_send(node, emulator, send_request(), DEFAULT_SECRET_KEY)

    assert "error" not in answer, answer
    statuses = answer["response"]["SendStatusSet"]
    assert [(s["PhoneNumber"], s["Code"], s["SessionContext"]) for s in statuses] == [
        (m, "Ok", "node") for m in MOBILES
    ]
    assert emulator.accepted_count == 2
    [recorded] = emulator.requests
    host = recorded.headers["host"]
    assert host.endswith(f":{emulator.port}")  # the port was sent but, as the SDK does, not signed


def test_node_sdk_with_a_wrong_key_is_still_refused(node: str, emulator: Emulator) -> None:
    answer = node_send(node, emulator, send_request(), "not-the-secret-key-0000000000000")

    assert answer["error"]["code"] == "AuthFailure.SignatureFailure"
    assert emulator.accepted_count == 0
