"""Phone numbers: E.164 parsing and validation (phonenumbers), the legacy form, masking."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import itemgetter
from typing import Any, cast

from shared.errors import ValidationError

MAINLAND_CODE = "86"
MAINLAND_PREFIX = "+" + MAINLAND_CODE  # how every mainland number in E.164 begins
_E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
# phonenumbers' own mainland-mobile pattern (its CN metadata, `mobile.national_number_pattern`),
# copied so that the common number needs no import of the library at a cold start;
# tests/unit/test_core_small.py fails if the pinned phonenumbers ever disagrees.
CN_MOBILE_RE = re.compile(
    r"1(?:610\d|740[0-5])\d{6}|1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}",
    re.ASCII,  # \d must not match other scripts' digits
)

# A mainland mobile in E.164 (its `fullmatch` is `_is_cn_mobile`), for lists matched item by item in C
CN_E164_MOBILE_RE = re.compile(rf"\+86(?:{CN_MOBILE_RE.pattern})", re.ASCII)
# Mainland mobiles in E.164 joined by newlines, matched a block of a list at once (`all_cn_mobiles`).
_CN_MOBILE_LIST_RE = re.compile(rf"{CN_E164_MOBILE_RE.pattern}(?:\n{CN_E164_MOBILE_RE.pattern})*", re.ASCII)

_LIST_BLOCK = 5000  # numbers a match: beyond ~10,000 repetitions a match costs more than its length


def all_cn_mobiles(items: Sequence[object]) -> bool:
    """Whether every item is a string holding a mainland mobile in E.164, which `normalize` returns
    as it is and `check_receives_sms` passes: one match over thousands of them joined by newlines
    instead of calls a number. Each such number is 14 characters: a joined text of 15 an item, less
    one, holds no newline of an item's own."""
    if not items or set(map(type, items)) != {str}:
        return False
    for start in range(0, len(items), _LIST_BLOCK):
        part = cast("Sequence[str]", items[start : start + _LIST_BLOCK])
        text = "\n".join(part)
        if len(text) != 15 * len(part) - 1 or _CN_MOBILE_LIST_RE.fullmatch(text) is None:
            return False
    return True


def normalize(raw: object, *, nationcode: object = None, field: str = "phone") -> str:
    """Parse a number into E.164 (`+8613800000000`), or raise a ValidationError naming `field`.

    Accepts `+<cc><number>`, `00<cc><number>`, a bare mainland number (11 digits starting with 1),
    or the legacy pair: `nationcode` + national `raw`.
    """
    if type(raw) is str and nationcode is None:
        if CN_E164_MOBILE_RE.fullmatch(raw) is not None:
            return raw  # the common case, already in E.164: nothing to clean (region_of: CN)
        if raw[:1] == "+" and _E164_RE.match(raw) and (known := _classify(raw)) is not None:
            return _classified(raw, known, field)  # E.164 already, decided from the metadata
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ValidationError(f"{field} must be a string", field=field)
    text = re.sub(r"[\s\-()]", "", str(raw))
    if not text or len(text) > 20 or not text.isascii():
        raise ValidationError(f"{field} is empty or too long", field=field)
    if nationcode is not None and nationcode != "":
        if isinstance(nationcode, bool) or not isinstance(nationcode, (str, int)):
            raise ValidationError("nationcode must be a string of digits", field="nationcode")
        code = str(nationcode).strip().lstrip("+")
        if not code.isascii() or not code.isdigit() or len(code) > 4:
            raise ValidationError("nationcode must be a country calling code such as 86", field="nationcode")
        if not text.isdigit():
            raise ValidationError(f"{field} must be digits when nationcode is given", field=field)
        text = f"+{code}{text}"
    elif text.startswith("00"):
        text = "+" + text[2:]
    elif text.isdigit() and len(text) == 11 and text.startswith("1"):
        text = "+86" + text
    if not _E164_RE.match(text):
        raise ValidationError(
            f"{field} is not a phone number in E.164 form (+<country code><number>)", field=field
        )
    if _is_cn_mobile(text):
        return text  # without importing phonenumbers
    known = _classify(text)  # the library's decision from its compiled metadata
    if known is not None:
        return _classified(text, known, field)
    return _parsed_by_library(text, field)


def untyped(texts: Sequence[str]) -> list[int]:
    """Positions, ascending, of the texts `normalize` must decide a call each. The others are
    E.164 numbers numbers_fast types as valid: `normalize` returns them as they are, and their
    region and type are remembered here, as it would (what `region_of` and `check_receives_sms`
    read). The typing runs over the list, not a call of `normalize` each."""
    shaped = list(compress(range(len(texts)), map(_E164_RE.fullmatch, texts)))
    kinds = list(map(_classify, map(texts.__getitem__, shaped)))
    valid = [kind is not None and kind[1] != _UNKNOWN_TYPE for kind in kinds]
    typed = list(compress(shaped, valid))
    if len(_known) + len(typed) > _KNOWN_LIMIT:
        _known.clear()
    _known.update(
        zip(
            map(texts.__getitem__, typed),
            cast("Iterable[tuple[str, int]]", compress(kinds, valid)),
            strict=True,
        )
    )
    if len(typed) == len(texts):
        return []
    return sorted(set(range(len(texts))).difference(typed))


def _parsed_by_library(text: str, field: str) -> str:
    """The rare number numbers_fast cannot type: the library parses and types it."""
    phonenumbers = _library()
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"{field} could not be parsed as a phone number", field=field) from None
    # number_type is is_valid_number's own test (UNKNOWN: not valid), and says whether it takes SMS
    kind = phonenumbers.number_type(parsed)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise ValidationError(f"{field} is not a valid number for its country", field=field)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return _remember(e164, phonenumbers.region_code_for_number(parsed) or "ZZ", kind)


def _load_numbers_fast() -> None:
    """Bind `_classify` and `_fast_split` to shared.numbers_fast's functions, imported with the
    first number that is not a mainland mobile (a cold start sending to the mainland never loads
    it); from then on each call is the function itself, no import statement a number."""
    global _classify, _fast_split
    from shared import numbers_fast

    _classify, _fast_split = numbers_fast.classify, numbers_fast.split


def _first_classify(e164: str) -> tuple[str, int] | None:
    _load_numbers_fast()
    return _classify(e164)


def _first_fast_split(e164: str) -> tuple[str, str] | None:
    _load_numbers_fast()
    return _fast_split(e164)


_classify: Callable[[str], tuple[str, int] | None] = _first_classify
_fast_split: Callable[[str], tuple[str, str] | None] = _first_fast_split


def _classified(e164: str, known: tuple[str, int], field: str) -> str:
    """`e164` as numbers_fast typed it: refused when no type fits, else remembered."""
    region, kind = known
    if kind == _UNKNOWN_TYPE:
        raise ValidationError(f"{field} is not a valid number for its country", field=field)
    return _remember(e164, region, kind)


def _is_cn_mobile(text: str) -> bool:
    """`+86` and a mainland mobile number, by phonenumbers' own pattern."""
    return len(text) == 14 and text[:3] == "+86" and CN_MOBILE_RE.fullmatch(text, 3) is not None


_KNOWN_LIMIT = 250_000
# numbers normalize() validated → (ISO region, PhoneNumberType): region_of and check_receives_sms
# need no second parse
_known: dict[str, tuple[str, int]] = {}


def _remember(e164: str, region: str, kind: int) -> str:
    if len(_known) >= _KNOWN_LIMIT:
        _known.clear()
    _known[e164] = (region, kind)
    return e164


def _library() -> Any:
    """phonenumbers, imported on first use: functions whose first request parses no number
    (a scheduled pull, a callback) never load it."""
    import phonenumbers

    return phonenumbers


_UNKNOWN_TYPE = 99  # phonenumbers' PhoneNumberType.UNKNOWN: no type fits (not a valid number)
# phonenumbers' PhoneNumberType values that can receive an SMS: MOBILE (1), and FIXED_LINE_OR_MOBILE
# (2) where a country's numbering does not tell the two apart (US, CA, …).
_RECEIVING_TYPES = frozenset({1, 2})
_TYPE_NAMES = {
    0: "a fixed-line number",
    3: "a toll-free number",
    4: "a premium-rate number",
    5: "a shared-cost number",
    6: "a VoIP number",
    7: "a personal (forwarding) number",
    8: "a pager number",
    9: "a universal access number",
    10: "a voicemail access number",
}


def check_receives_sms(e164: str, *, field: str) -> None:
    """Refuse (400 `not_mobile`, naming `field`) a valid number that cannot receive SMS: landlines,
    toll-free, premium-rate, shared-cost, VoIP, pager, UAN… and numbers of no known type."""
    if _is_cn_mobile(e164):
        return  # the mainland pattern is phonenumbers' mobile pattern: no lookup needed
    known = _known.get(e164)
    if known is None:
        phonenumbers = _library()
        parsed = phonenumbers.parse(e164, None)
        kind = phonenumbers.number_type(parsed)
        _remember(e164, phonenumbers.region_code_for_number(parsed) or "ZZ", kind)
    else:
        kind = known[1]
    if kind not in _RECEIVING_TYPES:
        what = _TYPE_NAMES.get(kind, "not known to be a mobile number")
        raise ValidationError(
            f"{field} is {what} and cannot receive SMS; send only to mobile numbers",
            field=field,
            code="not_mobile",
        )


def split(e164: str) -> tuple[str, str]:
    """`+8613800000000` → (`86`, `13800000000`): the legacy nationcode and national number, as
    phonenumbers' parse splits them (numbers_fast's split where it can, without the parse)."""
    if e164.startswith("+86"):
        return MAINLAND_CODE, e164[3:]
    parts = _fast_split(e164)
    if parts is not None:
        return parts
    phonenumbers = _library()
    parsed = phonenumbers.parse(e164, None)
    return str(parsed.country_code), phonenumbers.national_significant_number(parsed)


def is_mainland(e164: str) -> bool:
    """Whether Tencent treats the number as Chinese-mainland (+86)."""
    return e164.startswith(MAINLAND_PREFIX)


def region_of(e164: str) -> str:
    """ISO region (`CN`, `US`, …) of a valid E.164 number."""
    if e164[:3] == "+86":
        return "CN"  # +86 is the mainland's alone
    known = _known.get(e164)
    if known is not None:
        return known[0]
    phonenumbers = _library()
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "ZZ"


def known_regions(numbers: Iterable[str]) -> list[str | None]:
    """`region_of` each number `normalize` typed and remembered, looked up in C; None for the
    others (a mainland mobile, a number never validated here)."""
    return list(map(itemgetter(0), map(_known.get, numbers, repeat(_NOT_KNOWN))))


_NOT_KNOWN = (None, _UNKNOWN_TYPE)


def mask(e164: str) -> str:
    """`+8613800000000` → `+86138****0000`: hide four digits before the last four."""
    text = str(e164)
    digits = text.lstrip("+")
    if len(digits) < 8:
        return "****"
    return ("+" if text.startswith("+") else "") + digits[: len(digits) - 8] + "****" + digits[-4:]
