"""API 3.0 over real loopback HTTP: TC3 verification, headers, sending rules, pulls."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest

from local.emulator import (
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    Catalogue,
    Credential,
    Emulator,
    FrequencyLimits,
)
from shared.models import Message
from shared.payloads import (
    ApiCall,
    build_legacy_pull,
    build_legacy_send,
    build_v3_pull,
    build_v3_pull_for_phone,
    build_v3_send,
    encode_json,
)
from shared.signing import sign_tc3, tc3_headers
from tests.emulator.wire import (
    GLOBAL_TEMPLATE,
    LIFETIME_TEMPLATE,
    MOBILE,
    MOBILE_2,
    SIGN,
    US,
    FakeClock,
    Wire,
    error_code,
    v3_send_call,
)

APP = "1400009099"
CODE = Message(template_id="7839", params=("5678",), sign=SIGN, session_context="ctx1")
SIGNATURE_MESSAGE = "The provided credentials could not be validated. Please check your signature is correct."


def statuses(response: dict[str, object]) -> list[str]:
    return [str(item["Code"]) for item in response["SendStatusSet"]]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- authentication


def test_signed_send_is_accepted(wire: Wire, emulator: Emulator) -> None:
    response = wire.v3(build_v3_send([MOBILE, MOBILE_2], CODE, APP))

    assert error_code(response) is None
    first, second = response["SendStatusSet"]
    assert first["Code"] == "Ok"
    assert first["Message"] == "send success"
    assert first["PhoneNumber"] == MOBILE
    assert first["IsoCode"] == "CN"
    assert first["Fee"] == 1
    assert first["SessionContext"] == "ctx1"
    assert first["SerialNo"] != second["SerialNo"]
    assert [m.message_id for m in emulator.messages()] == [second["SerialNo"], first["SerialNo"]]


def test_wrong_secret_key_is_signature_failure(wire: Wire, emulator: Emulator) -> None:
    response = wire.v3(build_v3_send([MOBILE], CODE, APP), secret_key="wrong-key")

    assert response["Error"] == {"Code": "AuthFailure.SignatureFailure", "Message": SIGNATURE_MESSAGE}
    assert emulator.accepted_count == 0


def test_unknown_secret_id_is_secret_id_not_found(wire: Wire) -> None:
    response = wire.v3(build_v3_send([MOBILE], CODE, APP), secret_id="AKIDunknown")
    assert error_code(response) == "AuthFailure.SecretIdNotFound"


def test_stale_timestamp_is_signature_expire(wire: Wire) -> None:
    stale = wire.v3(build_v3_pull("receipts", 10, APP), timestamp=wire.now() - 301)
    future = wire.v3(build_v3_pull("receipts", 10, APP), timestamp=wire.now() + 400)
    fine = wire.v3(build_v3_pull("receipts", 10, APP), timestamp=wire.now() - 200)

    assert [error_code(r) for r in (stale, future, fine)] == [
        "AuthFailure.SignatureExpire",
        "AuthFailure.SignatureExpire",
        None,
    ]


def test_tampered_body_is_signature_failure(wire: Wire) -> None:
    request = wire.v3_request(build_v3_send([MOBILE], CODE, APP))
    tampered = request._replace(content=request.content.replace(b"5678", b"9999"))
    assert error_code(wire.v3_send(tampered)) == "AuthFailure.SignatureFailure"


def test_signature_covers_the_received_host(wire: Wire) -> None:
    request = wire.v3_request(build_v3_send([MOBILE], CODE, APP))
    other_host = request._replace(headers={**request.headers, "Host": "sms.tencentcloudapi.com"})
    assert error_code(wire.v3_send(other_host)) == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize(("signed_port", "code"), [("", None), (":1", "AuthFailure.SignatureFailure")])
def test_signature_over_the_host_without_its_port_is_accepted(
    wire: Wire, signed_port: str, code: str | None
) -> None:
    """Tencent's host has no port, so SDKs that drop a custom endpoint's port (Node.js) must pass;
    another port must not."""
    content = encode_json(build_v3_send([MOBILE], CODE, APP).body)
    netloc = urlsplit(wire.emulator.url).netloc
    headers = tc3_headers(
        secret_id=DEFAULT_SECRET_ID,
        secret_key=DEFAULT_SECRET_KEY,
        host=netloc.rsplit(":", 1)[0] + signed_port,
        action="SendSms",
        version="2021-01-11",
        region="ap-guangzhou",
        timestamp=wire.now(),
        payload=content,
    )
    headers["Host"] = netloc
    response = wire.http.post(wire.emulator.url + "/", headers=headers, content=content).json()["Response"]
    if code is None:
        assert statuses(response) == ["Ok"]
    else:
        assert error_code(response) == code


def test_signing_extra_headers_as_the_doc_example_does_is_accepted(wire: Wire) -> None:
    """Reference vector B4: `content-type;host;x-tc-action` with a charset in the content type."""
    body = encode_json(build_v3_send([MOBILE], CODE, APP).body)
    timestamp, host = wire.now(), wire.emulator.url.removeprefix("http://")
    signed = {"Content-Type": "application/json; charset=utf-8", "Host": host, "X-TC-Action": "SendSms"}
    signature = sign_tc3(
        secret_id=DEFAULT_SECRET_ID,
        secret_key=DEFAULT_SECRET_KEY,
        service="sms",
        timestamp=timestamp,
        payload=body,
        signed_headers=signed,
    )
    headers = {
        **signed,
        "Authorization": signature.authorization,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": "2021-01-11",
        "X-TC-Region": "ap-guangzhou",
    }
    response = wire.http.post(wire.emulator.url + "/", headers=headers, content=body).json()["Response"]
    assert statuses(response) == ["Ok"]


def test_unsigned_payload_is_supported(wire: Wire) -> None:
    body = encode_json(build_v3_send([MOBILE], CODE, APP).body)
    timestamp, host = wire.now(), wire.emulator.url.removeprefix("http://")
    signed = {"Content-Type": "application/json", "Host": host}
    signature = sign_tc3(
        secret_id=DEFAULT_SECRET_ID,
        secret_key=DEFAULT_SECRET_KEY,
        service="sms",
        timestamp=timestamp,
        payload=b"UNSIGNED-PAYLOAD",
        signed_headers=signed,
    )
    headers = {
        **signed,
        "Authorization": signature.authorization,
        "X-TC-Content-SHA256": "UNSIGNED-PAYLOAD",
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": "2021-01-11",
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Action": "SendSms",
    }
    response = wire.http.post(wire.emulator.url + "/", headers=headers, content=body).json()["Response"]
    assert statuses(response) == ["Ok"]


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("", "AuthFailure.InvalidAuthorization"),
        ("Basic dXNlcjpwYXNz", "AuthFailure.InvalidAuthorization"),
        ("TC3-HMAC-SHA256 Credential=x, Signature=y", "AuthFailure.InvalidAuthorization"),
    ],
)
def test_malformed_authorization(wire: Wire, authorization: str, code: str) -> None:
    request = wire.v3_request(build_v3_send([MOBILE], CODE, APP))
    broken = request._replace(headers={**request.headers, "Authorization": authorization})
    assert error_code(wire.v3_send(broken)) == code


def test_credential_date_must_be_the_utc_date_of_the_timestamp(wire: Wire) -> None:
    request = wire.v3_request(build_v3_send([MOBILE], CODE, APP))
    auth = request.headers["Authorization"]
    date = auth.split("/")[1]
    wrong = auth.replace(f"/{date}/", "/2001-01-01/")
    response = wire.v3_send(request._replace(headers={**request.headers, "Authorization": wrong}))
    assert error_code(response) == "AuthFailure.InvalidAuthorization"


def test_signed_headers_must_include_host(wire: Wire) -> None:
    body = encode_json(build_v3_send([MOBILE], CODE, APP).body)
    timestamp = wire.now()
    signed = {"Content-Type": "application/json"}
    signature = sign_tc3(
        secret_id=DEFAULT_SECRET_ID,
        secret_key=DEFAULT_SECRET_KEY,
        service="sms",
        timestamp=timestamp,
        payload=body,
        signed_headers=signed,
    )
    headers = {
        **signed,
        "Authorization": signature.authorization,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": "2021-01-11",
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Action": "SendSms",
    }
    response = wire.http.post(wire.emulator.url + "/", headers=headers, content=body).json()["Response"]
    assert error_code(response) == "AuthFailure.InvalidAuthorization"


def test_session_token_rules(catalogue: Catalogue, http: httpx.Client) -> None:
    with_token = replace(
        catalogue,
        credentials=(Credential(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, (APP,), session_token="tok-1"),),
    )
    call = build_v3_pull("receipts", 10, APP)
    with Emulator(with_token) as emulator:
        wire = Wire(emulator, http)
        right, wrong, missing = (wire.v3(call, token=t) for t in ("tok-1", "tok-2", ""))
        assert emulator.requests[0].headers["x-tc-token"] == "tok-1"
    with Emulator(catalogue) as emulator:
        unexpected = Wire(emulator, http).v3(call, token="tok-1")

    assert [error_code(r) for r in (right, wrong, missing, unexpected)] == [
        None,
        "AuthFailure.TokenFailure",
        "AuthFailure.TokenFailure",
        "AuthFailure.TokenFailure",
    ]


def _with_header(wire: Wire, call: ApiCall, name: str, value: str | None) -> dict[str, object]:
    request = wire.v3_request(call)
    headers = {k: v for k, v in request.headers.items() if k != name}
    if value is not None:
        headers[name] = value
    return wire.v3_send(request._replace(headers=headers))


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("X-TC-Version", "2019-07-11", "NoSuchVersion"),
        ("X-TC-Version", None, "MissingParameter"),
        ("X-TC-Region", None, "MissingParameter"),
        ("X-TC-Region", "mars-north-1", "InvalidParameterValue"),
        ("X-TC-Action", "SendSmsNow", "InvalidAction"),
        ("X-TC-Action", None, "MissingParameter"),
        ("X-TC-Timestamp", None, "MissingParameter"),
    ],
)
def test_required_headers(wire: Wire, name: str, value: str | None, code: str) -> None:
    response = _with_header(wire, build_v3_pull("receipts", 10, APP), name, value)
    assert error_code(response) == code


def test_unknown_sdk_app_id(wire: Wire) -> None:
    response = wire.v3(build_v3_send([MOBILE], CODE, "1400000000"))
    assert error_code(response) == "InvalidParameterValue.SdkAppIdNotExist"


def test_sdk_app_id_of_another_key(catalogue: Catalogue, http: httpx.Client) -> None:
    other = Credential("AKIDother", "other-key", ("1400000001",))
    with Emulator(replace(catalogue, credentials=(*catalogue.credentials, other))) as emulator:
        response = Wire(emulator, http).v3(build_v3_send([MOBILE], CODE, "1400000001"))
    assert error_code(response) == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"


@pytest.mark.parametrize("content", [b"[]", b"{not json", b"\xff{}"])
def test_body_that_is_not_a_json_object(wire: Wire, content: bytes) -> None:
    assert error_code(wire.v3_bytes("SendSms", content)) == "FailedOperation.JsonParseFail"


def test_missing_parameters(wire: Wire) -> None:
    response = wire.v3(ApiCall("SendSms", {}))
    assert response["Error"] == {
        "Code": "MissingParameter",
        "Message": "The parameter `PhoneNumberSet` is missing.",
    }


def test_wrong_parameter_type_is_invalid_parameter(wire: Wire) -> None:
    call = v3_send_call([MOBILE])
    response = wire.v3(call._replace(body={**call.body, "TemplateParamSet": [5678]}))
    assert error_code(response) == "InvalidParameter"


# ---------------------------------------------------------------------- sending rules


def test_more_than_200_numbers(wire: Wire) -> None:
    response = wire.v3(v3_send_call([f"+86138001{i:05d}" for i in range(201)]))
    assert error_code(response) == "LimitExceeded.PhoneNumberCountLimit"


def test_empty_number_set(wire: Wire) -> None:
    assert error_code(wire.v3(v3_send_call([]))) == "MissingParameter.EmptyPhoneNumberSet"


def test_mixed_number_set(wire: Wire) -> None:
    response = wire.v3(v3_send_call([MOBILE, US]))
    assert error_code(response) == "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"


@pytest.mark.parametrize("sign", ["未知签名", None, ""])
def test_unknown_or_missing_sign_for_mainland(wire: Wire, sign: str | None) -> None:
    response = wire.v3(v3_send_call([MOBILE], sign=sign))
    assert error_code(response) == "FailedOperation.SignatureIncorrectOrUnapproved"


def test_unknown_template_is_request_level(wire: Wire) -> None:
    response = wire.v3(v3_send_call([MOBILE], template_id="1"))
    assert error_code(response) == "FailedOperation.TemplateIncorrectOrUnapproved"


def test_template_region_mismatch_is_per_number(wire: Wire) -> None:
    to_global = wire.v3(v3_send_call([US], sign=None))
    to_mainland = wire.v3(v3_send_call([MOBILE], template_id=GLOBAL_TEMPLATE))

    assert statuses(to_global) == ["UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone"]
    assert statuses(to_mainland) == ["UnsupportedOperation.GlobalTemplateToChineseMainlandPhone"]


def test_international_send(wire: Wire, emulator: Emulator) -> None:
    response = wire.v3(v3_send_call([US], template_id=GLOBAL_TEMPLATE, sign=None, params=("1234",)))

    [item] = response["SendStatusSet"]
    assert (item["Code"], item["IsoCode"], item["PhoneNumber"], item["Fee"]) == ("Ok", "US", US, 1)
    assert emulator.messages(US)[0].text == "Your verification code is 1234."


def test_wrong_parameter_count_is_per_number_with_empty_serial(wire: Wire, emulator: Emulator) -> None:
    response = wire.v3(v3_send_call([MOBILE, MOBILE_2], template_id=LIFETIME_TEMPLATE, params=("1234",)))

    assert response["SendStatusSet"][0] == {
        "SerialNo": "",
        "PhoneNumber": MOBILE,
        "Fee": 0,
        "SessionContext": "",
        "Code": "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        "Message": "request content does not match the template content",
        "IsoCode": "",
    }
    assert statuses(response)[1] == "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    assert emulator.accepted_count == 0


def test_parameter_too_long_is_request_level(wire: Wire) -> None:
    response = wire.v3(v3_send_call([MOBILE], params=("1234567890123",)))
    assert error_code(response) == "InvalidParameterValue.TemplateParameterLengthLimit"


def test_parameter_length_limit_is_configurable(catalogue: Catalogue, http: httpx.Client) -> None:
    with Emulator(replace(catalogue, max_param_length=6)) as emulator:
        wire = Wire(emulator, http)
        ok, too_long = (wire.v3(v3_send_call([MOBILE], params=(p,))) for p in ("123456", "1234567"))
    assert statuses(ok) == ["Ok"]
    assert error_code(too_long) == "InvalidParameterValue.TemplateParameterLengthLimit"


@pytest.mark.parametrize("param", ["http://a.b", "www.qq.com", "qq.com/x"])
def test_url_in_parameter(wire: Wire, param: str) -> None:
    response = wire.v3(v3_send_call([MOBILE], params=(param,)))
    assert error_code(response) == "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"


def test_invalid_numbers_fail_per_number(wire: Wire, emulator: Emulator) -> None:
    response = wire.v3(v3_send_call([MOBILE, "+86123", "not-a-number"]))

    assert statuses(response) == ["Ok", *["InvalidParameterValue.IncorrectPhoneNumber"] * 2]
    assert [i["PhoneNumber"] for i in response["SendStatusSet"]] == [MOBILE, "+86123", "not-a-number"]
    assert emulator.accepted_count == 1


@pytest.mark.parametrize("raw", ["+8613800138000", "008613800138000", "8613800138000", "13800138000"])
def test_mainland_number_forms_are_answered_in_e164(wire: Wire, raw: str) -> None:
    [item] = wire.v3(v3_send_call([raw]))["SendStatusSet"]
    assert (item["Code"], item["PhoneNumber"]) == ("Ok", MOBILE)


def test_frequency_caps(catalogue: Catalogue, http: httpx.Client, clock: FakeClock) -> None:
    limits = FrequencyLimits(thirty_seconds=1)
    with Emulator(replace(catalogue, frequency_limits=limits), clock=clock) as emulator:
        wire = Wire(emulator, http)
        first, second = (wire.v3(v3_send_call([MOBILE])) for _ in range(2))
        clock.advance(30)
        third = wire.v3(v3_send_call([MOBILE]))
    assert statuses(first) + statuses(second) + statuses(third) == [
        "Ok",
        "LimitExceeded.PhoneNumberThirtySecondLimit",
        "Ok",
    ]


def test_session_context_and_fee_are_recorded(wire: Wire, emulator: Emulator) -> None:
    wire.v3(
        v3_send_call([MOBILE], template_id=LIFETIME_TEMPLATE, params=("1234", "5"), session_context="order-9")
    )

    [message] = emulator.messages()
    assert message.to_dict() | {"message_id": "", "submitted_at": 0} == {
        "message_id": "",
        "app_id": APP,
        "phone": MOBILE,
        "nationcode": "86",
        "mobile": "13800138000",
        "sign": SIGN,
        "template_id": LIFETIME_TEMPLATE,
        "params": ["1234", "5"],
        "text": "【腾讯云】您的验证码是1234，5分钟内有效。",
        "fee": 1,
        "protocol": "v3",
        "operation": "SendSms",
        "session_context": "order-9",
        "extend": "",
        "submitted_at": 0,
    }


# ---------------------------------------------------------------------- pulls


def test_pull_send_status_hands_each_receipt_out_once(timed: Wire, clock: FakeClock) -> None:
    sent = timed.v3(build_v3_send([MOBILE, MOBILE_2], CODE, APP))
    serials = [i["SerialNo"] for i in sent["SendStatusSet"]]

    before = timed.v3(build_v3_pull("receipts", 10, APP))
    clock.advance(60)
    first = timed.v3(build_v3_pull("receipts", 1, APP))
    rest = timed.v3(build_v3_pull("receipts", 100, APP))
    again = timed.v3(build_v3_pull("receipts", 100, APP))

    assert before["PullSmsSendStatusSet"] == []
    assert [r["SerialNo"] for r in first["PullSmsSendStatusSet"] + rest["PullSmsSendStatusSet"]] == serials
    assert again["PullSmsSendStatusSet"] == []
    assert first["PullSmsSendStatusSet"][0] == {
        "UserReceiveTime": 1_700_000_060,
        "CountryCode": "86",
        "SubscriberNumber": "13800138000",
        "PhoneNumber": MOBILE,
        "SerialNo": serials[0],
        "ReportStatus": "SUCCESS",
        "Description": "DELIVRD",
        "SessionContext": "ctx1",
    }


def test_receipts_cross_protocols_within_one_app(timed: Wire, clock: FakeClock) -> None:
    legacy_sid = timed.legacy(build_legacy_send([MOBILE], CODE))["sid"]
    clock.advance(60)
    pulled = timed.v3(build_v3_pull("receipts", 10, APP))["PullSmsSendStatusSet"]
    assert [r["SerialNo"] for r in pulled] == [legacy_sid]
    assert timed.legacy(build_legacy_pull("receipts", 10))["count"] == 0


def test_limit_over_100(wire: Wire) -> None:
    call = build_v3_pull("receipts", 10, APP)
    response = wire.v3(call._replace(body={**call.body, "Limit": 101}))
    assert error_code(response) == "InvalidParameterValue.LimitVerifyFail"


def test_per_number_pull_repeats_and_respects_the_window(timed: Wire, clock: FakeClock) -> None:
    timed.v3(build_v3_send([MOBILE, MOBILE_2], CODE, APP))
    clock.advance(60)
    now = timed.now()
    call = build_v3_pull_for_phone("receipts", MOBILE, now - 3600, now, 10, APP)

    answers = [timed.v3(call)["PullSmsSendStatusSet"] for _ in range(3)]
    early = timed.v3(build_v3_pull_for_phone("receipts", MOBILE, now - 3600, now - 1, 10, APP))

    assert [len(a) for a in answers] == [1, 1, 1]
    assert answers[0][0]["PhoneNumber"] == MOBILE
    assert early["PullSmsSendStatusSet"] == []
    assert len(timed.v3(build_v3_pull("receipts", 10, APP))["PullSmsSendStatusSet"]) == 2


def test_per_number_pull_before_receipts_are_due(timed: Wire) -> None:
    timed.v3(build_v3_send([MOBILE], CODE, APP))
    now = timed.now()
    answer = timed.v3(build_v3_pull_for_phone("receipts", MOBILE, now - 10, now + 100, 10, APP))
    assert answer["PullSmsSendStatusSet"] == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Offset": 1}, "InvalidParameterValue.OffsetVerifyFail"),
        ({"BeginTime": 1_700_000_000 - 8 * 86_400}, "InvalidParameterValue.BeginTimeVerifyFail"),
        ({"EndTime": 1_700_000_000 - 7200}, "InvalidParameterValue.EndTimeVerifyFail"),
        ({"Limit": 0}, "InvalidParameterValue.LimitVerifyFail"),
        ({"PhoneNumber": "+86123"}, "InvalidParameterValue.IncorrectPhoneNumber"),
        ({"BeginTime": None}, "MissingParameter"),
    ],
)
def test_per_number_pull_parameter_checks(timed: Wire, change: dict[str, object], code: str) -> None:
    call = build_v3_pull_for_phone("receipts", MOBILE, 1_700_000_000 - 3600, 1_700_000_000, 10, APP)
    body = {k: v for k, v in {**call.body, **change}.items() if v is not None}
    assert error_code(timed.v3(call._replace(body=body))) == code


def test_failure_rate_is_deterministic(catalogue: Catalogue, http: httpx.Client) -> None:
    def run(seed: int) -> list[str]:
        with Emulator(catalogue, failure_rate=0.5, seed=seed) as emulator:
            wire = Wire(emulator, http)
            wire.v3(v3_send_call([f"+861380013{i:04d}" for i in range(40)]))
            receipts = wire.v3(build_v3_pull("receipts", 100, APP))["PullSmsSendStatusSet"]
        return [r["ReportStatus"] for r in receipts]

    first, second = run(7), run(7)
    assert first == second
    assert 0 < first.count("FAIL") < 40


def test_failed_receipts_carry_a_carrier_code(catalogue: Catalogue, http: httpx.Client) -> None:
    with Emulator(catalogue, failure_rate=1.0) as emulator:
        wire = Wire(emulator, http)
        wire.v3(v3_send_call([MOBILE]))
        [receipt] = wire.v3(build_v3_pull("receipts", 10, APP))["PullSmsSendStatusSet"]
    assert (receipt["ReportStatus"], receipt["Description"]) == ("FAIL", "MK:0001")


def test_replies_pull_once_and_per_number(wire: Wire, emulator: Emulator) -> None:
    reply = emulator.inject_reply(MOBILE, "R", extend="7")
    emulator.inject_reply(US, "STOP", sign="")

    queue = wire.v3(build_v3_pull("replies", 10, APP))["PullSmsReplyStatusSet"]
    again = wire.v3(build_v3_pull("replies", 10, APP))["PullSmsReplyStatusSet"]
    now = wire.now()
    per_number = [
        wire.v3(build_v3_pull_for_phone("replies", MOBILE, now - 60, now, 10, APP))["PullSmsReplyStatusSet"]
        for _ in range(2)
    ]

    assert (len(queue), again) == (2, [])
    assert queue[0] == {
        "ExtendCode": "7",
        "CountryCode": "86",
        "PhoneNumber": MOBILE,
        "SignName": SIGN,
        "ReplyContent": "R",
        "ReplyTime": reply.time,
        "SubscriberNumber": "13800138000",
    }
    assert [len(p) for p in per_number] == [1, 1]


def test_future_reply_waits_for_its_time(wire: Wire, emulator: Emulator) -> None:
    emulator.inject_reply(MOBILE, "later", at=wire.now() + 3600)
    emulator.inject_reply(MOBILE_2, "now")
    pulled = wire.v3(build_v3_pull("replies", 10, APP))["PullSmsReplyStatusSet"]
    assert [r["ReplyContent"] for r in pulled] == ["now"]
