"""Phone numbers, the error taxonomy and settings."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import phone
from shared.config import Secret, load_settings
from shared.errors import (
    Category,
    ConfigurationError,
    RateLimitedError,
    TencentError,
    ValidationError,
    classify_tencent_code,
)
from shared.models import MultiSendResult, SendResult
from tests.helpers import ROOT


@pytest.mark.parametrize(
    ("raw", "nationcode", "expected"),
    [
        ("+8613800000000", None, "+8613800000000"),
        ("13800000000", None, "+8613800000000"),
        ("13800000000", "86", "+8613800000000"),
        ("13800000000", 86, "+8613800000000"),
        ("008613800000000", None, "+8613800000000"),
        ("+86 138-0000-0000", None, "+8613800000000"),
        ("4155552671", "1", "+14155552671"),
        ("+85291234567", None, "+85291234567"),
    ],
)
def test_normalize_accepts_every_documented_form(raw: str, nationcode: object, expected: str) -> None:
    assert phone.normalize(raw, nationcode=nationcode) == expected


@pytest.mark.parametrize(
    ("raw", "nationcode", "field"),
    [
        ("", None, "phone"),
        ("12345", None, "phone"),
        ("+860000", None, "phone"),
        ("+8612345678901", None, "phone"),  # right length, not a valid Chinese number
        ("abc", None, "phone"),
        (None, None, "phone"),
        (True, None, "phone"),
        (["+8613800000000"], None, "phone"),
        ("1" * 40, None, "phone"),
        ("13800000000", "xx", "nationcode"),
        ("13800000000", [86], "nationcode"),
        ("+8613800000000", "86", "phone"),
    ],
)
def test_normalize_rejects_naming_the_field(raw: object, nationcode: object, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        phone.normalize(raw, nationcode=nationcode)
    assert err.value.field == field
    assert err.value.status == 400


def test_split_mask_region() -> None:
    assert phone.split("+8613800000000") == ("86", "13800000000")
    assert phone.split("+85291234567") == ("852", "91234567")
    assert phone.mask("+8613800000000") == "+86138****0000"
    assert phone.mask("13800000000") == "138****0000"
    assert phone.mask("123") == "****"
    assert phone.region_of("+14155552671") == "US"
    assert phone.is_mainland("+8613800000000")
    assert not phone.is_mainland("+85291234567")


@pytest.mark.parametrize(
    ("code", "category"),
    [
        (0, Category.ACCOUNT),
        (1001, Category.ACCOUNT),
        (1016, Category.CALLER),
        (1023, Category.RATE_LIMITED),
        (1008, Category.TRANSIENT),
        ("1031", Category.ACCOUNT),
        ("AuthFailure.SignatureFailure", Category.ACCOUNT),
        ("AuthFailure.SignatureExpire", Category.ACCOUNT),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", Category.RATE_LIMITED),
        ("LimitExceeded.PhoneNumberCountLimit", Category.CALLER),
        ("LimitExceeded.AppDailyLimit", Category.ACCOUNT),
        ("RequestLimitExceeded", Category.TRANSIENT),
        ("InternalError.Timeout", Category.TRANSIENT),
        ("InternalError.SigVerificationFail", Category.ACCOUNT),
        ("InvalidParameterValue.IncorrectPhoneNumber", Category.CALLER),
        ("FailedOperation.TemplateParamSetNotMatchApprovedTemplate", Category.CALLER),
        ("FailedOperation.InsufficientBalanceInSmsPackage", Category.ACCOUNT),
        ("FailedOperation.SignatureIncorrectOrUnapproved", Category.ACCOUNT),
        ("UnauthorizedOperation.SerivceSuspendDueToArrears", Category.ACCOUNT),
        ("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", Category.CALLER),
        ("SomethingNew.NobodyKnows", Category.ACCOUNT),
    ],
)
def test_tencent_codes_are_classified(code: object, category: Category) -> None:
    assert classify_tencent_code(code) is category  # type: ignore[arg-type]


def test_tencent_error_status_follows_category() -> None:
    assert TencentError("1016", "bad").status == 400
    assert TencentError("1031", "balance").status == 502
    limited = TencentError("LimitExceeded.PhoneNumberDailyLimit", "daily")
    assert (limited.status, limited.code) == (429, "tencent_rate_limited")
    assert TencentError("InternalError.Timeout", "t").status == 503


def test_error_body_shape() -> None:
    body = RateLimitedError("too many", field="phone", retry_after=30).to_body()
    assert body == {
        "error": {"code": "rate_limited", "message": "too many", "field": "phone", "retry_after": 30}
    }


def test_settings_infer_protocol_and_hide_secrets() -> None:
    legacy = load_settings({"TENCENT_SMS_APPID": "1400009099", "TENCENT_SMS_APPKEY": "k3y"})
    assert legacy.api == "legacy"
    assert legacy.base_url == "https://yun.tim.qq.com"
    assert "k3y" not in repr(legacy)
    v3 = load_settings(
        {
            "TENCENTCLOUD_SECRETID": "AKID",
            "TENCENTCLOUD_SECRETKEY": "s3cr3t",
            "TENCENTCLOUD_SESSIONTOKEN": "t0k3n",
            "TENCENT_SMS_APPID": "1400009099",
            "TENCENT_SMS_ENDPOINT": "http://127.0.0.1:9000/",
            "SMS_API_KEYS": " a, ,b ",
        }
    )
    assert v3.api == "v3"
    assert v3.sdk_app_id == "1400009099"
    assert v3.base_url == "http://127.0.0.1:9000"
    assert v3.api_keys == (Secret("a"), Secret("b"))
    assert "s3cr3t" not in repr(v3)
    assert "t0k3n" not in repr(v3)
    v3.require_credentials()
    assert load_settings({"HTTPS_PROXY": "http://p:3128"}).proxy == "http://p:3128"
    assert load_settings({"HTTPS_PROXY": "http://p", "TENCENT_SMS_PROXY": "http://q"}).proxy == "http://q"


@pytest.mark.parametrize(
    "env",
    [
        {"TENCENT_SMS_API": "v2"},
        {"TENCENT_SMS_READ_TIMEOUT": "soon"},
        {"TENCENT_SMS_CONNECT_TIMEOUT": "-1"},
        {"SMS_SEND_CONCURRENCY": "0"},
    ],
)
def test_bad_settings_are_clear(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_settings(env)
    assert next(iter(env)) in err.value.message


def test_missing_credentials_are_named() -> None:
    with pytest.raises(ConfigurationError, match="TENCENTCLOUD_SECRETKEY"):
        load_settings({"TENCENTCLOUD_SECRETID": "x"}).require_credentials()
    with pytest.raises(ConfigurationError, match="TENCENT_SMS_APPKEY"):
        load_settings({"TENCENT_SMS_API": "legacy", "TENCENT_SMS_APPID": "1"}).require_credentials()


@pytest.mark.parametrize("digits", ["²", "٣٤", "７８３９", "¹²³"])
def test_non_ascii_digits_are_refused_not_crashed_on(digits: str) -> None:
    """`str.isdigit` says yes to these; int() or Tencent would not (found by the fuzz tests)."""
    from shared import validation
    from shared.config import load_settings

    settings = load_settings({})
    with pytest.raises(ValidationError):
        validation.parse_status_query("+8613800000000", {"begin": digits}, 1_800_000_000)
    with pytest.raises(ValidationError):
        validation.parse_pull({"max": digits})
    with pytest.raises(ValidationError):
        validation.parse_message({"template_id": digits, "sign": "腾讯云"}, settings)
    with pytest.raises(ValidationError):
        phone.normalize("138" + digits * 4)
    with pytest.raises(ValidationError):
        phone.normalize("13800000000", nationcode=digits)
    assert classify_tencent_code(digits) is Category.ACCOUNT


@given(st.from_regex(r"\+861[0-9]{10}", fullmatch=True))
def test_mainland_fast_path_agrees_with_phonenumbers(number: str) -> None:
    """normalize() skips the full parse for mainland mobiles; its verdict must be the library's."""
    import phonenumbers

    expected = phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    try:
        accepted = phone.normalize(number) == number
    except ValidationError:
        accepted = False
    assert accepted == expected
    if accepted:
        assert phone.region_of(number) == "CN"
        assert phone.split(number) == ("86", number[3:])


def test_copied_mainland_pattern_is_the_pinned_librarys() -> None:
    """phone.CN_MOBILE_RE is a copy of phonenumbers' CN mobile pattern; an upgrade that changes it
    must update the copy."""
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert metadata is not None
    assert metadata.mobile is not None
    assert phone.CN_MOBILE_RE.pattern == metadata.mobile.national_number_pattern


def test_a_mainland_mobile_is_validated_without_importing_phonenumbers() -> None:
    code = (
        "import sys; from shared import phone; "
        "assert phone.normalize('13800000000') == '+8613800000000'; "
        "assert phone.region_of('+8613800000000') == 'CN'; "
        "assert 'phonenumbers' not in sys.modules, 'phonenumbers was imported'; "
        "phone.normalize('+14155552671'); assert 'phonenumbers' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize("digits", ["١٣٨٠٠٠٠٠٠٠٠", "１３８００００００００", "13８00000000"])
def test_other_scripts_digits_never_pass_the_mainland_fast_path(digits: str) -> None:
    with pytest.raises(ValidationError):
        phone.normalize("+86" + digits)


RESULTS = st.builds(
    SendResult,
    phone=st.text(max_size=4),
    message_id=st.text(max_size=4),
    status=st.sampled_from(["submitted", "failed", "unknown", "rate_limited", "suppressed"]),
    fee=st.integers(0, 3),
    code=st.text(max_size=4),
    message=st.text(max_size=4),
    session_context=st.text(max_size=4),
    limit=st.text(max_size=4),
    retry_after=st.integers(0, 99),
)


@given(st.lists(RESULTS, max_size=8))
def test_a_multi_sends_answer_holds_each_results_own(results: list[SendResult]) -> None:
    """MultiSendResult.to_dict writes each number's result without a call a number: the same
    fields as SendResult.to_dict, a held-back number's limit too."""
    answer = MultiSendResult(tuple(results)).to_dict()
    assert answer["results"] == [r.to_dict() for r in results]
    assert answer["submitted"] == sum(r.status == "submitted" for r in results)
