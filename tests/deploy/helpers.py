"""What the deploy tests share: paths, the function and environment contracts, descriptor loaders."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from shared.routes import TABLE
from tests.helpers import ROOT, free_port  # noqa: F401 - the deploy tests import it from here

DEPLOY = ROOT / "deploy"
BUILD = ROOT / "build"
EVENTS = ROOT / "tests" / "data" / "events"

ALL_FUNCTIONS = ("send_single", "send_multi", "pull_status", "status_callback", "otp")
# CloudBase functions can be called by every user of the mini-program (wx.cloud.callFunction),
# so only the ones meant for that are deployed there; send_multi/status_callback stay off it.
CLOUDBASE_REQUIRED = ("send_single", "otp", "pull_status")
CLOUDBASE_FORBIDDEN = ("send_multi", "status_callback")

ENV_NAMES = frozenset(
    {
        "TENCENT_SMS_API",
        "TENCENT_SMS_APPID",
        "TENCENT_SMS_APPKEY",
        "TENCENTCLOUD_SECRETID",
        "TENCENTCLOUD_SECRETKEY",
        "TENCENT_SMS_SDKAPPID",
        "TENCENT_SMS_REGION",
        "TENCENT_SMS_ENDPOINT",
        "TENCENT_SMS_SIGN",
        "TENCENT_SMS_TEMPLATE_ID",
        "TENCENT_SMS_PROXY",
        "SMS_STORE_URL",
        "SMS_API_KEYS",
        "SMS_CALLBACK_TOKEN",
        "SMS_DEAD_LETTER_URL",
        "SMS_OTP_SECRET",
        "SMS_OTP_TEMPLATE_ID",
        "SMS_ALLOWED_COUNTRIES",
        "SMS_TEMPLATES",
        "SMS_FANOUT_QUEUE_URL",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    }
)
SECRET_NAMES = frozenset(
    {
        "TENCENT_SMS_APPKEY",
        "TENCENTCLOUD_SECRETID",
        "TENCENTCLOUD_SECRETKEY",
        "SMS_STORE_URL",
        "SMS_API_KEYS",
        "SMS_CALLBACK_TOKEN",
        "SMS_OTP_SECRET",
    }
)

# "METHOD /path" → function: the declared route table (shared.routes), the one source.
ROUTES = {route.key: route.function for route in TABLE}

# Patterns of things that must never be in a template or a zip.
SECRET_PATTERNS = (
    re.compile(rb"AKID[0-9A-Za-z]{32}"),  # a Tencent SecretId
    re.compile(rb"AKIA[0-9A-Z]{16}"),  # an AWS access key id
    re.compile(rb"-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----"),
    re.compile(rb"postgres(?:ql)?://[^:/\s\"']+:[^@\s\"']+@"),  # a database URL with a password
)


def present_functions() -> list[str]:
    """The functions whose handler exists now (otp may land later)."""
    return [name for name in ALL_FUNCTIONS if (ROOT / "functions" / name / "handler.py").is_file()]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def aws_config() -> dict[str, Any]:
    return load_yaml(ROOT / "serverless.yml")


def scf_configs() -> dict[str, dict[str, Any]]:
    """deploy/scf/<fn>/serverless.yml by function folder name."""
    return {path.parent.name: load_yaml(path) for path in sorted((DEPLOY / "scf").glob("*/serverless.yml"))}


def cloudbase_config() -> dict[str, Any]:
    return json.loads((DEPLOY / "cloudbase" / "cloudbaserc.json").read_text(encoding="utf-8"))


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any function setting, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TENCENT", "SMS_", "POWERTOOLS_", "AWS_"))
        and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(
        {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off", "SLS_DEPRECATION_DISABLE": "*"}
    )
    env.update(extra)
    return env
