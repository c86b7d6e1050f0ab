"""shared.numbers_fast decides exactly as phonenumbers does: for every number it answers, the
region and the type equal `region_code_for_number` and `number_type` of the library's full parse
(and the number is its own E.164 form); what it cannot decide exactly it leaves to the library."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from shared import numbers_fast, phone
from shared.errors import ValidationError

TYPES = [t for t in vars(PhoneNumberType).values() if isinstance(t, int) and t != PhoneNumberType.UNKNOWN]
BENCH_REGIONS = ("US", "GB", "SG", "JP", "DE", "FR", "AU", "IN", "BR", "KR")


def parsed_by_library(e164: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


def library(e164: str) -> tuple[str | None, int, str] | None:
    """phonenumbers' own answer: (region, type, E.164), or None when it cannot parse the text."""
    parsed = parsed_by_library(e164)
    if parsed is None:
        return None
    formatted = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return phonenumbers.region_code_for_number(parsed), phonenumbers.number_type(parsed), formatted


def library_split(e164: str) -> tuple[str, str] | None:
    """phonenumbers' (calling code, national significant number), or None when it cannot parse."""
    parsed = parsed_by_library(e164)
    if parsed is None:
        return None
    return str(parsed.country_code), phonenumbers.national_significant_number(parsed)


def random_numbers(seed: str, count: int = 20_000) -> list[str]:
    """Any digits after any calling code (most of them invalid), in E.164's shape."""
    rng = random.Random(seed)
    codes = sorted({str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE})
    numbers = (f"+{rng.choice(codes)}{rng.randint(0, 10 ** rng.randint(4, 12)):d}" for _ in range(count))
    return [n for n in numbers if phone._E164_RE.match(n)]


def numbers_of(region: str, rng: random.Random, per_stem: int = 12) -> list[str]:
    """E.164 strings near each example number of the region (every type): the example, its last
    digits varied, one digit shorter and longer, and other leading digits — valid numbers of every
    kind and plenty of invalid ones."""
    code = str(phonenumbers.country_code_for_region(region))
    out = []
    for kind in [*TYPES, None]:
        example = (
            phonenumbers.example_number(region)
            if kind is None
            else phonenumbers.example_number_for_type(region, kind)
        )
        if example is None:
            continue
        national = phonenumbers.national_significant_number(example)
        out.append(f"+{code}{national}")
        for _ in range(per_stem):
            keep = rng.randint(1, len(national))
            tail = "".join(rng.choice("0123456789") for _ in range(len(national) - keep))
            out.append(f"+{code}{national[:keep]}{tail}")
            out.append(f"+{code}{national[:keep]}{tail}{rng.randint(0, 9)}")
            out.append(f"+{code}{national[: keep - 1]}")
            out.append(f"+{code}{rng.randint(1, 9)}{national[1:]}")
    return [n for n in out if phone._E164_RE.match(n)]


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_fast_path_equals_phonenumbers(region: str) -> None:
    rng = random.Random(f"numbers-fast-{region}")
    for number in numbers_of(region, rng):
        fast = numbers_fast.classify(number)
        if fast is None:
            continue  # the library decides (see test_fast_path_decides_most_countries)
        expected = library(number)
        assert expected is not None, number
        assert (fast[0], fast[1]) == (expected[0], expected[1]), number
        assert expected[2] == number, number  # its own E.164 form: nothing stripped


def test_fast_path_decides_most_countries() -> None:
    """The short way is the common way: it decides the example mobile of most regions (those with
    a national prefix the parse may strip from such a number, as Argentina's 9, are left out)."""
    decided = []
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    for region in regions:
        example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if example is not None:
            number = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            decided += [region] if numbers_fast.classify(number) is not None else []
    assert len(decided) > 0.9 * len(regions), sorted(set(regions) - set(decided))


def test_fast_path_equals_phonenumbers_on_random_numbers() -> None:
    """Typed and split the short way, each as the parse would; both comparisons ran on most."""
    typed = split = 0
    for number in random_numbers("numbers-fast-random"):
        fast = numbers_fast.classify(number)
        if fast is not None:
            typed += 1
            expected = library(number)
            assert expected is not None, number
            assert (fast[0], fast[1], number) == expected, number
        parts = numbers_fast.split(number)
        if parts is not None:
            split += 1
            assert parts == library_split(number), number
    assert typed > 10_000
    assert split > 10_000


@pytest.mark.parametrize("region", BENCH_REGIONS)
def test_mobiles_of_common_countries_take_the_fast_path(region: str) -> None:
    """The short way is taken for real mobiles (it is not a path that always falls back), both to
    type them and to split them (the legacy API's nationcode and mobile)."""
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    assert example is not None
    number = phonenumbers.format_number(example, PhoneNumberFormat.E164)
    expected_type = phonenumbers.number_type(example)
    assert numbers_fast.classify(number) == (region, expected_type)
    assert numbers_fast.split(number) == (
        str(example.country_code),
        phonenumbers.national_significant_number(example),
    )


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("+442079460000", "fixed-line"),  # GB landline
        ("+448001234567", "toll-free"),  # GB freephone
        ("+449012345678", "premium-rate"),  # GB premium
        ("+18005550100", "toll-free"),  # US toll-free
        ("+4930123456", "fixed-line"),  # Berlin
    ],
)
def test_normalize_still_refuses_what_cannot_receive_sms(number: str, kind: str) -> None:
    """Through the fast path, a valid number that is not a mobile is still refused, as before."""
    assert numbers_fast.classify(number) is not None
    e164 = phone.normalize(number)
    with pytest.raises(ValidationError) as refused:
        phone.check_receives_sms(e164, field="phone")
    assert refused.value.code == "not_mobile"
    assert kind in str(refused.value)


def test_normalize_refuses_an_invalid_number_the_fast_path_decides() -> None:
    number = "+65812345"  # SG, one digit short of a mobile
    assert numbers_fast.classify(number) is not None
    with pytest.raises(ValidationError, match="not a valid number"):
        phone.normalize(number)


def _desc(pattern: str, *lengths: int) -> numbers_fast._Desc:
    return numbers_fast._Desc(frozenset(lengths), re.compile(pattern))


@pytest.mark.parametrize("same", [False, True])
def test_overlapping_descriptions_are_tried_in_the_librarys_order_at_the_lengths_they_admit(
    same: bool,
) -> None:
    """Real metadata rarely overlaps; a made-up region whose descriptions do shows the one match
    keeps `_number_type_helper`'s order (premium before toll-free before fixed line before mobile),
    skips a description at a length it does not admit, and types nothing the general description
    refuses."""
    region = numbers_fast._Region(
        code="ZZ",
        leading_digits=None,
        general=_desc(r"[5-9]\d{4,7}|4\d{8}", 5, 6, 7, 8),
        special=((4, _desc(r"9\d{5}", 6)), (3, _desc(r"9\d+", 6, 7)), (5, _desc(r"8\d+", 8))),
        fixed_line=_desc(r"[89]\d{4,6}"),
        mobile=_desc(r"[6-9]\d{4,7}|4\d{4}|4\d{8}"),
        same_mobile_and_fixed=same,
        by_size={},
    )
    expected = {
        "912345": 4,  # premium rate, though toll-free, fixed line and mobile match too
        "9123456": 3,  # premium rate does not take 7 digits: toll-free
        "81234": 2,  # fixed line and mobile both
        "812345": 2,
        "8123456": 2,
        "81234567": 5,  # shared cost only at 8 digits; before fixed line (which does not match)
        "71234567": 1 if not same else numbers_fast.UNKNOWN,  # mobile alone
        "51234": numbers_fast.UNKNOWN,
        "41234": numbers_fast.UNKNOWN,  # a mobile, but not of the general description's pattern
        "412345678": numbers_fast.UNKNOWN,  # nor of a length it admits
    }
    assert {number: numbers_fast._type(number, region) for number in expected} == expected


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_split_equals_phonenumbers(region: str) -> None:
    """numbers_fast.split answers what the parse gives, or nothing; phone.split (the legacy API's
    nationcode and mobile) always what the parse gives."""
    rng = random.Random(f"numbers-fast-split-{region}")
    for number in numbers_of(region, rng):
        expected = library_split(number)
        fast = numbers_fast.split(number)
        if fast is not None:
            assert fast == expected, number
        if expected is not None:
            assert phone.split(number) == expected, number


def test_split_leaves_to_the_library_what_the_parse_might_change() -> None:
    """A leading zero the parse keeps apart (Italy's fixed lines), a national prefix it may strip
    (Russia's 8), a non-geographic calling code: the library splits those."""
    for number in ("+390612345678", "+78123456789", "+80012345678"):
        assert numbers_fast.split(number) is None, number
        assert phone.split(number) == library_split(number), number
