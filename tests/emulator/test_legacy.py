"""The legacy v5 protocol over real loopback HTTP: sig verification, sending rules, pulls."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from local.emulator import DEFAULT_APPKEY, Catalogue, Emulator, FrequencyLimits, Template
from shared.models import Message
from shared.payloads import build_legacy_pull, build_legacy_pull_for_phone, build_legacy_send
from shared.signing import legacy_sig
from tests.emulator.wire import (
    MOBILE,
    MOBILE_2,
    SIGN,
    FakeClock,
    Wire,
    legacy_content_call,
    legacy_send_call,
)

CODE = Message(template_id="7839", params=("5678",), sign=SIGN, session_context="ctx1")


# ---------------------------------------------------------------------- authentication


def test_single_send_with_correct_sig_is_accepted(wire: Wire, emulator: Emulator) -> None:
    answer = wire.legacy(build_legacy_send([MOBILE], CODE))

    assert answer["result"] == 0
    assert answer["errmsg"] == "OK"
    assert answer["ext"] == "ctx1"
    assert answer["sid"].startswith("2019:")
    assert answer["fee"] == 1
    [message] = emulator.messages(MOBILE)
    assert message.message_id == answer["sid"]
    assert message.text == "【腾讯云】5678为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。"
    assert (message.protocol, message.operation, message.session_context) == ("legacy", "sendsms", "ctx1")


def test_wrong_appkey_is_1001_and_nothing_is_sent(wire: Wire, emulator: Emulator) -> None:
    answer = wire.legacy(build_legacy_send([MOBILE], CODE), appkey="not-the-appkey")

    assert answer["result"] == 1001
    assert answer["ext"] == "ctx1"
    assert emulator.accepted_count == 0


def test_sig_over_other_mobiles_is_1001(wire: Wire) -> None:
    call = legacy_send_call([("86", "13800138000")])
    body = dict(call.body, time=wire.now())
    body["sig"] = legacy_sig(DEFAULT_APPKEY, 42, body["time"], ["13800138001"])
    assert wire.legacy_signed_body("sendsms", body, random=42)["result"] == 1001


def test_pull_signed_with_a_mobile_is_1001(wire: Wire) -> None:
    answer = wire.legacy_signed_body("pullstatus", {"type": 0, "max": 10}, mobiles=["13800138000"])
    assert answer["result"] == 1001


def test_missing_sig_is_1003(wire: Wire) -> None:
    body = {"type": 0, "max": 10, "time": wire.now()}
    assert wire.legacy_raw("pullstatus", json.dumps(body).encode())["result"] == 1003


def test_time_more_than_ten_minutes_off_is_1021(wire: Wire) -> None:
    stale = wire.legacy(build_legacy_send([MOBILE], CODE), timestamp=wire.now() - 601)
    future = wire.legacy(build_legacy_pull("receipts", 10), timestamp=wire.now() + 700)
    fine = wire.legacy(build_legacy_pull("receipts", 10), timestamp=wire.now() - 500)

    assert (stale["result"], future["result"], fine["result"]) == (1021, 1021, 0)


def test_unknown_sdkappid_is_1019(wire: Wire) -> None:
    assert wire.legacy(build_legacy_send([MOBILE], CODE), appid="1400000000")["result"] == 1019


def test_unknown_operation_is_1011(wire: Wire) -> None:
    assert wire.legacy_raw("sendvoice", b"{}")["result"] == 1011


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", json.dumps({"tel": "13800138000", "sig": "x", "time": 1}).encode()],
)
def test_unparseable_body_is_1004(wire: Wire, body: bytes) -> None:
    assert wire.legacy_raw("sendsms", body)["result"] == 1004


def test_time_of_wrong_type_is_1004(wire: Wire) -> None:
    answer = wire.legacy_signed_body("pullstatus", {"type": 0, "max": 10, "time": "now", "sig": "abc"})
    assert answer["result"] == 1004


# ---------------------------------------------------------------------- sending rules


def test_multi_send_answers_one_detail_per_number(wire: Wire, emulator: Emulator) -> None:
    answer = wire.legacy(build_legacy_send([MOBILE, MOBILE_2], CODE))

    assert answer["result"] == 0
    assert [(d["nationcode"], d["mobile"], d["result"]) for d in answer["detail"]] == [
        ("86", "13800138000", 0),
        ("86", "13800138001", 0),
    ]
    assert all(d["sid"] and d["fee"] == 1 and d["errmsg"] == "OK" for d in answer["detail"])
    assert len({d["sid"] for d in answer["detail"]}) == 2
    assert emulator.accepted_count == 2


def test_more_than_200_numbers_is_1046(wire: Wire) -> None:
    tels = [("86", f"13800{i:06d}") for i in range(201)]
    assert wire.legacy(legacy_send_call(tels))["result"] == 1046


@pytest.mark.usefixtures("emulator")
def test_exactly_200_numbers_are_accepted(wire: Wire) -> None:
    tels = [("86", f"1380013{i:04d}") for i in range(200)]
    answer = wire.legacy(legacy_send_call(tels))
    assert answer["result"] == 0
    assert sum(1 for d in answer["detail"] if d["result"] == 0) == 200


def test_empty_number_list_is_1004(wire: Wire) -> None:
    call = legacy_send_call([], multi=True)
    assert wire.legacy_signed_body("sendmultisms2", call.body | {"sig": "x"})["result"] == 1004


def test_mixing_mainland_and_international_is_1034(wire: Wire) -> None:
    answer = wire.legacy(legacy_send_call([("86", "13800138000"), ("1", "2025550123")]))
    assert answer["result"] == 1034


@pytest.mark.parametrize("sign", ["未知签名", ""])
def test_unknown_or_missing_sign_for_mainland_is_1012(wire: Wire, sign: str) -> None:
    assert wire.legacy(legacy_send_call([("86", "13800138000")], sign=sign))["result"] == 1012


def test_unknown_template_is_1014(wire: Wire) -> None:
    assert wire.legacy(legacy_send_call([("86", "13800138000")], tpl_id=1))["result"] == 1014


def test_mainland_template_to_international_number_is_1014(wire: Wire) -> None:
    assert wire.legacy(legacy_send_call([("1", "2025550123")]))["result"] == 1014


def test_international_template_to_mainland_number_is_1014(wire: Wire) -> None:
    assert wire.legacy(legacy_send_call([("86", "13800138000")], tpl_id=7841))["result"] == 1014


def test_international_template_to_international_number_needs_no_sign(wire: Wire, emulator: Emulator) -> None:
    answer = wire.legacy(legacy_send_call([("1", "2025550123")], tpl_id=7841, sign=""))

    assert answer["result"] == 0
    [message] = emulator.messages("+12025550123")
    assert message.text == "Your verification code is 5678."


def test_wrong_parameter_count_single_is_1014(wire: Wire, emulator: Emulator) -> None:
    answer = wire.legacy(legacy_send_call([("86", "13800138000")], params=("1", "2")))
    assert answer["result"] == 1014
    assert emulator.accepted_count == 0


def test_wrong_parameter_count_multi_is_in_every_detail(wire: Wire) -> None:
    answer = wire.legacy(legacy_send_call([("86", "13800138000"), ("86", "13800138001")], params=()))

    assert answer["result"] == 0
    assert [d["result"] for d in answer["detail"]] == [1014, 1014]
    assert all(d["sid"] == "" and d["fee"] == 0 for d in answer["detail"])


def test_parameter_longer_than_the_limit_is_1036(wire: Wire) -> None:
    ok = wire.legacy(legacy_send_call([("86", "13800138000")], params=("x" * 12,)))
    too_long = wire.legacy(legacy_send_call([("86", "13800138000")], params=("x" * 13,)))
    assert (ok["result"], too_long["result"]) == (0, 1036)


def test_url_in_a_parameter_is_1048(wire: Wire) -> None:
    answer = wire.legacy(legacy_send_call([("86", "13800138000")], params=("t.cn/abc",)))
    assert answer["result"] == 1048


def test_invalid_number_in_single_send_is_top_level_1016(wire: Wire) -> None:
    answer = wire.legacy(legacy_send_call([("86", "12345")]))
    assert answer["result"] == 1016


def test_invalid_number_in_multi_send_is_in_its_detail(wire: Wire, emulator: Emulator) -> None:
    answer = wire.legacy(legacy_send_call([("86", "13800138000"), ("86", "999")]))

    assert answer["result"] == 0
    assert [(d["mobile"], d["result"]) for d in answer["detail"]] == [("13800138000", 0), ("999", 1016)]
    assert emulator.accepted_count == 1


def test_integer_nationcode_and_mobile_are_accepted(wire: Wire) -> None:
    answer = wire.legacy(legacy_send_call([(86, 13800138000), (86, 13800138001)]))
    assert [d["result"] for d in answer["detail"]] == [0, 0]
    assert answer["detail"][0]["nationcode"] == "86"


def test_long_text_is_billed_per_segment(catalogue: Catalogue, http: httpx.Client) -> None:
    long = Template("9001", "通知：" + "很" * 70 + "{1}")
    with Emulator(replace(catalogue, templates={long.id: long})) as emulator:
        wire = Wire(emulator, http)
        answer = wire.legacy(legacy_send_call([("86", "13800138000")], tpl_id=9001, params=("好",)))
    assert answer["fee"] == 2  # 【腾讯云】 + 74 characters = 79 > 70


# ---------------------------------------------------------------------- content form


def test_content_matching_a_template_is_accepted(wire: Wire, emulator: Emulator) -> None:
    msg = "【腾讯云】您的验证码是1234，5分钟内有效。"
    answer = wire.legacy(legacy_content_call([("86", "13800138000")], msg))

    assert answer["result"] == 0
    [message] = emulator.messages(MOBILE)
    assert (message.template_id, message.params, message.text) == ("7840", ("1234", "5"), msg)


def test_content_without_sign_uses_the_default_sign(wire: Wire, emulator: Emulator) -> None:
    answer = wire.legacy(legacy_content_call([("86", "13800138000")], "您的验证码是1234，5分钟内有效。"))

    assert answer["result"] == 0
    assert emulator.messages()[0].text == "【腾讯云】您的验证码是1234，5分钟内有效。"


def test_content_not_matching_any_template_is_1014(wire: Wire) -> None:
    answer = wire.legacy(legacy_content_call([("86", "13800138000")], "【腾讯云】您的验证码是5678"))
    assert answer["result"] == 1014


def test_content_with_unknown_sign_is_1012(wire: Wire) -> None:
    answer = wire.legacy(
        legacy_content_call([("86", "13800138000")], "【别家】您的验证码是1234，5分钟内有效。")
    )
    assert answer["result"] == 1012


def test_content_multi_send(wire: Wire) -> None:
    tels = [("86", "13800138000"), ("86", "13800138001")]
    answer = wire.legacy(
        legacy_content_call(
            tels, "【腾讯云】1234为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。"
        )
    )
    assert [d["result"] for d in answer["detail"]] == [0, 0]


# ---------------------------------------------------------------------- frequency caps


def test_frequency_caps_are_off_by_default(wire: Wire) -> None:
    results = [wire.legacy(build_legacy_send([MOBILE], CODE))["result"] for _ in range(5)]
    assert results == [0] * 5


def test_frequency_caps_answer_1023_1024_1025(catalogue: Catalogue, http: httpx.Client) -> None:
    limits = FrequencyLimits(thirty_seconds=1, one_hour=2, one_day=3)
    clock = FakeClock(1_700_000_000.0)  # 06:13:20 Beijing time
    with Emulator(replace(catalogue, frequency_limits=limits), clock=clock) as emulator:
        wire = Wire(emulator, http)

        def send() -> int:
            return int(wire.legacy(build_legacy_send([MOBILE], CODE))["result"])

        results = [send(), send()]  # the second within 30 s
        clock.advance(31)
        results.append(send())
        clock.advance(31)
        results.append(send())  # the third within an hour
        clock.advance(3600)
        results.append(send())
        clock.advance(31)
        results.append(send())  # the fourth on the same (Beijing) day
        results.append(int(wire.legacy(build_legacy_send([MOBILE_2], CODE))["result"]))
    assert results == [0, 1023, 0, 1024, 0, 1025, 0]


# ---------------------------------------------------------------------- pulls


def test_pullstatus_hands_each_due_receipt_out_once(timed: Wire, clock: FakeClock) -> None:
    sent = timed.legacy(build_legacy_send([MOBILE, MOBILE_2], CODE))
    sids = [d["sid"] for d in sent["detail"]]

    assert timed.legacy(build_legacy_pull("receipts", 10))["count"] == 0  # not due yet
    clock.advance(60)
    first = timed.legacy(build_legacy_pull("receipts", 1))
    rest = timed.legacy(build_legacy_pull("receipts", 10))
    again = timed.legacy(build_legacy_pull("receipts", 10))

    assert (first["result"], first["count"], rest["count"], again["count"]) == (0, 1, 1, 0)
    assert [r["sid"] for r in first["data"] + rest["data"]] == sids
    report = first["data"][0]
    assert report == {
        "user_receive_time": "2023-11-15 06:14:20",  # 1700000060 in Beijing time
        "nationcode": "86",
        "mobile": "13800138000",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": sids[0],
    }


def test_pullstatus4mobile_returns_a_window_any_number_of_times(timed: Wire, clock: FakeClock) -> None:
    timed.legacy(build_legacy_send([MOBILE, MOBILE_2], CODE))
    clock.advance(60)
    now = timed.now()
    call = build_legacy_pull_for_phone("receipts", MOBILE, now - 100, now, 10)

    answers = [timed.legacy(call) for _ in range(3)]
    outside = timed.legacy(build_legacy_pull_for_phone("receipts", MOBILE, now - 100, now - 1, 10))
    drained = timed.legacy(build_legacy_pull("receipts", 10))

    assert [a["count"] for a in answers] == [1, 1, 1]
    assert answers[0]["data"][0]["mobile"] == "13800138000"
    assert outside["count"] == 0
    assert drained["count"] == 2  # per-number pulls do not consume the queue


def test_pull_max_over_100_is_1004(wire: Wire) -> None:
    assert wire.legacy_signed_body("pullstatus", {"type": 0, "max": 101})["result"] == 1004
    assert wire.legacy_signed_body("pullstatus", {"type": 2, "max": 10})["result"] == 1004


def test_replies_pull_once_and_per_number(wire: Wire, emulator: Emulator) -> None:
    reply = emulator.inject_reply(MOBILE, "TD", extend="12")
    emulator.inject_reply(MOBILE_2, "好的")

    queue = wire.legacy(build_legacy_pull("replies", 10))
    again = wire.legacy(build_legacy_pull("replies", 10))
    now = wire.now()
    per_number = [
        wire.legacy(build_legacy_pull_for_phone("replies", MOBILE, now - 60, now, 10)) for _ in range(2)
    ]

    assert (queue["count"], again["count"]) == (2, 0)
    assert queue["data"][0] == {
        "nationcode": "86",
        "mobile": "13800138000",
        "text": "TD",
        "sign": SIGN,
        "time": reply.time,
        "extend": "12",
    }
    assert [p["count"] for p in per_number] == [1, 1]


def test_pullstatus4mobile_with_invalid_number_is_1016(wire: Wire) -> None:
    now = wire.now()
    body = {"type": 0, "max": 10, "begin_time": now - 10, "end_time": now, "nationcode": "86", "mobile": "1"}
    assert wire.legacy_signed_body("pullstatus4mobile", body)["result"] == 1016
