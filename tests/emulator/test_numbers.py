"""The emulator's mainland fast path reads numbers exactly as phonenumbers does."""

from __future__ import annotations

import random

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from local.emulator.numbers import (
    Destination,
    iso_code,
    legacy_destinations,
    v3_destinations,
)

Reading = tuple[str, str, str, str | None] | None  # E.164, country code, national number, region


def library(text: str) -> Reading:
    """What phonenumbers itself makes of an E.164 text, with no shortcut of ours."""
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        str(parsed.country_code),
        phonenumbers.national_significant_number(parsed),
        phonenumbers.region_code_for_number(parsed),
    )


def reading(destination: Destination) -> Reading:
    if destination.e164 is None:
        return None
    return destination.e164, destination.nationcode, destination.mobile, iso_code(destination.e164)


def mainland_sample() -> list[str]:
    """Every 5-digit prefix 10000–19999, each with a seeded random 6-digit rest, and every
    digit after the longest prefixes the CN mobile pattern distinguishes (1610, 1740)."""
    rng = random.Random(86)
    numbers = [f"{prefix}{rng.randrange(10**6):06d}" for prefix in range(10_000, 20_000)]
    numbers += [
        f"{prefix}{digit}{rng.randrange(10**5):05d}"
        for prefix in ("1610", "1740", "1741")
        for digit in "0123456789"
    ]
    return numbers


def test_every_mainland_prefix_reads_as_phonenumbers_reads_it() -> None:
    nationals = mainland_sample()
    v3 = v3_destinations(["+86" + n for n in nationals])
    legacy = legacy_destinations([("86", n) for n in nationals])
    fast = 0
    for national, by_v3, by_legacy in zip(nationals, v3, legacy, strict=True):
        expected = library("+86" + national)
        assert reading(by_v3) == expected, national
        assert reading(by_legacy) == expected, national
        assert by_v3.mainland
        assert by_legacy.mainland
        fast += expected is not None
    assert fast > 3000  # the sample holds plenty of valid mobiles, and plenty of other numbers


def test_other_mainland_forms_read_as_the_phonenumbers_path() -> None:
    for national in mainland_sample()[::13]:
        for text in (national, "86" + national, "0086" + national, f" +86{national} "):
            assert Destination.from_v3(text) == Destination.parse_v3(text), text
        for code, mobile in (
            ("86", national),
            ("+86", national),
            (86, int(national)),
            ("86", f" {national}"),
        ):
            assert Destination.from_legacy(code, mobile) == Destination.parse_legacy(code, mobile)


def test_iso_codes_outside_the_mainland_come_from_phonenumbers() -> None:
    for text in ("+12025550123", "+85251234567", "+447911123456", "+8613800138000"):
        destination = Destination.from_v3(text)
        assert reading(destination) == library(text)


digits = st.one_of(
    st.text(alphabet="0123456789", min_size=0, max_size=16),
    st.text(alphabet="0123456789", min_size=10, max_size=10).map(lambda rest: "1" + rest),  # mobile-like
)
prefixes = st.sampled_from(["", "+", "+86", "86", "0086", "+1", "+852", " +86", "+86 ", "+８６"])
texts = st.builds(
    lambda prefix, rest, tail: prefix + rest + tail, prefixes, digits, st.sampled_from(["", " ", "x", "１"])
)


@given(st.lists(texts, min_size=1, max_size=5))
def test_v3_fast_path_changes_no_reading(raws: list[str]) -> None:
    assert v3_destinations(raws) == tuple(Destination.parse_v3(raw) for raw in raws)


codes = st.sampled_from(["86", "+86", " 86", 86, "852", "1", "", "8６"])
mobiles = st.one_of(digits, st.integers(min_value=0, max_value=10**12), texts)


@given(st.lists(st.tuples(codes, mobiles), min_size=1, max_size=5))
def test_legacy_fast_path_changes_no_reading(tels: list[tuple[object, object]]) -> None:
    assert legacy_destinations(tels) == tuple(Destination.parse_legacy(code, mobile) for code, mobile in tels)
