"""Structured JSON logging and EMF metrics (powertools), with phone numbers masked and secrets scrubbed.

Every log line passes through `MaskingFormatter`: strings are searched for phone numbers (masked
to `+86138****0000`), values under secret-looking keys are replaced, and the literal values of
the configured secrets never survive serialisation — a safety net under the code's own care.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from shared.phone import mask

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "sms")
# A `+` and 7–15 digits anywhere; a bare mainland mobile (`86` before it or not) after anything but
# an ASCII letter, digit, `_` or `*`: ids and hashes are ASCII, so a run of digits inside one is no
# number, while one written straight after Chinese text is. Each branch starts with its first
# character, the lookbehind after it: the scan skips to a `+`, `1` or `8` instead of trying a
# lookbehind at every position.
_PHONE = re.compile(
    r"\+\d{7,15}(?!\d)|1(?<![0-9A-Za-z_*]1)[3-9]\d{9}(?!\d)|8(?<![0-9A-Za-z_*]8)61[3-9]\d{9}(?!\d)"
)
_SECRET_KEY = re.compile(
    r"(api[-_]?key|authorization|secret|token|appkey|password|passwd|^sig$|code_hash)", re.IGNORECASE
)
_REDACTED = "****"


_SHORTEST = 7  # `+` and seven digits: no shorter text holds a number


def mask_phones(text: str) -> str:
    """Mask E.164 numbers and bare mainland mobiles inside free text."""
    return _PHONE.sub(_masked, text) if len(text) > _SHORTEST else text


def _masked(match: re.Match[str]) -> str:
    return mask(match.group(0))


class MaskingFormatter(LambdaPowertoolsFormatter):
    """powertools' JSON formatter with phone masking and secret scrubbing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._secrets: tuple[str, ...] = ()

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Values that must never appear in a log line, in each form a line can hold them: as they
        are, percent-decoded (a URL's password is configured encoded) and encoded, each as JSON
        escapes it (a quote, a backslash, a control character). Longest first."""
        forms: set[str] = set()
        for secret in secrets:
            for plain in (secret, unquote(secret)):
                for form in (plain, quote(plain, safe="")):
                    forms.update((form, json.dumps(form, ensure_ascii=False)[1:-1]))
        self._secrets = tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True))

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return self.without_secrets(
            super().serialize({name: _scrub(value, name) for name, value in log.items()})  # names: ours
        )

    def without_secrets(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None  # log keys repeat: each is searched once


def _scrub(value: Any, key: str = "") -> Any:
    """The value with numbers masked and secret-keyed values replaced, a dict's keys too. What JSON
    cannot hold (an exception under powertools' `stack_trace`) becomes its text here, as the
    serializer's `default=str` would make it after the scrub, unmasked."""
    if key and _is_secret_key(key) and value not in (None, "", [], {}):
        return _REDACTED
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {(mask_phones(k) if isinstance(k, str) else k): _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if value is None or isinstance(value, (int, float)):  # bool is an int
        return value
    return mask_phones(str(value))


_TRACEBACK = logging.Formatter()


def _install_record_masking(scrubber: MaskingFormatter) -> None:
    """Mask phone numbers, and scrub the secrets `scrubber` knows, in every other library's log
    records too (powertools' router logs path parameters at DEBUG, HTTP clients log URLs):
    whatever handler prints them, they are masked."""
    base = logging.getLogRecordFactory()
    if getattr(base, "_sms_masking", False):  # this module run again: the newest formatter's secrets
        base._sms_scrubber = scrubber  # type: ignore[attr-defined]
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        current: MaskingFormatter = factory._sms_scrubber  # type: ignore[attr-defined]
        if record.name != SERVICE:
            try:
                message = record.getMessage()
            except Exception:  # a library's own formatting bug: leave the record as it is
                return record
            masked = current.without_secrets(mask_phones(message))
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info:  # its traceback as every formatter writes it, masked once here
                record.exc_text = current.without_secrets(
                    mask_phones(_TRACEBACK.formatException(record.exc_info))
                )
        return record

    factory._sms_masking = True  # type: ignore[attr-defined]
    factory._sms_scrubber = scrubber  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


formatter = MaskingFormatter()
_install_record_masking(formatter)
logger = Logger(service=SERVICE, logger_formatter=formatter)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "SmsFunctions"), service=SERVICE)
