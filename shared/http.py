"""HTTP routing for the functions: routes declared at import, the powertools resolver built on the
first HTTP request (so direct invokes, timers and queue batches never pay for importing it).

Every HTTP trigger (AWS REST / HTTP API / function URL, SCF function URL and API gateway, CloudBase
HTTP access) is normalised to the REST v1 shape by `shared.events`, so one `APIGatewayRestResolver`
per function routes them all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.errors import NotFoundError, SmsError
from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

JSON = "application/json"


@dataclass(frozen=True)
class JsonAnswer:
    """What a route returns: a status, a JSON body and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> JsonAnswer:
    """A JSON answer with the project's headers."""
    return JsonAnswer(status, body, {"Cache-Control": "no-store", **(headers or {})})


def encode(body: Any) -> str:
    """The JSON text of an answer body (UTF-8 kept, compact)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def error_answer(error: SmsError) -> JsonAnswer:
    """The error shape, with `Retry-After` when known."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    return json_response(error.status, error.to_body(), headers)


RouteFunction = Callable[..., JsonAnswer]


class Routes:
    """A function's HTTP routes. `@routes.post("/sms/send")` registers; `resolver()` builds once."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, RouteFunction]] = [("GET", "/openapi.json", _openapi)]
        self._resolver: APIGatewayRestResolver | None = None
        self._lock = threading.Lock()

    def get(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self._add("GET", path)

    def post(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self._add("POST", path)

    def _add(self, method: str, path: str) -> Callable[[RouteFunction], RouteFunction]:
        def register(function: RouteFunction) -> RouteFunction:
            self._routes.append((method, path, function))
            return function

        return register

    def resolver(self) -> APIGatewayRestResolver:
        """The powertools resolver for these routes (built on first use, then reused)."""
        if self._resolver is None:
            with self._lock:
                if self._resolver is None:
                    self._resolver = _build(self._routes)
        return self._resolver


def _build(routes: list[tuple[str, str, RouteFunction]]) -> APIGatewayRestResolver:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

    app = APIGatewayRestResolver()

    def to_response(answer: JsonAnswer) -> Response:
        return Response(
            status_code=answer.status, content_type=JSON, headers=answer.headers, body=encode(answer.body)
        )

    @app.exception_handler(SmsError)
    def _sms_error(error: SmsError) -> Response:
        log = logger.warning if error.status < 500 else logger.error
        log(
            "request failed",
            extra={"error_code": error.code, "status": error.status, "tencent_code": error.tencent_code},
        )
        return to_response(error_answer(error))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        event = app.current_event
        return to_response(
            error_answer(NotFoundError(f"no route for {event.http_method} {event.path}", code="no_route"))
        )

    for method, path, function in routes:
        app.route(path.replace("{", "<").replace("}", ">"), method=method)(_wrap(function, to_response))
    return app


def _wrap(function: RouteFunction, to_response: Callable[[JsonAnswer], Response]) -> Callable[..., Response]:
    def route(**path_params: str) -> Response:
        return to_response(function(**path_params))

    route.__name__ = function.__name__
    return route


def _openapi() -> JsonAnswer:
    from shared.openapi import openapi_document  # only this route pays for building it

    return json_response(200, openapi_document())
