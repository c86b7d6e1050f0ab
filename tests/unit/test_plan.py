"""The multi-send pre-flight: numbers normalised, de-duplicated, split by region and chunked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ValidationError
from shared.plan import plan_multi_send


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
