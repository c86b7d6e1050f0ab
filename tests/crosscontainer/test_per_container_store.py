"""Why the store must be shared, and the warning a cloud container logs when it is not: with a
SQLite file in each container's temp dir, limits, idempotency, codes and receipts split apart."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator import Emulator
from shared.hosting import cloud_platform
from tests.conftest import API_KEY, load_event
from tests.crosscontainer.conftest import StartContainer
from tests.crosscontainer.containers import Container
from tests.crosscontainer.events import http_event, send_event
from tests.otp.helpers import answer_of

PER_CONTAINER_STORE = ""  # SMS_STORE_URL unset: the default SQLite file in the container's temp dir


def _scf_send(sample: str) -> dict[str, Any]:
    event = load_event(sample)
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "idempotency-key"}
    event["headers"]["x-api-key"] = API_KEY
    return event


PLATFORMS = {
    "AWS Lambda": ({}, send_event("+8613800000007"), None),
    "Tencent SCF": (
        {"AWS_LAMBDA_FUNCTION_NAME": "", "SCF_FUNCTIONNAME": "send_single", "TENCENTCLOUD_RUNENV": "SCF"},
        _scf_send("scf-function-url.json"),
        load_event("scf-context.json"),
    ),
    "Tencent CloudBase": (
        {"AWS_LAMBDA_FUNCTION_NAME": "", "SCF_FUNCTIONNAME": "send_single", "TCB_ENV": "sms-prod-1a2b3c"},
        _scf_send("cloudbase-http-access.json"),
        load_event("scf-context.json"),
    ),
}


def _warnings(container: Container) -> list[dict[str, Any]]:
    return [
        r
        for r in container.log_records()
        if r.get("level") == "WARNING" and "per container" in str(r.get("message"))
    ]


@pytest.mark.usefixtures("sms_emulator")
@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_a_cloud_container_on_sqlite_warns_once(start_container: StartContainer, platform: str) -> None:
    env, event, context = PLATFORMS[platform]
    container = start_container("send_single", PER_CONTAINER_STORE, **env)
    statuses = [answer_of(container.invoke(event, context))[0] for _ in range(2)]
    assert statuses == [200, 429]  # two real invocations: a send, then the per-number limit
    container.stop()
    (warning,) = _warnings(container)
    assert warning["platform"] == platform
    assert warning["store"] == "sqlite"
    for words in ("limits", "idempotency", "one-time codes", "receipts", "dynamodb://", "postgresql://"):
        assert words in warning["message"], words
    assert str(container.workdir) not in container.stderr()  # no machine path in the logs either


@pytest.mark.usefixtures("sms_emulator")
def test_no_warning_on_a_shared_store_or_off_the_clouds(
    shared_store_url: str, start_container: StartContainer
) -> None:
    on_shared = start_container("send_single", shared_store_url)
    local = start_container("send_single", PER_CONTAINER_STORE, AWS_LAMBDA_FUNCTION_NAME="")
    for container, phone in ((on_shared, "+8613800000008"), (local, "+8613800000009")):
        assert answer_of(container.invoke(send_event(phone)))[0] == 200
        container.stop()
        assert _warnings(container) == []


def test_serverless_offline_is_not_a_cloud() -> None:
    assert cloud_platform({"AWS_LAMBDA_FUNCTION_NAME": "f", "IS_OFFLINE": "true"}) is None
    assert cloud_platform({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}) == "AWS Lambda"
    assert cloud_platform({}) is None


def test_per_container_sqlite_splits_what_a_shared_store_keeps(
    start_container: StartContainer, sms_emulator: Emulator
) -> None:
    """The reason for all of the above: two warm containers on their own SQLite files each allow
    'one SMS per 30 s' to the same number, and pull_status never sees what send_single wrote."""
    phone = "+8613800000010"
    sent = []
    for _ in range(2):
        status, body, _ = answer_of(
            start_container("send_single", PER_CONTAINER_STORE).invoke(send_event(phone))
        )
        assert status == 200, body
        sent.append(body["message_id"])
    assert len(sms_emulator.messages(phone)) == 2  # the limit said one
    reader = start_container("pull_status", PER_CONTAINER_STORE)
    status, body, _ = answer_of(reader.invoke(http_event("GET", f"/sms/messages/{sent[0]}")))
    assert status == 404, body
