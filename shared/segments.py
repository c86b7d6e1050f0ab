"""How long a text is and how many billed parts it makes (reference §5.1).

Mainland China: every character counts 1, the signature with its `【】` included; ≤70 is one part,
longer texts bill 67 per part. International: a text entirely in the GSM-7 alphabet counts its
basic characters 1 and its extension characters (`^{}\\[~]|€` and form feed) 2, ≤160 in one part,
153 per part beyond; any other text is UCS-2, 70 / 67. In both UCS-2 counts a character outside
the Basic Multilingual Plane (most emoji) is two UTF-16 units, and the units are what is counted.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
UCS2_SINGLE, UCS2_PART = 70, 67
GSM7_SINGLE, GSM7_PART = 160, 153


class Segments(NamedTuple):
    """One text's count: its encoding, its length in counted units, and the parts it bills as."""

    encoding: Encoding
    length: int
    parts: int
    single_limit: int  # the most one part holds
    part_limit: int  # what each part of a longer text holds

    def to_dict(self) -> dict[str, object]:
        return self._asdict()


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 basic or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def count(text: str, *, international: bool) -> Segments:
    """The parts `text` bills as to a mainland (`international=False`) or international number."""
    if international and is_gsm7(text):
        length = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        encoding: Encoding = "GSM-7"
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        length = len(text.encode("utf-16-le")) // 2
        encoding = "UCS-2"
        single, part = UCS2_SINGLE, UCS2_PART
    parts = 1 if length <= single else math.ceil(length / part)
    return Segments(encoding, length, parts, single, part)
