"""The pure parts: codes, hashes, request parsing, settings, the SMS, the local defaults."""

from __future__ import annotations

import collections
import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import otp
from shared.config import Settings, TemplateSpec, load_settings
from shared.errors import ConfigurationError, ValidationError
from shared.store.base import OtpRecord

SECRET = "unit-test-secret-000000000000"
PHONE = "+8613912345678"


def settings(**env: str) -> Settings:
    return load_settings({"TENCENT_SMS_API": "v3", **env})


# --------------------------------------------------------------------------- codes and hashes


@pytest.mark.parametrize("length", [4, 5, 6, 7, 8])
def test_codes_are_digits_of_the_asked_length(length: int) -> None:
    codes = {otp.new_code(length) for _ in range(200)}
    assert all(len(c) == length and c.isdigit() for c in codes)
    assert len(codes) > 150  # not a constant, not a tiny cycle


def test_codes_use_every_digit_in_every_position() -> None:
    positions = [collections.Counter[str]() for _ in range(6)]
    for _ in range(3000):
        for counter, digit in zip(positions, otp.new_code(6), strict=True):
            counter[digit] += 1
    for counter in positions:
        assert set(counter) == set("0123456789")
        assert min(counter.values()) > 180  # ~300 expected each


@pytest.mark.parametrize("length", [0, 3, 9])
def test_code_lengths_out_of_range(length: int) -> None:
    with pytest.raises(ValueError, match="a code has 4 to 8 digits"):
        otp.new_code(length)


def test_ids_are_unguessable_and_distinct() -> None:
    ids = {otp.new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("otp_") and len(i) == 28 for i in ids)


def test_hash_is_keyed_and_bound_to_id_phone_and_purpose() -> None:
    base = otp.hash_code(SECRET, "otp_a", PHONE, "login", "123456")
    assert base.startswith("hmac-sha256:")
    assert len(base) == len("hmac-sha256:") + 64
    assert "123456" not in base
    assert base == otp.hash_code(SECRET, "otp_a", PHONE, "login", "123456")
    variants = [
        otp.hash_code("another-secret-0000000000000", "otp_a", PHONE, "login", "123456"),
        otp.hash_code(SECRET, "otp_b", PHONE, "login", "123456"),
        otp.hash_code(SECRET, "otp_a", "+8613912345679", "login", "123456"),
        otp.hash_code(SECRET, "otp_a", PHONE, "bind_phone", "123456"),
        otp.hash_code(SECRET, "otp_a", PHONE, "login", "123457"),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


@given(code=st.from_regex(r"[0-9]{4,8}", fullmatch=True), other=st.from_regex(r"[0-9]{4,8}", fullmatch=True))
def test_code_matches_only_its_own_code(code: str, other: str) -> None:
    record = OtpRecord(
        id="otp_x",
        phone=PHONE,
        purpose="login",
        code_hash=otp.hash_code(SECRET, "otp_x", PHONE, "login", code),
        created_at=0,
        expires_at=300,
    )
    assert otp.code_matches(SECRET, record, code)
    assert otp.code_matches(SECRET, record, other) == (other == code)


def test_an_unkeyed_hash_never_matches() -> None:
    import hashlib

    plain = "sha256:" + hashlib.sha256(b"123456").hexdigest()
    record = OtpRecord(id="otp_x", phone=PHONE, purpose="login", code_hash=plain, created_at=0, expires_at=9)
    assert not otp.code_matches(SECRET, record, "123456")


# --------------------------------------------------------------------------- requests


def test_parse_send_defaults_and_variants() -> None:
    s = settings()
    assert otp.parse_send({"phone": PHONE}, s) == otp.SendRequest(PHONE, "login", 6)
    assert otp.parse_send({"mobile": "13912345678", "nationcode": "86"}, s).phone == PHONE
    assert otp.parse_send({"mobile": "13912345678"}, s).phone == PHONE
    assert otp.parse_send({"phone": PHONE, "purpose": "bind_phone", "length": 8}, s).length == 8
    assert otp.parse_send({"phone": PHONE, "purpose": "a" * 32}, s).purpose == "a" * 32


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": PHONE, "mobile": "13912345678"}, "phone"),
        ({"phone": PHONE, "purpose": ""}, "purpose"),
        ({"phone": PHONE, "purpose": "LOGIN"}, "purpose"),
        ({"phone": PHONE, "purpose": "log in"}, "purpose"),
        ({"phone": PHONE, "purpose": 7}, "purpose"),
        ({"phone": PHONE, "length": True}, "length"),
        ({"phone": PHONE, "length": "6"}, "length"),
        ({"phone": PHONE, "length": 9}, "length"),
        ({"phone": PHONE, "code": "123456"}, "code"),
    ],
)
def test_parse_send_rejects(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        otp.parse_send(body, settings())
    assert caught.value.field == field


def test_configured_length_is_the_minimum() -> None:
    s = settings(SMS_OTP_LENGTH="4")
    assert otp.parse_send({"phone": PHONE}, s).length == 4
    assert otp.parse_send({"phone": PHONE, "length": 7}, s).length == 7


def test_parse_verify() -> None:
    parsed = otp.parse_verify({"phone": PHONE, "code": " 012345 ", "purpose": "login"})
    assert parsed == otp.VerifyRequest(PHONE, "login", "012345", "")
    assert (
        otp.parse_verify({"phone": PHONE, "code": "0123", "id": "otp_" + "a" * 24}).otp_id
        == "otp_" + "a" * 24
    )
    assert otp.parse_verify({"phone": PHONE, "code": "0123", "id": None}).otp_id == ""
    for body in (
        {"phone": PHONE, "code": "1234567890"},
        {"phone": PHONE, "code": ["1234"]},
        {"code": "1234"},
    ):
        with pytest.raises(ValidationError):
            otp.parse_verify(body)


def test_validation_messages_never_echo_the_code() -> None:
    for code in ("12345a", "123456789", "１２３４５６"):
        with pytest.raises(ValidationError) as caught:
            otp.parse_verify({"phone": PHONE, "code": code})
        assert code not in str(caught.value.to_body())


# --------------------------------------------------------------------------- settings and the SMS


def test_settings_defaults() -> None:
    s = settings()
    assert not s.otp_secret
    assert repr(s.otp_secret) == "Secret('')"
    assert (s.otp_template_id, s.otp_length, s.otp_ttl, s.otp_resend_after, s.otp_max_attempts) == (
        "7840",
        6,
        300,
        60,
        5,
    )


def test_settings_from_the_environment() -> None:
    s = settings(
        SMS_OTP_SECRET="s3cret-value-1234",
        SMS_OTP_TEMPLATE_ID="123456",
        SMS_OTP_LENGTH="8",
        SMS_OTP_TTL="600",
        SMS_OTP_RESEND_AFTER="90",
        SMS_OTP_MAX_ATTEMPTS="3",
    )
    assert s.otp_secret.reveal() == "s3cret-value-1234"
    assert "s3cret" not in repr(s)
    assert (s.otp_template_id, s.otp_length, s.otp_ttl, s.otp_resend_after, s.otp_max_attempts) == (
        "123456",
        8,
        600,
        90,
        3,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMS_OTP_LENGTH", "3"),
        ("SMS_OTP_LENGTH", "9"),
        ("SMS_OTP_LENGTH", "six"),
        ("SMS_OTP_TTL", "0"),
        ("SMS_OTP_RESEND_AFTER", "-1"),
        ("SMS_OTP_MAX_ATTEMPTS", "0"),
        ("SMS_OTP_TEMPLATE_ID", "abc"),
    ],
)
def test_bad_settings_are_configuration_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(**{name: value})
    assert name in caught.value.message


def test_the_sms_carries_the_code_and_its_minutes() -> None:
    message = otp.otp_message("482913", settings(TENCENT_SMS_SIGN="腾讯云"))
    assert (message.template_id, message.params, message.sign) == ("7840", ("482913", "5"), "腾讯云")
    assert otp.otp_message("4829", settings(SMS_OTP_TTL="90")).params == ("4829", "1")
    assert [otp.lifetime_minutes(t) for t in (30, 60, 119, 120, 600)] == [1, 1, 1, 2, 10]


def test_the_sms_follows_the_template_catalogue() -> None:
    one = settings(SMS_TEMPLATES='{"7840": 1}')
    assert otp.otp_message("482913", one).params == ("482913",)
    with pytest.raises(ConfigurationError):
        otp.otp_message("482913", settings(SMS_TEMPLATES='{"7839": 1}'))
    with pytest.raises(ConfigurationError):
        otp.otp_message("482913", settings(SMS_TEMPLATES='{"7840": 3}'))
    assert isinstance(one.templates["7840"], TemplateSpec)


# --------------------------------------------------------------------------- python -m local


def test_local_run_generates_a_secret_and_never_prints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.__main__ import prepare_environment, print_banner

    env: dict[str, str] = {}
    generated = prepare_environment(env, "http://127.0.0.1:9", tmp_path)
    secret = env["SMS_OTP_SECRET"]
    assert len(secret) >= 40
    assert "SMS_OTP_SECRET" not in generated
    same: dict[str, str] = {}
    prepare_environment(same, "http://127.0.0.1:9", tmp_path)  # `python -m local invoke` beside a run
    assert same["SMS_OTP_SECRET"] == secret
    assert (tmp_path / "otp-secret").stat().st_mode & 0o077 == 0  # the owner's alone
    other: dict[str, str] = {}
    prepare_environment(other, "http://127.0.0.1:9", tmp_path / "another")
    assert other["SMS_OTP_SECRET"] != secret
    kept = {"SMS_OTP_SECRET": "mine-0000000000000000"}
    prepare_environment(kept, "http://127.0.0.1:9", tmp_path)
    assert kept["SMS_OTP_SECRET"] == "mine-0000000000000000"

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    with redirect_stdout(out):
        print_banner("http://127.0.0.1:8", "http://127.0.0.1:9", generated, 5)
    assert secret not in out.getvalue()
    assert "OTP" not in out.getvalue()
