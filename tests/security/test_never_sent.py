"""Parameters and numbers that must never reach Tencent: links in any spelling, control / invisible /
bidi / separator characters, and numbers that cannot receive an SMS (landlines, toll-free, premium-rate,
shared-cost, …). Each is a 400 naming the field, and nothing is sent; ordinary values still go out."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, load_event
from tests.helpers import AwsContext, answer_body, handler, set_body, set_header

LINKS = [
    "bit.ly/a1b2c",
    "evil.ru/x",
    "1.2.3.4/x",
    "10.0.0.1",
    "evil。com",  # ideographic full stop
    "evil．com",  # fullwidth full stop
    "evil｡com",  # halfwidth ideographic full stop
    "ｅｖｉｌ．ｃｏｍ",  # fullwidth letters
    "EVIL.COM",
    "go.io",
    "t.cn",
    "访问evil.com吧",
    "例子.中国",
    "xn--fiqs8s",  # punycode
    "http://x",
    "hxxps://x",
    "www.x",
    "a.zzz/path",
    "[::1]",
    "2001:db8::1",
    "fe80:0:0:0:0:0:0:1",
]
CHARACTERS = [
    "12\n34",
    "12\r34",
    "12\t34",
    "12\x0034",
    "12\x8534",  # NEL
    "12\u202834",  # line separator
    "12\u202934",  # paragraph separator
    "12\u202e34",  # right-to-left override
    "12\u2066ab",  # left-to-right isolate
    "12\u200b34",  # zero-width space
    "12\ufeff34",  # byte order mark
    "12\u00ad34",  # soft hyphen
]
ORDINARY = [
    "482913",
    "3.50",
    "¥3.50",
    "10.30",
    "10:30",
    "10:30:00",
    "1.2",
    "v1.2.3",
    "1.2.3.4.5",
    "张三",
    "您好。欢迎",
    "No.5",
    "e.g",
    "Mr. Li",
    "ABC-123",
    "2024-01-01",
    "3.5kg",
    "Co.Ltd",
    "St.Louis",
    "一　二",  # ideographic space is text, not a separator character
    "a b",
    "🙂",
]


@pytest.mark.parametrize("value", LINKS)
def test_links_are_found_in_every_spelling(value: str) -> None:
    from shared.validation import has_link

    assert has_link(value)


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_values_are_not_links(value: str) -> None:
    from shared.validation import has_link

    assert not has_link(value)


def test_every_format_control_and_separator_character_is_refused() -> None:
    """Every code point of the refused categories (the running Python's Unicode data) is refused in a
    parameter; no letter, digit, punctuation, symbol or space is."""
    from shared.config import load_settings
    from shared.errors import ValidationError
    from shared.validation import parse_message

    settings = load_settings({"SMS_MAX_PARAM_LENGTH": "12"})
    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        if category in ("Cn", "Co"):
            continue
        refused = category in ("Cc", "Cf", "Zl", "Zp", "Cs")
        refusal: ValidationError | None = None
        try:
            parse_message({"template_id": "7839", "params": ["1" + char], "sign": "腾讯云"}, settings)
        except ValidationError as error:
            refusal = error
        assert (refusal is not None) == refused, (hex(code), category, refusal and refusal.message)
        if refusal is not None:
            assert refusal.field == "params[0]", (hex(code), category, refusal.message)


def _send(body: dict[str, Any], route: str = "/sms/send") -> dict[str, Any]:
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = route
    set_header(event, "x-api-key", API_KEY)
    set_header(event, "idempotency-key", None)  # the sample carries one; these tests send different bodies
    set_body(event, body)
    return handler("send_multi" if route.endswith("multi") else "send_single").handler(event, AwsContext())


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("value", LINKS + CHARACTERS)
def test_a_refused_parameter_is_a_400_naming_it_and_sends_nothing(sms_emulator: Emulator, value: str) -> None:
    body = {"phone": "+8613800000000", "template_id": "7839", "params": ["1", value], "sign": "腾讯云"}
    answer = _send(body)
    assert answer["statusCode"] == 400, answer
    error = answer_body(answer)["error"]
    assert error["field"] == "params[1]"
    assert error["code"] == "invalid_request"
    assert error["message"]
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("value", ["3.50", "10.30", "v1.2", "张三", "No.5", "一　二"])
def test_ordinary_parameters_are_still_sent(sms_emulator: Emulator, value: str) -> None:
    answer = _send({"phone": "+8613800000000", "template_id": "7839", "params": [value], "sign": "腾讯云"})
    assert answer["statusCode"] == 200, answer
    assert sms_emulator.messages("+8613800000000")[0].params == (value,)


@pytest.mark.usefixtures("function_env", "monkeypatch", "sms_emulator")
def test_plain_content_keeps_line_breaks_but_not_invisible_characters() -> None:
    from shared.config import load_settings
    from shared.errors import ValidationError
    from shared.validation import parse_message

    settings = load_settings({})
    assert parse_message({"content": "第一行\n第二行\r\n\t完"}, settings).content
    for bad in ("a\u202eb", "a\u200bb", "a\u2028b", "a\x07b"):
        with pytest.raises(ValidationError) as caught:
            parse_message({"content": bad}, settings)
        assert caught.value.field == "content"


NOT_MOBILE = [
    ("+861088886666", "fixed-line"),  # Beijing landline
    ("+864008123456", "shared-cost"),  # 400 service number
    ("+868001234567", "toll-free"),  # 800 service number
    ("+441212345678", "fixed-line"),
    ("+449012345678", "premium-rate"),
    ("+18002345678", "toll-free"),
    ("+33884012345", "shared-cost"),
    ("+445612345678", "VoIP"),
    ("+447640123456", "pager"),
    ("+445512345678", "universal access"),
    ("+447012345678", "personal"),
]
MOBILE = ["+8613800000000", "+14155552671", "+447911123456", "+85291234567", "+6591234567"]


@pytest.fixture
def anywhere(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ARG001 - a fixture this one needs for its side effect
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_ALLOWED_COUNTRIES", "*")
    monkeypatch.setenv("SMS_OTP_SECRET", "test-otp-secret")
    runtime.reset()


@pytest.mark.usefixtures("anywhere")
@pytest.mark.parametrize(("number", "kind"), NOT_MOBILE)
def test_numbers_that_cannot_receive_sms_are_a_400_naming_the_field(
    sms_emulator: Emulator, number: str, kind: str
) -> None:
    import phonenumbers

    assert phonenumbers.is_valid_number(phonenumbers.parse(number))  # valid, but not a mobile
    single = _send({"phone": number, "template_id": "7839", "params": ["1"], "sign": "腾讯云"})
    assert single["statusCode"] == 400, single
    error = answer_body(single)["error"]
    assert (error["code"], error["field"]) == ("not_mobile", "phone")
    assert kind in error["message"]
    legacy = handler("send_single").handler(
        {"mobile": number[3:], "nationcode": "86", "params": ["1"]} if number.startswith("+86") else {},
        AwsContext(),
    )
    if number.startswith("+86"):
        assert (legacy["error"]["code"], legacy["error"]["field"]) == ("not_mobile", "mobile")
    multi = _send(
        {"phones": ["+8613800000001", "+8613800000002", number], "template_id": "7839", "params": ["1"]},
        "/sms/send-multi",
    )
    assert multi["statusCode"] == 400, multi
    assert answer_body(multi)["error"]["field"] == "phones[2]"
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("anywhere")
def test_otp_is_not_sent_to_a_landline(sms_emulator: Emulator) -> None:
    answer = handler("otp").handler({"action": "send", "phone": "+861088886666"}, AwsContext())
    assert answer["error"]["code"] == "not_mobile"
    assert answer["error"]["field"] == "phone"
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("anywhere", "sms_emulator")
def test_mobiles_of_every_kind_are_sent() -> None:
    mainland = _send({"phones": MOBILE[:1], "template_id": "7839", "params": ["1"]}, "/sms/send-multi")
    abroad = _send({"phones": MOBILE[1:], "template_id": "7841", "params": ["1"]}, "/sms/send-multi")
    assert mainland["statusCode"] == abroad["statusCode"] == 200, (mainland, abroad)
    assert answer_body(mainland)["submitted"] + answer_body(abroad)["submitted"] == len(MOBILE)


def test_number_type_values_are_phonenumbers_own() -> None:
    import phonenumbers

    from shared import phone

    kinds = phonenumbers.PhoneNumberType
    assert {kinds.MOBILE, kinds.FIXED_LINE_OR_MOBILE} == phone._RECEIVING_TYPES
    assert phone._TYPE_NAMES[kinds.FIXED_LINE] == "a fixed-line number"
    assert phone._TYPE_NAMES[kinds.PREMIUM_RATE] == "a premium-rate number"
    assert phone._TYPE_NAMES[kinds.UAN] == "a universal access number"
