"""`shared.http.Routes`: method and path matching, path parameters, errors as answers."""

from __future__ import annotations

import pytest

from shared.errors import RateLimitedError
from shared.http import JsonAnswer, Routes, json_response


@pytest.fixture
def routes() -> Routes:
    routes = Routes()

    @routes.post("/sms/send")
    def send(_request: object) -> JsonAnswer:
        return json_response(200, {"route": "send"})

    @routes.get("/sms/status/<phone>")
    def status(_request: object, phone: str) -> JsonAnswer:
        return json_response(200, {"route": "status", "phone": phone})

    @routes.get("/sms/messages/{message_id}/receipts/<kind>")
    def receipts(_request: object, message_id: str, kind: str) -> JsonAnswer:
        return json_response(200, {"message_id": message_id, "kind": kind})

    @routes.post("/sms/limited")
    def limited(_request: object) -> JsonAnswer:
        raise RateLimitedError("slow down", retry_after=7)

    return routes


def test_a_literal_route_matches_its_method_only(routes: Routes) -> None:
    assert routes.answer("POST", "/sms/send").body == {"route": "send"}
    assert routes.answer("POST", "/sms/send/").body == {"route": "send"}  # trailing slash tolerated
    for method, path in (("GET", "/sms/send"), ("POST", "/sms/sendx"), ("POST", "/x/sms/send")):
        answer = routes.answer(method, path)
        assert answer.status == 404
        assert answer.body["error"]["code"] == "no_route"
        assert f"{method} {path}" in answer.body["error"]["message"]


def test_path_parameters_are_decoded_once(routes: Routes) -> None:
    assert routes.answer("GET", "/sms/status/+8613800000000").body["phone"] == "+8613800000000"
    assert routes.answer("GET", "/sms/status/%2B8613800000000").body["phone"] == "+8613800000000"
    assert routes.answer("GET", "/sms/status/%2b8613800000000").body["phone"] == "+8613800000000"
    assert routes.answer("GET", "/sms/status/%252B8613800000000").body["phone"] == "%2B8613800000000"
    assert routes.answer("GET", "/sms/messages/2019%3A12/receipts/replies").body == {
        "message_id": "2019:12",
        "kind": "replies",
    }
    assert routes.answer("GET", "/sms/messages/2019:12/receipts/replies").body["message_id"] == "2019:12"
    assert routes.answer("GET", "/sms/status/a%2Fb").body["phone"] == "a/b"  # still one segment
    assert routes.answer("GET", "/sms/%73tatus/x").body["phone"] == "x"  # literals are compared decoded
    assert routes.answer("GET", "/sms/status/a/b").status == 404  # a parameter is one segment
    assert routes.answer("GET", "/sms/status/").status == 404


def test_a_path_that_is_not_utf8_is_a_400(routes: Routes) -> None:
    answer = routes.answer("GET", "/sms/status/%FF%FE")
    assert answer.status == 400
    assert answer.body["error"]["code"] == "invalid_path"


def test_literal_parts_are_not_patterns() -> None:
    routes = Routes()

    @routes.get("/a.b")
    def dotted(_request: object) -> JsonAnswer:
        return json_response(200, {})

    assert routes.answer("GET", "/a.b").status == 200
    assert routes.answer("GET", "/axb").status == 404


def test_an_sms_error_becomes_its_answer(routes: Routes) -> None:
    answer = routes.answer("POST", "/sms/limited")
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.body["error"]["code"] == "rate_limited"


def test_every_function_serves_its_openapi_document(routes: Routes) -> None:
    answer = routes.answer("GET", "/openapi.json")
    assert answer.status == 200
    assert answer.body["openapi"].startswith("3.")
