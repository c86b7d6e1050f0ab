"""POST /sms/preview (and the direct invoke): the handset text, parts and fees per region, and the
per-number problems, with nothing sent and no rate-limit hit recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.emulator import Emulator
from tests.helpers import AwsContext, answer_body, handler, http_event

SIGNED = len("【腾讯云】")
TEMPLATES = {
    "9070": {"params": 0, "text": "字" * (70 - SIGNED)},
    "9071": {"params": 0, "text": "字" * (71 - SIGNED)},
    "9134": {"params": 0, "text": "字" * (134 - SIGNED)},
    "9135": {"params": 1, "text": "字" * (134 - SIGNED) + "{1}"},
    "9160": {"params": 0, "international": True, "text": "a" * 160},
    "9161": {"params": 0, "international": True, "text": "a" * 161},
    "9306": {"params": 0, "international": True, "text": "a" * 306},
    "9307": {"params": 0, "international": True, "text": "a" * 307},
    "9158": {"params": 0, "international": True, "text": "a" * 158 + "€"},
    "9159": {"params": 0, "international": True, "text": "a" * 159 + "€"},
    "9068": {"params": 0, "international": True, "text": "a" * 68 + "😀"},
    "9069": {"params": 0, "international": True, "text": "a" * 69 + "😀"},
    "7839": {"params": 1, "text": "{1}为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。"},
}


@pytest.fixture
def templates(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ARG001 - a fixture this one needs for its side effect
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_TEMPLATES", json.dumps(TEMPLATES))
    monkeypatch.setenv("SMS_ALLOWED_COUNTRIES", "CN,US,HK")
    runtime.reset()


def preview(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = handler("send_multi").handler(http_event("POST", "/sms/preview", body), AwsContext())
    return answer["statusCode"], answer_body(answer)


@pytest.mark.usefixtures("templates")
@pytest.mark.parametrize(
    ("template_id", "params", "phone", "sign", "encoding", "length", "parts"),
    [
        ("9070", [], "+8613800000001", None, "UCS-2", 70, 1),
        ("9071", [], "+8613800000001", None, "UCS-2", 71, 2),
        ("9134", [], "+8613800000001", None, "UCS-2", 134, 2),
        ("9135", ["7"], "+8613800000001", None, "UCS-2", 135, 3),
        ("9160", [], "+14155550100", "", "GSM-7", 160, 1),
        ("9161", [], "+14155550100", "", "GSM-7", 161, 2),
        ("9306", [], "+14155550100", "", "GSM-7", 306, 2),
        ("9307", [], "+14155550100", "", "GSM-7", 307, 3),
        ("9158", [], "+14155550100", "", "GSM-7", 160, 1),
        ("9159", [], "+14155550100", "", "GSM-7", 161, 2),
        ("9068", [], "+14155550100", "", "UCS-2", 70, 1),
        ("9069", [], "+14155550100", "", "UCS-2", 71, 2),
        ("9160", [], "+14155550100", None, "UCS-2", 165, 3),  # 【腾讯云】 is not GSM-7
    ],
)
def test_boundary_texts_through_the_handler(
    sms_emulator: Emulator,
    template_id: str,
    params: list[str],
    phone: str,
    sign: str | None,
    encoding: str,
    length: int,
    parts: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.runtime import runtime

    if sign == "":  # no default sign either: the text goes out unsigned
        monkeypatch.delenv("TENCENT_SMS_SIGN")
        runtime.reset()
    body: dict[str, Any] = {"phone": phone, "template_id": template_id, "params": params}
    status, answer = preview(body)
    assert status == 200, answer
    [number] = answer["numbers"]
    assert (number["encoding"], number["counted_length"], number["parts"]) == (encoding, length, parts)
    assert number["fee"] == parts == answer["fee_total"]
    assert number["problems"] == []
    region = "mainland" if phone.startswith("+86") else "international"
    assert answer["regions"][region]["parts"] == parts
    assert len(sms_emulator.requests) == 0  # nothing went to Tencent


@pytest.mark.usefixtures("templates")
def test_multi_preview_per_region_with_problems(sms_emulator: Emulator) -> None:
    body = {
        "phones": ["+8613800000001", "+8613800000001", "12", "+4915112345678", "+8613800000002"],
        "template_id": "7839",
        "params": ["123456"],
    }
    status, answer = preview(body)
    assert status == 200, answer
    assert answer["text"] == "【腾讯云】123456为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。"
    assert answer["length"] == len(answer["text"])
    codes = [[p["code"] for p in n["problems"]] for n in answer["numbers"]]
    assert codes == [[], ["duplicate"], ["invalid"], ["not_allowed"], []]
    assert [n["fee"] for n in answer["numbers"]] == [1, 0, 0, 0, 1]
    assert (answer["sendable"], answer["refused"], answer["fee_total"]) == (2, 3, 2)
    assert answer["regions"]["mainland"]["numbers"] == 2
    assert len(sms_emulator.requests) == 0


@pytest.mark.usefixtures("templates")
def test_international_number_with_a_mainland_template() -> None:
    status, answer = preview({"phones": ["+14155550100"], "template_id": "7839", "params": ["1234"]})
    assert status == 200
    assert answer["numbers"][0]["problems"][0]["code"] == "template_region_mismatch"
    assert answer["fee_total"] == 0


@pytest.mark.usefixtures("templates")
def test_rate_limited_now_is_seen_and_never_recorded(sms_emulator: Emulator) -> None:
    body = {"phone": "+8613800000009", "template_id": "7839", "params": ["1234"]}
    for _ in range(3):  # previews use no quota: the real send after them still goes
        assert preview(body)[1]["numbers"][0]["problems"] == []
    sent = handler("send_single").handler(http_event("POST", "/sms/send", body), AwsContext())
    assert sent["statusCode"] == 200, sent
    _, answer = preview(body)
    [problem] = answer["numbers"][0]["problems"]
    assert problem["code"] == "rate_limited"
    assert problem["retry_after"] >= 1
    assert answer["fee_total"] == 0
    assert sms_emulator.accepted_count == 1


@pytest.mark.usefixtures("templates")
def test_request_problems_answer_like_the_send() -> None:
    status, answer = preview({"phone": "+8613800000001", "template_id": "7839", "params": []})
    assert status == 400
    assert answer["error"]["field"] == "params"


@pytest.mark.usefixtures("templates")
def test_direct_invoke_and_an_opted_out_number(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared import preview as previews
    from shared import suppressions
    from shared.runtime import runtime

    body = {"phones": ["+8613800000001", "+8613800000002"], "template_id": "7839", "params": ["1234"]}
    direct = handler("send_multi").handler({"action": "preview", **body}, AwsContext())
    assert direct["fee_total"] == 2
    assert direct["sendable"] == 2
    # 7839 is a code, not marketing: the opt-out applies to it only with SMS_SUPPRESS_ALL
    monkeypatch.setenv("SMS_SUPPRESS_ALL", "1")
    runtime.reset()
    suppressions.operator_change(runtime.services, "+8613800000002", suppressed=True, caller="test")
    answer = previews.preview(runtime.services, body, caller="direct")
    assert [[p["code"] for p in n["problems"]] for n in answer["numbers"]] == [[], ["suppressed"]]
    assert answer["fee_total"] == 1
    assert len(sms_emulator.requests) == 0


@pytest.mark.usefixtures("function_env")
def test_unknown_text_says_how_to_know_it() -> None:
    status, answer = preview({"phone": "+8613800000001", "template_id": "7839", "params": ["1234"]})
    assert status == 200
    assert answer["text"] is None
    assert answer["fee_total"] is None
    assert "sync" in answer["note"]
    handler("pull_status").handler(http_event("POST", "/sms/templates/sync"), AwsContext())
    _, synced = preview({"phone": "+8613800000001", "template_id": "7839", "params": ["1234"]})
    assert synced["text"].startswith("【腾讯云】1234为您的登录验证码")
    assert synced["fee_total"] == 1


@pytest.mark.usefixtures("templates")
def test_a_mixed_list_previews_each_regions_template() -> None:
    body = {
        "phones": ["+8613800000001", "+14155552671"],
        "template_id": {"mainland": "7839", "international": "9160"},
        "params": [],
    }
    status, answer = preview({**body, "template_id": {"mainland": "9070", "international": "9161"}})
    assert status == 200, answer
    mainland, international = answer["regions"]["mainland"], answer["regions"]["international"]
    assert mainland["text"].startswith("【腾讯云】字")
    assert mainland["parts"] == 1
    # the signature makes the text UCS-2: 5 + 161 units, 67 a part
    assert international["text"].endswith("a" * 161)
    assert international["parts"] == 3
    assert answer["texts"] == {"mainland": mainland["text"], "international": international["text"]}
    assert [n["parts"] for n in answer["numbers"]] == [1, 3]
    assert answer["fee_total"] == 4
    assert answer["template_id"] == {"mainland": "9070", "international": "9161"}
    status, answer = preview({**body, "params": ["1234"]})
    assert status == 400
    assert answer["error"]["field"] == "params"
