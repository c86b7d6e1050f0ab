"""`GET /dashboard`: one self-contained page (inline CSS and JS, SVG charts drawn by its own
code, no external resource) that reads the statistics API with the key the viewer types in.

The page is a file beside this module, read on first request. Its Content-Security-Policy lets
it load nothing from anywhere and talk only to its own origin.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from shared.http import JsonAnswer, Page

POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def page() -> Page:
    """The page's HTML."""
    return Page((Path(__file__).with_name("dashboard.html")).read_text(encoding="utf-8"))


def answer() -> JsonAnswer:
    return JsonAnswer(
        200,
        page(),
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Content-Security-Policy": POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
    )
