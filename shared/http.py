"""HTTP routing for the functions: one powertools resolver per function, JSON answers, the error shape.

Every HTTP trigger (AWS REST / HTTP API / function URL, SCF function URL and API gateway,
CloudBase HTTP access) is normalised to the REST v1 shape by `shared.events`, so one
`APIGatewayRestResolver` routes them all.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from shared.errors import NotFoundError, SmsError
from shared.observability import logger

JSON = "application/json"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with the project's headers."""
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(error: SmsError) -> Response:
    """The error shape, with `Retry-After` on 429/503 when known."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    return json_response(error.status, error.to_body(), headers)


def make_resolver() -> APIGatewayRestResolver:
    """A resolver answering every failure in the error shape, and `GET /openapi.json`."""
    app = APIGatewayRestResolver()

    @app.exception_handler(SmsError)
    def _sms_error(error: SmsError) -> Response:
        log = logger.warning if error.status < 500 else logger.error
        log(
            "request failed",
            extra={"error_code": error.code, "status": error.status, "tencent_code": error.tencent_code},
        )
        return error_response(error)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        event = app.current_event
        return error_response(
            NotFoundError(f"no route for {event.http_method} {event.path}", code="no_route")
        )

    @app.get("/openapi.json")
    def _openapi() -> Response:
        from shared.openapi import openapi_document  # only this route pays for building it

        return json_response(200, openapi_document())

    return app
