"""The multi-send pre-flight: numbers normalised, de-duplicated, split by region and chunked."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared import phone
from shared.client import in_list_order
from shared.config import Settings, load_settings
from shared.errors import SmsError, ValidationError
from shared.models import Message, SendResult
from shared.plan import SendPlan, _plan_each, plan_multi_send
from shared.validation import _check_each, check_destination, parse_message, parse_multi_send

MOBILES = st.from_regex(phone.CN_MOBILE_RE, fullmatch=True).map(lambda national: "+86" + national)
# what is not a mainland mobile in E.164, some of it close to one
NOT_MOBILES = st.one_of(
    st.sampled_from(
        [
            "13800000000",  # no +86: normalise it first
            "+86 138 0000 0000",
            "+861012345678",  # a Beijing landline
            "+8612000000000",
            "+86138000000001",
            "+8613800000000\n",
            "+8613800000000\n+8613800000001",  # two numbers in one string
            "+861380000000\n+86138000000001",  # 13 and 15 characters: 29 joined, as two of 14 would be
            "+86１３８００００００００",
            "+14155552671",
            "",
        ]
    ),
    st.integers(),
    st.none(),
    st.text(max_size=16),
    st.from_regex(r"\+86[0-9]{9,12}", fullmatch=True),
)


def test_plan_normalises_dedupes_splits_and_chunks() -> None:
    raw = ["13800000000", "+8613800000000", "0014155552671", "+86 138 0000 0001", "+14155552671"]
    plan = plan_multi_send(raw)
    assert plan.numbers == ("+8613800000000", "+14155552671", "+8613800000001")
    assert plan.duplicates == ("+8613800000000", "+14155552671")
    assert plan.chunks == (("+8613800000000", "+8613800000001"), ("+14155552671",))


def test_plan_of_450_numbers_is_three_chunks() -> None:
    plan = plan_multi_send([f"+86138{i:08d}" for i in range(450)])
    assert [len(c) for c in plan.chunks] == [200, 200, 50]


def test_plan_rejects_the_whole_list_naming_the_bad_entry() -> None:
    with pytest.raises(ValidationError) as err:
        plan_multi_send(["+8613800000000", "12345"])
    assert err.value.field == "phones[1]"
    with pytest.raises(ValidationError):
        plan_multi_send([])


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=700))
def test_plan_chunks_cover_every_unique_number_once(suffixes: list[int]) -> None:
    raw = [f"+86138{s:08d}" if s % 3 else f"+1415555{s % 1000:04d}" for s in suffixes]
    plan = plan_multi_send(raw)
    flat = [p for chunk in plan.chunks for p in chunk]
    assert sorted(flat) == sorted(set(flat)) == sorted(plan.numbers)
    assert all(0 < len(c) <= 200 and len({p.startswith("+86") for p in c}) == 1 for c in plan.chunks)
    assert len(plan.numbers) + len(plan.duplicates) == len(raw)


@given(st.lists(st.one_of(MOBILES, MOBILES, MOBILES, NOT_MOBILES), max_size=12))
@example(["+8613800000000\n+8613800000001"])  # two numbers in one item
@example(["+8613800000002", "+8613800000000\n+8613800000001"])
@example(["+861380000000", "+86138000000001"])  # 13 and 15 characters
@example([13800000000])
def test_a_list_passes_as_mainland_mobiles_exactly_when_each_of_its_numbers_would(
    items: list[object],
) -> None:
    """The one match over the joined list agrees with the pattern a number at a time (what
    `normalize` returns unchanged and `check_receives_sms` passes)."""
    each = bool(items) and all(
        isinstance(i, str) and len(i) == 14 and i[:3] == "+86" and phone.CN_MOBILE_RE.fullmatch(i[3:])
        for i in items
    )
    assert phone.all_cn_mobiles(items) == each


def test_a_long_list_is_matched_a_block_at_a_time_and_every_block_counts() -> None:
    numbers = [f"+86138{i:08d}" for i in range(2 * phone._LIST_BLOCK + 1)]
    assert phone.all_cn_mobiles(numbers)
    for bad in (0, phone._LIST_BLOCK - 1, phone._LIST_BLOCK, len(numbers) - 1):
        assert not phone.all_cn_mobiles([*numbers[:bad], "+8612000000000", *numbers[bad + 1 :]])


@given(st.lists(MOBILES, min_size=1, max_size=30), st.lists(st.integers(min_value=0), max_size=10))
def test_a_list_of_mainland_mobiles_is_planned_as_a_number_at_a_time(
    numbers: list[str], repeat: list[int]
) -> None:
    """The same numbers, chunks, duplicates and positions as the way a number at a time, with and
    without numbers named twice; the plan says its numbers are all mainland mobiles."""
    raw = numbers + [numbers[i % len(numbers)] for i in repeat]
    for size in (200, 7):
        plan = plan_multi_send(raw, size)
        assert plan.mainland_mobiles
        assert plan._replace(mainland_mobiles=False) == _plan_each(raw, size)
    assert not plan_multi_send([*raw, "+14155552671"]).mainland_mobiles


def test_a_list_of_mainland_mobiles_is_checked_once_for_its_region() -> None:
    """With no number of its own to check, the list still meets the allow-list and the sign rule,
    naming its first number."""
    raw = ["+8613800000001", "+8613800000002", "+8613800000001"]
    body = {"phones": raw, "template_id": "7839", "params": ["1"], "sign": "腾讯云"}
    command = parse_multi_send(body, load_settings({"TENCENT_SMS_API": "v3"}))
    assert command.plan is not None
    assert (command.plan.numbers, command.plan.duplicates) == (tuple(raw[:2]), (raw[0],))
    elsewhere = load_settings({"TENCENT_SMS_API": "v3", "SMS_ALLOWED_COUNTRIES": "US"})
    with pytest.raises(SmsError) as refused:
        parse_multi_send(body, elsewhere)
    assert (refused.value.status, refused.value.code, refused.value.field) == (
        403,
        "country_not_allowed",
        "phones[0]",
    )
    with pytest.raises(ValidationError) as unsigned:
        parse_multi_send({**body, "sign": ""}, load_settings({"TENCENT_SMS_API": "v3"}))
    assert unsigned.value.field == "sign"


# numbers of other kinds and regions, in E.164 and not: valid mobiles, a landline, a toll-free one
OTHERS = st.sampled_from(
    [
        "+14155552671",  # US: fixed line or mobile
        "+447400123456",  # GB mobile
        "+4915123456789",  # DE mobile
        "+33612345678",  # FR mobile
        "+6581234567",  # SG mobile
        "+442071838750",  # GB landline
        "+18002530000",  # US toll-free
        "+861012345678",  # a Beijing landline
        "0014155552671",
        "+1 415 555 2671",
        "13800000001",
    ]
)


E164_LIKE = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)


@given(st.lists(st.one_of(MOBILES, MOBILES, OTHERS, NOT_MOBILES, E164_LIKE), min_size=1, max_size=12))
@example(["+8613800000000", "13800000000", "+14155552671", "0014155552671"])
@example(["+14155552671", "12345", "+8612000000000"])
@example(["+8613800000000", 13800000001, "+447400123456"])
def test_a_list_is_planned_as_a_number_at_a_time(items: list[object]) -> None:
    """Mainland mobiles matched in C and the rest normalised a call each give the plan, or the
    refusal naming the first bad item, that normalising every item gives."""
    for size in (200, 2):
        try:
            each: SendPlan | str = _plan_each(items, size)
        except ValidationError as error:
            each = f"{error.field}: {error}"
        try:
            plan: SendPlan | str = plan_multi_send(items, size)._replace(mainland_mobiles=False)
        except ValidationError as error:
            plan = f"{error.field}: {error}"
        assert plan == each


def _check_a_number_at_a_time(plan: SendPlan, message: Message, settings: Settings) -> None:
    """The referee of `_check_each`: every number visited in order."""
    checked: set[str] = set()
    for number, position in zip(plan.numbers, plan.positions, strict=True):
        phone.check_receives_sms(number, field=f"phones[{position}]")
        region = phone.region_of(number)
        if region not in checked:
            check_destination(number, message, settings, field=f"phones[{position}]")
            checked.add(region)


def _outcome(check: object, *args: object) -> str | None:
    try:
        check(*args)  # type: ignore[operator]
    except SmsError as error:
        return f"{error.status} {error.code} {error.field}: {error}"
    return None


@given(
    st.lists(st.one_of(MOBILES, OTHERS), min_size=1, max_size=10),
    st.sampled_from(["CN", "US", "CN,GB", "*"]),
    st.sampled_from(["腾讯云", ""]),
    st.booleans(),
)
@example(["+861012345678", "+8613800000000"], "CN", "腾讯云", True)  # a landline before any mobile
@example(["+14155552671", "+8613800000000"], "CN", "", True)  # the mainland's sign, after another
@example(["+8613800000000", "+18002530000"], "*", "腾讯云", True)
def test_a_list_is_checked_as_a_number_at_a_time(
    items: list[str], allowed: str, sign: str, international_template: bool
) -> None:
    """Visiting only the numbers that are not mainland mobiles, and the first that is, refuses
    (or passes) a list exactly as visiting every number does, naming the same number."""
    env = {"TENCENT_SMS_API": "v3", "SMS_ALLOWED_COUNTRIES": allowed}
    if international_template:
        env["TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL"] = "7840"
    settings = load_settings(env)
    message = parse_message({"template_id": "7839", "params": ["1"], "sign": sign}, settings)
    plan = plan_multi_send(items)
    expected = _outcome(_check_a_number_at_a_time, plan, message, settings)
    assert _outcome(_check_each, plan, message, settings) == expected


@given(
    st.lists(
        st.one_of(OTHERS, NOT_MOBILES.filter(lambda x: isinstance(x, str)), E164_LIKE, MOBILES), max_size=12
    )
)
@example(["+14155552671", "+14155552671\n", "+18002530000", "+442071838750", "+447400123456"])
@example(["x447400123456", "0447400123456"])  # a GB mobile after a character that is not "+"
def test_numbers_typed_over_a_list_are_what_normalize_returns_as_they_are(texts: list[str]) -> None:
    """What `untyped` leaves out, `normalize` returns unchanged, and the checks after it (the
    region, whether it takes an SMS) read what they would after `normalize`."""
    phone._known.clear()
    left = phone.untyped(texts)
    assert left == sorted(set(left))
    typed = [text for index, text in enumerate(texts) if index not in left]
    after_list = [(phone.region_of(text), _takes_sms(text)) for text in typed]
    phone._known.clear()
    assert [phone.normalize(text) for text in typed] == typed
    assert [(phone.region_of(text), _takes_sms(text)) for text in typed] == after_list
    valid_mobiles = {"+14155552671", "+447400123456", "+4915123456789", "+33612345678", "+6581234567"}
    assert not [texts[i] for i in left if texts[i] in valid_mobiles]


def _takes_sms(number: str) -> str:
    try:
        phone.check_receives_sms(number, field="phone")
    except ValidationError as error:
        return str(error)
    return ""


def test_numbers_typed_over_a_list_stay_within_the_remembered_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A list that would take the memory past its limit empties it first, and is remembered whole."""
    monkeypatch.setattr(phone, "_KNOWN_LIMIT", 4)
    phone._known.clear()
    assert phone.untyped(["+14155552671", "+447400123456", "+4915123456789"]) == []
    assert phone.untyped(["+33612345678", "+6581234567", "13800000000"]) == [2]
    assert set(phone._known) == {"+33612345678", "+6581234567"}


@given(st.lists(st.one_of(MOBILES, OTHERS), min_size=1, max_size=30, unique=True), st.randoms())
def test_results_of_mainland_chunks_first_come_back_in_the_lists_order(numbers: list[str], rng: Any) -> None:
    """The results come as the plan sent them (its mainland chunks first): they are put back in
    the list's order; results in any other order are too (by lookup)."""
    plan = plan_multi_send(numbers, 3)
    results = tuple(
        SendResult(number, f"id{number}", "submitted", 1, "Ok", "")
        for chunk in plan.chunks
        for number in chunk
    )
    in_order = tuple(sorted(results, key=lambda r: plan.numbers.index(r.phone)))
    assert in_list_order(results, plan.numbers) == in_order
    shuffled = list(results)
    rng.shuffle(shuffled)
    assert in_list_order(tuple(shuffled), plan.numbers) == in_order
