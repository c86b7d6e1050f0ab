"""otp: one-time verification codes — HTTP `POST /otp/send` and `POST /otp/verify`, or a
mini-program cloud function call / direct invoke `{"action": "send" | "verify", ...}`."""

from __future__ import annotations

from typing import Any

from shared import entry, otp
from shared.entry import Request
from shared.errors import ValidationError
from shared.http import JsonAnswer, Routes, json_response

routes = Routes("otp")
ACTIONS = ("send", "verify")


@routes.bind("POST /otp/send")
def send_code(request: Request) -> JsonAnswer:
    answer = otp.send_code(
        request.services, request.json_body(), caller=request.caller, deadline=request.deadline
    )
    return json_response(200, answer)


@routes.bind("POST /otp/verify")
def verify_code(request: Request) -> JsonAnswer:
    return json_response(200, otp.verify_code(request.services, request.json_body(), caller=request.caller))


def otp_direct(request: Request) -> dict[str, Any]:
    """`{"action": "send", "mobile", "nationcode", "purpose"?}` or `{"action": "verify", ..., "code"}`."""
    payload = request.payload
    action = payload.get("action")
    if action not in ACTIONS:
        raise ValidationError("action must be 'send' or 'verify'", field="action")
    body = {k: v for k, v in payload.items() if k != "action"}
    if action == "send":
        return otp.send_code(request.services, body, caller=request.caller, deadline=request.deadline)
    return otp.verify_code(request.services, body, caller=request.caller)


def handler(event: Any, context: Any) -> Any:
    return entry.run(event, context, http=routes, direct=otp_direct)


main_handler = handler
