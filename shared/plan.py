"""The pre-flight of a multi-send: every number checked before anything is sent, duplicates
dropped, and the rest cut into requests Tencent accepts (≤200 numbers, mainland and
international never mixed)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import compress, repeat
from operator import not_
from typing import NamedTuple, cast

from shared import phone as phones
from shared.errors import ValidationError
from shared.payloads import MAX_NUMBERS_PER_REQUEST


class SendPlan(NamedTuple):
    """Numbers normalised, de-duplicated, split by region class and chunked to ≤200."""

    numbers: tuple[str, ...]  # unique E.164 numbers in first-seen order
    chunks: tuple[tuple[str, ...], ...]
    duplicates: tuple[str, ...] = ()
    positions: tuple[int, ...] = ()  # index in the caller's list of each of `numbers`
    # every number a mainland mobile, the list checked as one: none needs a check of its own
    mainland_mobiles: bool = False


def plan_multi_send(raw_numbers: Sequence[object], chunk_size: int = MAX_NUMBERS_PER_REQUEST) -> SendPlan:
    """Normalise every number (rejecting the whole list if one is bad), drop duplicates, and cut
    mainland and international numbers into separate chunks of at most `chunk_size`."""
    if not 1 <= chunk_size <= MAX_NUMBERS_PER_REQUEST:
        raise ValueError(f"chunk_size must be 1..{MAX_NUMBERS_PER_REQUEST}")
    if not raw_numbers:
        raise ValidationError("phones must list at least one number", field="phones")
    if phones.all_cn_mobiles(raw_numbers):  # most bulk lists: nothing to normalise, one region
        return _planned(cast("Sequence[str]", raw_numbers), chunk_size, mainland_mobiles=True)
    return _planned(_normalized(raw_numbers), chunk_size)


def _normalized(items: Sequence[object]) -> list[str]:
    """`normalize` of every item, naming the first bad one. In a list of strings, the mainland
    mobiles in E.164 (which `normalize` returns as they are) are matched in C, an item at a time,
    the other E.164 numbers are typed over the list (`phone.untyped`), and only what is left is
    normalised a call each."""
    if set(map(type, items)) != {str}:
        return [phones.normalize(raw, field=f"phones[{index}]") for index, raw in enumerate(items)]
    texts = cast("Sequence[str]", items)
    numbers = list(texts)
    others = list(compress(range(len(texts)), map(not_, map(phones.CN_E164_MOBILE_RE.fullmatch, texts))))
    for at in phones.untyped(list(map(texts.__getitem__, others))):
        index = others[at]
        numbers[index] = phones.normalize(texts[index], field=f"phones[{index}]")
    return numbers


def _planned(numbers: Sequence[str], chunk_size: int, *, mainland_mobiles: bool = False) -> SendPlan:
    """The plan of numbers in E.164: first-seen order, duplicates, and chunks of one region class
    each (all of them mainland when `mainland_mobiles`). No Python runs a number unless one is named
    twice."""
    unique = tuple(dict.fromkeys(numbers))
    duplicates: tuple[str, ...] = ()
    if len(unique) == len(numbers):
        positions = tuple(range(len(unique)))
    else:
        seen: dict[str, int] = {}
        repeated: list[str] = []
        for index, number in enumerate(numbers):
            if number in seen:
                repeated.append(number)
            else:
                seen[number] = index
        positions, duplicates = tuple(seen.values()), tuple(repeated)
    if mainland_mobiles:
        groups: tuple[Sequence[str], ...] = (unique,)
    else:
        mainland = list(map(str.startswith, unique, repeat(phones.MAINLAND_PREFIX)))
        groups = (tuple(compress(unique, mainland)), tuple(compress(unique, map(not_, mainland))))
    chunks = tuple(
        tuple(group[i : i + chunk_size]) for group in groups for i in range(0, len(group), chunk_size)
    )
    return SendPlan(unique, chunks, duplicates, positions, mainland_mobiles=mainland_mobiles)


def _plan_each(raw_numbers: Sequence[object], chunk_size: int) -> SendPlan:
    """`plan_multi_send` a number at a time: the tests' referee of the ways above."""
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    for index, raw in enumerate(raw_numbers):
        e164 = phones.normalize(raw, field=f"phones[{index}]")
        if e164 in seen:
            duplicates.append(e164)
        else:
            seen[e164] = index
    numbers = tuple(seen)
    mainland: list[str] = []
    international: list[str] = []
    for number in numbers:
        (mainland if phones.is_mainland(number) else international).append(number)
    chunks = [
        tuple(group[i : i + chunk_size])
        for group in (mainland, international)
        for i in range(0, len(group), chunk_size)
    ]
    return SendPlan(numbers, tuple(chunks), tuple(duplicates), tuple(seen.values()))


def without(plan: SendPlan, excluded: Collection[str]) -> SendPlan:
    """`plan` without the `excluded` numbers (held back by a limit, opted out): their chunks only get
    smaller, chunks left empty are dropped, positions follow the numbers kept."""
    if not excluded:
        return plan
    positions = plan.positions or tuple(range(len(plan.numbers)))
    kept = [(n, p) for n, p in zip(plan.numbers, positions, strict=True) if n not in excluded]
    chunks = tuple(c for c in (tuple(n for n in chunk if n not in excluded) for chunk in plan.chunks) if c)
    return SendPlan(
        tuple(n for n, _ in kept), chunks, plan.duplicates, tuple(p for _, p in kept), plan.mainland_mobiles
    )
