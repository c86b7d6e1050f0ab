"""Send answers written item by item as JSON text are the bytes json.dumps writes for them."""

from __future__ import annotations

import json
from typing import Any

from local.emulator import codes, legacy, v3
from local.emulator.engine import Outcomes
from local.emulator.jsontext import EncodedItems, dumps, plain
from local.emulator.numbers import Destination, legacy_destinations, v3_destinations

CONTEXT = 'ctx "quoted" \\ 中文 \n\t\x01 😀'


def expected(answer: object) -> bytes:
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_send_statuses_are_json_dumps_of_the_items() -> None:
    destinations = v3_destinations(["+8613800138000", "+12025550123", 'bad"\\number', " 8613800138001"])
    outcomes = Outcomes(["2019:1", "2019:2", codes.BAD_NUMBER, "2019:3"], fee=2)
    items = v3.send_statuses(destinations, outcomes, CONTEXT)

    def accepted(serial: str, phone: str, iso: str) -> dict[str, object]:
        return {
            "SerialNo": serial,
            "PhoneNumber": phone,
            "Fee": 2,
            "SessionContext": CONTEXT,
            "Code": "Ok",
            "Message": "send success",
            "IsoCode": iso,
        }

    dicts = [
        accepted("2019:1", "+8613800138000", "CN"),
        accepted("2019:2", "+12025550123", "US"),
        v3.refused_status(destinations[2], codes.BAD_NUMBER, CONTEXT),
        accepted("2019:3", "+8613800138001", "CN"),
    ]
    assert dicts[2]["PhoneNumber"] == 'bad"\\number'
    answer = {"Response": {"SendStatusSet": items, "RequestId": "r-1"}}
    assert dumps(answer) == expected({"Response": {"SendStatusSet": dicts, "RequestId": "r-1"}})


def test_legacy_details_are_json_dumps_of_the_items() -> None:
    destinations = legacy_destinations([("86", "13800138000"), ("86", '1"38'), ("852", "51234567")])
    destinations += (Destination.from_legacy(" +86", " 13800138001"),)
    outcomes = Outcomes(["2019:1", codes.BAD_NUMBER, codes.MAINLAND_TEMPLATE_TO_GLOBAL, "2019:2"], fee=1)
    items = legacy.details(destinations, outcomes)

    def item(result: str | codes.Rejection, destination: Destination) -> dict[str, object]:
        if isinstance(result, codes.Rejection):
            head: dict[str, object] = {"result": result.legacy, "errmsg": result.message, "sid": "", "fee": 0}
        else:
            head = {"result": 0, "errmsg": "OK", "sid": result, "fee": 1}
        return {**head, "mobile": destination.mobile, "nationcode": destination.nationcode}

    dicts = [item(r, d) for r, d in zip(outcomes.results, destinations, strict=True)]
    answer = {"result": 0, "errmsg": "OK", "detail": items, "ext": CONTEXT}
    assert dumps(answer) == expected({"result": 0, "errmsg": "OK", "detail": dicts, "ext": CONTEXT})


def test_other_answers_are_json_dumps() -> None:
    answers: list[dict[str, Any]] = [
        {"Response": {"Error": {"Code": "X", "Message": CONTEXT}, "RequestId": "r"}},
        {"result": 0, "errmsg": "OK", "count": 1, "data": [{"a": [1, 2.5, None, True], "b": {}}]},
        {"messages": [], "nested": {"deeper": {"list": EncodedItems(), "n": -1}}},
    ]
    for answer in answers:
        assert dumps(answer) == expected(answer)
    assert plain(CONTEXT) == json.dumps(CONTEXT, ensure_ascii=False)
