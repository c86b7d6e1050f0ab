"""Destination numbers as Tencent reads them (reference §2.6 `PhoneNumberSet`, §1.4 `tel`).

- API 3.0 takes E.164 (`+<country code><number>`); for mainland numbers also `0086…`, `86…` and
  a bare 11-digit number, all meaning +86. Nothing else: no `00` prefix for other countries, no
  spaces or dashes inside the number.
- The legacy API takes a pair: `nationcode` (digits, an optional `+`) and the national `mobile`.

Validity is the `phonenumbers` library's (its metadata, not our code). A send of 200 numbers
parses 200 numbers, so plain mainland mobiles take a fast path: the library's own CN mobile
pattern, which yields exactly what the library would (E.164 `+86` + the 11 digits, region CN).
`tests/emulator/test_numbers.py` holds the two paths equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

import phonenumbers

MAINLAND = "86"


def _cn_mobile_pattern() -> str:
    """phonenumbers' own mainland-mobile pattern (its CN metadata)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    pattern = None if metadata is None or metadata.mobile is None else metadata.mobile.national_number_pattern
    if not isinstance(pattern, str):
        raise RuntimeError("phonenumbers holds no mainland mobile pattern")
    return pattern


_CN_MOBILE = re.compile(_cn_mobile_pattern(), re.ASCII)  # \d must not match other scripts' digits
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class Destination(NamedTuple):
    """One number of a send as the request gave it, and what it parses to."""

    raw: str
    e164: str | None  # None when the number is not valid
    mainland: bool  # for an invalid number: a best guess from its form
    nationcode: str
    mobile: str

    @classmethod
    def from_legacy(cls, nationcode: object, mobile: object) -> Destination:
        code, number = str(nationcode).strip().lstrip("+"), str(mobile).strip()
        if code == MAINLAND and len(number) == 11 and _CN_MOBILE.fullmatch(number):
            return cls(str(mobile), "+86" + number, True, MAINLAND, number)
        return cls.parse_legacy(nationcode, mobile)

    @classmethod
    def parse_legacy(cls, nationcode: object, mobile: object) -> Destination:
        """`from_legacy` without the mainland fast path: every number through phonenumbers."""
        code, number = str(nationcode).strip().lstrip("+"), str(mobile).strip()
        valid = len(code) <= 4 and _DIGITS.fullmatch(code) and _DIGITS.fullmatch(number)
        parsed = parse_number(f"+{code}{number}") if valid else None
        e164 = None if parsed is None else parsed[0]
        return cls(str(mobile), e164, code == MAINLAND, code, number)

    @classmethod
    def from_v3(cls, raw: str) -> Destination:
        """An API 3.0 `PhoneNumberSet` entry."""
        text = raw.strip()
        national = _mainland_national(text)
        if national is not None and _CN_MOBILE.fullmatch(national):
            return cls(raw, "+86" + national, True, MAINLAND, national)
        return cls.parse_v3(raw)

    @classmethod
    def parse_v3(cls, raw: str) -> Destination:
        """`from_v3` without the mainland fast path: every number through phonenumbers."""
        text = raw.strip()
        candidate = _v3_candidate(text)
        parsed = None if candidate is None else parse_number(candidate)
        if parsed is None:
            mainland = text.startswith(("+86", "0086", "86")) or (len(text) == 11 and text.isdigit())
            return cls(raw, None, mainland, "", "")
        e164, code, number = parsed
        return cls(raw, e164, code == MAINLAND, code, number)


def _v3_candidate(text: str) -> str | None:
    """The `+<digits>` text an API 3.0 number stands for, or None when it has no accepted form."""
    if text.startswith("+"):
        digits = text[1:]
    elif not _DIGITS.fullmatch(text):
        return None
    elif len(text) == 11:
        digits = MAINLAND + text
    elif text.startswith("0086"):
        digits = text[2:]
    elif text.startswith(MAINLAND):
        digits = text
    else:
        return None
    if not _DIGITS.fullmatch(digits) or digits.startswith("0"):
        return None
    return "+" + digits


def v3_destinations(raws: Iterable[str]) -> tuple[Destination, ...]:
    """`Destination.from_v3` of each number, with the common `+86…` form handled inline."""
    mobile = _CN_MOBILE.fullmatch
    out: list[Destination] = []
    for raw in raws:
        text = raw.strip()
        if len(text) == 14 and text.startswith("+86") and mobile(text, 3):
            out.append(Destination(raw, text, True, MAINLAND, text[3:]))
        else:
            out.append(Destination.from_v3(raw))
    return tuple(out)


def legacy_destinations(tels: Iterable[tuple[object, object]]) -> tuple[Destination, ...]:
    """`Destination.from_legacy` of each (nationcode, mobile) pair, mainland mobiles inline."""
    mobile = _CN_MOBILE.fullmatch
    out: list[Destination] = []
    for code, number in tels:
        if code in ("86", 86) and type(number) is str and len(number) == 11 and mobile(number):
            out.append(Destination(number, "+86" + number, True, MAINLAND, number))
        else:
            out.append(Destination.from_legacy(code, number))
    return tuple(out)


def _mainland_national(text: str) -> str | None:
    """The 11 digits after a mainland prefix, by length alone (the pattern checks the digits)."""
    size = len(text)
    if size == 14 and text.startswith("+86"):
        return text[3:]
    if size == 11:
        return text
    if size == 13 and text.startswith("86"):
        return text[2:]
    if size == 15 and text.startswith("0086"):
        return text[4:]
    return None


@lru_cache(maxsize=65_536)
def parse_number(candidate: str) -> tuple[str, str, str] | None:
    """(E.164, country code, national number) of `+<digits>` when phonenumbers holds it valid,
    else None. Cached: load tests repeat numbers, and this is the slow path."""
    if len(candidate) > 16:  # `+` and at most 15 digits (E.164)
        return None
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164, str(parsed.country_code), phonenumbers.national_significant_number(parsed)


def normalize(raw: str) -> tuple[str, str, str]:
    """(E.164, country code, national number) of a valid number in any form API 3.0 accepts
    (inspection routes, injected replies); ValueError otherwise."""
    destination = Destination.from_v3(raw)
    if destination.e164 is None:
        raise ValueError(f"not a valid phone number: {raw!r}")
    return destination.e164, destination.nationcode, destination.mobile


def iso_code(e164: str) -> str:
    """The `IsoCode` of a valid number: `CN` for every +86 number, else its phonenumbers region
    (`DEF` when it has none)."""
    if e164.startswith("+86"):
        return "CN"
    return _other_iso_code(e164)


@lru_cache(maxsize=65_536)
def _other_iso_code(e164: str) -> str:
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    return "DEF" if region in (None, "ZZ") else region
