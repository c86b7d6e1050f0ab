"""Session fixtures for the deploy tests: the pinned Node tooling, one build, one `osls package`.

Nothing here talks to a cloud: npm and pip reach their registries, everything else stays on
127.0.0.1. `SMS_BUILD_ARGS` (optional) adds arguments to the build, e.g.
`--requirements /path/to/requirements.lock` to vendor another lock file.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts import build as build_script
from tests.deploy.helpers import BUILD, ROOT, clean_environ

OSLS = ROOT / "node_modules" / ".bin" / "osls"


def _installed_matches_lock() -> bool:
    """node_modules holds exactly the versions package-lock.json pins for our direct tools."""
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    for name in ("osls", "serverless-offline"):
        manifest = ROOT / "node_modules" / name / "package.json"
        if not manifest.is_file():
            return False
        wanted = lock["packages"].get(f"node_modules/{name}", {}).get("version")
        if json.loads(manifest.read_text(encoding="utf-8")).get("version") != wanted:
            return False
    return OSLS.exists()


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """`node_modules/.bin/osls`, installed from the committed lock file with `npm ci` when missing."""
    if not _installed_matches_lock():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not installed; the deploy tests need Node 20+ and npm")
        started = time.monotonic()
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=ROOT,
            env=clean_environ(),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        print(f"npm ci took {time.monotonic() - started:.1f}s")
    return OSLS


@dataclass(frozen=True)
class Built:
    """The result of one `scripts/build.py --cloud all` run into the repository's build/."""

    out: Path
    functions: tuple[str, ...]
    manifests: dict[str, dict[str, Any]]
    log: str

    def zip(self, cloud: str, function: str) -> Path:
        return self.out / cloud / f"{function}.zip"


@pytest.fixture(scope="session")
def built() -> Built:
    """Build every function for every cloud once per session (dependencies cached in build/.cache)."""
    functions, _ = build_script.function_names(None)
    args = [
        sys.executable,
        str(ROOT / "scripts" / "build.py"),
        "--cloud",
        "all",
        "--out",
        str(BUILD),
        *shlex.split(os.environ.get("SMS_BUILD_ARGS", "")),
    ]
    done = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, check=False, timeout=900, env=clean_environ()
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/build.py failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-5000:]}")
    manifests = {
        cloud: json.loads((BUILD / cloud / "manifest.json").read_text(encoding="utf-8"))
        for cloud in build_script.CLOUDS
    }
    return Built(BUILD, tuple(functions), manifests, done.stdout)


@dataclass(frozen=True)
class Packaged:
    """`osls package` output: the CloudFormation template and the folder it was written to."""

    folder: Path
    template: dict[str, Any]
    text: str


# Values put in the packaging environment on purpose: none of them may reach the template.
PLANTED_SECRETS = {
    "TENCENTCLOUD_SECRETID": "AKIDplantedPLANTEDplanted0123456789ab",
    "TENCENTCLOUD_SECRETKEY": "planted-secret-key-do-not-ship-1",
    "TENCENT_SMS_APPKEY": "planted-appkey-do-not-ship-2",
    "SMS_API_KEYS": "planted-api-key-do-not-ship-3",
    "SMS_CALLBACK_TOKEN": "planted-callback-token-4",
    "SMS_STORE_URL": "postgresql://sms:planted-db-password-5@db.internal/sms",
    "SMS_OTP_SECRET": "planted-otp-secret-do-not-ship-6",
}
PLANTED_SETTINGS = {
    "TENCENT_SMS_SDKAPPID": "1400009099",
    "TENCENT_SMS_SIGN": "腾讯云",
    "TENCENT_SMS_TEMPLATE_ID": "7839",
}


def osls_package(node_tools: Path, folder: Path, *params: str) -> Packaged:
    """`osls package --stage prod [--param=…]` from the repository into `folder`, without AWS
    credentials or network, with planted secrets in the environment."""
    env = clean_environ(
        **PLANTED_SECRETS,
        **PLANTED_SETTINGS,
        AWS_SHARED_CREDENTIALS_FILE=str(folder / "none"),
        AWS_CONFIG_FILE=str(folder / "none"),
    )
    done = subprocess.run(
        [
            str(node_tools),
            "package",
            "--stage",
            "prod",
            "--region",
            "ap-southeast-1",
            "--package",
            str(folder),
            *(f"--param={param}" for param in params),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"osls package failed:\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}")
    path = folder / "cloudformation-template-update-stack.json"
    text = path.read_text(encoding="utf-8")
    return Packaged(folder, json.loads(text), text)


@pytest.fixture(scope="session")
def packaged(
    node_tools: Path,
    built: Built,  # noqa: ARG001 - packaging reads the zips this fixture builds
    tmp_path_factory: pytest.TempPathFactory,
) -> Packaged:
    """`osls package --stage prod` from the repository, without AWS credentials or network."""
    return osls_package(node_tools, tmp_path_factory.mktemp("osls-package"))
