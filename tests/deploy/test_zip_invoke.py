"""Each built zip, unpacked into an empty folder, imported and invoked by the runtime's Python alone.

SCF/CloudBase packages run under Python 3.10 and Lambda packages under 3.12, with `-S -E`: no
site-packages and no PYTHON* variables, so only the zip and the standard library are importable.
The functions talk to the Tencent SMS emulator on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from local.emulator import Emulator
from scripts import build as build_script
from tests.conftest import emulator_env
from tests.deploy.conftest import Built
from tests.deploy.helpers import BUILD, EVENTS, ROOT

pytestmark = pytest.mark.slow

RUNNER = (Path(__file__).parent / "zip_runner.py").read_text(encoding="utf-8")
EVENT_API_KEY = "local-dev-key-3f9a1c"  # the x-api-key of the HTTP samples in tests/data/events
HANDLER = {
    "aws": "functions/{fn}/handler.handler",
    "scf": "handler.main_handler",
    "cloudbase": "handler.main_handler",
}


@pytest.fixture(scope="session")
def pythons() -> dict[str, str]:
    """The real executables of the runtimes' Pythons (resolved once through pyenv or PATH)."""
    found = {}
    for cloud in build_script.CLOUDS:
        interpreter = build_script.find_interpreter(build_script.TARGET_PYTHON[cloud])
        done = subprocess.run(
            [*interpreter.argv, "-c", "import sys; print(sys.executable)"],
            env=interpreter.env,
            capture_output=True,
            text=True,
            check=True,
        )
        found[cloud] = done.stdout.strip()
    return found


@pytest.fixture(scope="session")
def unpacked(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Every zip extracted into its own empty folder."""
    folders = {}
    for cloud in build_script.CLOUDS:
        for function in built.functions:
            folder = tmp_path_factory.mktemp(f"{cloud}-{function}")
            with zipfile.ZipFile(built.zip(cloud, function)) as archive:
                archive.extractall(folder)
            folders[cloud, function] = folder
    return folders


def invoke(
    python: str,
    folder: Path,
    spec: str,
    env: dict[str, str],
    event: str | Path = "-",
    context: str | Path = "-",
    layer: Path | None = None,
) -> dict[str, Any]:
    """Run the handler in a fresh `python -S -E -B` with only `folder` (and `layer`, where the
    platform mounts it) importable; its JSON answer."""
    done = subprocess.run(
        [python, "-S", "-E", "-B", "-c", RUNNER, str(folder), spec, str(event), str(context)],
        cwd=folder,
        env={**env, "ZIP_RUNNER_LAYERS": str(layer) if layer else ""},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"{spec} failed in {folder}:\n{done.stderr[-4000:]}"
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for module, origin in answer["origins"].items():
        if module == "psycopg" and origin is not None:
            assert layer is not None, f"psycopg came from {origin}"
            assert origin.startswith(str(layer)), f"psycopg came from {origin}"
            continue
        assert origin is None or origin.startswith(str(folder)), f"{module} came from {origin}, not the zip"
    assert answer["site"] is False
    return answer


@pytest.fixture
def zip_env(sms_emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    """A deployed function's environment, pointing at the emulator and a fresh SQLite store."""
    return {
        **emulator_env(sms_emulator.url),
        "SMS_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "SMS_API_KEYS": EVENT_API_KEY,
        "SMS_DEAD_LETTER_URL": f"file://{tmp_path / 'dead-letter.jsonl'}",
        "POWERTOOLS_SERVICE_NAME": "sms",
        "POWERTOOLS_METRICS_NAMESPACE": "SmsFunctionsTest",
        "TMPDIR": str(tmp_path),
        "HOME": str(tmp_path),
        "LC_ALL": "C.UTF-8",
    }


@pytest.mark.usefixtures("built")
def test_every_package_imports_under_its_runtime_python(
    unpacked: dict[tuple[str, str], Path], pythons: dict[str, str], tmp_path: Path
) -> None:
    env = {"TMPDIR": str(tmp_path), "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"}
    for (cloud, function), folder in unpacked.items():
        answer = invoke(pythons[cloud], folder, HANDLER[cloud].format(fn=function), env)
        assert answer["python"].startswith(build_script.TARGET_PYTHON[cloud] + ".")
        assert answer["result"]["handler_is_main_handler"] is True


def _body(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def test_scf_function_url_sends_through_the_emulator(
    unpacked: dict[tuple[str, str], Path],
    pythons: dict[str, str],
    zip_env: dict[str, str],
    sms_emulator: Emulator,
) -> None:
    answer = invoke(
        pythons["scf"],
        unpacked["scf", "send_single"],
        HANDLER["scf"],
        zip_env,
        EVENTS / "scf-function-url.json",
        EVENTS / "scf-context.json",
    )
    body = _body(answer["result"])
    assert body["status"] == "submitted"
    assert body["message_id"]
    (sent,) = sms_emulator.messages("+8613800000000")
    assert sent.message_id == body["message_id"]
    assert sent.params == ("482913",)
    assert sent.template_id == "7839"


def test_cloudbase_mini_program_call_gets_plain_json(
    unpacked: dict[tuple[str, str], Path],
    pythons: dict[str, str],
    zip_env: dict[str, str],
    sms_emulator: Emulator,
) -> None:
    answer = invoke(
        pythons["cloudbase"],
        unpacked["cloudbase", "send_single"],
        HANDLER["cloudbase"],
        zip_env,
        EVENTS / "wx-cloud-function.json",
        EVENTS / "wx-cloud-function-context.json",
    )
    result = answer["result"]
    assert "statusCode" not in result, "callFunction answers are the result itself, not an HTTP envelope"
    assert result["status"] == "submitted"
    assert result["message_id"]
    (sent,) = sms_emulator.messages("+8613800000000")
    assert sent.message_id == result["message_id"]


def test_scf_timer_pulls_receipts_into_the_store(
    unpacked: dict[tuple[str, str], Path],
    pythons: dict[str, str],
    zip_env: dict[str, str],
    sms_emulator: Emulator,
) -> None:
    sent = invoke(
        pythons["scf"],
        unpacked["scf", "send_single"],
        HANDLER["scf"],
        zip_env,
        EVENTS / "scf-function-url.json",
        EVENTS / "scf-context.json",
    )
    assert _body(sent["result"])["status"] == "submitted"
    answer = invoke(
        pythons["scf"],
        unpacked["scf", "pull_status"],
        HANDLER["scf"],
        zip_env,
        EVENTS / "scf-timer.json",
        EVENTS / "scf-context.json",
    )
    (run,) = answer["result"]["runs"]  # the sample's argument names kind=receipts
    assert run["kind"] == "receipts"
    assert "error" not in run
    assert run["pulled"] == 1
    assert run["stored"] == 1
    assert any(r.operation in ("PullSmsSendStatus", "pullstatus") for r in sms_emulator.requests)


def test_lambda_http_api_sends_through_the_emulator(
    unpacked: dict[tuple[str, str], Path],
    pythons: dict[str, str],
    zip_env: dict[str, str],
    sms_emulator: Emulator,
) -> None:
    answer = invoke(
        pythons["aws"],
        unpacked["aws", "send_single"],
        HANDLER["aws"].format(fn="send_single"),
        zip_env,
        EVENTS / "aws-http-api.json",
        "aws:sms-functions-test-send_single",
    )
    assert answer["python"].startswith("3.12.")
    body = _body(answer["result"])
    assert body["status"] == "submitted"
    (sent,) = sms_emulator.messages("+8613800000000")
    assert sent.message_id == body["message_id"]


def test_lambda_schedule_input_pulls_both_kinds(
    unpacked: dict[tuple[str, str], Path],
    pythons: dict[str, str],
    zip_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """The EventBridge rule delivers its `input` ({"max": 100}) as the whole event."""
    event = tmp_path / "schedule-input.json"
    event.write_text(json.dumps({"max": 100}), encoding="utf-8")
    answer = invoke(
        pythons["aws"],
        unpacked["aws", "pull_status"],
        HANDLER["aws"].format(fn="pull_status"),
        zip_env,
        event,
        "aws:sms-functions-test-pull_status",
    )
    runs = answer["result"]["runs"]
    assert [run["kind"] for run in runs] == ["receipts", "replies"]
    assert all("error" not in run for run in runs)


@pytest.fixture(scope="module")
def postgres_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """send_single and pull_status built `--with-postgres` for SCF and AWS, and each cloud's
    PostgreSQL layer, unpacked (the layer as the platform mounts it: its `/opt`)."""
    out = tmp_path_factory.mktemp("build-pg")
    for cloud in ("scf", "aws"):
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "build.py"),
                "--cloud",
                cloud,
                "--function",
                "send_single",
                "--function",
                "pull_status",
                "--with-postgres",
                "--out",
                str(out),
                "--cache-dir",
                str(BUILD / ".cache"),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout + done.stderr[-4000:]
        print(done.stdout)
    folders = {}
    for cloud in ("scf", "aws"):
        for name in ("send_single", "pull_status", build_script.POSTGRES_LAYER):
            archive = out / cloud / f"{name}.zip"
            assert archive.stat().st_size < build_script.DEFAULT_MAX_ZIP_MB * 1024 * 1024  # all under 5 MB
            folder = out / "unpacked" / cloud / name
            with zipfile.ZipFile(archive) as handle:
                handle.extractall(folder)
                names = handle.namelist()
            if name != build_script.POSTGRES_LAYER:
                assert not any(n.startswith("psycopg") for n in names)  # the driver is in the layer only
            folders[cloud, name] = folder
        layer = folders[cloud, build_script.POSTGRES_LAYER]
        folders[cloud, "path"] = layer / build_script.LAYER_PATH[cloud]  # /opt/python or /opt
    return folders


@pytest.mark.postgres
def test_with_postgres_packages_use_a_postgresql_store(
    postgres_packages: dict[tuple[str, str], Path],
    pythons: dict[str, str],
    zip_env: dict[str, str],
    fresh_postgres_url: str,
    sms_emulator: Emulator,
) -> None:
    """`--with-postgres` builds psycopg (binary) for the target Python as a layer; functions with it
    mounted send and pull into PostgreSQL, and without it say what is missing."""
    env = {**zip_env, "SMS_STORE_URL": fresh_postgres_url}
    sent = invoke(
        pythons["scf"],
        postgres_packages["scf", "send_single"],
        HANDLER["scf"],
        env,
        EVENTS / "scf-function-url.json",
        EVENTS / "scf-context.json",
        layer=postgres_packages["scf", "path"],
    )
    assert _body(sent["result"])["status"] == "submitted"
    pulled = invoke(
        pythons["scf"],
        postgres_packages["scf", "pull_status"],
        HANDLER["scf"],
        env,
        EVENTS / "scf-timer.json",
        EVENTS / "scf-context.json",
        layer=postgres_packages["scf", "path"],
    )
    (run,) = pulled["result"]["runs"]
    assert run["pulled"] == 1
    assert run["stored"] == 1
    assert "error" not in run

    def lambda_send(layer: Path | None) -> dict[str, Any]:
        answer = invoke(
            pythons["aws"],
            postgres_packages["aws", "send_single"],
            HANDLER["aws"].format(fn="send_single"),
            env,
            EVENTS / "aws-http-api.json",
            "aws:sms-functions-test-send_single",
            layer=layer,
        )
        return dict(answer["result"])

    aws = lambda_send(postgres_packages["aws", "path"])
    # the same Idempotency-Key as the SCF sample: the Lambda package finds the first send in PostgreSQL
    assert _body(aws)["message_id"] == _body(sent["result"])["message_id"]
    assert len(sms_emulator.messages("+8613800000000")) == 1
    unmounted = lambda_send(None)
    assert unmounted["statusCode"] == 500  # a deployment mistake, named in the answer
    error = json.loads(unmounted["body"])["error"]
    assert error["code"] == "misconfigured"
    assert "postgres-layer" in error["message"]
    assert len(sms_emulator.messages("+8613800000000")) == 1
