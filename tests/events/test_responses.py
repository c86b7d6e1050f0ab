"""Response shaping per trigger: shape_http_response."""

from __future__ import annotations

import pytest

from shared.events import Invocation, parse_event, shape_http_response

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
