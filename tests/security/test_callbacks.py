"""Callback hardening: capped body size and depth, a token given once, receipts applied only when
their time is plausible, and bounded receipts (per-item size; unknown ids expire: tests/store)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import CALLBACK_TOKEN, load_event
from tests.functions.test_send_handlers import HTTP_SAMPLES
from tests.functions.test_tracking_handlers import callback, push_of, send, status_of
from tests.helpers import answer_body, handler, read_dead_letters, set_body


def _sink(env: dict[str, str]) -> list[dict[str, Any]]:
    return read_dead_letters(env["SMS_DEAD_LETTER_URL"])


def _push(
    message_id: str, status: str = "SUCCESS", at: str = "2026-11-27 13:40:00", **extra: Any
) -> dict[str, Any]:
    return {
        "user_receive_time": at,
        "nationcode": "86",
        "mobile": "13800000000",
        "report_status": status,
        "errmsg": "DELIVRD" if status == "SUCCESS" else "MK:0001",
        "description": "用户短信送达成功",
        "sid": message_id,
        **extra,
    }


# --------------------------------------------------------------------------- size and depth


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("depth", [9, 50, 100_000])
def test_a_deeply_nested_body_is_a_400_not_a_500(depth: int) -> None:
    for body in (
        "[" * depth + "]" * depth,
        '[{"sid": "m1", "nested": ' + "[" * depth + "]" * depth + "}]",  # deep inside an item
    ):
        answer = callback("receipts", body)
        assert answer["statusCode"] == 400, answer
        assert answer_body(answer)["error"]["code"] == "too_deep"


@pytest.mark.usefixtures("function_env")
def test_brackets_inside_strings_do_not_count_as_depth(sms_emulator: Emulator) -> None:
    from shared.runtime import runtime

    [message_id] = send(["+8613800000000"])
    item = {**push_of(sms_emulator, message_id)[0], "description": '[[[[[[[[[[{{{{{{{{{{ \\" ]]'}
    answer = callback("receipts", [item])
    assert answer["statusCode"] == 200, answer
    assert runtime.services.store.receipts_for(message_id)[0].description == item["description"]


@pytest.mark.usefixtures("function_env")
def test_a_body_over_the_callback_limit_is_a_413_and_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_CALLBACK_MAX_BYTES", "4096")
    runtime.reset()
    pushes = [_push(f"big-{i}") for i in range(40)]  # well-formed, but about 8 KB
    answer = callback("receipts", pushes)
    assert answer["statusCode"] == 413, answer
    assert answer_body(answer)["error"]["code"] == "payload_too_large"
    assert runtime.services.store.receipts_for("big-0") == []
    assert callback("receipts", pushes[:10])["statusCode"] == 200  # under the limit: stored


@pytest.mark.usefixtures("function_env")
def test_the_default_callback_limit_is_256_kib() -> None:
    from shared.runtime import runtime

    assert runtime.services.settings.callback_max_bytes == 256 * 1024
    pushes = [_push(f"m-{i}", description="x" * 200) for i in range(1200)]  # ~ 380 KB
    assert callback("receipts", pushes)["statusCode"] == 413


# --------------------------------------------------------------------------- a repeated token


def _with_query(sample: str, pairs: list[tuple[str, str]], body: Any) -> dict[str, Any]:
    """The callback as `sample`'s trigger delivers `?a=1&a=2`: each gateway in its own way."""
    event = load_event(sample)
    raw = "&".join(f"{k}={v}" for k, v in pairs)
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    if "rawPath" in event:  # payload 2.0 (HTTP API, function URL): values joined by commas
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/sms/callback/receipts"
        event["requestContext"]["http"]["method"] = "POST"
        event["rawQueryString"] = raw
        event["queryStringParameters"] = {k: ",".join(v) for k, v in multi.items()}
    else:
        event["path"] = "/sms/callback/receipts"
        event["httpMethod"] = "POST"
        if "resource" in event:  # REST v1: the last value, and all of them in the multi-value map
            event["resource"] = event["path"]
            event["queryStringParameters"] = {k: v[-1] for k, v in multi.items()}
            event["multiValueQueryStringParameters"] = multi
        elif "queryString" in event:  # SCF: the real query, as a map (a list for a repeated name)
            event["queryString"] = {k: v if len(v) > 1 else v[0] for k, v in multi.items()}
        else:
            event["queryStringParameters"] = {k: v if len(v) > 1 else v[0] for k, v in multi.items()}
    event.get("headers", {}).pop("idempotency-key", None)
    set_body(event, body)
    return event


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
@pytest.mark.parametrize(
    "tokens", [("nope", CALLBACK_TOKEN), (CALLBACK_TOKEN, "nope"), (CALLBACK_TOKEN,) * 2]
)
def test_a_repeated_token_is_refused_in_every_trigger_shape(
    sms_emulator: Emulator, sample: str, tokens: tuple[str, str]
) -> None:
    from shared.runtime import runtime
    from tests.functions.test_send_handlers import context_for

    [message_id] = send(["+8613800000000"])
    push = push_of(sms_emulator, message_id)
    event = _with_query(sample, [("token", t) for t in tokens], push)
    answer = handler("status_callback").handler(event, context_for(sample))
    assert answer["statusCode"] == 400, answer
    error = answer_body(answer)["error"]
    assert (error["code"], error["field"]) == ("repeated_parameter", "token")
    assert runtime.services.store.receipts_for(message_id) == []
    once = _with_query(sample, [("token", CALLBACK_TOKEN)], push)
    assert handler("status_callback").handler(once, context_for(sample))["statusCode"] == 200


def test_a_raw_query_string_with_a_repeated_token_is_refused() -> None:
    """SCF may hand over the query as the raw string."""
    from shared.events import parse_event
    from tests.helpers import AwsContext

    event = load_event("scf-function-url.json")
    event["queryString"] = f"token=nope&token={CALLBACK_TOKEN}"
    http = parse_event(event, AwsContext()).http
    assert http is not None
    assert http.repeated_query == {"token"}


# --------------------------------------------------------------------------- plausible receipts


def test_a_receipt_dated_years_ahead_does_not_decide_the_status(
    store_env: dict[str, str], sms_emulator: Emulator
) -> None:
    from shared.payloads import unix_to_beijing
    from shared.runtime import runtime

    [message_id] = send(["+8613800000000"])
    assert callback("receipts", push_of(sms_emulator, message_id))["statusCode"] == 200
    assert status_of(message_id)["status"] == "delivered"
    future = unix_to_beijing(int(time.time()) + 3 * 365 * 86400)
    answer = callback("receipts", [_push(message_id, "FAIL", future)])
    assert answer["statusCode"] == 200
    assert answer_body(answer)["result"] == 0
    assert status_of(message_id)["status"] == "delivered"
    assert len(runtime.services.store.receipts_for(message_id)) == 1
    assert _sink(store_env)[-1]["reason"] == "implausible_time"
    assert _sink(store_env)[-1]["items"][0]["message_id"] == message_id
    # within the documented skew (SMS_RECEIPT_MAX_SKEW, 300 s) a later failure report still counts
    soon = unix_to_beijing(int(time.time()) + 60)
    assert callback("receipts", [_push(message_id, "FAIL", soon)])["statusCode"] == 200
    assert status_of(message_id)["status"] == "failed"


@pytest.mark.usefixtures("sms_emulator")
def test_pulled_receipts_dated_ahead_are_set_aside_too(function_env: dict[str, str]) -> None:
    from shared import tracking
    from shared.models import Receipt

    future = int(time.time()) + 86400
    items = [
        Receipt("m-ahead", "+8613800000000", "failed", "MK:0001", "", future),
        Receipt("m-ok", "+8613800000000", "delivered", "DELIVRD", "", 1000),
    ]
    from shared.runtime import runtime

    kept, set_aside = tracking.admissible(runtime.services, "receipts", items)
    assert kept == [items[1]]
    assert set_aside == 1
    assert _sink(function_env)[-1]["reason"] == "implausible_time"


# --------------------------------------------------------------------------- bounded items


def test_receipts_are_bounded_per_item(function_env: dict[str, str]) -> None:
    from shared.runtime import runtime

    long_id = "s" * 500
    answer = callback(
        "receipts",
        [_push(long_id), _push("stray-1", description="d" * 10_000, errmsg="E" * 1000, ext="x" * 5000)],
    )
    assert answer["statusCode"] == 200
    assert runtime.services.store.receipts_for(long_id) == []
    assert _sink(function_env)[-1]["reason"] == "oversized_item"
    assert len(json.dumps(_sink(function_env)[-1]["items"])) < 2000
    [kept] = runtime.services.store.receipts_for("stray-1")  # an unknown id is kept, its text cut to bounds
    assert (len(kept.description), len(kept.carrier_code), len(kept.session_context)) == (256, 64, 512)
