"""The counting rules of reference §5.1 on boundary texts."""

from __future__ import annotations

import pytest

from shared import segments

EURO = "€"  # a GSM-7 extension character: counts 2
EMOJI = "😀"  # outside the BMP: two UTF-16 units


@pytest.mark.parametrize(
    ("text", "international", "encoding", "length", "parts"),
    [
        ("字" * 70, False, "UCS-2", 70, 1),
        ("字" * 71, False, "UCS-2", 71, 2),
        ("a" * 71, False, "UCS-2", 71, 2),  # mainland counts every character 1, Latin too
        ("字" * 134, False, "UCS-2", 134, 2),
        ("字" * 135, False, "UCS-2", 135, 3),
        ("字" * 201, False, "UCS-2", 201, 3),
        ("字" * 202, False, "UCS-2", 202, 4),
        ("a" * 160, True, "GSM-7", 160, 1),
        ("a" * 161, True, "GSM-7", 161, 2),
        ("a" * 306, True, "GSM-7", 306, 2),
        ("a" * 307, True, "GSM-7", 307, 3),
        ("a" * 459, True, "GSM-7", 459, 3),
        ("a" * 460, True, "GSM-7", 460, 4),
        ("a" * 158 + EURO, True, "GSM-7", 160, 1),
        ("a" * 159 + EURO, True, "GSM-7", 161, 2),
        ("{}[]~|^\\" + "a" * 144, True, "GSM-7", 160, 1),
        ("{}[]~|^\\" + "a" * 145, True, "GSM-7", 161, 2),
        ("a" * 69 + "é", True, "GSM-7", 70, 1),  # é is in the GSM-7 basic table
        ("a" * 69 + "ç", True, "UCS-2", 70, 1),  # ç is not: the whole text goes UCS-2
        ("a" * 70 + "ç", True, "UCS-2", 71, 2),
        ("a" * 134 + "ç", True, "UCS-2", 135, 3),
        ("a" * 68 + EMOJI, True, "UCS-2", 70, 1),
        ("a" * 69 + EMOJI, True, "UCS-2", 71, 2),
        ("字" * 69 + EMOJI, False, "UCS-2", 71, 2),
        ("", True, "GSM-7", 0, 1),
    ],
)
def test_boundaries(text: str, international: bool, encoding: str, length: int, parts: int) -> None:
    counted = segments.count(text, international=international)
    assert (counted.encoding, counted.length, counted.parts) == (encoding, length, parts)
