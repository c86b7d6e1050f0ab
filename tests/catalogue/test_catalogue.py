"""The template catalogue: synced from the emulator with DescribeSmsTemplateList, listed, refreshed
on the schedule, and used to refuse a send before Tencent is called."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator import Emulator
from local.emulator.catalogue import default_templates
from tests.helpers import AwsContext, answer_body, handler, http_event, reconfigure

# The emulator's default catalogue, as Tencent would list it (by template id)
EMULATOR_TEMPLATES = sorted((t.id for t in default_templates()), key=int)


def call(function: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    answer = handler(function).handler(http_event(method, path, body), AwsContext())
    return answer["statusCode"], answer_body(answer)


def tencent_code(answer: dict[str, Any]) -> str:
    return str(answer.get("tencent_code") or answer["error"]["tencent_code"])


def sync() -> dict[str, Any]:
    status, body = call("pull_status", "POST", "/sms/templates/sync")
    assert status == 200, body
    return body


@pytest.mark.usefixtures("function_env")
def test_sync_stores_and_lists_the_emulator_catalogue() -> None:
    assert sync()["synced"] == len(EMULATOR_TEMPLATES)
    status, listing = call("pull_status", "GET", "/sms/templates")
    assert status == 200
    by_id = {t["template_id"]: t for t in listing["templates"]}
    assert list(by_id) == EMULATOR_TEMPLATES
    assert (by_id["7841"]["international"], by_id["7841"]["status"]) == (1, 0)
    assert (by_id["7842"]["status"], by_id["7842"]["status_name"]) == (1, "in review")
    assert by_id["7843"]["status"] == -1
    assert "拒收请回复R" in by_id["7843"]["review_reply"]
    assert by_id["7840"]["params"] == 2
    assert by_id["7840"]["text"] == "您的验证码是{1}，{2}分钟内有效。"
    assert listing["synced_at"] == by_id["7839"]["synced_at"] > 0


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"phone": "+8613800000001", "template_id": "7842", "params": ["A1"]},
            "template_not_live",
            "template_id",
        ),
        (
            {"phone": "+8613800000001", "template_id": "7843", "params": ["5"]},
            "template_not_live",
            "template_id",
        ),
        (
            {"phone": "+8613800000001", "template_id": "7839", "params": ["1", "2"]},
            "wrong_param_count",
            "params",
        ),
        (
            {"phone": "+8613800000001", "template_id": "7840", "params": ["123456"]},
            "wrong_param_count",
            "params",
        ),
        ({"phone": "+8613800000001", "template_id": "9999", "params": []}, "unknown_template", "template_id"),
        (
            {"phone": "+8613800000001", "template_id": "7839", "params": ["12ab"]},
            "verification_code_params",
            "params[0]",
        ),
        (
            {"phone": "+8613800000001", "template_id": "7839", "params": ["1234567"]},
            "verification_code_params",
            "params[0]",
        ),
        (
            {"phone": "+8613800000001", "template_id": "7841", "params": ["1234"]},
            "template_region_mismatch",
            "phone",
        ),
    ],
)
def test_single_send_refused_before_tencent(
    sms_emulator: Emulator, body: dict[str, Any], code: str, field: str
) -> None:
    sync()
    before = len(sms_emulator.requests)
    status, answer = call("send_single", "POST", "/sms/send", body)
    assert status == 400, answer
    assert (answer["error"]["code"], answer["error"]["field"]) == (code, field)
    assert answer["error"]["tencent_rule"]
    assert len(sms_emulator.requests) == before  # Tencent was never called
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("function_env")
def test_multi_send_names_the_number_whose_region_the_template_cannot_reach(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, SMS_ALLOWED_COUNTRIES="*")
    sync()
    before = len(sms_emulator.requests)
    body = {"phones": ["+8613800000001", "+14155550100"], "template_id": "7839", "params": ["1234"]}
    status, answer = call("send_multi", "POST", "/sms/send-multi", body)
    assert status == 400, answer
    assert (answer["error"]["code"], answer["error"]["field"]) == ("template_region_mismatch", "phones[1]")
    assert answer["error"]["tencent_rule"] == "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone"
    assert len(sms_emulator.requests) == before


@pytest.mark.usefixtures("function_env")
def test_live_template_still_sends_after_sync(sms_emulator: Emulator) -> None:
    sync()
    status, answer = call("send_single", "POST", "/sms/send", {"phone": "+8613800000002", "params": ["4321"]})
    assert status == 200, answer
    assert sms_emulator.messages("+8613800000002")[0].template_id == "7839"


@pytest.mark.usefixtures("function_env")
def test_static_override_wins_over_the_catalogue(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync()
    reconfigure(monkeypatch, SMS_TEMPLATES='{"7839": {"params": 1, "text": "{1} is your code"}, "7842": 1}')
    # SMS_TEMPLATES says 7842 may be sent: we let it through, and Tencent (the emulator) refuses it.
    status, answer = call(
        "send_single",
        "POST",
        "/sms/send",
        {"phone": "+8613800000003", "template_id": "7842", "params": ["A1"]},
    )
    assert status == 502, answer
    assert tencent_code(answer) == "FailedOperation.TemplateUnapprovedOrNotExist", answer
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("api", ["v3", "legacy"])
def test_emulator_refuses_sends_to_templates_not_live(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("TENCENT_SMS_API", api)
    runtime.reset()  # no sync: nothing stops the send on our side, so the emulator must
    for template_id, number in (("7842", "+8613800000004"), ("7843", "+8613800000005")):
        status, answer = call(
            "send_single", "POST", "/sms/send", {"phone": number, "template_id": template_id, "params": ["1"]}
        )
        expected = "FailedOperation.TemplateUnapprovedOrNotExist" if api == "v3" else "1014"
        assert status != 200, answer
        assert tencent_code(answer) == expected, answer
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("function_env")
def test_legacy_api_has_no_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    reconfigure(monkeypatch, TENCENT_SMS_API="legacy")
    status, answer = call("pull_status", "POST", "/sms/templates/sync")
    assert status == 501
    assert answer["error"]["code"] == "not_supported"
    assert "SMS_TEMPLATES" in answer["error"]["message"]


@pytest.mark.usefixtures("function_env")
def test_schedule_refreshes_when_due(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.pull_status.handler import scheduled_pull
    from shared import catalogue
    from shared.runtime import runtime
    from shared.services import Services

    now = [1_000_000.0]
    container = runtime.services
    services = Services(
        container.settings, client=container.client, store=container.store, clock=lambda: now[0]
    )
    first = catalogue.refresh_if_due(services)
    assert first["synced"] == len(EMULATOR_TEMPLATES)
    now[0] += 3599
    assert catalogue.refresh_if_due(services)["skipped"] == "not due"
    now[0] += 1
    assert catalogue.refresh_if_due(services)["synced"] == len(EMULATOR_TEMPLATES)
    reconfigure(monkeypatch, SMS_TEMPLATE_SYNC_INTERVAL="off")
    assert "skipped" in catalogue.refresh_if_due(runtime.services)
    assert callable(scheduled_pull)


@pytest.mark.usefixtures("function_env")
def test_scheduled_pull_syncs_the_catalogue() -> None:
    from tests.functions.test_tracking_handlers import timer

    answer = timer()
    assert answer["templates"]["synced"] == len(EMULATOR_TEMPLATES), answer
    _, listing = call("pull_status", "GET", "/sms/templates")
    assert len(listing["templates"]) == len(EMULATOR_TEMPLATES)
