"""A template's text as the handset shows it: placeholders `{1}`, `{2}` … filled in, the signature
`【sign】` in front (it counts towards the length; `shared.segments` counts the parts)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def render_template(text: str, params: Sequence[str]) -> str:
    """Substitute `{1}`, `{2}`, … with the parameters (Tencent's placeholder syntax)."""
    return _PLACEHOLDER.sub(
        lambda m: params[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(params) else m.group(0), text
    )


def placeholder_count(text: str) -> int:
    """How many distinct parameters a template text takes."""
    return len({m.group(1) for m in _PLACEHOLDER.finditer(text)})


def signed_text(sign: str, text: str) -> str:
    """The text as the handset shows it: `【sign】text`."""
    return f"【{sign}】{text}" if sign and not text.startswith("【") else text
