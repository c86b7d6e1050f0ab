"""The pre-flight of a multi-send: every number checked before anything is sent, duplicates
dropped, and the rest cut into requests Tencent accepts (≤200 numbers, mainland and
international never mixed)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

from shared import phone as phones
from shared.errors import ValidationError
from shared.payloads import MAX_NUMBERS_PER_REQUEST


class SendPlan(NamedTuple):
    """Numbers normalised, de-duplicated, split by region class and chunked to ≤200."""

    numbers: tuple[str, ...]  # unique E.164 numbers in first-seen order
    chunks: tuple[tuple[str, ...], ...]
    duplicates: tuple[str, ...] = ()
    positions: tuple[int, ...] = ()  # index in the caller's list of each of `numbers`


def plan_multi_send(raw_numbers: Sequence[object], chunk_size: int = MAX_NUMBERS_PER_REQUEST) -> SendPlan:
    """Normalise every number (rejecting the whole list if one is bad), drop duplicates, and cut
    mainland and international numbers into separate chunks of at most `chunk_size`."""
    if not 1 <= chunk_size <= MAX_NUMBERS_PER_REQUEST:
        raise ValueError(f"chunk_size must be 1..{MAX_NUMBERS_PER_REQUEST}")
    if not raw_numbers:
        raise ValidationError("phones must list at least one number", field="phones")
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
    return SendPlan(tuple(n for n, _ in kept), chunks, plan.duplicates, tuple(p for _, p in kept))
