"""HTTP routing for the functions: routes declared at import as small decorated functions, matched
on the normalised request that `shared.events` makes of every HTTP trigger (AWS REST / HTTP API /
function URL, SCF function URL and API gateway, CloudBase HTTP access).

Not powertools' `APIGatewayRestResolver`: importing its package imports every other resolver
(AppSync's pulls in asyncio), a cost on every cold start for a method check and a path match
(docs/decisions.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import unquote

from shared.errors import NotFoundError, SmsError, ValidationError
from shared.observability import logger
from shared.routes import declared

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
"""A route: called with the request being served (`shared.entry.Request`) and the path's parameters."""

# A `<name>` (or `{name}`) path segment: one whole segment, passed to the route percent-decoded.
_PARAM = re.compile(r"^[<{](\w+)[>}]$")
_PARAM_SEGMENT = re.compile(r"(?<=/)[<{](\w+)[>}](?=/|$)")


class Route(NamedTuple):
    method: str
    segments: tuple[tuple[bool, str], ...]  # (is a parameter, its name or the literal text)
    function: RouteFunction


def path_segments(path: str) -> list[str]:
    """The segments of a request path (percent-encoded, as it came over the wire), each decoded once.

    `%2B` becomes `+` and `%252B` becomes `%2B` (never `+`); `+` stays `+` (it means a space only
    in query strings); an encoded `/` stays inside its segment. Trailing slashes are dropped.
    Bad encoding (not UTF-8) is a 400, not a garbled value.
    """
    trimmed = path.rstrip("/")
    raw = trimmed.split("/")[1:] if trimmed.startswith("/") else trimmed.split("/")
    try:
        return [unquote(segment, errors="strict") if "%" in segment else segment for segment in raw]
    except UnicodeDecodeError:
        raise ValidationError(
            "the path is not valid percent-encoded UTF-8", code="invalid_path", field="path"
        ) from None


class Routes:
    """A function's HTTP routes; `answer()` serves a request.

    A function's handler makes `Routes("send_single")` and binds what `shared.routes` declares for it:
    `@routes.bind("POST /sms/send")`. Such a router refuses any route not declared for its function
    (at import). `Routes()` without a function is the bare router (`@routes.post("/x")`).
    """

    def __init__(self, function: str | None = None) -> None:
        self.function = function
        self._routes: list[Route] = []
        self._register("GET", "/openapi.json", _openapi)  # every function describes the whole API

    def bind(self, key: str) -> Callable[[RouteFunction], RouteFunction]:
        """Serve the declared route `key` ("METHOD /path/{param}") with the decorated function."""
        method, _, path = key.strip().partition(" ")
        return self._add(method, path.strip())

    @property
    def keys(self) -> list[str]:
        """The routes served, as "METHOD /path/{param}" (the table's form)."""
        return [
            f"{route.method} /"
            + "/".join(f"{{{text}}}" if is_param else text for is_param, text in route.segments)
            for route in self._routes
        ]

    def get(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self._add("GET", path)

    def post(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self._add("POST", path)

    def _add(self, method: str, path: str) -> Callable[[RouteFunction], RouteFunction]:
        if self.function is not None:
            declared(method + " " + _PARAM_SEGMENT.sub(r"{\1}", path), self.function)

        def register(function: RouteFunction) -> RouteFunction:
            self._register(method, path, function)
            return function

        return register

    def _register(self, method: str, path: str, function: RouteFunction) -> None:
        segments = []
        for part in path.strip("/").split("/"):
            param = _PARAM.match(part)
            segments.append((True, param.group(1)) if param else (False, part))
        self._routes.append(Route(method, tuple(segments), function))

    def answer(self, method: str, path: str, request: Any = None) -> JsonAnswer:
        """Run the route for `method` and `path` (percent-encoded; see `path_segments`) with
        `request`; an `SmsError` becomes its error answer, no route a 404."""
        try:
            for route in self._routes:
                if route.method != method:
                    continue
                values = _match(route, path_segments(path))
                if values is not None:
                    return route.function(request, **values)
        except SmsError as error:
            log = logger.warning if error.status < 500 else logger.error
            log(
                "request failed",
                extra={"error_code": error.code, "status": error.status, "tencent_code": error.tencent_code},
            )
            return error_answer(error)
        return error_answer(NotFoundError(f"no route for {method} {path}", code="no_route"))


def _match(route: Route, segments: list[str]) -> dict[str, str] | None:
    """The route's parameters from decoded `segments`, or None when the path is not the route's."""
    if len(segments) != len(route.segments):
        return None
    values: dict[str, str] = {}
    for (is_param, text), segment in zip(route.segments, segments, strict=True):
        if is_param:
            if not segment:
                return None
            values[text] = segment
        elif segment != text:
            return None
    return values


def _openapi(_request: Any) -> JsonAnswer:
    from shared.openapi import openapi_document  # only this route pays for building it

    return json_response(200, openapi_document())
