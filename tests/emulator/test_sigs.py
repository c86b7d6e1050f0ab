"""The emulator's own signature checks against Tencent's published vectors (copied from the
reference test vectors: the doc's TC3 worked example, SDK-built SMS requests, legacy sig examples),
and the host rule: a signature over the Host as received or without its port passes, nothing else."""

from __future__ import annotations

import hashlib

import pytest

from local.emulator.sigs import (
    Authorization,
    host_forms,
    legacy_sig,
    parse_authorization,
    tc3_signature,
    utc_date,
    verify_tc3,
)

# Tencent's worked example ("签名方法 v3", CVM DescribeInstances): masked credentials are literal.
DOC_SECRET_KEY = "*" * 32
DOC_BODY = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
DOC_TIME = 1551113065
DOC_SIGNATURE = "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"

# SMS requests built by tencentcloud-sdk-python at timestamp 1700000000 (vectors B1 and B4).
SDK_SECRET_ID = "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234"
SDK_SECRET_KEY = "SECRETKEYEXAMPLEEXAMPLEEXAMPLE12"
SDK_TIME = 1700000000
B1_BODY = (
    b'{"PhoneNumberSet": ["+8613800138000", "+8613800138001"], "SmsSdkAppId": "1400009099", '
    b'"TemplateId": "7839", "SignName": "\\u817e\\u8baf\\u4e91", "TemplateParamSet": ["5678"], '
    b'"SessionContext": "ctx1"}'
)
B1_SIGNATURE = "2308fea979a899b14c325e806bf1175e19c10b8c0556d3f71c9faab670416de6"
B4_SIGNATURE = "dca66354a15691649bd5d946502dad1728725fb7d86d972150985f85f7321ac2"
B2_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234/2023-11-14/sms/tc3_request, "
    "SignedHeaders=content-type;host, "
    "Signature=dd28bbf009fa0d0b304accf7a937ad5d64dbaf5785fe3b22492ba6fa98fd6ac3"
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_tencent_worked_example() -> None:
    headers = {
        "content-type": "application/json; charset=utf-8",
        "host": "cvm.tencentcloudapi.com",
        "x-tc-action": "DescribeInstances",
    }
    signature = tc3_signature(
        secret_key=DOC_SECRET_KEY,
        service="cvm",
        timestamp=DOC_TIME,
        method="POST",
        headers=headers,
        payload_hash=_sha256(DOC_BODY),
    )
    assert signature == DOC_SIGNATURE


def test_scope_date_is_the_utc_date() -> None:
    assert utc_date(DOC_TIME) == "2019-02-25"  # already 2019-02-26 in Beijing
    assert utc_date(SDK_TIME) == "2023-11-14"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-type": "application/json", "host": "sms.tencentcloudapi.com"}, B1_SIGNATURE),
        (
            {
                "content-type": "application/json; charset=utf-8",
                "host": "sms.tencentcloudapi.com",
                "x-tc-action": "SendSms",
            },
            B4_SIGNATURE,
        ),
    ],
)
def test_sdk_built_sms_requests(headers: dict[str, str], expected: str) -> None:
    signature = tc3_signature(
        secret_key=SDK_SECRET_KEY,
        service="sms",
        timestamp=SDK_TIME,
        method="POST",
        headers=headers,
        payload_hash=_sha256(B1_BODY),
    )
    assert signature == expected


def test_authorization_header_is_parsed() -> None:
    assert parse_authorization(B2_AUTHORIZATION) == Authorization(
        SDK_SECRET_ID,
        "2023-11-14",
        "sms",
        ("content-type", "host"),
        "dd28bbf009fa0d0b304accf7a937ad5d64dbaf5785fe3b22492ba6fa98fd6ac3",
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Basic dXNlcjpwYXNz",
        "TC3-HMAC-SHA256 Credential=x, Signature=y",
        "TC3-HMAC-SHA256 Credential=a/2023-11-14/sms/other, SignedHeaders=host, Signature=y",
        "TC3-HMAC-SHA256 Credential=a/2023-11-14/sms/tc3_request, SignedHeaders=, Signature=y",
        "TC3-HMAC-SHA256 Credential=a/2023-11-14/sms/tc3_request, SignedHeaders=host, Signature=",
        "TC3-HMAC-SHA256 Credential=/2023-11-14/sms/tc3_request, SignedHeaders=host, Signature=y",
        "TC3-HMAC-SHA256 Credential=a/2023-11-14/sms/tc3_request, SignedHeaders=host, Signature=y, "
        "Signature=z",
    ],
)
def test_malformed_authorization_is_none(value: str) -> None:
    assert parse_authorization(value) is None


def test_legacy_sig_examples() -> None:
    """Tencent's legacy doc examples (appkey, random 7226249334, time 1457336869)."""
    appkey, random, timestamp = "5f03a35d00ee52a21327ab048186a2c4", 7226249334, 1457336869
    single = legacy_sig(appkey, random, timestamp, ["13788888888"])
    multi = legacy_sig(appkey, random, timestamp, ["13788888888", "13788888889"])
    pulls = legacy_sig(appkey, random, timestamp, None)
    assert single == "ecab4881ee80ad3d76bb1da68387428ca752eb885e52621a3129dcf4d9bc4fd4"
    assert multi == "be66bb4aeb54701ed0637d0996a0b75111d5b8eda9b3a71bdc579a3d26f3edfb"
    assert pulls == "c13e54f047ed75e821e698730c72d030dc30e5b510b3f8a0fb6fb7605283d7df"


def test_legacy_sig_of_an_sdk_request() -> None:
    appkey = "9ff91d87c2cd7cd0ea762f141975d1df37481d48700d70ac37470aefc60f9bad"
    three = ["13800138000", "13800138001", "13800138002"]
    assert (
        legacy_sig(appkey, 123456, 1700000000, three)
        == "0b2fc4d74b0c3e8bce9ed167d837570648ab8f50a30d809e380a81381ef85c4b"
    )


@pytest.mark.parametrize(
    ("host", "forms"),
    [
        ("sms.tencentcloudapi.com", ("sms.tencentcloudapi.com",)),
        ("127.0.0.1:8080", ("127.0.0.1:8080", "127.0.0.1")),
        ("sms.localhost:9", ("sms.localhost:9", "sms.localhost")),
        ("[::1]:8080", ("[::1]:8080", "[::1]")),
        ("[::1]", ("[::1]",)),
        ("example.com:", ("example.com:",)),
        ("example.com:x1", ("example.com:x1",)),
    ],
)
def test_host_forms(host: str, forms: tuple[str, ...]) -> None:
    assert host_forms(host) == forms


def _passes(signed_host: str, received_host: str) -> bool:
    """Whether a B1 request signed over `signed_host` passes when it arrives with `received_host`."""
    signature = tc3_signature(
        secret_key=SDK_SECRET_KEY,
        service="sms",
        timestamp=SDK_TIME,
        method="POST",
        headers={"content-type": "application/json", "host": signed_host},
        payload_hash=_sha256(B1_BODY),
    )
    auth = Authorization(SDK_SECRET_ID, "2023-11-14", "sms", ("content-type", "host"), signature)
    received = {"content-type": "application/json", "host": received_host}
    return verify_tc3(
        auth, secret_key=SDK_SECRET_KEY, timestamp=SDK_TIME, method="POST", headers=received, body=B1_BODY
    )


@pytest.mark.parametrize("signed_host", ["127.0.0.1:8080", "127.0.0.1"])
def test_signature_over_the_host_with_or_without_the_port_passes(signed_host: str) -> None:
    assert _passes(signed_host, "127.0.0.1:8080")


@pytest.mark.parametrize(
    "signed_host",
    [
        "sms.tencentcloudapi.com",
        "127.0.0.1:8081",
        "127.0.0.1:80",
        "127.0.0.2",
        "127.0.0.1:8080:8080",
        "localhost",
    ],
)
def test_signature_over_any_other_host_fails(signed_host: str) -> None:
    assert not _passes(signed_host, "127.0.0.1:8080")


def test_a_portless_host_is_not_given_one() -> None:
    assert _passes("sms.tencentcloudapi.com", "sms.tencentcloudapi.com")
    assert not _passes("sms.tencentcloudapi.com:443", "sms.tencentcloudapi.com")
