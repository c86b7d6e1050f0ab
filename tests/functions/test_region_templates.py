"""Per-region templates through the real handlers and the emulator, on both Tencent protocols: the
emulator refuses a mainland template to a number abroad (and the reverse) with Tencent's codes, so
every accepted message proves the choice."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.emulator import Emulator
from tests.helpers import AwsContext, handler

US, HK, CN, CN2 = "+14155552671", "+85291234567", "+8613800000000", "+8613800000001"
CATALOGUE = json.dumps(
    {
        "7839": {"params": 1},
        "7840": {"params": 2},
        "7841": {"params": 1, "international": True},
        "7850": {"params": 1},
        "7851": {"params": 1, "international": True},
        "7852": {"params": 1, "international": 3},
    }
)


@pytest.fixture
def env(function_env: dict[str, str], protocol: str, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: ARG001 - a fixture this one needs for its side effect
    """The function environment on `protocol`, every country allowed; `env(NAME=value)` sets more."""
    from shared.runtime import runtime

    def set_env(**values: str) -> None:
        for name, value in {"TENCENT_SMS_API": protocol, "SMS_ALLOWED_COUNTRIES": "*", **values}.items():
            monkeypatch.setenv(name, value)
        runtime.reset()

    set_env()
    return set_env


def send_multi(body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = handler("send_multi").handler(body, AwsContext())
    return answer


def send_single(body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = handler("send_single").handler(body, AwsContext())
    return answer


def sent(emulator: Emulator) -> dict[str, str]:
    return {m.phone: m.template_id for m in emulator.messages()}


def test_a_mixed_multi_send_uses_each_regions_default(env: Any, sms_emulator: Emulator) -> None:
    env(TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL="7841")
    answer = send_multi({"phones": [CN, US, CN2, HK], "params": ["4829"]})
    assert answer["submitted"] == 4, answer
    assert answer["failed"] == 0, answer
    assert sent(sms_emulator) == {CN: "7839", CN2: "7839", US: "7841", HK: "7841"}


@pytest.mark.usefixtures("env")
def test_a_request_names_a_template_per_region(sms_emulator: Emulator) -> None:
    answer = send_multi(
        {"phones": [US, CN], "template_id": {"mainland": "7850", "international": "7851"}, "params": ["6.18"]}
    )
    assert answer["submitted"] == 2, answer
    assert sent(sms_emulator) == {CN: "7850", US: "7851"}
    answer = send_single({"phone": HK, "template_id": {"international": 7841}, "params": ["1"]})
    assert answer["status"] == "submitted", answer
    assert sent(sms_emulator)[HK] == "7841"


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phones": [CN, US], "params": ["1"]}, "phones[1]"),  # no international default
        ({"phones": [CN, CN2, HK], "template_id": {"mainland": "7839"}, "params": ["1"]}, "phones[2]"),
        ({"phones": [US, CN], "template_id": {"international": "7841"}, "params": ["1"]}, "phones[1]"),
        ({"phone": US, "params": ["1"]}, "phone"),
    ],
)
def test_a_region_without_a_template_is_refused_before_sending(
    sms_emulator: Emulator, body: dict[str, Any], field: str
) -> None:
    answer = send_multi(body) if "phones" in body else send_single(body)
    assert answer["error"]["code"] == "no_template_for_region", answer
    assert answer["error"]["field"] == field
    assert sms_emulator.accepted_count == 0
    assert not sms_emulator.requests


def test_the_catalogue_refuses_a_template_for_the_wrong_region(env: Any, sms_emulator: Emulator) -> None:
    env(SMS_TEMPLATES=CATALOGUE)
    answer = send_multi({"phones": [CN, US], "template_id": "7839", "params": ["1"]})
    assert (answer["error"]["code"], answer["error"]["field"]) == ("template_region_mismatch", "phones[1]")
    answer = send_multi({"phones": [CN], "template_id": {"mainland": "7841"}, "params": ["1"]})
    assert (answer["error"]["code"], answer["error"]["field"]) == (
        "template_region_mismatch",
        "template_id.mainland",
    )
    # the international default takes one parameter; the mainland one got its count right
    env(SMS_TEMPLATES=CATALOGUE, TENCENT_SMS_TEMPLATE_ID="7840", TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL="7841")
    answer = send_multi({"phones": [CN, US], "params": ["1", "5"]})
    assert (answer["error"]["code"], answer["error"]["field"]) == ("wrong_param_count", "params")
    assert sms_emulator.accepted_count == 0


def test_a_template_for_both_regions_serves_a_mixed_send(env: Any, sms_emulator: Emulator) -> None:
    env(SMS_TEMPLATES=CATALOGUE, TENCENT_SMS_TEMPLATE_ID="7852")
    answer = send_multi({"phones": [CN, US], "params": ["1234"]})
    assert answer["submitted"] == 2, answer
    assert sent(sms_emulator) == {CN: "7852", US: "7852"}


def test_an_international_one_time_code(env: Any, sms_emulator: Emulator) -> None:
    env(SMS_OTP_SECRET="s" * 32, SMS_OTP_TEMPLATE_ID_INTERNATIONAL="7841", SMS_TEMPLATES=CATALOGUE)
    for phone, template, params in ((US, "7841", 1), (CN, "7840", 2)):
        answer = handler("otp").handler({"action": "send", "phone": phone}, AwsContext())
        assert "id" in answer, answer
        [message] = sms_emulator.messages(phone)
        assert (message.template_id, len(message.params)) == (template, params)


def test_a_code_abroad_without_an_international_template_is_refused(env: Any, sms_emulator: Emulator) -> None:
    env(SMS_OTP_SECRET="s" * 32)
    answer = handler("otp").handler({"action": "send", "phone": US}, AwsContext())
    assert (answer["error"]["code"], answer["error"]["field"]) == ("no_template_for_region", "phone")
    assert "SMS_OTP_TEMPLATE_ID_INTERNATIONAL" in answer["error"]["message"]
    assert not sms_emulator.requests


@pytest.mark.usefixtures("env")
def test_a_queued_chunk_keeps_both_templates() -> None:
    from shared import validation
    from shared.runtime import runtime

    body = {"phones": [CN, US], "template_id": {"mainland": "7839", "international": "7841"}, "params": ["1"]}
    command = validation.parse_multi_send(body, runtime.services.settings)
    fields = validation.message_fields(command.message)
    assert fields["template_id"] == {"mainland": "7839", "international": "7841"}
    again = validation.parse_multi_send({"phones": [CN, US], **fields}, runtime.services.settings)
    assert again.message == command.message


def test_the_local_run_sends_abroad_out_of_the_box(tmp_path: Any) -> None:
    from local.__main__ import prepare_environment
    from local.emulator import Catalogue
    from shared.config import load_settings

    env: dict[str, str] = {}
    prepare_environment(env, "http://127.0.0.1:9", tmp_path, Catalogue.default({}))
    settings = load_settings(env)
    assert "*" in settings.allowed_countries
    assert (settings.default_template_id_international, settings.otp_template_id_international) == (
        "7841",
        "7841",
    )
    assert settings.templates["7841"].international
    assert settings.templates["7852"].both
    assert settings.templates["7850"].text.endswith("拒收请回复R")
