"""Message texts as Tencent renders and bills them: placeholders, the signature, billed parts.

Tencent's rules (reference §5.1): a template's `{1}`, `{2}`, … take the parameters in order; the
handset shows `【signature】text`, and the signature counts towards the length. Mainland texts and
international texts outside GSM-7 are billed 70 characters in one part, 67 per part beyond;
international GSM-7 texts 160 in one part, 153 per part beyond, the GSM-7 extension characters
counting two each. A character outside the Basic Multilingual Plane takes two UCS-2 units.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PLACEHOLDER = re.compile(r"\{(\d+)\}")

# GSM 03.38 default alphabet (the escape code itself excluded) and its extension table, which
# costs an escape plus the character.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

UCS2_SINGLE, UCS2_PART = 70, 67
GSM7_SINGLE, GSM7_PART = 160, 153


def placeholder_count(template: str) -> int:
    """How many distinct parameters a template takes (`{1}` used twice is one parameter)."""
    return len({found.group(1) for found in PLACEHOLDER.finditer(template)})


def render(template: str, params: Sequence[str]) -> str:
    """The template with `{n}` replaced by the n-th parameter; a placeholder with no parameter stays."""

    def value(found: re.Match[str]) -> str:
        index = int(found.group(1))
        return params[index - 1] if 1 <= index <= len(params) else found.group(0)

    return PLACEHOLDER.sub(value, template)


def with_signature(sign: str, text: str) -> str:
    """What the handset shows: `【sign】text`, unless there is no signature or the text has one."""
    if not sign or text.startswith("【"):
        return text
    return f"【{sign}】{text}"


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def billed_parts(text: str, *, international: bool) -> int:
    """The number of SMS parts Tencent bills for `text` (the `fee`/`Fee` of each number)."""
    if international and is_gsm7(text):
        length = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        length = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, part = UCS2_SINGLE, UCS2_PART
    if length <= single:
        return 1
    return -(-length // part)
