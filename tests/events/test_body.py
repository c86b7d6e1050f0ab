"""json_body and header helpers."""

from __future__ import annotations

import pytest

from shared.errors import PayloadTooLargeError, ValidationError
from shared.events import HttpRequest, header, json_body


def _http(body: str, **headers: str) -> HttpRequest:
    return HttpRequest(method="POST", path="/sms/send", headers=headers, body=body)


def test_json_object_body() -> None:
    assert json_body(_http('{"phone": "+8613800000000", "sign": "腾讯云"}')) == {
        "phone": "+8613800000000",
        "sign": "腾讯云",
    }


@pytest.mark.parametrize("body", ["", "   ", "\n"])
def test_empty_body(body: str) -> None:
    with pytest.raises(ValidationError) as err:
        json_body(_http(body))
    assert (err.value.code, err.value.message, err.value.status) == ("invalid_body", "body is empty", 400)


def test_invalid_json_names_the_position() -> None:
    with pytest.raises(ValidationError) as err:
        json_body(_http('{"phone": "+8613800000000",}'))
    assert err.value.code == "invalid_json"
    assert "line 1 column 28 (char 27)" in err.value.message
    assert "13800000000" not in err.value.message


@pytest.mark.parametrize("body", ["NaN", '{"a": Infinity}', "[" * 100_000])
def test_non_standard_or_absurd_json_is_invalid_json(body: str) -> None:
    with pytest.raises(ValidationError) as err:
        json_body(_http(body), max_bytes=200_000)
    assert err.value.code == "invalid_json"


@pytest.mark.parametrize(
    ("body", "named"), [("[1]", "list"), ('"x"', "string"), ("3", "number"), ("null", "null")]
)
def test_json_but_not_an_object(body: str, named: str) -> None:
    with pytest.raises(ValidationError) as err:
        json_body(_http(body))
    assert err.value.code == "invalid_body"
    assert named in err.value.message


def test_too_large() -> None:
    with pytest.raises(PayloadTooLargeError) as err:
        json_body(_http('{"a": "' + "x" * 100 + '"}'), max_bytes=64)
    assert (err.value.status, err.value.code) == (413, "payload_too_large")
    # the limit counts UTF-8 bytes, not characters
    body = '{"s": "' + "腾" * 30 + '"}'
    assert len(body) < 100
    with pytest.raises(PayloadTooLargeError):
        json_body(_http(body), max_bytes=80)
    assert json_body(_http(body), max_bytes=200) == {"s": "腾" * 30}


def test_header_lookup() -> None:
    http = _http("", **{"x-api-key": "k"})
    assert header(http, "X-API-KEY") == "k"
    assert header({"X-Api-Key": "k"}, "x-api-key") == "k"
    assert header({"Accept": ["a", "b"]}, "accept") == "a, b"
    assert header({}, "accept") is None
