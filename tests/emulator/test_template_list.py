"""`DescribeSmsTemplateList` with the official SDK as referee of our request and answer parsing, the
emulator's paging and limits, and its refusal of templates that are not live."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.sms.v20210111 import models

from local.emulator import Catalogue, Emulator
from local.emulator.catalogue import Template
from shared import template_list
from shared.client import SmsClient
from shared.config import load_settings
from shared.errors import TencentError, ValidationError
from shared.models import Message
from tests.conftest import emulator_env
from tests.emulator.test_sdks import no_proxy, sdk_client, sdk_request  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("no_proxy")


def our_client(emulator: Emulator, api: str = "v3") -> SmsClient:
    return SmsClient(load_settings(emulator_env(emulator.url, api)))


def test_the_sdk_reads_what_we_read(emulator: Emulator) -> None:
    sdk = sdk_client(emulator)
    listed = {}
    for international in (0, 1):
        answer = sdk.DescribeSmsTemplateList(
            sdk_request(
                models.DescribeSmsTemplateListRequest, International=international, Limit=100, Offset=0
            )
        )
        for item in answer.DescribeTemplateStatusSet:
            listed[str(item.TemplateId)] = (
                item.International,
                item.StatusCode,
                item.ReviewReply,
                item.TemplateName,
                item.CreateTime,
                item.TemplateContent,
            )
    ours = our_client(emulator).describe_templates()
    assert {t.template_id: tuple(t)[1:] for t in ours} == listed
    by_id = {t.template_id: t for t in ours}
    assert by_id["7841"].international == 1 and by_id["7844"].international == 3
    assert (by_id["7845"].status, by_id["7846"].status, by_id["7846"].review_reply) == (1, -1, "内容涉嫌诈骗")
    assert by_id["7840"].params == 2 and by_id["7839"].live and not by_id["7845"].live
    picked = sdk.DescribeSmsTemplateList(
        sdk_request(models.DescribeSmsTemplateListRequest, International=0, TemplateIdSet=[7839, 7844, 7841])
    )
    assert sorted(i.TemplateId for i in picked.DescribeTemplateStatusSet) == [7839, 7844]


def test_our_request_is_the_sdks() -> None:
    call = template_list.build_describe(international=True, offset=100)
    request = models.DescribeSmsTemplateListRequest()
    request.from_json_string(json.dumps(call.body))
    sdk_fields = {k: v for k, v in json.loads(request.to_json_string()).items() if v is not None}
    assert sdk_fields == call.body == {"International": 1, "Limit": 100, "Offset": 100}
    with pytest.raises(ValueError):
        template_list.build_describe(international=False, limit=101)


def test_pages_of_a_hundred(catalogue: Catalogue) -> None:
    many = {str(9000 + i): Template(str(9000 + i), f"第{i}号{{1}}") for i in range(230)}
    with Emulator(replace(catalogue, templates={**catalogue.templates, **many})) as emulator:
        listed = our_client(emulator).describe_templates()
        assert len(listed) == 230 + len(catalogue.templates)
        describes = [r for r in emulator.requests if "DescribeSmsTemplateList" in str(r.headers)]
        assert len(describes) == 4  # mainland: 100, 100, 38; international: 3


def test_the_emulator_checks_the_limits(emulator: Emulator) -> None:
    sdk = sdk_client(emulator)
    for fields in (
        {"International": 0, "Limit": 101, "Offset": 0},
        {"International": 2, "Limit": 1, "Offset": 0},
    ):
        with pytest.raises(TencentCloudSDKException) as refused:
            sdk.DescribeSmsTemplateList(sdk_request(models.DescribeSmsTemplateListRequest, **fields))
        assert refused.value.code.startswith("InvalidParameterValue")


@pytest.mark.parametrize("api", ["v3", "legacy"])
def test_templates_in_review_or_rejected_are_refused(emulator: Emulator, api: str) -> None:
    client = our_client(emulator, api)
    for template_id in ("7845", "7846"):
        message = Message(template_id=template_id, params=("1",))
        if api == "v3":  # a request-level error on API 3.0, a per-number result on the legacy API
            with pytest.raises(TencentError) as refused:
                client.send_single("+8613800000000", message)
            assert refused.value.tencent_code == "FailedOperation.TemplateIncorrectOrUnapproved"
        else:
            result = client.send_single("+8613800000000", message)
            assert (result.status, result.code) == ("failed", "1014")
    assert emulator.accepted_count == 0


def test_the_legacy_api_has_no_template_list(emulator: Emulator) -> None:
    with pytest.raises(ValidationError, match="SMS_TEMPLATES"):
        our_client(emulator, "legacy").describe_templates()
