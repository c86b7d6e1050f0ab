"""What the SQL and DynamoDB stores share beyond the `Store` interface: argument checks, the
reply key and the rate-limit bucket arithmetic. No database driver is imported here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from shared.models import Reply
from shared.store.base import SOURCES, RateCheck

DEFAULT_IDEMPOTENCY_TTL = 24 * 3600


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def check_rates(checks: Iterable[RateCheck]) -> None:
    for check in checks:
        if check.window_seconds <= 0 or check.limit < 0:
            raise ValueError(f"rate check needs limit >= 0 and window_seconds > 0: {check!r}")


def reply_key(reply: Reply) -> str:
    """A reply's identity: the same reply arriving twice is stored once."""
    fields = [reply.phone, reply.replied_at, reply.text, reply.sign, reply.extend]
    raw = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


# Rate limits count hits in rows of `bucket_width` seconds, so a check reads and writes a bounded
# number of rows however busy its key is (a row per hit made a global daily cap scan every hit of
# the day on every send). Limits up to EXACT_LIMIT use one-second rows: exact, as timestamps are
# whole seconds. Larger caps use 1/WINDOW_STEPS of their window: a hit then leaves the window up to
# one row's width late — conservative, never more than `limit` in any window.
EXACT_LIMIT = 100
WINDOW_STEPS = 100


def bucket_width(check: RateCheck) -> int:
    """Seconds one counter row of this check covers."""
    return 1 if check.limit <= EXACT_LIMIT else max(1, check.window_seconds // WINDOW_STEPS)


def counter_name(check: RateCheck) -> str:
    """The name a check's counter rows go under: its series' when it has one and its rows are
    exact (one a second, so every check of the series finds its hits in the same rows), else its
    own."""
    return check.series if check.series and check.limit <= EXACT_LIMIT else check.name


def hit_bucket(check: RateCheck, now: int) -> tuple[int, int]:
    """(start of the row a hit at `now` goes to, when that row leaves the window)."""
    width = bucket_width(check)
    start = now - now % width
    return start, start + width - 1 + check.window_seconds


def stale_up_to(check: RateCheck, now: int) -> int:
    """Rows starting at or before this second hold only hits outside the window."""
    return now - check.window_seconds - bucket_width(check) + 1


def retry_from_rows(check: RateCheck, rows: Iterable[Sequence[Any]], must_leave: int, now: int) -> int:
    """Seconds until `must_leave` of the hits in these (bucket start, hits) rows, oldest first,
    have left the check's window (the whole window when they never do)."""
    left = 0
    for start, hits in rows:
        left += int(hits)
        if left >= must_leave:
            return max(1, int(start) + bucket_width(check) - 1 + check.window_seconds - now)
    return check.window_seconds
