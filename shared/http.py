"""HTTP routing for the functions: routes declared at import as small decorated functions, matched
on the normalised request that `shared.events` makes of every HTTP trigger (AWS REST / HTTP API /
function URL, SCF function URL and API gateway, CloudBase HTTP access).

powertools' `APIGatewayRestResolver` did this before. Importing its package also imports every
other resolver (AppSync's pulls in asyncio): ~40 ms on the first HTTP request of every container,
a third of that cold start, for a method check and a regex match (`bench/throughput.py`, cold start of
status_callback). `shared.events.to_rest_event` still lets a powertools resolver route any of
these triggers, for code that wants one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from shared.errors import NotFoundError, SmsError
from shared.observability import logger

JSON = "application/json"


class JsonAnswer(NamedTuple):
    """What a route returns: a status, a JSON body and extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = MappingProxyType({})


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> JsonAnswer:
    """A JSON answer with the project's headers."""
    return JsonAnswer(status, body, {"Cache-Control": "no-store", **(headers or {})})


class Page(str):
    """An answer body that is not JSON (the dashboard's HTML): sent as it is."""


def encode(body: Any) -> str:
    """The JSON text of an answer body (UTF-8 kept, compact); a `Page` as it is."""
    if isinstance(body, Page):
        return str(body)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def error_answer(error: SmsError) -> JsonAnswer:
    """The error shape, with `Retry-After` when known."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    return json_response(error.status, error.to_body(), headers)


RouteFunction = Callable[..., JsonAnswer]

# A `<name>` (or `{name}`) path segment: anything but a slash, passed to the route as it arrived.
_PARAM = re.compile(r"[<{](\w+)[>}]")


class Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    function: RouteFunction


class Routes:
    """A function's HTTP routes. `@routes.post("/sms/send")` registers; `answer()` serves a request."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._add("GET", "/openapi.json")(_openapi)

    def get(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self._add("GET", path)

    def post(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self._add("POST", path)

    def _add(self, method: str, path: str) -> Callable[[RouteFunction], RouteFunction]:
        parts = _PARAM.split(path)  # literal, name, literal, ..., literal
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        pattern = re.compile(f"^{regex}/*$")  # trailing slashes are tolerated

        def register(function: RouteFunction) -> RouteFunction:
            self._routes.append(Route(method, pattern, function))
            return function

        return register

    def answer(self, method: str, path: str) -> JsonAnswer:
        """Run the route for `method` and `path`; an `SmsError` becomes its error answer, no route a 404."""
        for route in self._routes:
            if route.method != method:
                continue
            matched = route.pattern.match(path)
            if matched is None:
                continue
            try:
                return route.function(**matched.groupdict())
            except SmsError as error:
                log = logger.warning if error.status < 500 else logger.error
                log(
                    "request failed",
                    extra={
                        "error_code": error.code,
                        "status": error.status,
                        "tencent_code": error.tencent_code,
                    },
                )
                return error_answer(error)
        return error_answer(NotFoundError(f"no route for {method} {path}", code="no_route"))


def _openapi() -> JsonAnswer:
    from shared.openapi import openapi_document  # only this route pays for building it

    return json_response(200, openapi_document())
