"""Signing vectors reproduced bit for bit, and the official SDKs as referees."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from shared import payloads, signing
from shared.models import Message
from shared.outbound import OutboundRequest

# Tencent's worked example ("签名方法 v3"): masked credentials are literally these strings.
DOC_SECRET_ID = "AKID" + "*" * 32
DOC_SECRET_KEY = "*" * 32
DOC_BODY = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'

SDK_SECRET_ID = "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234"
SDK_SECRET_KEY = "SECRETKEYEXAMPLEEXAMPLEEXAMPLE12"
SDK_TIME = 1700000000
SMS_HOST = "sms.tencentcloudapi.com"

B1_BODY = (
    b'{"PhoneNumberSet": ["+8613800138000", "+8613800138001"], "SmsSdkAppId": "1400009099", '
    b'"TemplateId": "7839", "SignName": "\\u817e\\u8baf\\u4e91", "TemplateParamSet": ["5678"], '
    b'"SessionContext": "ctx1"}'
)
B2_BODY = b'{"Limit": 10, "SmsSdkAppId": "1400009099"}'
B3_BODY = (
    b'{"BeginTime": 1699990000, "Offset": 0, "Limit": 10, "PhoneNumber": "+8613800138000", '
    b'"SmsSdkAppId": "1400009099", "EndTime": 1700000000}'
)

LEGACY_APPID = "1400009099"
LEGACY_APPKEY = "9ff91d87c2cd7cd0ea762f141975d1df37481d48700d70ac37470aefc60f9bad"


def test_tc3_official_worked_example_every_step() -> None:
    assert len(DOC_BODY) == 86
    assert signing.sha256_hex(DOC_BODY) == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    sig = signing.sign_tc3(
        secret_id=DOC_SECRET_ID,
        secret_key=DOC_SECRET_KEY,
        service="cvm",
        timestamp=1551113065,
        payload=DOC_BODY,
        signed_headers={
            "Content-Type": "application/json; charset=utf-8",
            "Host": "cvm.tencentcloudapi.com",
            "X-TC-Action": "DescribeInstances",
        },
    )
    assert sig.canonical_request == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n"
        "x-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert sig.string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    )
    assert sig.signature == "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    assert sig.authorization == (
        f"TC3-HMAC-SHA256 Credential={DOC_SECRET_ID}/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host;x-tc-action, "
        "Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    )


def test_tc3_key_chain_matches_published_intermediates() -> None:
    import hashlib
    import hmac

    k_date = hmac.new(("TC3" + DOC_SECRET_KEY).encode(), b"2019-02-25", hashlib.sha256).digest()
    assert k_date.hex() == "da98fb70dcf6b112dc21038d1eeeb3a95c74b4dcb12c1131f864f6066bd02be0"
    key = signing.tc3_signing_key(DOC_SECRET_KEY, "2019-02-25", "cvm")
    assert key.hex() == "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af"
    sms_key = signing.tc3_signing_key(SDK_SECRET_KEY, "2023-11-14", "sms")
    assert sms_key.hex() == "51c712021b4ce029e6884f39431c01abf33f130f68a47bbb90785fa0b2910d5c"


def test_tc3_date_is_utc_not_local() -> None:
    assert signing.tc3_date(1551113065) == "2019-02-25"  # already 2019-02-26 in Beijing


@pytest.mark.usefixtures("action")
@pytest.mark.parametrize(
    ("body", "action", "canonical_hash", "signature"),
    [
        (
            B1_BODY,
            "SendSms",
            "06808878fdd4419fdcd201012c099dca0276c805f285069e0cab4b0e29a46e3a",
            "2308fea979a899b14c325e806bf1175e19c10b8c0556d3f71c9faab670416de6",
        ),
        (
            B2_BODY,
            "PullSmsSendStatus",
            "f892db00143158c86eab1926d1feaa2d4e8b397577d4a9fa38c2d77eea42d062",
            "dd28bbf009fa0d0b304accf7a937ad5d64dbaf5785fe3b22492ba6fa98fd6ac3",
        ),
        (
            B3_BODY,
            "PullSmsSendStatusByPhoneNumber",
            "955a8b8f724484b3a8f908af00f77e09bf4d8b0d455d94a890e371e290366a39",
            "f9f08828a5c47e3f0ec62179b1c0a69059163b0d3e44d5135581aab63339d8d2",
        ),
    ],
)
def test_tc3_sms_vectors(body: bytes, canonical_hash: str, signature: str) -> None:
    sig = signing.sign_tc3(
        secret_id=SDK_SECRET_ID,
        secret_key=SDK_SECRET_KEY,
        service="sms",
        timestamp=SDK_TIME,
        payload=body,
        signed_headers={"Content-Type": "application/json", "Host": SMS_HOST},
    )
    assert signing.sha256_hex(sig.canonical_request.encode()) == canonical_hash
    assert sig.signature == signature


def test_tc3_b4_variant_signing_an_extra_header() -> None:
    sig = signing.sign_tc3(
        secret_id=SDK_SECRET_ID,
        secret_key=SDK_SECRET_KEY,
        service="sms",
        timestamp=SDK_TIME,
        payload=B1_BODY,
        signed_headers={
            "Content-Type": "application/json; charset=utf-8",
            "Host": SMS_HOST,
            "X-TC-Action": "SendSms",
        },
    )
    assert signing.sha256_hex(sig.canonical_request.encode()) == (
        "e91e523b9aece645498517ca6b7acd1e69ee988543454e3a7f5dfedfe261dab2"
    )
    assert sig.signature == "dca66354a15691649bd5d946502dad1728725fb7d86d972150985f85f7321ac2"


def test_session_token_travels_unsigned() -> None:
    common = dict(
        secret_id=SDK_SECRET_ID,
        secret_key=SDK_SECRET_KEY,
        host=SMS_HOST,
        action="PullSmsSendStatus",
        version="2021-01-11",
        region="ap-guangzhou",
        timestamp=SDK_TIME,
        payload=B2_BODY,
    )
    with_token = signing.tc3_headers(session_token="TOKENEXAMPLE", **common)  # type: ignore[arg-type]
    without = signing.tc3_headers(**common)  # type: ignore[arg-type]
    assert with_token["X-TC-Token"] == "TOKENEXAMPLE"
    assert "X-TC-Token" not in without
    assert (
        with_token["Authorization"]
        == without["Authorization"]
        == (
            f"TC3-HMAC-SHA256 Credential={SDK_SECRET_ID}/2023-11-14/sms/tc3_request, "
            "SignedHeaders=content-type;host, "
            "Signature=dd28bbf009fa0d0b304accf7a937ad5d64dbaf5785fe3b22492ba6fa98fd6ac3"
        )
    )


def test_parse_tc3_authorization_round_trip_and_garbage() -> None:
    header = signing.tc3_headers(
        secret_id=SDK_SECRET_ID,
        secret_key=SDK_SECRET_KEY,
        host=SMS_HOST,
        action="SendSms",
        version="2021-01-11",
        region="ap-guangzhou",
        timestamp=SDK_TIME,
        payload=B1_BODY,
    )["Authorization"]
    parsed = signing.parse_tc3_authorization(header)
    assert parsed is not None
    assert (parsed.secret_id, parsed.date, parsed.service) == (SDK_SECRET_ID, "2023-11-14", "sms")
    assert parsed.signed_headers == ("content-type", "host")
    for bad in [
        "",
        "Basic abc",
        "TC3-HMAC-SHA256 Credential=x",
        "TC3-HMAC-SHA256 nonsense",
        "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=, Signature=x",
    ]:
        assert signing.parse_tc3_authorization(bad) is None


@pytest.mark.parametrize(
    ("mobiles", "expected"),
    [
        (["13788888888"], "ecab4881ee80ad3d76bb1da68387428ca752eb885e52621a3129dcf4d9bc4fd4"),
        (["13788888888", "13788888889"], "be66bb4aeb54701ed0637d0996a0b75111d5b8eda9b3a71bdc579a3d26f3edfb"),
        (None, "c13e54f047ed75e821e698730c72d030dc30e5b510b3f8a0fb6fb7605283d7df"),
    ],
)
def test_legacy_sig_published_examples(mobiles: list[str] | None, expected: str) -> None:
    assert signing.legacy_sig("5f03a35d00ee52a21327ab048186a2c4", 7226249334, 1457336869, mobiles) == expected


def test_legacy_sig_refuses_an_empty_mobile_list() -> None:
    with pytest.raises(ValueError, match="at least one"):
        signing.legacy_sig("k", 1, 2, [])


@pytest.mark.parametrize(
    ("mobiles", "expected"),
    [
        (["13800138000"], "437bb34ff0e8f1d43a9c25b3e3d66a9e4375a020abd15d66b0bd87298db2cbe2"),
        (
            ["13800138000", "13800138001", "13800138002"],
            "0b2fc4d74b0c3e8bce9ed167d837570648ab8f50a30d809e380a81381ef85c4b",
        ),
        (["13800138000", "13800138001"], "596a14a3b691e736ae2dd159f1e16e3273f4525f0a31fdae77082ce8776d565b"),
        (None, "df3c7e5fd340b0d74cde3582b32d3ebf53c38ea8c71d1b8bfc7a241483e9d4c3"),
    ],
)
def test_legacy_sig_equals_qcloudsms_py(mobiles: list[str] | None, expected: str) -> None:
    from qcloudsms_py import util

    ours = signing.legacy_sig(LEGACY_APPKEY, 123456, 1700000000, mobiles)
    theirs = util.calculate_signature(LEGACY_APPKEY, 123456, 1700000000, mobiles or None)
    assert ours == theirs == expected


# --------------------------------------------------------------------------- whole legacy requests


def _legacy(call: payloads.ApiCall) -> OutboundRequest:
    return payloads.sign_legacy(
        call,
        base_url="https://yun.tim.qq.com",
        appid=LEGACY_APPID,
        appkey=LEGACY_APPKEY,
        timestamp=1700000000,
        random=123456,
    )


def _capture_qcloudsms(invoke) -> tuple[str, bytes]:
    """Run a qcloudsms_py call with its clock and random frozen; return the URL and body it built."""
    from qcloudsms_py import util

    captured = {}

    class Recorder:
        def fetch(self, request):
            captured["url"], captured["body"] = request.url, request.body
            raise RuntimeError("captured")

    with (
        mock.patch.object(util, "get_random", return_value=123456),
        mock.patch.object(util, "get_current_time", return_value=1700000000),
        pytest.raises(RuntimeError, match="captured"),
    ):
        invoke(Recorder())
    body = captured["body"]
    return captured["url"], body.encode() if isinstance(body, str) else body


def test_legacy_requests_are_byte_identical_to_qcloudsms_py() -> None:
    from qcloudsms_py import SmsMobileStatusPuller, SmsMultiSender, SmsSingleSender, SmsStatusPuller

    template = Message(template_id="7839", params=("5678",), sign="腾讯云", session_context="ctx1")
    cases = [
        (
            lambda h: SmsSingleSender(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).send_with_param(
                86, "13800138000", 7839, ["5678"], sign="腾讯云", extend="", ext="ctx1"
            ),
            payloads.build_legacy_send(["+8613800138000"], template),
        ),
        (
            lambda h: SmsSingleSender(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).send(
                0, 86, "13800138000", "【腾讯云】您的验证码是5678", extend="", ext=""
            ),
            payloads.build_legacy_send(["+8613800138000"], Message(content="【腾讯云】您的验证码是5678")),
        ),
        (
            lambda h: SmsMultiSender(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).send_with_param(
                "86",
                ["13800138000", "13800138001", "13800138002"],
                7839,
                ["5678"],
                sign="腾讯云",
                extend="",
                ext="",
            ),
            payloads.build_legacy_send(
                ["+8613800138000", "+8613800138001", "+8613800138002"],
                Message(template_id="7839", params=("5678",), sign="腾讯云"),
            ),
        ),
        (
            lambda h: SmsMultiSender(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).send(
                0, "86", ["13800138000", "13800138001"], "【腾讯云】通知", extend="", ext=""
            ),
            payloads.build_legacy_send(
                ["+8613800138000", "+8613800138001"], Message(content="【腾讯云】通知")
            ),
        ),
        (
            lambda h: SmsStatusPuller(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).pull_callback(10),
            payloads.build_legacy_pull("receipts", 10),
        ),
        (
            lambda h: SmsStatusPuller(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).pull_reply(10),
            payloads.build_legacy_pull("replies", 10),
        ),
        (
            lambda h: SmsMobileStatusPuller(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).pull_callback(
                "86", "13800138000", 1699990000, 1700000000, 10
            ),
            payloads.build_legacy_pull_for_phone("receipts", "+8613800138000", 1699990000, 1700000000, 10),
        ),
        (
            lambda h: SmsMobileStatusPuller(LEGACY_APPID, LEGACY_APPKEY, httpclient=h).pull_reply(
                "86", "13800138000", 1699990000, 1700000000, 10
            ),
            payloads.build_legacy_pull_for_phone("replies", "+8613800138000", 1699990000, 1700000000, 10),
        ),
    ]
    for invoke, call in cases:
        url, body = _capture_qcloudsms(invoke)
        ours = _legacy(call)
        assert ours.url == url
        assert ours.content == body, call.operation


# --------------------------------------------------------------------------- the official API 3.0 SDK


def _sdk_request(action: str, request_model):
    from tencentcloud.common import abstract_client, credential
    from tencentcloud.common.http.request import RequestInternal
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.sms.v20210111 import sms_client

    client = sms_client.SmsClient(
        credential.Credential(SDK_SECRET_ID, SDK_SECRET_KEY, "TOKENEXAMPLE"), "ap-guangzhou", ClientProfile()
    )
    req = RequestInternal(SMS_HOST, "POST", "/")
    with mock.patch.object(abstract_client.time, "time", return_value=SDK_TIME):
        client._build_req_inter(action, request_model._serialize(), req)
    return req


def _ours_v3(call: payloads.ApiCall) -> OutboundRequest:
    return payloads.sign_v3(
        call,
        base_url=f"https://{SMS_HOST}",
        secret_id=SDK_SECRET_ID,
        secret_key=SDK_SECRET_KEY,
        session_token="TOKENEXAMPLE",
        region="ap-guangzhou",
        timestamp=SDK_TIME,
    )


def test_v3_requests_equal_the_official_sdk() -> None:
    from tencentcloud.sms.v20210111 import models

    send = models.SendSmsRequest()
    send.PhoneNumberSet = ["+8613800138000", "+8613800138001"]
    send.SmsSdkAppId, send.SignName, send.TemplateId = "1400009099", "腾讯云", "7839"
    send.TemplateParamSet, send.SessionContext = ["5678"], "ctx1"
    pull = models.PullSmsSendStatusRequest()
    pull.Limit, pull.SmsSdkAppId = 10, "1400009099"
    replies = models.PullSmsReplyStatusRequest()
    replies.Limit, replies.SmsSdkAppId = 10, "1400009099"
    by_phone = models.PullSmsSendStatusByPhoneNumberRequest()
    by_phone.BeginTime, by_phone.Offset, by_phone.Limit = 1699990000, 0, 10
    by_phone.PhoneNumber, by_phone.SmsSdkAppId, by_phone.EndTime = "+8613800138000", "1400009099", 1700000000
    replies_by_phone = models.PullSmsReplyStatusByPhoneNumberRequest()
    replies_by_phone._deserialize(json.loads(B3_BODY))

    message = Message(template_id="7839", params=("5678",), sign="腾讯云", session_context="ctx1")
    cases = [
        (
            "SendSms",
            send,
            payloads.build_v3_send(["+8613800138000", "+8613800138001"], message, "1400009099"),
        ),
        ("PullSmsSendStatus", pull, payloads.build_v3_pull("receipts", 10, "1400009099")),
        ("PullSmsReplyStatus", replies, payloads.build_v3_pull("replies", 10, "1400009099")),
        (
            "PullSmsSendStatusByPhoneNumber",
            by_phone,
            payloads.build_v3_pull_for_phone(
                "receipts", "+8613800138000", 1699990000, 1700000000, 10, "1400009099"
            ),
        ),
        (
            "PullSmsReplyStatusByPhoneNumber",
            replies_by_phone,
            payloads.build_v3_pull_for_phone(
                "replies", "+8613800138000", 1699990000, 1700000000, 10, "1400009099"
            ),
        ),
    ]
    for action, model, call in cases:
        sdk = _sdk_request(action, model)
        ours = _ours_v3(call)
        sdk_body = sdk.data.encode() if isinstance(sdk.data, str) else sdk.data
        assert ours.content == sdk_body, action
        for name in (
            "Authorization",
            "Content-Type",
            "Host",
            "X-TC-Action",
            "X-TC-Version",
            "X-TC-Timestamp",
            "X-TC-Region",
            "X-TC-Token",
        ):
            assert ours.headers[name] == sdk.header[name], (action, name)
    assert _ours_v3(cases[0][2]).content == B1_BODY
