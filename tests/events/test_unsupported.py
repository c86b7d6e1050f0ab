"""Events nobody supports: a clear UnsupportedEventError naming what came, never its values."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.errors import SmsError, ValidationError
from shared.events import UnsupportedEventError, describe_event, parse_event

from .conftest import load

PHONE_DIGITS = re.compile(r"8613800000000|13800000000")


def _error(event: Any) -> UnsupportedEventError:
    with pytest.raises(UnsupportedEventError) as err:
        parse_event(event)
    return err.value


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (None, "null"),
        ([{"phone": "+8613800000000"}], "a list of 1 items"),
        ("+8613800000000", "a string of 14 characters"),
        (13800000000, "a number"),
        (True, "a boolean"),
        (b"{}", "2 bytes"),
    ],
)
def test_non_objects_are_named_by_type(event: Any, named: str) -> None:
    error = _error(event)
    assert named in error.message
    assert not PHONE_DIGITS.search(error.message)


def test_error_is_a_400_validation_error_with_its_code() -> None:
    error = _error([])
    assert isinstance(error, ValidationError)
    assert isinstance(error, SmsError)
    assert (error.status, error.code) == (400, "unsupported_event")
    assert error.to_body()["error"]["code"] == "unsupported_event"


@pytest.mark.parametrize(
    ("name", "reason", "keys"),
    [
        ("aws-s3-records.json", "aws:s3", "[Records]"),
        ("aws-sns-records.json", "aws:sns", "[Records]"),
        ("http-without-method.json", "without a method", "[path, headers, body]"),
        ("aws-http-api-no-method.json", "without a method", "version, routeKey, rawPath"),
    ],
)
def test_unsupported_shapes_name_their_keys_not_their_values(name: str, reason: str, keys: str) -> None:
    event = load(name)
    error = _error(event)
    assert reason in error.message
    assert keys in error.message
    assert not PHONE_DIGITS.search(error.message)
    assert "s3cr3t" not in error.message
    assert "sms-uploads" not in error.message


def test_http_event_without_a_path() -> None:
    event = load("scf-function-url.json")
    del event["path"]
    event["httpMethod"] = "POST"
    assert "without a path" in _error(event).message


def test_empty_and_malformed_record_batches() -> None:
    assert "empty Records" in _error({"Records": []}).message
    assert "unknown source" in _error({"Records": ["+8613800000000"]}).message
    bad = load("aws-sqs.json")
    del bad["Records"][1]["messageId"]
    assert "messageId" in _error(bad).message


def test_keys_are_truncated_and_scrubbed_of_digit_runs() -> None:
    event: dict[str, Any] = {f"+86138000000{i:02d}": "x" for i in range(30)}
    event["a" * 200] = 1
    message = _error({"httpMethod": "POST", **event}).message
    assert not re.search(r"\d{4,}", message)
    assert "a" * 200 not in message
    assert "more" in message  # only the first keys are listed
    assert len(message) < 600


def test_describe_event() -> None:
    assert describe_event({}) == "an empty JSON object"
    assert describe_event({"a": 1, "b\n": 2}) == "a JSON object with keys [a, b?]"
    assert describe_event(object()) == "a value of type object"
