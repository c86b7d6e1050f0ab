"""examples/miniprogram: the project files are valid, and the pages (run in Node with a stub `wx`)
call the CloudBase functions with the documented event shapes and show answers and errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import ROOT, cloudbase_config

EXAMPLE = ROOT / "examples" / "miniprogram"
HARNESS = Path(__file__).parent / "miniprogram_harness.js"


def _value(text: str) -> dict[str, Any]:
    return {"detail": {"value": text}}


def run_page(page: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; the deploy tests need Node 20+")
    scenario = {"app": str(EXAMPLE / "app.js"), "page": str(EXAMPLE / page), "steps": steps}
    done = subprocess.run(
        [node, str(HARNESS), json.dumps(scenario)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_project_files_are_complete_and_valid() -> None:
    project = json.loads((EXAMPLE / "project.config.json").read_text(encoding="utf-8"))
    assert project["cloudfunctionRoot"] == "cloudfunctions/"
    app = json.loads((EXAMPLE / "app.json").read_text(encoding="utf-8"))
    for page in app["pages"]:
        for suffix in (".js", ".wxml", ".wxss", ".json"):
            assert (EXAMPLE / f"{page}{suffix}").is_file(), f"{page}{suffix}"
    deployed = {f["name"] for f in cloudbase_config()["functions"]}
    assert "send_single" in deployed
    if (ROOT / "functions" / "otp" / "handler.py").is_file():
        assert "otp" in deployed, "the OTP page calls otp: deploy it to CloudBase"


def test_send_page_calls_send_single_with_the_seed_shape() -> None:
    answer = {"message_id": "2026:4f9c1e", "phone": "+8613800000000", "status": "submitted", "fee": 1}
    out = run_page(
        "pages/index/index.js",
        [
            {"call": "onMobileInput", "event": _value("13800000000")},
            {"call": "send", "respond": {"result": answer}},
        ],
    )
    assert out["init"] == [{"env": "your-env-id", "traceUser": True}]
    assert out["calls"] == [{"name": "send_single", "data": {"mobile": "13800000000", "nationcode": "86"}}]
    assert out["data"]["result"] == {
        "messageId": "2026:4f9c1e",
        "phone": "+8613800000000",
        "status": "submitted",
        "fee": 1,
    }
    assert out["data"]["error"] is None
    assert out["data"]["sending"] is False


def test_send_page_shows_the_error_code_and_message() -> None:
    error = {"error": {"code": "tencent_rejected", "message": "签名未审批"}}
    out = run_page(
        "pages/index/index.js",
        [
            {"call": "onMobileInput", "event": _value("13800000000")},
            {"call": "onParamsInput", "event": _value("482913, 5")},
            {"call": "send", "respond": {"result": error}},
        ],
    )
    assert out["calls"][0]["data"] == {"mobile": "13800000000", "nationcode": "86", "params": ["482913", "5"]}
    assert out["data"]["error"] == {"code": "tencent_rejected", "message": "签名未审批"}
    assert out["data"]["result"] is None


def test_send_page_reports_a_failed_call_and_refuses_a_bad_number() -> None:
    out = run_page(
        "pages/index/index.js",
        [
            {"call": "onMobileInput", "event": _value("13800000000")},
            {
                "call": "send",
                "reject": {"errCode": -501000, "errMsg": "FunctionName parameter could not be found"},
            },
        ],
    )
    assert out["data"]["error"] == {"code": "-501000", "message": "FunctionName parameter could not be found"}
    out = run_page(
        "pages/index/index.js", [{"call": "onMobileInput", "event": _value("12")}, {"call": "send"}]
    )
    assert out["calls"] == []
    assert out["data"]["error"]["code"] == "invalid_mobile"


def test_otp_page_sends_then_verifies() -> None:
    out = run_page(
        "pages/otp/otp.js",
        [
            {"call": "onMobileInput", "event": _value("13800000000")},
            {
                "call": "sendCode",
                "respond": {"result": {"id": "otp-1", "expires_in": 300, "resend_after": 60}},
            },
            {"call": "onCodeInput", "event": _value("482913")},
            {"call": "verify", "respond": {"result": {"verified": True}}},
        ],
    )
    assert [c["data"] for c in out["calls"]] == [
        {"action": "send", "mobile": "13800000000", "nationcode": "86"},
        {"action": "verify", "mobile": "13800000000", "nationcode": "86", "code": "482913", "id": "otp-1"},
    ]
    assert {c["name"] for c in out["calls"]} == {"otp"}
    assert out["data"]["verified"] is True
    assert out["data"]["sent"] == {"id": "otp-1", "expiresIn": 300}


def test_otp_page_shows_a_wrong_code() -> None:
    out = run_page(
        "pages/otp/otp.js",
        [
            {"call": "onMobileInput", "event": _value("13800000000")},
            {
                "call": "sendCode",
                "respond": {"result": {"id": "otp-1", "expires_in": 300, "resend_after": 60}},
            },
            {"call": "onCodeInput", "event": _value("000000")},
            {
                "call": "verify",
                "respond": {"result": {"error": {"code": "otp_mismatch", "message": "验证码错误"}}},
            },
        ],
    )
    assert out["data"]["verified"] is False
    assert out["data"]["error"] == {"code": "otp_mismatch", "message": "验证码错误"}
    assert out["data"]["countdown"] == 60
