"""Destination numbers as the emulator reads them: a fast path for plain mainland mobiles, and
`shared.phone` (phonenumbers) for everything else.

A send of 200 numbers parses 200 numbers; with phonenumbers that is most of the emulator's work.
Plain mainland mobiles (`+86` or `86` + 11 digits, `0086…`, bare 11 digits, legacy nationcode 86)
are matched against phonenumbers' own CN mobile pattern instead, which yields exactly what the
library would: E.164 `+86` + the 11 digits, country code 86, the 11 digits as national number,
region CN (+86 belongs to CN alone). `tests/emulator/test_numbers.py` holds the two paths equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from shared import phone as phones
from shared.errors import ValidationError

MAINLAND = phones.MAINLAND_CODE


_CN_MOBILE = phones.CN_MOBILE_RE  # phonenumbers' CN mobile pattern, ASCII digits only


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
        parsed = parse_number(number, code)
        e164 = None if parsed is None else parsed[0]
        return cls(str(mobile), e164, code == MAINLAND, code, number)

    @classmethod
    def from_v3(cls, raw: str) -> Destination:
        """API 3.0 takes E.164, and for mainland numbers also `0086…`, `86…` and bare 11 digits."""
        text = raw.strip()
        national = _mainland_national(text)
        if national is not None and _CN_MOBILE.fullmatch(national):
            return cls(raw, text if len(text) == 14 else "+86" + national, True, MAINLAND, national)
        return cls.parse_v3(raw)

    @classmethod
    def parse_v3(cls, raw: str) -> Destination:
        """`from_v3` without the mainland fast path: every number through phonenumbers."""
        text = raw.strip()
        candidate = "+" + text if text.isdigit() and len(text) == 13 and text.startswith("861") else text
        parsed = parse_number(candidate, None)
        if parsed is None:
            mainland = text.startswith(("+86", "0086", "86")) or (text.isdigit() and len(text) == 11)
            return cls(raw, None, mainland, "", "")
        e164, code, number = parsed
        return cls(raw, e164, phones.is_mainland(e164), code, number)


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
def parse_number(text: str, nationcode: str | None) -> tuple[str, str, str] | None:
    """(E.164, country code, national number) of a valid number, else None. Cached: load tests
    repeat numbers, and this is the slow path."""
    try:
        e164 = phones.normalize(text, nationcode=nationcode, field="mobile")
    except ValidationError:
        return None
    code, number = phones.split(e164)
    return e164, code, number


def iso_code(e164: str) -> str:
    """The `IsoCode` of a valid number: `CN` for every +86 number, else its phonenumbers region
    (`DEF` when it has none)."""
    if e164.startswith("+86"):
        return "CN"
    return _other_iso_code(e164)


@lru_cache(maxsize=65_536)
def _other_iso_code(e164: str) -> str:
    region = phones.region_of(e164)
    return "DEF" if region == "ZZ" else region
