"""Settings of per-region templates and opt-outs, and which templates count as marketing."""

from __future__ import annotations

import json

import pytest

from shared import suppressions
from shared.config import load_settings
from shared.errors import ConfigurationError
from shared.models import Message

BASE = {"TENCENT_SMS_API": "v3"}


def test_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.opt_out_keywords == {"r", "t", "td", "退订", "stop", "unsubscribe"}
    assert settings.opt_in_keywords == {"start"}
    assert not settings.suppress_all
    assert not settings.marketing_templates
    assert settings.default_template_id_international == settings.otp_template_id_international == ""


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SMS_OPT_OUT_KEYWORDS": "STOP,END", "SMS_OPT_IN_KEYWORDS": "end"}, "SMS_OPT_IN_KEYWORDS"),
        ({"SMS_SUPPRESS_ALL": "maybe"}, "SMS_SUPPRESS_ALL"),
        ({"TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL": "78a"}, "TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL"),
        ({"SMS_OTP_TEMPLATE_ID_INTERNATIONAL": "７８４１"}, "SMS_OTP_TEMPLATE_ID_INTERNATIONAL"),
        ({"SMS_MARKETING_TEMPLATES": "7850,x"}, "SMS_MARKETING_TEMPLATES"),
    ],
)
def test_bad_settings_name_themselves(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings({**BASE, **env})


def test_keywords_off_and_regions_of_templates() -> None:
    settings = load_settings(
        {
            **BASE,
            "SMS_OPT_OUT_KEYWORDS": "off",
            "SMS_SUPPRESS_ALL": "1",
            "SMS_TEMPLATES": json.dumps(
                {
                    "1": {"params": 1, "international": 3},
                    "2": {"params": 1, "international": "both"},
                    "3": {"params": 1, "international": 1},
                    "4": 1,
                }
            ),
        }
    )
    assert settings.opt_out_keywords == frozenset()
    assert settings.suppress_all
    both, also_both, abroad, mainland = (settings.templates[i] for i in "1234")
    assert both.serves(international=True)
    assert both.serves(international=False)
    assert also_both.both
    assert abroad.serves(international=True)
    assert not abroad.serves(international=False)
    assert mainland.serves(international=False)
    assert not mainland.serves(international=True)


@pytest.mark.parametrize(
    ("text", "marketing"),
    [
        ("【会员日】{1}全场5折，拒收请回复R", True),
        ("双11大促{1}，回T退订", True),
        ("新品上市，退订回T", True),
        ("{1} at half price. Reply STOP to opt out", True),
        ("Sale today! Text STOP to end", True),
        ("{1}为您的登录验证码，请于5分钟内填写。", False),
        ("Your verification code is {1}.", False),
        ("Please stop by our store to collect {1}", False),
    ],
)
def test_marketing_by_refusal_phrase(text: str, marketing: bool) -> None:
    settings = load_settings({**BASE, "SMS_TEMPLATES": json.dumps({"9": {"params": 1, "text": text}})})
    message = Message(template_id="9", params=("1",))
    assert suppressions.is_marketing(message, settings, international=False) is marketing


def test_marketing_by_setting_and_plain_content_type() -> None:
    settings = load_settings({**BASE, "SMS_MARKETING_TEMPLATES": "7839, 7851"})
    assert suppressions.is_marketing(Message(template_id="7839"), settings, international=False)
    per_region = Message(template_id="7840", template_id_international="7851")
    assert not suppressions.is_marketing(per_region, settings, international=False)
    assert suppressions.is_marketing(per_region, settings, international=True)
    assert suppressions.is_marketing(Message(content="sale", content_type=1), settings, international=False)
    assert not suppressions.is_marketing(Message(content="hi", content_type=0), settings, international=False)
