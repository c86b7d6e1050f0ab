"""`shared.bodies`: each request body is declared once, and validation and the OpenAPI document
agree on it — every field validation accepts is in the schema (and no other), and a body missing
what the schema requires is refused, naming the field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from shared import otp, validation
from shared.bodies import BODIES
from shared.config import load_settings
from shared.errors import ValidationError
from shared.openapi import openapi_document
from shared.routes import TABLE

SETTINGS = load_settings({"TENCENT_SMS_APPID": "1400009099", "TENCENT_SMS_APPKEY": "k3y"})

# OpenAPI request schema → the parser that validates that body.
PARSERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "SendRequest": lambda body: validation.parse_single_send(body, SETTINGS),
    "SendMultiRequest": lambda body: validation.parse_multi_send(body, SETTINGS),
    "PullRequest": validation.parse_pull,
    "OtpSendRequest": lambda body: otp.parse_send(body, SETTINGS),
    "OtpVerifyRequest": otp.parse_verify,
}
# A value of the wrong type for every field: refused for what it is, never as an unknown field.
WRONG = object()


def _refusal(name: str, body: Mapping[str, Any]) -> ValidationError | None:
    try:
        PARSERS[name](body)
    except ValidationError as error:
        return error
    return None


def test_every_declared_request_body_has_its_parser_and_schema() -> None:
    declared = {route.request for route in TABLE if route.request} - {"PreviewRequest"}
    assert declared == set(BODIES) == set(PARSERS)
    schemas = openapi_document()["components"]["schemas"]
    for name, body in BODIES.items():
        assert schemas[name] == body.schema()
        assert schemas[name]["additionalProperties"] is False


@pytest.mark.parametrize("name", sorted(BODIES))
def test_validation_accepts_exactly_the_schema_fields(name: str) -> None:
    properties = openapi_document()["components"]["schemas"][name]["properties"]
    for field in properties:
        error = _refusal(name, {field: WRONG})
        assert error is None or not error.message.startswith("unknown field"), (name, field, error.message)
    error = _refusal(name, {"not_a_field": 1})
    assert error is not None
    assert error.field == "not_a_field"
    assert error.message.startswith("unknown field")


@pytest.mark.parametrize("name", sorted(BODIES))
def test_a_body_without_what_the_schema_requires_is_refused(name: str) -> None:
    schema = openapi_document()["components"]["schemas"][name]
    alternatives = (
        [schema["required"]] if "required" in schema else [a["required"] for a in schema.get("anyOf", [])]
    )
    if not alternatives:
        assert _refusal(name, {}) is None, "nothing required, so an empty body is valid"
        return
    error = _refusal(name, {})
    assert error is not None
    assert error.field in {field for fields in alternatives for field in fields}, (name, error.field)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_validation_refuses_every_field_the_schema_leaves_out(name: str) -> None:
    """Fields of the other bodies (and of queued chunks) are the likely strays: each is refused as
    unknown unless this body's schema lists it."""
    properties = openapi_document()["components"]["schemas"][name]["properties"]
    candidates = {field for body in BODIES.values() for field in body.fields} | validation.CHUNK_FIELDS
    for field in sorted(candidates - set(properties)):
        error = _refusal(name, {field: WRONG})
        assert error is not None, (name, field)
        assert error.field == field, (name, field)
        assert error.message.startswith("unknown field"), (name, field, error.message)
