"""pull_status's statistics routes through the real handler: store statistics against the store's
own rows, Tencent's statistics from the emulator (both protocols), message history with masked
numbers, the public dashboard page, and the direct invoke."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from local.emulator import Emulator
from shared.runtime import runtime
from tests.functions.test_tracking_handlers import timer
from tests.helpers import AwsContext, answer_body, handler, http_event, reconfigure
from tests.store.helpers import raw_rows

PHONES = ["+8613800000000", "+8613800000001", "+8613800000002", "+8613800000003"]


def get(path: str, query: dict[str, str] | None = None, *, key: bool = True) -> tuple[int, Any]:
    event = http_event("GET", path, query=query, **({} if key else {"key": None}))
    answer = handler("pull_status").handler(event, AwsContext())
    if answer["headers"].get("Content-Type", "").startswith("text/html"):
        return answer["statusCode"], answer
    return answer["statusCode"], answer_body(answer)


def send(phones: list[str]) -> list[str]:
    context = AwsContext()
    context.aws_request_id = str(uuid.uuid4())  # a retried invoke would be answered once
    answer = handler("send_multi").handler(
        {"phones": phones, "template_id": "7839", "params": ["1"]}, context
    )
    assert answer["submitted"] == len(phones), answer
    return [r["message_id"] for r in answer["results"]]


def traffic(sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Sends with some failing deliveries, their receipts pulled into the store."""
    monkeypatch.setattr(sms_emulator, "failure_rate", 0.5)
    monkeypatch.setenv("SMS_LIMIT_PER_PHONE", "off")  # two numbers get two messages: their history
    runtime.reset()
    ids = send(PHONES) + send(PHONES[:2])
    timer({"kind": "receipts"})
    return ids


def test_stats_match_the_store_and_the_direct_invoke(
    function_env: dict[str, str], sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic(sms_emulator, monkeypatch)
    url = function_env["SMS_STORE_URL"]
    by_status: dict[str, int] = dict(raw_rows(url, "SELECT status, COUNT(*) FROM messages GROUP BY status"))
    (fee,) = raw_rows(url, "SELECT SUM(fee) FROM messages")[0]
    status, body = get("/sms/stats")
    assert status == 200, body
    totals = body["totals"]
    assert totals["sent"] == 6
    assert totals["fee"] == fee
    assert (totals["delivered"], totals["failed"]) == (
        by_status.get("delivered", 0),
        by_status.get("failed", 0),
    )
    assert totals["failed"] > 0
    assert totals["delivered"] > 0
    failed_codes = raw_rows(
        url, "SELECT carrier_code, COUNT(*) FROM receipts WHERE status = 'failed' GROUP BY 1"
    )
    assert [(f["code"], f["count"]) for f in totals["top_failures"]] == failed_codes
    assert totals["top_failures"][0]["description"]  # Tencent's description comes along
    assert body["group_by"] == "hour"
    assert body["to"] - body["from"] >= 86400
    assert sum(g["sent"] for g in body["groups"]) == 6
    _, by_status_answer = get("/sms/stats", {"group_by": "status"})
    assert {g["group"]: g["sent"] for g in by_status_answer["groups"]} == by_status
    direct = handler("pull_status").handler({"action": "stats", "group_by": "status"}, AwsContext())
    assert direct["groups"] == by_status_answer["groups"]
    assert direct["totals"] == by_status_answer["totals"]


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"group_by": "phone"}, "group_by"),
        ({"from": "10", "to": "5"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"from": "0", "to": str(200 * 86400)}, "from"),
        ({"window": "1"}, "window"),
    ],
)
def test_bad_stats_queries_are_refused(query: dict[str, str], field: str) -> None:
    status, body = get("/sms/stats", query)
    assert status == 400, body
    assert body["error"]["field"] == field, body


@pytest.mark.usefixtures("function_env")
def test_every_data_route_needs_the_key_but_the_page_does_not() -> None:
    for path, query in (
        ("/sms/stats", None),
        ("/sms/stats/tencent", None),
        ("/sms/messages", {"phone": PHONES[0]}),
    ):
        status, body = get(path, query, key=False)
        assert status == 401, (path, body)
    status, answer = get("/dashboard", key=False)
    assert status == 200
    headers = answer["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    html = answer["body"].replace('"http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    assert "<svg" in html or "createElementNS" in html
    for external in ("http://", "https://", "//cdn", "@import", 'src="/'):
        assert external not in html, external


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("api", ["v3", "legacy"])
def test_tencent_statistics_from_the_emulator(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:
    reconfigure(monkeypatch, TENCENT_SMS_API=api)
    traffic(sms_emulator, monkeypatch)
    now = int(time.time())
    status, body = get("/sms/stats/tencent", {"from": str(now - 7200), "to": str(now + 1)})
    assert status == 200, body
    messages = sms_emulator.messages()
    receipts = [sms_emulator.receipt_of(m.message_id) for m in messages]
    failed = sum(1 for r in receipts if r is not None and r["report_status"] == "FAIL")
    assert body["api"] == api
    assert body["send"] == {
        "request_count": 6,
        "request_success_count": 6,
        "fee_count": sum(m.fee for m in messages),
    }
    callback = body["callback"]
    assert (callback["callback_count"], callback["callback_fail_count"]) == (6, failed)
    assert callback["callback_success_count"] == 6 - failed
    assert sum(callback["failures"].values()) == failed
    _, earlier = get("/sms/stats/tencent", {"from": str(now - 86400 * 3), "to": str(now - 86400 * 2)})
    assert earlier["send"]["request_count"] == 0
    status, body = get("/sms/stats/tencent", {"from": str(now - 40 * 86400), "to": str(now)})
    assert status == 400
    assert body["error"]["field"] == "from"


@pytest.mark.usefixtures("function_env")
def test_message_history_masks_numbers_unless_revealed(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    ids = traffic(sms_emulator, monkeypatch)
    sms_emulator.inject_reply(PHONES[0], "收到")
    timer({"kind": "replies"})
    status, body = get("/sms/messages", {"phone": PHONES[0]})
    assert status == 200, body
    assert body["phone"] == "+86138****0000"
    assert body["revealed"] is False
    # newest first; both were sent within a second, so only the set and the order of times are fixed
    assert sorted(m["message_id"] for m in body["messages"]) == sorted([ids[4], ids[0]])
    times = [m["created_at"] for m in body["messages"]]
    assert times == sorted(times, reverse=True)
    assert all(m["phone"] == "+86138****0000" for m in body["messages"])
    assert all(r["phone"] == "+86138****0000" for m in body["messages"] for r in m["receipts"])
    assert len(body["messages"][0]["receipts"]) == 1
    assert [r["text"] for r in body["replies"]] == ["收到"]
    assert body["replies"][0]["phone"] == "+86138****0000"
    assert PHONES[0] not in str(body)
    _, shown = get("/sms/messages", {"phone": PHONES[0], "reveal": "1"})
    assert shown["phone"] == PHONES[0]
    assert shown["messages"][0]["phone"] == PHONES[0]
    _, one = get("/sms/messages", {"message_id": ids[1]})
    assert [m["message_id"] for m in one["messages"]] == [ids[1]]
    assert one["phone"] == "+86138****0001"
    assert get("/sms/messages", {"message_id": "nope"})[0] == 404
    status, both = get("/sms/messages", {"phone": PHONES[0], "message_id": ids[0]})
    assert status == 400
    assert both["error"]["field"] == "phone"
    assert get("/sms/messages", {"phone": "12"})[0] == 400
    logs = captured_logs.getvalue()
    assert "numbers revealed" in logs
    assert PHONES[0] not in logs
