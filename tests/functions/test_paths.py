"""Percent-encoded path values (what `encodeURIComponent` makes of `+` and `:`) reach the routes
decoded exactly once, through every HTTP trigger shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from local.emulator import Emulator
from tests.functions.test_send_handlers import HTTP_SAMPLES, context_for
from tests.functions.test_tracking_handlers import _retarget, send
from tests.helpers import answer_body, handler


def as_delivered(sample: str, client_path: str) -> str:
    """The path the trigger hands over for `client_path`: AWS HTTP APIs decode it once themselves;
    REST APIs, function URLs, SCF and CloudBase pass it on as the client sent it."""
    return unquote(client_path) if sample == "aws-http-api.json" else client_path


def get(sample: str, client_path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = _retarget(sample, "GET", as_delivered(sample, client_path), None, query or {})
    answer: dict[str, Any] = handler("pull_status").main_handler(event, context_for(sample))
    return answer


@pytest.mark.usefixtures("function_env", "sms_emulator")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
def test_encoded_plus_in_the_phone_is_read_as_plus(sample: str) -> None:
    [message_id] = send(["+8613800000000"])
    answer = get(sample, "/sms/status/%2B8613800000000", {"kind": "receipts"})
    assert answer["statusCode"] == 200, answer
    body = answer_body(answer)
    assert body["phone"] == "+8613800000000"
    assert [item["message_id"] for item in body["items"]] == [message_id]


@pytest.mark.usefixtures("function_env", "sms_emulator")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
def test_encoded_colon_in_the_message_id_is_read_as_colon(sample: str) -> None:
    [message_id] = send(["+8613800000000"])
    assert ":" in message_id
    answer = get(sample, "/sms/messages/" + message_id.replace(":", "%3A"))
    assert answer["statusCode"] == 200, answer
    assert answer_body(answer)["message_id"] == message_id


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("sample", HTTP_SAMPLES)
def test_a_double_encoded_value_is_decoded_only_once(sample: str, sms_emulator: Emulator) -> None:
    answer = get(sample, "/sms/status/%252B8613800000000")  # the client meant the text "%2B8613…"
    assert answer["statusCode"] == 400, answer
    assert answer_body(answer)["error"]["field"] == "phone"
    [message_id] = send(["+8613800000000"])
    missing = get(sample, "/sms/messages/" + message_id.replace(":", "%253A"))
    assert missing["statusCode"] == 404
    assert answer_body(missing)["error"]["code"] == "message_not_found"
    assert message_id.replace(":", "%3A") in answer_body(missing)["error"]["message"]
    assert not [r for r in sms_emulator.requests if r.operation.startswith("PullSmsSendStatusBy")]
