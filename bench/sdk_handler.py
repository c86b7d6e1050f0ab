"""A minimal SMS-sending function on the official SDK (`tencentcloud-sdk-python-sms`): the cold
start baseline of `bench/throughput.py`.

    handler({"phone": "+8613800000000", "params": ["1234"]}, None)

Reads the same environment as the project's functions (TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY,
TENCENT_SMS_SDKAPPID or TENCENT_SMS_APPID, TENCENT_SMS_SIGN, TENCENT_SMS_TEMPLATE_ID,
TENCENT_SMS_REGION, and TENCENT_SMS_ENDPOINT for the emulator), builds a Credential and an
SmsClient once per container, and sends one SMS. No validation, store, limits or logging.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

_client: sms_client.SmsClient | None = None


def _make_client() -> sms_client.SmsClient:
    endpoint = os.environ.get("TENCENT_SMS_ENDPOINT", "")
    http_profile = HttpProfile()
    if endpoint:
        split = urlsplit(endpoint)
        http_profile = HttpProfile(endpoint=split.netloc, protocol=split.scheme or "https")
    cred = credential.Credential(os.environ["TENCENTCLOUD_SECRETID"], os.environ["TENCENTCLOUD_SECRETKEY"])
    region = os.environ.get("TENCENT_SMS_REGION", "ap-guangzhou")
    return sms_client.SmsClient(cred, region, ClientProfile(httpProfile=http_profile))


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    global _client
    if _client is None:
        _client = _make_client()
    request = models.SendSmsRequest()
    request.PhoneNumberSet = [str(event["phone"])]
    request.SmsSdkAppId = os.environ.get("TENCENT_SMS_SDKAPPID") or os.environ["TENCENT_SMS_APPID"]
    request.TemplateId = str(event.get("template_id") or os.environ["TENCENT_SMS_TEMPLATE_ID"])
    request.SignName = os.environ.get("TENCENT_SMS_SIGN", "")
    request.TemplateParamSet = [str(p) for p in event.get("params", [])]
    status = _client.SendSms(request).SendStatusSet[0]
    return {"phone": status.PhoneNumber, "code": status.Code, "message_id": status.SerialNo}


main_handler = handler
