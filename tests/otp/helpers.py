"""Building the events the otp function gets, and reading codes the way a person would: from the
SMS the emulator accepted."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

from tests.conftest import API_KEY, load_event

OPEN_ID = "oAbCd1EfGh2IjKl3MnOp4QrSt5Uv"  # the one in wx-cloud-function(-context).json
OTHER_OPEN_ID = "oOTHERuser00000000000000000"
_DIGITS = re.compile(r"(?<![0-9])([0-9]{4,8})(?![0-9])")


def wrong(code: str) -> str:
    """A code of the same length that is not `code`."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def code_in(text: str) -> str:
    """The code in a rendered SMS (`【腾讯云】您的验证码是123456，5分钟内有效。`)."""
    found = _DIGITS.search(text)
    assert found, f"no code in {text!r}"
    return found.group(1)


def http_event(path: str, body: Any, *, key: str | None = API_KEY) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event for `POST path` with a JSON body."""
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    event["rawQueryString"], event["queryStringParameters"] = "", None
    dropped = ("x-api-key", "idempotency-key", "content-length")
    headers = {k: v for k, v in event["headers"].items() if k not in dropped}
    if key is not None:
        headers["x-api-key"] = key
    event["headers"] = headers
    event["body"] = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return event


def answer_of(answer: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, lower-cased headers) of an HTTP-shaped handler answer."""
    body = answer["body"]
    if answer.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    headers = {k.lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
    for k, values in (answer.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), ", ".join(str(v) for v in values))
    return int(answer["statusCode"]), json.loads(body), headers


def wx_event(action: str | None, **fields: Any) -> dict[str, Any]:
    """The mini-program cloud-function event (`wx.cloud.callFunction`) with these data fields."""
    sample = load_event("wx-cloud-function.json")
    event: dict[str, Any] = {"userInfo": sample["userInfo"], "tcbContext": sample["tcbContext"], **fields}
    if action is not None:
        event["action"] = action
    return event


def wx_context(open_id: str = OPEN_ID) -> dict[str, Any]:
    """The cloud function's context, as the platform gives it for the mini-program user `open_id`."""
    context = copy.deepcopy(load_event("wx-cloud-function-context.json"))
    environment = json.loads(context["environment"])
    environment["WX_OPENID"] = open_id
    context["environment"] = json.dumps(environment)
    context["environ"] = context["environ"].replace(OPEN_ID, open_id)
    return context
