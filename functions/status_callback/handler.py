"""status_callback: Tencent's push callbacks (delivery reports and replies) into the store.

Configure the callback URLs in the SMS console as
`https://<host>/sms/callback/receipts?token=<SMS_CALLBACK_TOKEN>` and `.../replies?token=…`.
"""

from __future__ import annotations

from typing import Any

from shared import entry, tracking
from shared.entry import Request
from shared.errors import NotFoundError
from shared.http import JsonAnswer, Routes, json_response

routes = Routes("status_callback")


@routes.bind("POST /sms/callback/{kind}")
def callback(request: Request, kind: str) -> JsonAnswer:
    http, services = request.http, request.services
    if kind not in ("receipts", "replies"):
        raise NotFoundError("callbacks are /sms/callback/receipts and /sms/callback/replies", code="no_route")
    tracking.check_callback_token(services, http.query.get("token"), repeated="token" in http.repeated_query)
    status, answer = tracking.receive_callback(services, kind, http.body)  # type: ignore[arg-type]
    return json_response(status, answer)


def handler(event: Any, context: Any) -> Any:
    return entry.run(event, context, http=routes)


main_handler = handler
