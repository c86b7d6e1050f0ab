"""API keys in `SMS_API_KEYS`: plain entries match only themselves, `sha256:<hex>` entries only the hash
of what was presented, so reading the configuration gives no key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from local.emulator import Emulator
from tests.conftest import load_event
from tests.helpers import AwsContext, answer_body, handler, set_header

KEY = "the-real-key-5d1e8b"
DIGEST = hashlib.sha256(KEY.encode()).hexdigest()


def _send_with(key: str) -> dict[str, Any]:
    event = load_event("aws-http-api.json")
    set_header(event, "x-api-key", key)
    return handler("send_single").handler(event, AwsContext())


@pytest.fixture
def configured(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: ARG001 - a fixture this one needs for its side effect
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_LIMIT_PER_PHONE", "off")  # the same sample number is sent to more than once

    def configure(value: str) -> None:
        monkeypatch.setenv("SMS_API_KEYS", value)
        runtime.reset()

    return configure


@pytest.mark.parametrize("entry", [f"sha256:{DIGEST}", f"SHA256:{DIGEST.upper()}", f" sha256:{DIGEST} "])
def test_a_hashed_entry_takes_the_key_and_never_the_hash(
    configured: Any, sms_emulator: Emulator, entry: str
) -> None:
    configured(f"other-plain-key,{entry}")
    for presented in (DIGEST, DIGEST.upper(), f"sha256:{DIGEST}", entry.strip()):
        answer = _send_with(presented)
        assert answer["statusCode"] == 401, presented
        assert answer_body(answer)["error"]["code"] == "unauthorized"
    assert sms_emulator.accepted_count == 0
    assert _send_with(KEY)["statusCode"] == 200
    assert _send_with("other-plain-key")["statusCode"] == 200


def test_a_bare_hex_entry_is_a_plain_key_with_a_warning(
    configured: Any, sms_emulator: Emulator, captured_logs: Any
) -> None:
    from shared.runtime import runtime

    configured(DIGEST)
    runtime.services.settings  # noqa: B018 - loading the settings is what warns
    warnings = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    warnings = [w for w in warnings if "unmarked sha256" in w["message"]]
    assert len(warnings) == 1
    assert DIGEST not in captured_logs.getvalue()
    assert _send_with(KEY)["statusCode"] == 401  # no longer taken as the hash of KEY
    assert sms_emulator.accepted_count == 0
    assert _send_with(DIGEST)["statusCode"] == 200


@pytest.mark.parametrize("entry", ["sha256:", "sha256:abc", f"sha256:{DIGEST}0", "sha256:" + "g" * 64])
def test_a_malformed_hashed_entry_is_a_configuration_error(entry: str) -> None:
    from shared.config import load_settings
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        load_settings({"SMS_API_KEYS": f"ok-key,{entry}"})
    assert "entry 2" in caught.value.message
    assert DIGEST not in caught.value.message
