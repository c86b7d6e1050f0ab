"""The official SDK (tencentcloud-sdk-python) as referee of DescribeSmsTemplateList: the emulator's
answer parses in the SDK's models as in ours, and our request is one the SDK's model accepts."""

from __future__ import annotations

import json

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.sms.v20210111 import models

from local.emulator import Emulator
from shared import catalogue
from shared.client import SmsClient
from shared.config import Settings
from shared.errors import TencentError
from tests.emulator.test_sdks import no_proxy, sdk_client, sdk_request  # noqa: F401 - no_proxy is a fixture


@pytest.mark.usefixtures("no_proxy")
@pytest.mark.parametrize("international", [0, 1])
def test_sdk_and_our_parsing_agree(sms_emulator: Emulator, international: int) -> None:
    from shared.config import load_settings
    from tests.conftest import emulator_env

    ours_call = catalogue.build_describe_templates(international)
    # our request body is exactly what the SDK's request model serialises from the same fields
    request = sdk_request(models.DescribeSmsTemplateListRequest, **ours_call.body)
    assert {k: v for k, v in json.loads(request.to_json_string()).items() if v is not None} == ours_call.body
    sdk_answer = sdk_client(sms_emulator).DescribeSmsTemplateList(request)
    settings: Settings = load_settings(emulator_env(sms_emulator.url, "v3"))
    ours = catalogue.parse_describe_templates(SmsClient(settings).call(ours_call), ours_call)
    theirs = [
        (
            str(t.TemplateId),
            t.International,
            t.StatusCode,
            t.TemplateName,
            t.TemplateContent,
            t.ReviewReply,
            t.CreateTime,
        )
        for t in sdk_answer.DescribeTemplateStatusSet
    ]
    assert [
        (t.template_id, t.international, t.status, t.name, t.text, t.review_reply, t.created_at) for t in ours
    ] == theirs
    assert theirs, "the default catalogue has templates in both regions"
    if international == 0:
        assert {(t[0], t[2]) for t in theirs} >= {("7839", 0), ("7842", 1), ("7843", -1)}


@pytest.mark.usefixtures("no_proxy")
def test_sdk_by_ids_and_limits(sms_emulator: Emulator) -> None:
    client = sdk_client(sms_emulator)
    by_ids = client.DescribeSmsTemplateList(
        sdk_request(models.DescribeSmsTemplateListRequest, International=0, TemplateIdSet=[7840, 7841, 7842])
    )
    assert [t.TemplateId for t in by_ids.DescribeTemplateStatusSet] == [7840, 7842]  # 7841 is international
    page = client.DescribeSmsTemplateList(
        sdk_request(models.DescribeSmsTemplateListRequest, International=0, Limit=2, Offset=1)
    )
    assert [t.TemplateId for t in page.DescribeTemplateStatusSet] == [7840, 7842]
    with pytest.raises(TencentCloudSDKException) as refused:
        client.DescribeSmsTemplateList(
            sdk_request(models.DescribeSmsTemplateListRequest, International=0, Limit=101, Offset=0)
        )
    assert refused.value.code == "InvalidParameterValue.LimitVerifyFail"
    with pytest.raises(TencentCloudSDKException) as too_many:
        client.DescribeSmsTemplateList(
            sdk_request(
                models.DescribeSmsTemplateListRequest, International=0, TemplateIdSet=list(range(101))
            )
        )
    assert too_many.value.code == "InvalidParameterValue"
    signs = client.DescribeSmsSignList(
        sdk_request(models.DescribeSmsSignListRequest, International=0, SignIdSet=[1000])
    )
    assert [(s.SignId, s.SignName, s.StatusCode) for s in signs.DescribeSignListStatusSet] == [
        (1000, "腾讯云", 0)
    ]


def test_answer_parsing_refuses_bad_shapes() -> None:
    call = catalogue.build_describe_templates(0)
    good = {"TemplateId": 1, "International": 3, "StatusCode": 2, "TemplateContent": "x{1}"}
    [parsed] = catalogue.parse_describe_templates({"Response": {"DescribeTemplateStatusSet": [good]}}, call)
    assert (parsed.template_id, parsed.international, parsed.status) == ("1", 3, 2)
    for bad in ({**good, "StatusCode": 7}, {**good, "International": 2}, {"International": 0}):
        with pytest.raises(TencentError) as failed:
            catalogue.parse_describe_templates({"Response": {"DescribeTemplateStatusSet": [bad]}}, call)
        assert failed.value.code == "tencent_bad_response"
