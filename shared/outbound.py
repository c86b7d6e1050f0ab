"""The request the functions send to Tencent: URL, headers and body, signed and byte-exact.

`payloads.sign_legacy` / `payloads.sign_v3` build it; `transport` sends it. (The request a
function receives is `events.HttpRequest`.)
"""

from __future__ import annotations

from typing import NamedTuple


class OutboundRequest(NamedTuple):
    """A signed request to Tencent, exactly as it goes on the wire."""

    url: str
    headers: dict[str, str]
    content: bytes
