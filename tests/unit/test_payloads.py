"""Request bodies and answer parsing."""

from __future__ import annotations

import json
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import payloads
from shared.errors import Category, TencentError, UnknownOutcomeError, ValidationError
from shared.models import Message

TEMPLATE = Message(template_id="7839", params=("5678",), sign="腾讯云")


def _v3_send(phones: list[str]) -> payloads.ApiCall:
    return payloads.build_v3_send(phones, TEMPLATE, "1400009099")


def test_v3_send_body_keeps_sdk_order_and_omits_empty_optionals() -> None:
    call = _v3_send(["+8613800000000"])
    assert list(call.body) == ["PhoneNumberSet", "SmsSdkAppId", "TemplateId", "SignName", "TemplateParamSet"]
    assert call.is_send
    assert call.phones == ("+8613800000000",)


def test_v3_refuses_plain_content() -> None:
    with pytest.raises(ValidationError) as err:
        payloads.build_v3_send(["+8613800000000"], Message(content="hello"), "1")
    assert err.value.field == "content"


@pytest.mark.parametrize("count", [0, 201])
def test_chunk_size_limits(count: int) -> None:
    phones = [f"+86138{i:08d}" for i in range(count)]
    with pytest.raises(ValidationError):
        _v3_send(phones)


def test_mixed_regions_refused_in_one_call() -> None:
    with pytest.raises(ValidationError, match="mix"):
        _v3_send(["+8613800000000", "+14155552671"])


def test_legacy_single_and_multi_shapes() -> None:
    single = payloads.build_legacy_send(["+8613800000000"], TEMPLATE)
    assert single.operation == "sendsms"
    assert single.body["tel"] == {"nationcode": "86", "mobile": "13800000000"}
    assert single.legacy_mobiles == ("13800000000",)
    multi = payloads.build_legacy_send(["+14155552671", "+14155552672"], TEMPLATE)
    assert multi.operation == "sendmultisms2"
    assert multi.body["tel"][1] == {"nationcode": "1", "mobile": "4155552672"}
    assert multi.legacy_mobiles == ("4155552671", "4155552672")
    mainland = payloads.build_legacy_send(["+8613800000000", "+8619800000001"], TEMPLATE)
    assert mainland.body["tel"] == [
        {"nationcode": "86", "mobile": "13800000000"},
        {"nationcode": "86", "mobile": "19800000001"},
    ]
    assert mainland.legacy_mobiles == ("13800000000", "19800000001")
    content = payloads.build_legacy_send(["+8613800000000"], Message(content="【腾讯云】hi", content_type=1))
    assert (content.body["type"], content.body["msg"]) == (1, "【腾讯云】hi")


def test_pull_limit_bounds() -> None:
    with pytest.raises(ValidationError):
        payloads.build_v3_pull("receipts", 101, "1")
    with pytest.raises(ValidationError):
        payloads.build_legacy_pull("replies", 0)


# --------------------------------------------------------------------------- parsing sends


def test_v3_send_per_number_results_only_ok_is_success() -> None:
    call = _v3_send(["+8618501234444", "+8613800000000"])
    answer = {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": "",
                    "PhoneNumber": "+8618501234444",
                    "Fee": 0,
                    "SessionContext": "",
                    "Code": "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                    "Message": "request content does not match the template content",
                    "IsoCode": "",
                },
                {
                    "SerialNo": "5000:1045710669157053657849499619",
                    "PhoneNumber": "+8613800000000",
                    "Fee": 1,
                    "SessionContext": "outsid",
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                },
            ],
            "RequestId": "4e394811",
        }
    }
    failed, ok = payloads.parse_v3_send(answer, call)
    assert (failed.status, failed.message_id, failed.fee) == ("failed", "", 0)
    assert failed.code == "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    assert (ok.status, ok.message_id, ok.fee, ok.code) == (
        "submitted",
        "5000:1045710669157053657849499619",
        1,
        "Ok",
    )


def test_v3_ok_code_is_case_sensitive_and_needs_a_serial() -> None:
    call = _v3_send(["+8613800000000"])
    for item in ({"Code": "OK", "SerialNo": "x"}, {"Code": "Ok", "SerialNo": ""}):
        answer = {"Response": {"SendStatusSet": [{"PhoneNumber": "+8613800000000", **item}]}}
        assert payloads.parse_v3_send(answer, call)[0].status == "failed"


def test_v3_error_envelope_raises_with_tencent_code_kept() -> None:
    call = _v3_send(["+8613800000000"])
    answer = {
        "Response": {
            "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad sig"},
            "RequestId": "ed93",
        }
    }
    with pytest.raises(TencentError) as err:
        payloads.parse_v3_send(answer, call)
    assert err.value.tencent_code == "AuthFailure.SignatureFailure"
    assert err.value.category is Category.ACCOUNT
    assert err.value.status == 502
    assert err.value.to_body()["error"]["tencent_message"] == "bad sig"


def test_a_number_missing_from_the_answer_is_unknown_not_dropped() -> None:
    call = _v3_send(["+8613800000000", "+8613800000001"])
    answer = {
        "Response": {"SendStatusSet": [{"PhoneNumber": "+8613800000000", "Code": "Ok", "SerialNo": "s1"}]}
    }
    results = payloads.parse_v3_send(answer, call)
    assert [r.status for r in results] == ["submitted", "unknown"]


def test_legacy_single_answers() -> None:
    call = payloads.build_legacy_send(["+8613800000000"], TEMPLATE)
    ok = payloads.parse_legacy_send({"result": 0, "errmsg": "OK", "ext": "", "sid": "8:abc", "fee": 1}, call)[
        0
    ]
    assert (ok.status, ok.message_id, ok.code) == ("submitted", "8:abc", "Ok")
    per_number = payloads.parse_legacy_send({"result": 1016, "errmsg": "bad number"}, call)[0]
    assert (per_number.status, per_number.code) == ("failed", "1016")
    with pytest.raises(TencentError) as err:
        payloads.parse_legacy_send({"result": 1001, "errmsg": "sig error"}, call)
    assert err.value.tencent_code == "1001"


def test_legacy_multi_detail_per_number() -> None:
    call = payloads.build_legacy_send(["+8613800000000", "+8613800000001"], TEMPLATE)
    answer = {
        "result": 0,
        "errmsg": "OK",
        "ext": "",
        "detail": [
            {"result": 0, "errmsg": "OK", "mobile": "13800000000", "nationcode": "86", "sid": "s1", "fee": 2},
            {
                "result": 1016,
                "errmsg": "bad",
                "mobile": "13800000001",
                "nationcode": "86",
                "sid": "",
                "fee": 0,
            },
        ],
    }
    first, second = payloads.parse_legacy_send(answer, call)
    assert (first.status, first.fee, second.status, second.code) == ("submitted", 2, "failed", "1016")
    with pytest.raises(TencentError):
        payloads.parse_legacy_send({"result": 1046, "errmsg": "too many"}, call)


@pytest.mark.parametrize(
    "answer", [[], {"result": "0"}, {"Response": []}, {"Response": {"SendStatusSet": {}}}, "x"]
)
def test_malformed_send_answer_is_an_unknown_outcome(answer: object) -> None:
    for call, parse in (
        (_v3_send(["+8613800000000"]), payloads.parse_v3_send),
        (payloads.build_legacy_send(["+8613800000000"], TEMPLATE), payloads.parse_legacy_send),
    ):
        with pytest.raises(UnknownOutcomeError) as err:
            parse(answer, call)
        assert err.value.phones == ("+8613800000000",)


def test_non_json_answer_to_a_send_is_unknown_outcome_and_to_a_pull_a_tencent_error() -> None:
    with pytest.raises(UnknownOutcomeError):
        payloads.decode_json(b"<html>", _v3_send(["+8613800000000"]))
    with pytest.raises(TencentError) as err:
        payloads.decode_json(b"{", payloads.build_v3_pull("receipts", 10, "1"))
    assert err.value.code == "tencent_bad_response"


# --------------------------------------------------------------------------- parsing pulls


def test_v3_pull_items_parse() -> None:
    call = payloads.build_v3_pull("receipts", 10, "1")
    answer = {
        "Response": {
            "PullSmsSendStatusSet": [
                {
                    "Description": "DELIVRD",
                    "CountryCode": "86",
                    "SubscriberNumber": "18501234444",
                    "ReportStatus": "SUCCESS",
                    "PhoneNumber": "+8618501234444",
                    "SerialNo": "5000:1",
                    "UserReceiveTime": 1620734188,
                    "SessionContext": "",
                },
                {
                    "CountryCode": "86",
                    "SubscriberNumber": "18501234445",
                    "SerialNo": "5000:2",
                    "UserReceiveTime": 0,
                },
            ],
            "RequestId": "r",
        }
    }
    result = payloads.parse_v3_pull(answer, call, "receipts")
    first, second = result.receipts
    assert (first.status, first.phone, first.carrier_code, first.received_at) == (
        "delivered",
        "+8618501234444",
        "DELIVRD",
        1620734188,
    )
    assert (second.status, second.phone) == ("unknown", "+8618501234445")
    replies = payloads.parse_v3_pull(
        {
            "Response": {
                "PullSmsReplyStatusSet": [
                    {
                        "CountryCode": "86",
                        "ReplyContent": "1",
                        "SubscriberNumber": "18501234444",
                        "ExtendCode": "11",
                        "ReplyTime": 1620734188,
                        "PhoneNumber": "+8618501234444",
                        "SignName": "腾讯云",
                    }
                ]
            }
        },
        call,
        "replies",
    )
    assert replies.replies[0].text == "1"
    assert replies.replies[0].extend == "11"


def test_legacy_pull_items_parse_with_beijing_time() -> None:
    call = payloads.build_legacy_pull("receipts", 10)
    answer = {
        "result": 0,
        "errmsg": "OK",
        "count": 1,
        "data": [
            {
                "user_receive_time": "2015-10-17 08:03:04",
                "nationcode": "86",
                "mobile": "13800000000",
                "report_status": "FAIL",
                "errmsg": "MK:0001",
                "description": "空号",
                "sid": "x1",
            }
        ],
    }
    receipt = payloads.parse_legacy_pull(answer, call, "receipts").receipts[0]
    assert receipt.received_at == 1445040184  # 2015-10-17 00:03:04 UTC
    assert (receipt.status, receipt.carrier_code, receipt.phone) == ("failed", "MK:0001", "+8613800000000")
    reply_answer = {
        "result": 0,
        "data": [
            {
                "nationcode": "86",
                "mobile": "13800000000",
                "text": "TD",
                "sign": "腾讯云",
                "time": 1457336869,
                "extend": "",
            }
        ],
    }
    reply = payloads.parse_legacy_pull(reply_answer, call, "replies").replies[0]
    assert (reply.text, reply.replied_at) == ("TD", 1457336869)


def test_pull_never_drops_an_item_that_does_not_parse() -> None:
    call = payloads.build_v3_pull("receipts", 10, "1")
    answer = {
        "Response": {
            "PullSmsSendStatusSet": [
                {"SerialNo": "ok", "PhoneNumber": "+8613800000000", "ReportStatus": "SUCCESS"},
                {"PhoneNumber": "+8613800000000"},  # no SerialNo
                "garbage",
            ]
        }
    }
    result = payloads.parse_v3_pull(answer, call, "receipts")
    assert len(result.receipts) == 1
    assert result.unparsed == ({"PhoneNumber": "+8613800000000"}, {"raw": "garbage"})
    assert result.count == 3


def test_pull_error_codes_raise() -> None:
    with pytest.raises(TencentError) as err:
        payloads.parse_legacy_pull(
            {"result": 1021, "errmsg": "time"}, payloads.build_legacy_pull("receipts", 1), "receipts"
        )
    assert err.value.category is Category.ACCOUNT


def test_encode_json_is_ascii_like_the_sdks() -> None:
    assert payloads.encode_json({"SignName": "腾讯云"}) == b'{"SignName": "\\u817e\\u8baf\\u4e91"}'
    assert json.loads(payloads.encode_json({"a": [1, "b"]})) == {"a": [1, "b"]}
    legacy = payloads.build_legacy_send(["+8613800000000", "+8613900000000"], TEMPLATE).body
    assert payloads.encode_json(legacy) == json.dumps(legacy).encode("ascii")


# Answers to a three-number list: what an accepting server writes, as is or with one thing wrong
# (an entry moved, left out, doubled or not an entry; a field missing or of another type; a number
# refused), so that both ways of reading are taken.
NUMBERS = ["+8613800000000", "+8613800000001", "+8613800000002"]
ODD = st.one_of(st.none(), st.booleans(), st.integers(-1, 2), st.text(max_size=3), st.just(["x"]))
TEXT = st.text(max_size=5)


def _spoiled(
    data: st.DataObject, entries: list[dict[str, object]], refused: dict[str, object]
) -> list[object]:
    """The entries as they are, or with one thing wrong (`refused`: fields of a refused number)."""
    items: list[object] = list(entries)
    at = data.draw(st.integers(0, len(entries) - 1))
    entry = dict(entries[at])
    match data.draw(st.sampled_from(["as is", "as is", "moved", "left out", "doubled", "no entry", "field"])):
        case "moved":
            items = data.draw(st.permutations(entries))
        case "left out":
            del items[at]
        case "doubled":
            items.append(entry)
        case "no entry":
            items[at] = "not an entry"
        case "field":
            key = data.draw(st.sampled_from(sorted(entry)))
            choice = data.draw(st.sampled_from(["missing", "odd", "refused"]))
            if choice == "missing":
                del entry[key]
            else:
                entry[key] = data.draw(ODD) if choice == "odd" else refused.get(key, data.draw(ODD))
            items[at] = entry
    return items


@given(st.data())
def test_a_v3_answer_is_read_as_a_number_at_a_time_would(data: st.DataObject) -> None:
    """The column-wise reading of an answer that sent every number gives what reading each entry
    gives, and any other answer is read an entry at a time."""
    entries = [
        {"PhoneNumber": n, "Code": "Ok", "SerialNo": data.draw(st.text(min_size=1, max_size=6)),
         "Fee": data.draw(st.integers(0, 3)), "Message": data.draw(TEXT), "SessionContext": data.draw(TEXT)}
        for n in NUMBERS
    ]  # fmt: skip
    items = _spoiled(
        data, entries, {"Code": "LimitExceeded", "SerialNo": "", "PhoneNumber": "+8613800000009"}
    )
    call = _v3_send(NUMBERS)
    answer = {"Response": {"SendStatusSet": items, "RequestId": "r"}}
    assert payloads.parse_v3_send(answer, call) == payloads._v3_each(items, call)


@given(st.data())
def test_a_legacy_answer_is_read_as_a_number_at_a_time_would(data: st.DataObject) -> None:
    ext = data.draw(TEXT)
    entries = [
        {"nationcode": data.draw(st.sampled_from(["86", 86])), "mobile": n[3:], "result": 0,
         "sid": data.draw(TEXT), "fee": data.draw(st.integers(0, 3)), "errmsg": data.draw(TEXT),
         **({"ext": data.draw(TEXT)} if data.draw(st.booleans()) else {})}
        for n in NUMBERS
    ]  # fmt: skip
    items = _spoiled(data, entries, {"result": 1016, "mobile": "13800000009"})
    call = payloads.build_legacy_send(NUMBERS, TEMPLATE._replace(session_context=ext))
    answer = {"result": 0, "errmsg": "OK", "ext": ext, "detail": items}
    assert payloads.parse_legacy_send(answer, call) == payloads._legacy_each(items, call, ext)


V3_ENTRY = {"Code": "Ok", "SerialNo": "s1", "Fee": 1, "Message": "m", "SessionContext": "c"}
LEGACY_ENTRY = {"nationcode": "86", "result": 0, "sid": "s1", "fee": 1, "errmsg": "m", "ext": "c"}
ODDS = (None, True, 0, 1, "", "x", ["x"])


def _changed(entry: dict[str, object], key: str, value: object) -> dict[str, object]:
    return {k: v for k, v in entry.items() if k != key} if value is _changed else {**entry, key: value}


@pytest.mark.parametrize("key", ["PhoneNumber", *V3_ENTRY])
@pytest.mark.parametrize("value", [_changed, *ODDS])
def test_a_v3_entry_with_a_field_missing_or_odd_is_read_as_a_number_at_a_time_would(
    key: str, value: object
) -> None:
    call = _v3_send(NUMBERS)
    items: list[object] = [{"PhoneNumber": n, **V3_ENTRY, "SerialNo": f"s{i}"} for i, n in enumerate(NUMBERS)]
    items[1] = _changed(cast(dict, items[1]), key, value)
    assert payloads.parse_v3_send({"Response": {"SendStatusSet": items}}, call) == payloads._v3_each(
        items, call
    )


@pytest.mark.parametrize("key", ["mobile", *LEGACY_ENTRY])
@pytest.mark.parametrize("value", [_changed, *ODDS])
def test_a_legacy_entry_with_a_field_missing_or_odd_is_read_as_a_number_at_a_time_would(
    key: str, value: object
) -> None:
    call = payloads.build_legacy_send(NUMBERS, TEMPLATE._replace(session_context="e"))
    items: list[object] = [{"mobile": n[3:], **LEGACY_ENTRY} for n in NUMBERS]
    items[1] = _changed(cast(dict, items[1]), key, value)
    answer = {"result": 0, "errmsg": "OK", "ext": "e", "detail": items}
    assert payloads.parse_legacy_send(answer, call) == payloads._legacy_each(items, call, "e")


def test_a_call_naming_a_number_twice_is_read_entry_by_entry() -> None:
    """Read by lookup, both places of a number take its last entry; read by place they would not."""
    call = _v3_send([NUMBERS[0], NUMBERS[0]])
    items = [{"PhoneNumber": NUMBERS[0], **V3_ENTRY, "SerialNo": f"s{i}"} for i in range(2)]
    assert [r.message_id for r in payloads.parse_v3_send({"Response": {"SendStatusSet": items}}, call)] == [
        "s1",
        "s1",
    ]


def test_an_accepting_answer_is_read_column_wise() -> None:
    """The usual answer takes the column-wise way, each result whole (every field, defaults too)."""
    call = _v3_send(NUMBERS)
    items = [
        {"PhoneNumber": n, "Code": "Ok", "SerialNo": f"s{i}", "Fee": 1, "Message": "m", "SessionContext": ""}
        for i, n in enumerate(NUMBERS)
    ]
    results = payloads._v3_all_sent(items, call)
    assert results is not None
    assert results == payloads._v3_each(items, call)
    assert [(r.limit, r.retry_after, r.ok) for r in results] == [("", 0, True)] * 3
    assert payloads._v3_all_sent([*items[:2], {**items[2], "Fee": True}], call) is None
