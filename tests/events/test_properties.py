"""Property tests: any JSON-ish input either parses or raises ValidationError, nothing else."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import ValidationError
from shared.events import (
    Invocation,
    UnsupportedEventError,
    parse_event,
    shape_http_response,
)

from .conftest import load

KNOWN_KEYS = [
    "Records", "version", "requestContext", "httpMethod", "path", "headers", "multiValueHeaders",
    "queryString", "queryStringParameters", "multiValueQueryStringParameters", "body", "isBase64Encoded",
    "rawPath", "rawQueryString", "routeKey", "cookies", "Type", "Message", "detail-type", "detail",
    "userInfo", "tcbContext", "pathParameters", "resource", "eventSource", "EventSource", "messageId",
    "http", "method", "serviceId", "envId", "requestId", "sourceIp", "identity", "attributes",
    "ApproximateReceiveCount", "stage", "domainName", "appId", "openId",
]  # fmt: skip
KNOWN_VALUES = [
    "2.0", "Timer", "aws:sqs", "aws:s3", "POST", "get", "/sms/send", "true", "prod", "$default",
    "a.lambda-url.ap-southeast-1.on.aws", "eyJhIjoxfQ==", '{"kind":"receipts"}', "1",
]  # fmt: skip
CONTEXT_KEYS = [
    "request_id", "function_name", "memory_limit_in_mb", "time_limit_in_ms", "environment", "environ",
    "namespace", "tencentcloud_region", "tencentcloud_uin", "function_version",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(KNOWN_VALUES)
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)
events = st.dictionaries(keys, values, max_size=8)
contexts = st.none() | st.dictionaries(st.sampled_from(CONTEXT_KEYS), values, max_size=6)
SAMPLES = [
    "aws-apigw-rest.json", "aws-http-api.json", "aws-function-url.json", "aws-sqs.json",
    "aws-eventbridge-schedule.json", "scf-apigw.json", "scf-function-url.json", "cloudbase-http-access.json",
    "scf-timer.json", "wx-cloud-function.json", "aws-direct-invoke.json",
]  # fmt: skip


def _exercise(event: Any, context: Any) -> None:
    try:
        inv = parse_event(event, context)
    except ValidationError:
        return
    assert isinstance(inv, Invocation)
    assert inv.request_id
    if inv.http is not None:
        shaped = shape_http_response(inv, 200, inv.http.body, inv.http.headers)
        assert shaped["statusCode"] == 200


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=values | events, context=contexts)
def test_arbitrary_values_parse_or_raise_validation_error(event: Any, context: Any) -> None:
    _exercise(event, context)


@settings(max_examples=400, deadline=None)
@given(
    name=st.sampled_from(SAMPLES),
    replacements=st.dictionaries(keys, values, max_size=4),
    drops=st.lists(st.sampled_from(KNOWN_KEYS), max_size=4),
    nested=st.dictionaries(keys, values, max_size=3),
)
def test_mutated_samples_parse_or_raise_validation_error(
    name: str, replacements: dict[str, Any], drops: list[str], nested: dict[str, Any]
) -> None:
    event = load(name)
    for key in drops:
        event.pop(key, None)
    event.update(replacements)
    for key in ("requestContext", "headers", "userInfo"):
        if isinstance(event.get(key), dict):
            event[key].update(nested)
    if isinstance(event.get("Records"), list) and event["Records"] and isinstance(event["Records"][0], dict):
        event["Records"][0].update(nested)
    _exercise(event, load("wx-cloud-function-context.json") if "wx" in name else None)


phones = st.from_regex(r"\+86 ?1[3-9]\d{9}", fullmatch=True)
phone_values = st.recursive(
    phones | st.integers(min_value=13_000_000_000, max_value=19_999_999_999),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(event=phone_values | st.dictionaries(keys | phones, phone_values, max_size=6))
def test_unsupported_errors_never_quote_a_phone_number(event: Any) -> None:
    refusal: UnsupportedEventError | None = None
    try:
        parse_event(event)
    except UnsupportedEventError as err:
        refusal = err
    if refusal is not None:
        assert not re.search(r"\d{7,}", refusal.message)
        assert not re.search(r"\d{7,}", str(refusal))
