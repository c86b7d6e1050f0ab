"""phonenumbers' own decision for an E.164 number — its region and its type — without its full
parse: per country calling code, the library's metadata compiled once (on first use) into
patterns and length sets, applied in the library's own order (`_number_type_helper`,
`_region_code_for_number_from_list`). Anything the short way cannot decide exactly as the library
would (a national prefix or a leading zero the parse might strip, a non-geographic code, no region)
answers None, and the caller takes the library's full parse. tests/unit/test_numbers_fast.py
compares the two over many numbers of every country."""

from __future__ import annotations

import re
import threading
from typing import Any, NamedTuple

UNKNOWN = 99  # phonenumbers.PhoneNumberType.UNKNOWN


class _Desc(NamedTuple):
    lengths: frozenset[int]  # empty: any length
    pattern: re.Pattern[str]


class _Region(NamedTuple):
    code: str
    leading_digits: re.Pattern[str] | None
    general: _Desc | None
    # (type, desc) in the order phonenumbers tests them, before the fixed-line/mobile part
    special: tuple[tuple[int, _Desc], ...]
    fixed_line: _Desc | None
    mobile: _Desc | None
    same_mobile_and_fixed: bool
    # by length: the descriptions that admit it, in that order, as one alternation (`_one_match`)
    by_size: dict[int, re.Pattern[str] | None]


class _Country(NamedTuple):
    national_prefix: re.Pattern[str] | None  # of the main region: what the parse may strip
    regions: tuple[_Region, ...]


_countries: dict[str, _Country | None] = {}
_codes: dict[str, int] = {}  # "44" → 44, every calling code the library knows (not non-geographic)
_lock = threading.Lock()


def classify(e164: str) -> tuple[str, int] | None:
    """(ISO region, phonenumbers.PhoneNumberType value) of `+<digits>` — what
    `region_code_for_number` and `number_type` of `parse(e164, None)` give, with the number
    itself as its E.164 form — or None: ask the library."""
    parts = _parts(e164)
    if parts is None:
        return None
    _, national, country = parts
    regions = country.regions
    if len(regions) == 1:
        region = regions[0]
        return region.code, _type(national, region)
    for region in regions:
        if region.leading_digits is not None:
            if region.leading_digits.match(national):
                return region.code, _type(national, region)
        else:
            kind = _type(national, region)
            if kind != UNKNOWN:
                return region.code, kind
    return None


_MISSING: Any = object()


def split(e164: str) -> tuple[str, str] | None:
    """(calling code, national significant number) of `+<digits>` — `country_code` and
    `national_significant_number` of `parse(e164, None)` — or None: ask the library."""
    parts = _parts(e164)
    return None if parts is None else parts[:2]


def _parts(e164: str) -> tuple[str, str, _Country] | None:
    """The calling code, the national number and the country of `+<digits>`, when the library's
    parse would split it there and keep the national number whole; else None. The calling codes
    are prefix-free: the code is the one the digits start with, as the parse finds it."""
    if not _codes:
        _load_codes()
    digits = e164[1:]
    for size in (1, 2, 3):
        code = digits[:size]
        if code in _codes:
            break
    else:
        return None
    national = digits[size:]
    if not 2 <= len(national) <= 17 or national[0] == "0":
        return None  # too short/long for a parse, or a leading zero kept as such (Italy …)
    country = _countries.get(code, _MISSING)
    if country is _MISSING:
        with _lock:
            country = _countries[code] = _compile(_codes[code])
    if country is None or (country.national_prefix is not None and country.national_prefix.match(national)):
        return None  # the parse might strip something here: the library decides
    return code, national, country


def _matches(national: str, desc: _Desc | None) -> bool:
    """phonenumbers' `_is_number_matching_desc`: the length first, then the whole pattern."""
    if desc is None:
        return False
    if desc.lengths and len(national) not in desc.lengths:
        return False
    return desc.pattern.fullmatch(national) is not None


def _type(national: str, region: _Region) -> int:
    """phonenumbers' `_number_type_helper`, over the compiled descriptions: the general description,
    then the special types in order, then fixed line, then mobile, each tried only at a length it
    admits — as one match (the first alternative to match the whole number names its type)."""
    size = len(national)
    combined = region.by_size.get(size, _MISSING)
    if combined is _MISSING:
        combined = region.by_size[size] = _one_match(region, size)
    match = combined.fullmatch(national) if combined is not None else None
    if match is None:
        return UNKNOWN
    kind = _KINDS[match.lastgroup]  # every alternative is a named group, t<type>
    if kind == _FIXED_LINE:
        if region.same_mobile_and_fixed or _matches(national, region.mobile):
            return 2  # FIXED_LINE_OR_MOBILE
        return _FIXED_LINE
    return kind


_FIXED_LINE, _MOBILE = 0, 1
_KINDS = {f"t{kind}": kind for kind in range(11)}  # phonenumbers' PhoneNumberType values 0–10


def _one_match(region: _Region, size: int) -> re.Pattern[str] | None:
    """For numbers of `size` digits that the general description admits (a lookahead): the
    alternation of the region's descriptions that admit the size, named `t<type>`, in
    `_number_type_helper`'s order (mobile only where it differs from fixed line). None: no number
    of that size has a type."""
    general = region.general
    if general is None or (general.lengths and size not in general.lengths):
        return None
    tried = [*region.special, (_FIXED_LINE, region.fixed_line)]
    if not region.same_mobile_and_fixed:
        tried.append((_MOBILE, region.mobile))
    parts = [
        f"(?P<t{kind}>{desc.pattern.pattern})"
        for kind, desc in tried
        if desc is not None and (not desc.lengths or size in desc.lengths)
    ]
    return re.compile(rf"(?=(?:{general.pattern.pattern})\Z)(?:{'|'.join(parts)})") if parts else None


def _load_codes() -> None:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    with _lock:
        for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
            if regions and regions[0] != "001":  # non-geographic codes: the library decides
                _codes[str(code)] = code


def _compile(code: int) -> _Country | None:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberType

    names = COUNTRY_CODE_TO_REGION_CODE[code]
    main = PhoneMetadata.metadata_for_region(names[0], None)
    if main is None:
        return None
    regions = []
    for name in names:
        metadata = PhoneMetadata.metadata_for_region(name.upper(), None)
        if metadata is None:
            if len(names) == 1:
                return None
            continue  # as the library: a region without metadata is skipped
        special = (
            (PhoneNumberType.PREMIUM_RATE, metadata.premium_rate),
            (PhoneNumberType.TOLL_FREE, metadata.toll_free),
            (PhoneNumberType.SHARED_COST, metadata.shared_cost),
            (PhoneNumberType.VOIP, metadata.voip),
            (PhoneNumberType.PERSONAL_NUMBER, metadata.personal_number),
            (PhoneNumberType.PAGER, metadata.pager),
            (PhoneNumberType.UAN, metadata.uan),
            (PhoneNumberType.VOICEMAIL, metadata.voicemail),
        )
        regions.append(
            _Region(
                code=name,
                leading_digits=re.compile(metadata.leading_digits)
                if metadata.leading_digits is not None
                else None,
                general=_desc(metadata.general_desc),
                special=tuple((int(kind), desc) for kind, raw in special if (desc := _desc(raw)) is not None),
                fixed_line=_desc(metadata.fixed_line),
                mobile=_desc(metadata.mobile),
                same_mobile_and_fixed=bool(metadata.same_mobile_and_fixed_line_pattern),
                by_size={},
            )
        )
    prefix = main.national_prefix_for_parsing
    return _Country(re.compile(prefix) if prefix else None, tuple(regions))


def _desc(desc: Any) -> _Desc | None:
    """A number description as `_is_number_matching_desc` reads it; None when nothing can match
    (no description, or no pattern: `_match_national_number` is False)."""
    if desc is None or not desc.national_number_pattern:
        return None
    return _Desc(frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern))
