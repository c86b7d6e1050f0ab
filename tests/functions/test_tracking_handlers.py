"""pull_status and status_callback: scheduled pulls into the store, on-demand and per-number pulls,
push callbacks, message status, and the faults that must lose nothing."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import API_KEY, CALLBACK_TOKEN, load_event
from tests.functions.test_send_handlers import HTTP_SAMPLES, context_for
from tests.helpers import (
    AwsContext,
    answer_body,
    handler,
    http_event,
    push_of,
    read_dead_letters,
    set_body,
    set_header,
)

RECEIPT_PUSH = [
    {
        "user_receive_time": "2026-11-27 13:40:00",
        "nationcode": "86",
        "mobile": "13800000000",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": "{sid}",
    }
]
REPLY_PUSH = {
    "extend": "",
    "mobile": "13800000000",
    "nationcode": "86",
    "sign": "腾讯云",
    "text": "TD",
    "time": 1795758000,
}


def send(phones: list[str]) -> list[str]:
    answer = handler("send_multi").handler(
        {"phones": phones, "template_id": "7839", "params": ["1"]}, AwsContext()
    )
    assert answer["submitted"] == len(phones), answer
    return [r["message_id"] for r in answer["results"]]


def timer(payload: dict[str, Any] | None = None) -> dict[str, Any]:
    event = load_event("scf-timer.json")
    event["Message"] = json.dumps(payload) if payload is not None else ""
    return handler("pull_status").main_handler(event, load_event("scf-context.json"))


def status_of(message_id: str) -> dict[str, Any]:
    answer = handler("pull_status").handler(http_event("GET", f"/sms/messages/{message_id}"), AwsContext())
    assert answer["statusCode"] == 200, answer
    return answer_body(answer)


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_timer_pull_stores_receipts_and_status_reads_delivered() -> None:
    ids = send(["+8613800000000", "+8613800000001"])
    assert status_of(ids[0])["status"] == "submitted"
    result = timer()
    receipts_run, replies_run = result["runs"]
    assert (receipts_run["kind"], receipts_run["pulled"], receipts_run["stored"]) == ("receipts", 2, 2)
    assert replies_run["kind"] == "replies"
    status = status_of(ids[0])
    assert status["status"] == "delivered"
    assert status["latest_receipt"]["carrier_code"] == "DELIVRD"


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_eventbridge_schedule_and_drain_in_batches() -> None:
    send([f"+86138{i:08d}" for i in range(25)])
    event = load_event("aws-eventbridge-schedule.json")
    result = handler("pull_status").handler(event, AwsContext())
    assert result["runs"][0]["pulled"] == 25
    assert result["runs"][0]["stored"] == 25
    result = timer({"kind": "receipts", "max": 10})
    assert result["runs"][0]["pulled"] == 0  # Tencent hands each receipt out once


@pytest.mark.usefixtures("function_env")
def test_failed_delivery_reason_is_kept(sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sms_emulator, "failure_rate", 1.0)
    ids = send(["+8613800000009"])
    timer({"kind": "receipts"})
    status = status_of(ids[0])
    assert status["status"] == "failed"
    assert status["latest_receipt"]["carrier_code"] not in ("", "DELIVRD")


@pytest.mark.usefixtures("function_env")
def test_on_demand_pull_returns_items(sms_emulator: Emulator) -> None:
    send(["+8613800000000"])
    sms_emulator.inject_reply("+8613800000000", "退订")
    answer = handler("pull_status").handler(
        http_event("POST", "/sms/pull", {"kind": "replies", "max": 10}), AwsContext()
    )
    body = answer_body(answer)
    assert answer["statusCode"] == 200
    assert body["stored"] == 1
    assert body["items"][0]["text"] == "退订"
    assert body["items"][0]["phone"] == "+8613800000000"


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_per_number_status_reads_through_and_stores() -> None:
    ids = send(["+8613800000000"])
    event = http_event("GET", "/sms/status/+8613800000000", query={"kind": "receipts"})
    event["pathParameters"] = {"phone": "+8613800000000"}
    answer = handler("pull_status").handler(event, AwsContext())
    body = answer_body(answer)
    assert answer["statusCode"] == 200, body
    assert [i["message_id"] for i in body["items"]] == ids
    assert body["stored"] == 1
    assert status_of(ids[0])["status"] == "delivered"
    again = answer_body(handler("pull_status").handler(event, AwsContext()))
    assert len(again["items"]) == 1
    assert again["stored"] == 0


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "bogus"}, "kind"),
        ({"begin": "yesterday"}, "begin"),
        ({"max": "500"}, "max"),
        ({"begin": "100", "end": "50"}, "begin"),
        ({"begin": "1"}, "begin"),
    ],
)
def test_per_number_query_validation(query: dict[str, str], field: str) -> None:
    answer = handler("pull_status").handler(
        http_event("GET", "/sms/status/+8613800000000", query=query), AwsContext()
    )
    assert answer["statusCode"] == 400
    assert answer_body(answer)["error"]["field"] == field


@pytest.mark.usefixtures("function_env")
def test_unknown_message_is_404() -> None:
    answer = handler("pull_status").handler(http_event("GET", "/sms/messages/nope"), AwsContext())
    assert answer["statusCode"] == 404
    assert answer_body(answer)["error"]["code"] == "message_not_found"


# --------------------------------------------------------------------------- callbacks


def callback(kind: str, body: Any, token: str | None = CALLBACK_TOKEN) -> dict[str, Any]:
    query = {"token": token} if token else None
    event = load_event("scf-function-url.json")
    event["path"] = f"/sms/callback/{kind}"
    event["headers"] = {"content-type": "application/json", "user-agent": "Tencent-SMS-Callback"}
    event["queryString"] = query or {}
    event["body"] = json.dumps(body, ensure_ascii=False) if not isinstance(body, str) else body
    return handler("status_callback").main_handler(event, load_event("scf-context.json"))


@pytest.mark.usefixtures("function_env")
def test_receipt_push_is_stored_once_and_answered_as_tencent_expects(sms_emulator: Emulator) -> None:
    from shared.runtime import runtime

    [message_id] = send(["+8613800000000"])
    push = push_of(sms_emulator, message_id)
    for _ in range(3):  # Tencent retries a push it thinks failed
        answer = callback("receipts", push)
        assert answer["statusCode"] == 200
        assert json.loads(answer["body"]) == {"result": 0, "errmsg": "OK"}
    timer({"kind": "receipts"})  # and the same receipt arrives by pull too
    assert len(runtime.services.store.receipts_for(message_id)) == 1
    assert status_of(message_id)["status"] == "delivered"


@pytest.mark.usefixtures("function_env")
def test_reply_push_object_or_array() -> None:
    from shared.runtime import runtime

    assert json.loads(callback("replies", REPLY_PUSH)["body"])["result"] == 0
    assert json.loads(callback("replies", [REPLY_PUSH])["body"])["result"] == 0
    replies = runtime.services.store.replies_for("+8613800000000")
    assert [(r.text, r.replied_at) for r in replies] == [("TD", 1795758000)]


@pytest.mark.usefixtures("sms_emulator")
def test_malformed_items_are_set_aside_without_losing_good_ones(function_env: dict[str, str]) -> None:
    from shared.runtime import runtime

    [message_id] = send(["+8613800000000"])
    good = json.loads(json.dumps(RECEIPT_PUSH).replace("{sid}", message_id))[0]
    answer = callback("receipts", [{"mobile": "138"}, good, "junk"])
    assert json.loads(answer["body"]) == {"result": 0, "errmsg": "OK"}
    assert len(runtime.services.store.receipts_for(message_id)) == 1
    sink = read_dead_letters(function_env["SMS_DEAD_LETTER_URL"])
    assert sink[-1]["reason"] == "malformed_callback_item"
    assert len(sink[-1]["items"]) == 2


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("token", [None, "wrong"])
def test_callback_token_is_required(token: str | None) -> None:
    answer = callback("receipts", RECEIPT_PUSH, token=token)
    assert answer["statusCode"] == 401


@pytest.mark.usefixtures("function_env")
def test_callback_bad_json_and_unknown_kind() -> None:
    assert callback("receipts", "{oops")["statusCode"] == 400
    assert callback("other", [])["statusCode"] == 404


# --------------------------------------------------------------------------- faults


@pytest.mark.usefixtures("function_env")
def test_dropped_connection_during_pull_ends_cleanly(sms_emulator: Emulator) -> None:
    send(["+8613800000000"])
    sms_emulator.set_faults(drop_count=1, operations=["PullSmsSendStatus"])
    result = timer({"kind": "receipts"})
    run = result["runs"][0]
    assert run["stopped"] == "connection_lost"
    assert run["error"]["code"] == "outcome_unknown"


def test_store_read_only_mid_pull_loses_nothing(
    function_env: dict[str, str], sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import runtime

    url = function_env["SMS_STORE_URL"]
    monkeypatch.setenv("SMS_STORE_URL", f"{url}?busy_timeout=200")  # a locked store fails fast
    runtime.reset()
    send([f"+86138{i:08d}" for i in range(25)])
    store = runtime.services.store
    real_pull = runtime.services.client.pull
    calls = []
    # another process's write transaction: the store cannot write until it ends
    blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)

    def pull_then_lock_store(*args: Any, **kwargs: Any) -> Any:
        result = real_pull(*args, **kwargs)
        calls.append(result.count)
        if len(calls) == 2:  # the store is locked after the first batch was committed
            blocker.execute("BEGIN IMMEDIATE")
        return result

    monkeypatch.setattr(runtime.services.client, "pull", pull_then_lock_store)
    try:
        run = timer({"kind": "receipts", "max": 10})["runs"][0]
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    assert run["stopped"] == "store_unavailable"
    assert (run["pulled"], run["stored"], run["dead_lettered"]) == (20, 10, 10)
    stored = {r.message_id for m in sms_emulator.messages() for r in store.receipts_for(m.message_id)}
    sink = read_dead_letters(function_env["SMS_DEAD_LETTER_URL"])
    dead = {item["message_id"] for entry in sink for item in entry["items"]}
    assert not stored & dead
    assert len(stored | dead) == 20
    handed_out = {m.message_id for m in sms_emulator.messages()} - stored - dead
    assert len(handed_out) == 5  # still queued at Tencent: pulling stopped
    run = timer({"kind": "receipts", "max": 10})["runs"][0]
    assert run["stored"] == 5


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_log_lines_mask_numbers(captured_logs: Any) -> None:
    handler("send_single").handler({"phone": "+8613800000000", "params": ["1"]}, AwsContext())
    timer()
    out = captured_logs.getvalue()
    assert "+8613800000000" not in out
    assert "13800000000" not in out
    assert "+86138****0000" in out


def _retarget(sample: str, method: str, path: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
    """A shared HTTP sample turned into another request, keeping its trigger's shape."""
    event = load_event(sample)
    if "rawPath" in event:  # payload 2.0
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = method
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
        event["queryStringParameters"] = query or None
    else:
        event["path"] = path
        event["httpMethod"] = method
        if "resource" in event:
            event["resource"] = path
        if "queryString" in event:
            event["queryString"] = query
        else:
            event["queryStringParameters"] = query or None
            if "multiValueQueryStringParameters" in event:
                event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
        if "requestContext" in event and "path" in event["requestContext"]:
            event["requestContext"]["path"] = path
            event["requestContext"]["httpMethod"] = method
    set_header(event, "X-Api-Key", API_KEY)
    set_header(event, "Idempotency-Key", None)
    if body is None:
        event.pop("body", None)
    else:
        set_body(event, body)
    return event


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
def test_status_and_callbacks_over_every_http_trigger(sample: str, sms_emulator: Emulator) -> None:
    [message_id] = send(["+8613800000000"])
    context = context_for(sample)
    push = push_of(sms_emulator, message_id)
    pushed = handler("status_callback").handler(
        _retarget(sample, "POST", "/sms/callback/receipts", push, {"token": CALLBACK_TOKEN}), context
    )
    assert pushed["statusCode"] == 200
    assert answer_body(pushed) == {"result": 0, "errmsg": "OK"}
    status = handler("pull_status").handler(
        _retarget(sample, "GET", f"/sms/messages/{message_id}", None, {}), context
    )
    assert status["statusCode"] == 200
    assert answer_body(status)["status"] == "delivered"
    by_phone = handler("pull_status").handler(
        _retarget(sample, "GET", "/sms/status/+8613800000000", None, {"kind": "receipts"}), context
    )
    assert by_phone["statusCode"] == 200
    assert answer_body(by_phone)["items"][0]["message_id"] == message_id
    pulled = handler("pull_status").handler(
        _retarget(sample, "POST", "/sms/pull", {"kind": "replies"}, {}), context
    )
    assert pulled["statusCode"] == 200
    assert answer_body(pulled)["pulled"] == 0


@pytest.mark.parametrize("operation", ["PullSmsSendStatus", "pullstatus"])
def test_unparseable_pull_answer_is_dead_lettered_raw_and_pulling_stops(
    function_env: dict[str, str], sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    import base64

    from shared.runtime import runtime

    if operation == "pullstatus":
        monkeypatch.setenv("TENCENT_SMS_API", "legacy")
        runtime.reset()
    send([f"+86138{i:08d}" for i in range(15)])
    sms_emulator.set_faults(malformed_count=1, operations=[operation])
    run = timer({"kind": "receipts", "max": 10})["runs"][0]

    assert run["stopped"] == "bad_answer"
    assert run["error"]["code"] == "tencent_bad_response"
    assert (run["batches"], run["pulled"], run["raw_dead_lettered"]) == (0, 0, 1)
    [entry] = read_dead_letters(function_env["SMS_DEAD_LETTER_URL"])
    assert (entry["kind"], entry["reason"]) == ("receipts", "unparseable_answer")
    assert entry["operation"] == operation
    raw = base64.b64decode(entry["raw_base64"])
    assert len(raw) == entry["raw_bytes"] > 0
    assert isinstance(entry["at"], int)
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    sent = {m.message_id for m in sms_emulator.messages()}
    assert sum(raw.decode("utf-8", "replace").count(i) for i in sent) >= 1  # what Tencent handed out
    rest = timer({"kind": "receipts", "max": 10})["runs"][0]
    assert rest["pulled"] == 5  # pulling stopped after the bad answer: the rest stayed queued
