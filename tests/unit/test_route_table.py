"""`shared.routes`: the route table is the one source of the API's routes. The handlers bind exactly
what it declares for them, and the local gateway's table and the OpenAPI paths come from it (the
deploy descriptors are checked against it in tests/deploy/test_descriptors.py)."""

from __future__ import annotations

import importlib
import re

import pytest

from local import gateway
from shared import routes
from shared.http import JsonAnswer, Routes, json_response
from shared.openapi import PARAMETERS, openapi_document
from shared.routes import BY_KEY, OPENAPI_KEY, TABLE, Declared


def _bound(function: str) -> list[str]:
    handler = importlib.import_module(f"functions.{function}.handler")
    return list(handler.routes.keys)


@pytest.mark.parametrize("function", routes.functions())
def test_every_declared_route_is_bound_by_exactly_its_function(function: str) -> None:
    bound = _bound(function)
    assert len(bound) == len(set(bound)), "a route bound twice"
    declared = {route.key for route in TABLE if route.function == function}
    assert set(bound) - {OPENAPI_KEY} == declared - {OPENAPI_KEY}
    assert OPENAPI_KEY in bound  # every function describes the whole API


def test_the_table_has_one_entry_per_route_and_one_function_per_path() -> None:
    assert len(BY_KEY) == len(TABLE)
    by_path: dict[str, set[str]] = {}
    for route in TABLE:
        assert route.method in {"GET", "POST", "PUT", "DELETE"}
        assert re.fullmatch(r"(/([\w.-]+|\{\w+\}))+", route.path), route.path
        by_path.setdefault(route.path, set()).add(route.function)
    assert all(len(functions) == 1 for functions in by_path.values()), by_path


def test_a_handler_cannot_bind_an_undeclared_or_foreign_route() -> None:
    router = Routes("send_single")
    with pytest.raises(LookupError, match="not declared"):
        router.bind("POST /sms/nowhere")
    with pytest.raises(LookupError, match="declared for pull_status"):
        router.bind("POST /sms/pull")
    with pytest.raises(LookupError, match="not declared"):
        router.post("/sms/send-twice")  # the bare decorators are checked too
    with pytest.raises(LookupError, match="declared for pull_status"):
        Routes("send_single").get("/sms/status/<phone>")

    @router.bind("POST /sms/send")
    def send(_request: object) -> JsonAnswer:
        return json_response(200, {"sent": True})

    assert router.answer("POST", "/sms/send").body == {"sent": True}


def _example(path: str) -> str:
    return re.sub(r"\{\w+\}", "x%2By", path)


def test_the_gateway_routes_every_declared_path_to_its_function() -> None:
    for route in TABLE:
        assert gateway.function_for(_example(route.path)) == route.function, route.key
        assert gateway.function_for(_example(route.path) + "/") == route.function, route.key
    for path in ("/", "/sms", "/sms/status/", "/sms/status/a/b", "/sms/sendx", "/x/sms/send", "/otp"):
        assert gateway.function_for(path) is None, path


def test_openapi_paths_are_the_declared_routes() -> None:
    document = openapi_document()
    documented = {
        f"{method.upper()} {path}" for path, operations in document["paths"].items() for method in operations
    }
    assert documented == set(BY_KEY)
    schemas = document["components"]["schemas"]
    for route in TABLE:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["summary"] == route.summary
        in_path = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        assert in_path == list(route.params), route.key
        for name in (route.answer, route.request):
            assert name is None or name in schemas, (route.key, name)
        assert (operation.get("security") == []) == route.public, route.key
    assert set(PARAMETERS) <= set(BY_KEY), "parameters documented for a route nobody declared"


def test_a_new_route_is_one_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Declared once, the route is served through the gateway's table and listed in the document."""
    new = Declared("GET", "/sms/widgets/{widget_id}", "pull_status", "Widgets", "Message")
    monkeypatch.setattr(routes, "TABLE", (*TABLE, new))
    monkeypatch.setattr(routes, "BY_KEY", {**BY_KEY, new.key: new})
    assert gateway.function_for("/sms/widgets/42") == "pull_status"
    operation = openapi_document()["paths"]["/sms/widgets/{widget_id}"]["get"]
    assert operation["summary"] == "Widgets"
    assert operation["parameters"][0]["name"] == "widget_id"
    router = Routes("pull_status")
    router.bind("GET /sms/widgets/{widget_id}")(
        lambda _request, widget_id: json_response(200, {"id": widget_id})
    )
    assert router.answer("GET", "/sms/widgets/42").body == {"id": "42"}
