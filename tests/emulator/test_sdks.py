"""The official SDKs as referees: what they build, the emulator must accept.

- tencentcloud-sdk-python (API 3.0) talks to the emulator directly over http://127.0.0.1:<port>.
- qcloudsms_py 0.1.4 (legacy) builds its requests itself; an `httpclient` forwards them to the
  emulator with httpx and parses the answer, because the SDK's own parsing is broken on
  Python >= 3.9 (`json.loads(..., encoding=...)`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from qcloudsms_py import SmsMobileStatusPuller, SmsMultiSender, SmsSingleSender, SmsStatusPuller
from qcloudsms_py.httpclient import HTTPClientInterface, HTTPRequest, HTTPResponse
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from local.emulator import DEFAULT_APPID, DEFAULT_APPKEY, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, Emulator

APP = DEFAULT_APPID
MOBILE = "+8613800138000"


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs read proxy settings from the environment; loopback traffic must not be proxied."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# ---------------------------------------------------------------------- tencentcloud-sdk-python


def sdk_client(emulator: Emulator, secret_key: str = DEFAULT_SECRET_KEY) -> sms_client.SmsClient:
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=f"127.0.0.1:{emulator.port}", protocol="http"))
    return sms_client.SmsClient(credential.Credential(DEFAULT_SECRET_ID, secret_key), "ap-guangzhou", profile)


def sdk_request(model: Any, **fields: Any) -> Any:
    request = model()
    request.from_json_string(json.dumps(fields))
    return request


@pytest.mark.usefixtures("no_proxy")
def test_tencentcloud_sdk_send_and_pulls(emulator: Emulator) -> None:
    client = sdk_client(emulator)
    sent = client.SendSms(
        sdk_request(
            models.SendSmsRequest,
            PhoneNumberSet=[MOBILE, "+8613800138001"],
            SmsSdkAppId=APP,
            SignName="腾讯云",
            TemplateId="7839",
            TemplateParamSet=["5678"],
            SessionContext="sdk",
        )
    )
    emulator.inject_reply(MOBILE, "TD")
    receipts = client.PullSmsSendStatus(
        sdk_request(models.PullSmsSendStatusRequest, Limit=10, SmsSdkAppId=APP)
    )
    replies = client.PullSmsReplyStatus(
        sdk_request(models.PullSmsReplyStatusRequest, Limit=10, SmsSdkAppId=APP)
    )
    now = int(time.time())
    by_phone = client.PullSmsSendStatusByPhoneNumber(
        sdk_request(
            models.PullSmsSendStatusByPhoneNumberRequest,
            BeginTime=now - 3600,
            EndTime=now + 60,
            Offset=0,
            Limit=10,
            PhoneNumber=MOBILE,
            SmsSdkAppId=APP,
        )
    )

    assert [s.Code for s in sent.SendStatusSet] == ["Ok", "Ok"]
    assert sent.SendStatusSet[0].SessionContext == "sdk"
    assert sorted(r.SerialNo for r in receipts.PullSmsSendStatusSet) == sorted(
        s.SerialNo for s in sent.SendStatusSet
    )
    assert [(r.PhoneNumber, r.ReplyContent) for r in replies.PullSmsReplyStatusSet] == [(MOBILE, "TD")]
    assert [r.PhoneNumber for r in by_phone.PullSmsSendStatusSet] == [MOBILE]
    assert emulator.requests[0].headers["host"] == f"127.0.0.1:{emulator.port}"


@pytest.mark.usefixtures("no_proxy")
def test_tencentcloud_sdk_wrong_key_is_signature_failure(emulator: Emulator) -> None:
    client = sdk_client(emulator, secret_key="not-the-key")
    request = sdk_request(models.PullSmsSendStatusRequest, Limit=10, SmsSdkAppId=APP)

    with pytest.raises(TencentCloudSDKException) as raised:
        client.PullSmsSendStatus(request)
    assert raised.value.get_code() == "AuthFailure.SignatureFailure"


@pytest.mark.usefixtures("no_proxy")
def test_tencentcloud_sdk_sees_per_number_failures(emulator: Emulator) -> None:
    sent = sdk_client(emulator).SendSms(
        sdk_request(
            models.SendSmsRequest,
            PhoneNumberSet=[MOBILE],
            SmsSdkAppId=APP,
            SignName="腾讯云",
            TemplateId="7839",
            TemplateParamSet=[],
        )
    )
    [status] = sent.SendStatusSet
    assert (status.Code, status.SerialNo, status.Fee) == (
        "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        "",
        0,
    )


# ---------------------------------------------------------------------- qcloudsms_py (capture/replay)


class Replay(HTTPClientInterface):
    """qcloudsms_py's pluggable HTTP client: sends the SDK-built request to the emulator instead of
    yun.tim.qq.com, records the exchange, and returns a response the SDK can parse."""

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url
        self.http = http
        self.exchanges: list[tuple[HTTPRequest, httpx.Response]] = []

    def fetch(self, req: HTTPRequest) -> HTTPResponse:
        assert req.url.startswith("https://yun.tim.qq.com/")
        url = self.base_url + req.url.removeprefix("https://yun.tim.qq.com")
        body = req.body.encode("utf-8") if isinstance(req.body, str) else req.body
        response = self.http.request(req.method, url, headers=req.headers, content=body)
        self.exchanges.append((req, response))
        return _ParsedResponse(req, response.status_code, response.content, dict(response.headers))


class _ParsedResponse(HTTPResponse):
    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def replay(emulator: Emulator, http: httpx.Client) -> Replay:
    return Replay(emulator.url, http)


def test_qcloudsms_response_parsing_is_broken_on_this_python() -> None:
    """Why the replay client parses answers itself."""
    with pytest.raises(TypeError):
        HTTPResponse(None, 200, b"{}").json()


def test_qcloudsms_single_sender_template_form(replay: Replay, emulator: Emulator) -> None:
    sender = SmsSingleSender(int(APP), DEFAULT_APPKEY, httpclient=replay)
    answer = sender.send_with_param(86, "13800138000", 7839, ["5678"], sign="腾讯云", extend="", ext="ctx1")

    assert (answer["result"], answer["ext"]) == (0, "ctx1")
    assert emulator.messages(MOBILE)[0].message_id == answer["sid"]
    assert replay.exchanges[0][1].request.url.path == "/v5/tlssmssvr/sendsms"


def test_qcloudsms_single_sender_content_form(replay: Replay, emulator: Emulator) -> None:
    msg = "【腾讯云】5678为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。"
    answer = SmsSingleSender(APP, DEFAULT_APPKEY, httpclient=replay).send(0, 86, "13800138000", msg)

    assert answer["result"] == 0
    assert emulator.messages(MOBILE)[0].text == msg


def test_qcloudsms_multi_sender(replay: Replay, emulator: Emulator) -> None:
    sender = SmsMultiSender(APP, DEFAULT_APPKEY, httpclient=replay)
    answer = sender.send_with_param(
        86, ["13800138000", "13800138001", "13800138002"], 7839, ["5678"], sign="腾讯云"
    )

    assert answer["result"] == 0
    assert [d["result"] for d in answer["detail"]] == [0, 0, 0]
    assert emulator.accepted_count == 3


def test_qcloudsms_pullers(replay: Replay, emulator: Emulator) -> None:
    SmsSingleSender(APP, DEFAULT_APPKEY, httpclient=replay).send_with_param(
        "86", "13800138000", 7839, ["5678"], sign="腾讯云"
    )
    emulator.inject_reply(MOBILE, "TD")
    puller = SmsStatusPuller(APP, DEFAULT_APPKEY, httpclient=replay)
    now = int(time.time())

    callbacks = puller.pull_callback(10)
    replies = puller.pull_reply(10)
    mobile = SmsMobileStatusPuller(APP, DEFAULT_APPKEY, httpclient=replay)
    per_number = mobile.pull_callback("86", "13800138000", now - 3600, now + 60, 10)
    per_number_replies = mobile.pull_reply("86", "13800138000", now - 3600, now + 60, 10)

    assert (callbacks["result"], callbacks["count"], callbacks["data"][0]["report_status"]) == (
        0,
        1,
        "SUCCESS",
    )
    assert (replies["result"], replies["data"][0]["text"]) == (0, "TD")
    assert (per_number["result"], per_number["count"]) == (0, 1)
    assert (per_number_replies["result"], per_number_replies["count"]) == (0, 1)


def test_qcloudsms_wrong_appkey_is_1001(replay: Replay, emulator: Emulator) -> None:
    answer = SmsSingleSender(APP, "wrong-appkey", httpclient=replay).send_with_param(
        86, "13800138000", 7839, ["5678"], sign="腾讯云"
    )
    pulled = SmsStatusPuller(APP, "wrong-appkey", httpclient=replay).pull_callback(10)

    assert (answer["result"], pulled["result"]) == (1001, 1001)
    assert emulator.accepted_count == 0
