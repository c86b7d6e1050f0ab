"""Response shaping per trigger: shape_http_response and from_resolver_response."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import Invocation, from_resolver_response, parse_event, shape_http_response

from .conftest import load

JSON = {"Content-Type": "application/json"}


def _inv(name: str) -> Invocation:
    return parse_event(load(name))


def test_aws_rest_shape() -> None:
    out = shape_http_response(_inv("aws-apigw-rest.json"), 201, '{"ok":true}', JSON)
    assert out == {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "body": '{"ok":true}',
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("name", ["aws-http-api.json", "aws-function-url.json"])
def test_aws_v2_shape(name: str) -> None:
    out = shape_http_response(_inv(name), 200, "{}", JSON)
    assert out == {"statusCode": 200, "headers": JSON, "body": "{}", "isBase64Encoded": False}
    out = shape_http_response(_inv(name), 200, "{}", {**JSON, "Set-Cookie": "a=1"}, cookies=["b=2"])
    assert out["cookies"] == ["b=2", "a=1"]
    assert "Set-Cookie" not in out["headers"]


@pytest.mark.parametrize(
    "name",
    ["scf-function-url.json", "scf-apigw.json", "cloudbase-http-access.json", "aws-direct-invoke.json"],
)
def test_tencent_integration_shape(name: str) -> None:
    out = shape_http_response(_inv(name), 400, '{"error":{}}', JSON, is_base64=False)
    assert list(out) == ["isBase64Encoded", "statusCode", "headers", "body"]
    assert out == {"isBase64Encoded": False, "statusCode": 400, "headers": JSON, "body": '{"error":{}}'}


def test_tencent_cookies_are_list_valued_headers() -> None:
    inv = _inv("scf-function-url.json")
    assert shape_http_response(inv, 200, "", {}, cookies=["a=1"])["headers"] == {"Set-Cookie": "a=1"}
    assert shape_http_response(inv, 200, "", {}, cookies=["a=1", "b=2"])["headers"] == {
        "Set-Cookie": ["a=1", "b=2"]
    }


def test_rest_cookies_go_to_multi_value_headers() -> None:
    out = shape_http_response(_inv("aws-apigw-rest.json"), 200, "", JSON, cookies=["a=1", "b=2"])
    assert out["multiValueHeaders"]["Set-Cookie"] == ["a=1", "b=2"]
    assert "Set-Cookie" not in out["headers"]


def test_base64_flag_is_passed_through() -> None:
    for name in ("aws-apigw-rest.json", "aws-http-api.json", "scf-function-url.json"):
        assert shape_http_response(_inv(name), 200, "AAEC", {}, is_base64=True)["isBase64Encoded"] is True


RESOLVER_OUTPUT: dict[str, Any] = {
    "statusCode": 202,
    "multiValueHeaders": {
        "Content-Type": ["application/json"],
        "Set-Cookie": ["a=1", "b=2"],
        "Vary": ["A", "B"],
    },
    "body": '{"queued":true}',
    "isBase64Encoded": False,
}


def test_from_resolver_response_per_trigger() -> None:
    rest = from_resolver_response(_inv("aws-apigw-rest.json"), RESOLVER_OUTPUT)
    assert rest["statusCode"] == 202 and rest["body"] == '{"queued":true}'
    assert rest["headers"] == {"Content-Type": "application/json", "Vary": "A, B"}
    assert rest["multiValueHeaders"]["Set-Cookie"] == ["a=1", "b=2"]

    v2 = from_resolver_response(_inv("aws-http-api.json"), RESOLVER_OUTPUT)
    assert v2 == {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json", "Vary": "A, B"},
        "body": '{"queued":true}',
        "isBase64Encoded": False,
        "cookies": ["a=1", "b=2"],
    }

    scf = from_resolver_response(_inv("scf-apigw.json"), RESOLVER_OUTPUT)
    assert scf == {
        "isBase64Encoded": False,
        "statusCode": 202,
        "headers": {"Content-Type": "application/json", "Vary": "A, B", "Set-Cookie": ["a=1", "b=2"]},
        "body": '{"queued":true}',
    }


def test_from_resolver_response_tolerates_sparse_output() -> None:
    out = from_resolver_response(_inv("scf-function-url.json"), {"headers": {"X-A": "1"}, "body": None})
    assert out == {"isBase64Encoded": False, "statusCode": 200, "headers": {"X-A": "1"}, "body": ""}
