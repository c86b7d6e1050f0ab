"""Property-based tests: malformed, oversized, wrongly typed and hostile bodies and headers get a 4xx
in the error shape (or, when a generated request happens to be valid, Tencent's own answer) — never a
500 — and nothing refused is ever sent."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.emulator import Emulator
from tests.conftest import API_KEY, load_event
from tests.helpers import AwsContext, handler

FIELDS = [
    "phone",
    "phones",
    "nationcode",
    "mobile",
    "template_id",
    "params",
    "sign",
    "extend",
    "ext",
    "content",
    "type",
    "kind",
    "max",
    "idempotency_key",
    "code",
    "purpose",
    "action",
]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "+8613800000000",
            "13800000000",
            "+86138000000001",
            "0086",
            "+1",
            "null",
            "NaN",
            "http://evil.example",
            "<script>",
            "'; DROP TABLE messages;--",
            "\x00\x01",
            "🙂" * 30,
            "+8613800000000\n",
            "1" * 5000,
            "{1}",
            "%s%n",
            "../../etc/passwd",
            "７８３９",
        ]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile_text)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), values, max_size=8),
    values,
)


def _body_text(body: Any, mode: str) -> str:
    if mode == "garbage":
        return json.dumps(body, default=str)[:-1] if body is not None else "{"
    return json.dumps(body, default=str)


ROUTES = [
    ("POST", "/sms/send", "send_single"),
    ("POST", "/sms/send-multi", "send_multi"),
    ("POST", "/sms/pull", "pull_status"),
    ("GET", "/sms/status/+8613800000000", "pull_status"),
    ("GET", "/sms/messages/x", "pull_status"),
    ("POST", "/sms/callback/receipts", "status_callback"),
]


@pytest.fixture
def fuzz_env(
    function_env: dict[str, str],  # noqa: ARG001 - a fixture this one needs for its side effect
    sms_emulator: Emulator,  # noqa: ARG001 - a fixture this one needs for its side effect
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_LIMIT_PER_PHONE", "off")  # let valid sends through: they must then be counted
    monkeypatch.setenv("SMS_LIMIT_PER_CALLER", "off")
    runtime.reset()


@pytest.mark.usefixtures("fuzz_env")
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(ROUTES),
    body=bodies,
    mode=st.sampled_from(["json", "garbage", "base64", "bad_base64"]),
    headers=st.dictionaries(
        st.sampled_from(
            ["x-api-key", "authorization", "content-type", "idempotency-key", "X-API-KEY", "host"]
        ),
        hostile_text,
        max_size=4,
    ),
    keyed=st.booleans(),
    query=st.dictionaries(
        st.sampled_from(["kind", "begin", "end", "max", "token", "x"]), hostile_text, max_size=3
    ),
)
def test_hostile_http_never_crashes_and_what_is_refused_sends_nothing(
    sms_emulator: Emulator,
    route: tuple[str, str, str],
    body: Any,
    mode: str,
    headers: dict[str, str],
    keyed: bool,
    query: dict[str, str],
) -> None:
    method, path, function = route
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"] = {k.lower(): v for k, v in headers.items()}
    if keyed:
        event["headers"]["x-api-key"] = API_KEY
    event["queryStringParameters"] = query or None
    text = _body_text(body, mode)
    if mode in ("base64", "bad_base64"):
        event["body"] = base64.b64encode(text.encode()).decode() if mode == "base64" else text + "=*"
        event["isBase64Encoded"] = True
    else:
        event["body"] = text
    before = sms_emulator.accepted_count
    answer = handler(function).handler(event, AwsContext())
    status = answer["statusCode"]
    sent = sms_emulator.accepted_count - before
    payload = json.loads(answer["body"])
    assert status < 500 or (status in (502, 504) and sent <= 1), (status, payload)
    if status >= 400:
        assert set(payload) >= {"error"} or set(payload) == {"result", "errmsg"}, payload
        if "error" in payload:
            assert payload["error"]["code"]
            assert payload["error"]["message"]
        assert sent == 0 or status == 504
    else:  # accepted: exactly what the answer says went out, nothing else
        expected = {"send_single": 1, "send_multi": payload.get("submitted", 0)}.get(function, 0)
        assert sent == expected, (function, payload)


@pytest.mark.usefixtures("fuzz_env")
@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, action=st.sampled_from(["send_single", "send_multi", "pull_status"]))
def test_direct_invokes_with_hostile_payloads_answer_errors_not_crashes(
    sms_emulator: Emulator, body: Any, action: str
) -> None:
    before = sms_emulator.accepted_count
    answer = handler(action).handler(body, AwsContext())
    assert isinstance(answer, dict)
    if "error" in answer:
        assert answer["error"]["code"] != "internal_error", answer
        assert sms_emulator.accepted_count == before


# --------------------------------------------------------------------------- over real HTTP


@pytest.fixture
def gateway(fuzz_env: None) -> Iterator[str]:  # noqa: ARG001 - a fixture this one needs for its side effect
    from local.gateway import Gateway

    server = Gateway(port=0).start()
    try:
        yield server.url
    finally:
        server.stop()


raw_bodies = st.one_of(st.binary(max_size=300), bodies.map(lambda b: json.dumps(b, default=str).encode()))
header_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(ROUTES),
    body=raw_bodies,
    keyed=st.booleans(),
    headers=st.dictionaries(
        st.sampled_from(["Content-Type", "Idempotency-Key", "Authorization", "X-Api-Key"]),
        header_values,
        max_size=3,
    ),
)
def test_the_gateway_over_real_http(
    gateway: str,
    sms_emulator: Emulator,
    route: tuple[str, str, str],
    body: bytes,
    keyed: bool,
    headers: dict[str, str],
) -> None:
    method, path, _ = route
    if keyed:
        headers = {**headers, "X-Api-Key": API_KEY}
    before = sms_emulator.accepted_count
    answer = httpx.request(
        method, gateway + path, content=body if method == "POST" else None, headers=headers, timeout=10
    )
    assert answer.status_code < 500 or answer.status_code in (502, 504), answer.text
    assert answer.headers["content-type"].startswith("application/json")
    if answer.status_code >= 400:
        assert "error" in answer.json() or answer.json().get("result", 0) != 0
        assert sms_emulator.accepted_count == before or answer.status_code == 504


def test_oversized_body_is_413(gateway: str, sms_emulator: Emulator) -> None:
    phones = [f"+86138{i:08d}" for i in range(80000)]
    body = json.dumps({"phones": phones, "params": ["1"]})
    assert len(body) > 1024 * 1024
    answer = httpx.post(gateway + "/sms/send-multi", content=body, headers={"X-Api-Key": API_KEY}, timeout=30)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert sms_emulator.accepted_count == 0


def test_no_thread_leak(gateway: str) -> None:
    before = threading.active_count()
    for _ in range(20):
        httpx.get(gateway + "/openapi.json", timeout=5)
    assert threading.active_count() <= before + 5
