"""Delivery statistics: a rollup the SQL stores keep in the same transaction as every message and
receipt write, and the query that answers `GET /sms/stats` from it.

A message counts in rollup rows keyed by (span, dimension, bucket, value, status, failure code,
description): for the hour and the UTC day it was sent in (span 3600 / 86400), once overall
(dimension `all`) and once under its template, its country and its caller. A row holds a message
count, a fee sum and a latency histogram of fixed buckets. A write snapshots the messages it
touches before and after and adds the difference, so a message that changes status moves from
one row to another; new messages stored as written are counted from what was written. A query
reads one dimension's rows: hour rows for the window's ragged ends, day rows for the whole days
between — its cost grows with days and distinct values, not messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from shared import phone as phones
from shared.store.base import GROUP_BYS, LATENCY_BOUNDS

HOUR = 3600
DAY = 86400
SPANS = (HOUR, DAY)
DIMENSIONS = ("all", "template", "country", "caller")
TOP_FAILURES = 5  # per group
TOP_FAILURES_TOTAL = 20
_IN_BATCH = 500
_BUCKETS = len(LATENCY_BOUNDS) + 1  # the last one is open: LATENCY_BOUNDS[-1] seconds and more
BUCKET_COLUMNS = tuple(f"lat{i}" for i in range(_BUCKETS))
_KEY = "span, dim, bucket_at, value, status, code, description"
_VALUES = "n, fee, " + ", ".join(BUCKET_COLUMNS)
_UPSERT = (
    f"INSERT INTO stats_rollup ({_KEY}, {_VALUES}) VALUES ({', '.join('?' * (7 + 2 + _BUCKETS))})"  # noqa: S608
    f" ON CONFLICT ({_KEY}) DO UPDATE SET "
    + ", ".join(f"{c} = stats_rollup.{c} + excluded.{c}" for c in ("n", "fee", *BUCKET_COLUMNS))
)
_DECIDING = (
    "LEFT JOIN receipts r ON r.id = (SELECT x.id FROM receipts x WHERE x.message_id = m.message_id"
    " ORDER BY CASE WHEN x.status = 'unknown' THEN 1 ELSE 0 END, x.received_at DESC, x.id DESC LIMIT 1)"
)
# A message's rollup-relevant fields with its deciding receipt (the one that set its status).
_SNAPSHOT = (
    "SELECT m.message_id, m.created_at, m.template_id, m.phone, m.caller, m.status, m.fee, m.code,"  # noqa: S608
    f" r.carrier_code, r.description, r.received_at FROM messages m {_DECIDING} WHERE m.message_id IN "
)

_SNAPSHOT_ANY = _SNAPSHOT.replace(" IN ", " = ANY(%b::text[])")
Key = tuple[int, str, int, str, str, str, str]
MAINLAND = phones.MAINLAND_PREFIX  # every mainland number's country is CN: tallied as one
MAINLAND_COUNTRY = "CN"


def country_of(e164: str) -> str:
    """ISO region of a stored number (`ZZ` when it cannot be told)."""
    if phones.is_mainland(e164):
        return MAINLAND_COUNTRY
    try:
        return phones.region_of(e164)
    except Exception:
        return "ZZ"


def countries(numbers: Sequence[str]) -> list[str]:
    """`country_of` each number; those a send validated (`phone.known_regions`) looked up in C."""
    regions = phones.known_regions(numbers)
    if None not in regions:
        return cast("list[str]", regions)
    return [country_of(n) if r is None else r for n, r in zip(numbers, regions, strict=True)]


def latency_bucket(seconds: int) -> int:
    """Index of the histogram bucket holding a submit-to-delivered latency."""
    for index, bound in enumerate(LATENCY_BOUNDS):
        if seconds < bound:
            return index
    return len(LATENCY_BOUNDS)


Base = tuple[
    int, str, str, str, str, str, str
]  # send second, template, country, caller, status, code, description


def _base(row: Sequence[Any]) -> tuple[Base, int, int | None]:
    """(what a snapshot row counts under, fee, latency bucket or None)."""
    _, created, template, number, caller, status, fee, send_code, code, description, received = row
    return (
        _base_of(int(created), template, country_of(number), caller, status, send_code, code, description),
        int(fee),
        _bucket(status, created, received),
    )


def _base_of(
    created: int,
    template: str,
    country: str,
    caller: str,
    status: str,
    send_code: str,
    code: str | None = None,
    description: str | None = None,
) -> Base:
    """What a message counts under: its send hour and kind; a failure's code and description."""
    if status == "failed":
        code, description = (code or send_code or "", description or "")
    else:
        code, description = "", ""
    return (created - created % HOUR, template, country, caller, status, code, description)


def _bucket(status: str, created: int, received: int | None) -> int | None:
    """The latency bucket of a delivered message whose receipt says when."""
    if status == "delivered" and received is not None:
        return latency_bucket(max(0, int(received) - int(created)))
    return None


def _keys(base: Base) -> list[Key]:
    """The eight rollup rows a message under `base` counts in."""
    hour, template, country, caller, status, code, description = base
    values = (("all", ""), ("template", template), ("country", country), ("caller", caller))
    return [
        (span, dim, hour - hour % span, value, status, code, description)
        for span in SPANS
        for dim, value in values
    ]


def snapshot(tx: Any, message_ids: Iterable[str], as_array: bool = False) -> dict[str, Sequence[Any]]:
    """The rollup-relevant state of these messages now (the stored ones only). `as_array`: pass
    the ids as one PostgreSQL array (a long IN list would be parsed anew on every call)."""
    ids = sorted(set(message_ids))
    found: dict[str, Sequence[Any]] = {}
    if as_array:
        return {row[0]: row for row in tx.all(_SNAPSHOT_ANY, (ids,))} if ids else found
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        for row in tx.all(_SNAPSHOT + f"({', '.join('?' * len(batch))})", batch):
            found[row[0]] = row
    return found


def apply_change(
    tx: Any, before: dict[str, Sequence[Any]], message_ids: Iterable[str], as_array: bool = False
) -> None:
    """Move the messages' contributions from their `before` state to their state now."""
    ids = set(message_ids)
    before = {message_id: row for message_id, row in before.items() if message_id in ids}
    _upsert(tx, deltas(before, snapshot(tx, ids, as_array)))


Kind = tuple[str, int, str]  # a new message's status, fee and send code


def add_written(
    tx: Any, created: int, template: str, caller: str, messages: Iterable[tuple[str, str, int, str]]
) -> None:
    """Count messages just stored as written at `created`, none counted before and none with a
    receipt yet: (number, status, fee, send code) each. The same rows as `apply_change` from an
    empty `before`, without reading the messages back: the messages are tallied by country and
    kind first (a list is mostly one region), then each kind counted as `_base` says."""
    tally = Counter(
        (MAINLAND_COUNTRY if number.startswith(MAINLAND) else country_of(number), (status, fee, code))
        for number, status, fee, code in messages
    )
    add_tally(tx, created, template, caller, tally)


def add_tally(
    tx: Any, created: int, template: str, caller: str, tally: Mapping[tuple[str, Kind], int]
) -> None:
    """`add_written` of messages already tallied: how many of each (country, kind)."""
    moved: dict[Base, list[int]] = {}
    for (country, (status, fee, code)), n in tally.items():
        delta = moved.setdefault(
            _base_of(created, template, country, caller, status, code), [0] * (2 + _BUCKETS)
        )
        delta[0] += n
        delta[1] += n * int(fee)
    _upsert(tx, _spread(moved))


def _upsert(tx: Any, changes: Mapping[Key, list[int]]) -> None:
    rows = [(*key, *delta) for key, delta in sorted(changes.items())]
    if rows:
        tx.execute_many(_UPSERT, rows)


def deltas(before: Mapping[str, Sequence[Any]], after: Mapping[str, Sequence[Any]]) -> dict[Key, list[int]]:
    """What moving messages from their `before` snapshot rows to their `after` ones adds to each
    rollup row: `[n, fee, *histogram]` per key, zero changes left out. A message missing from
    `before` is new; one missing from `after` is taken out."""
    moved: dict[Base, list[int]] = {}  # first per send hour and kind: a batch shares most of them
    for sign, states in ((-1, before), (1, after)):
        for message_id, row in states.items():
            other = after if sign < 0 else before
            if message_id in other and tuple(other[message_id]) == tuple(row):
                continue  # unchanged: no move
            base, fee, bucket = _base(row)
            delta = moved.setdefault(base, [0] * (2 + _BUCKETS))
            delta[0] += sign
            delta[1] += sign * fee
            if bucket is not None:
                delta[2 + bucket] += sign
    return _spread(moved)


def _spread(moved: Mapping[Base, list[int]]) -> dict[Key, list[int]]:
    """Each (send hour, kind)'s change added to the eight rollup rows it counts in; zeros left out."""
    changes: dict[Key, list[int]] = {}
    for base, delta in moved.items():
        for key in _keys(base):
            total = changes.get(key)
            changes[key] = delta[:] if total is None else [a + b for a, b in zip(total, delta, strict=True)]
    return {key: delta for key, delta in changes.items() if any(delta)}


def quantile(histogram: Sequence[int], q: float) -> int | None:
    """The upper edge (seconds) of the bucket holding the q-quantile; the open last bucket
    reports its lower edge. None without data."""
    total = sum(histogram)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank and count:
            return LATENCY_BOUNDS[index] if index < len(LATENCY_BOUNDS) else LATENCY_BOUNDS[-1]
    return LATENCY_BOUNDS[-1]


class _Group:
    def __init__(self) -> None:
        self.counts = {"submitted": 0, "delivered": 0, "failed": 0, "unknown": 0}
        self.fee = 0
        self.histogram = [0] * _BUCKETS
        self.failures: dict[tuple[str, str], int] = {}

    def add(self, status: str, code: str, description: str, n: int, fee: int, hist: Sequence[int]) -> None:
        self.counts[status] = self.counts.get(status, 0) + n
        self.fee += fee
        self.histogram = [a + int(b) for a, b in zip(self.histogram, hist, strict=True)]
        if status == "failed" and n:
            self.failures[code, description] = self.failures.get((code, description), 0) + n

    def to_dict(self, group: Any, top_failures: int = TOP_FAILURES) -> dict[str, Any]:
        sent = sum(self.counts.values())
        decided = self.counts["delivered"] + self.counts["failed"]
        top = sorted(self.failures.items(), key=lambda item: (-item[1], item[0]))
        return {
            "group": group,
            "sent": sent,
            "delivered": self.counts["delivered"],
            "failed": self.counts["failed"],
            "pending": self.counts["submitted"],
            "unknown": self.counts["unknown"],
            "delivery_rate": round(self.counts["delivered"] / decided, 4) if decided else None,
            "fee": self.fee,
            "latency_p50_s": quantile(self.histogram, 0.5),
            "latency_p95_s": quantile(self.histogram, 0.95),
            "latency_histogram": list(self.histogram),
            "top_failures": [
                {"code": code, "description": description, "count": count}
                for (code, description), count in top[:top_failures]
            ],
        }


class Stats(NamedTuple):
    """What `Store.stats` returns: the window actually covered (whole hours) and its groups."""

    frm: int
    to: int
    group_by: str
    groups: list[dict[str, Any]]
    totals: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.frm,
            "to": self.to,
            "group_by": self.group_by,
            "latency_buckets_s": list(LATENCY_BOUNDS),
            "totals": self.totals,
            "groups": self.groups,
        }


def hour_window(frm: int, to: int) -> tuple[int, int]:
    """The window widened to whole hours: [first hour start, last hour end)."""
    start = frm - frm % HOUR
    end = to if to % HOUR == 0 else to - to % HOUR + HOUR
    return start, max(end, start + HOUR)


_GROUPING = {  # group_by → (dimension, the column or expression a group is told by)
    "hour": ("all", "bucket_at"),
    "day": ("all", f"(bucket_at / {DAY}) * {DAY}"),  # integer division on both dialects
    "status": ("all", "status"),
    "template": ("template", "value"),
    "country": ("country", "value"),
    "caller": ("caller", "value"),
}


def _ranges(start: int, end: int, group_by: str) -> list[tuple[int, int, int]]:
    """(span, first bucket, end) pieces covering [start, end): whole UTC days from day rows, the
    ragged ends (and hour groups) from hour rows."""
    first_day = -(-start // DAY) * DAY
    last_day = end - end % DAY
    if group_by == "hour" or first_day >= last_day:
        return [(HOUR, start, end)]
    pieces = [(DAY, first_day, last_day)]
    if start < first_day:
        pieces.append((HOUR, start, first_day))
    if last_day < end:
        pieces.append((HOUR, last_day, end))
    return pieces


def query(tx: Any, frm: int, to: int, group_by: str) -> Stats:
    """Aggregate the rollup rows of the window into groups (see `Store.stats`)."""
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {GROUP_BYS}, got {group_by!r}")
    start, end = hour_window(frm, to)
    dim, group = _GROUPING[group_by]
    sums = ", ".join(f"SUM({c})" for c in ("n", "fee", *BUCKET_COLUMNS))
    columns = ", ".join(("n", "fee", *BUCKET_COLUMNS))
    pieces = _ranges(start, end, group_by)
    select = (
        f"SELECT {group} AS g, status, code, description, {columns} FROM stats_rollup"  # noqa: S608
        " WHERE span = ? AND dim = ? AND bucket_at >= ? AND bucket_at < ?"
    )
    rows = tx.all(
        f"SELECT g, status, code, description, {sums} FROM ("  # noqa: S608
        + " UNION ALL ".join([select] * len(pieces))
        + ") AS picked GROUP BY g, status, code, description HAVING SUM(n) <> 0",  # all moved out: skip
        [v for span, lo, hi in pieces for v in (span, dim, lo, hi)],
    )
    return assemble(rows, start, end, group_by)


def assemble(rows: Iterable[Sequence[Any]], start: int, end: int, group_by: str) -> Stats:
    """`Stats` of the window [start, end) (whole hours) from rollup sums per (group, status, code,
    description): `(group, status, code, description, n, fee, *histogram)`, groups with n = 0 left
    out. Shared by every backend so they answer alike."""
    groups: dict[Any, _Group] = {}
    total = _Group()
    for row in rows:
        value = int(row[0]) if group_by in ("hour", "day") else row[0]
        args = (row[1], row[2], row[3], int(row[4]), int(row[5]), [int(v) for v in row[6:]])
        groups.setdefault(value, _Group()).add(*args)
        total.add(*args)
    if group_by in ("hour", "day"):  # every step of the window, empty ones too, for charts
        step = HOUR if group_by == "hour" else DAY
        first = start if group_by == "hour" else start - start % DAY
        for at in range(first, end, step):
            groups.setdefault(at, _Group())
        ordered = sorted(groups.items())
    else:
        ordered = sorted(groups.items(), key=lambda item: (-sum(item[1].counts.values()), str(item[0])))
    listed = [g.to_dict(k) for k, g in ordered]
    return Stats(start, end, group_by, listed, total.to_dict("total", TOP_FAILURES_TOTAL))


def migration(integer: str) -> str:
    """The schema step that adds the rollup (and the phone index the message search needs) and
    fills it from the messages already stored. `integer` is the dialect's 64-bit integer type.
    Country there is `CN` for +86 numbers and `ZZ` for the rest (SQL cannot parse numbers);
    messages written after the upgrade get their real region."""
    latency = "CASE WHEN r.received_at > m.created_at THEN r.received_at - m.created_at ELSE 0 END"
    edges = [0, *LATENCY_BOUNDS]
    buckets = []
    for index, low in enumerate(edges):
        upper = f" AND {latency} < {edges[index + 1]}" if index + 1 < len(edges) else ""
        buckets.append(
            f"CASE WHEN m.status = 'delivered' AND r.received_at IS NOT NULL"
            f" AND {latency} >= {low}{upper} THEN 1 ELSE 0 END AS {BUCKET_COLUMNS[index]}"
        )
    contribution = (
        "SELECT m.created_at, m.template_id, m.caller, m.status, m.fee,"  # noqa: S608 - constants only
        " CASE WHEN substr(m.phone, 1, 3) = '+86' THEN 'CN' ELSE 'ZZ' END AS country,"
        " CASE WHEN m.status = 'failed' THEN COALESCE(NULLIF(r.carrier_code, ''), m.code) ELSE ''"
        " END AS code,"
        " CASE WHEN m.status = 'failed' THEN COALESCE(r.description, '') ELSE '' END AS description, "
        + ", ".join(buckets)
        + f" FROM messages m {_DECIDING}"
    )
    sums = ", ".join(f"SUM(c.{column})" for column in BUCKET_COLUMNS)
    fills = []
    for span in SPANS:
        for dim, value in (
            ("all", "''"),
            ("template", "c.template_id"),
            ("country", "c.country"),
            ("caller", "c.caller"),
        ):
            bucket = f"(c.created_at / {span}) * {span}"
            grouped = ", ".join(x for x in (bucket, value, "c.status, c.code, c.description") if x != "''")
            fills.append(
                f"INSERT INTO stats_rollup ({_KEY}, {_VALUES}) SELECT {span}, '{dim}', {bucket}, {value},"  # noqa: S608
                " c.status, c.code, c.description,"
                f" COUNT(*), SUM(c.fee), {sums} FROM ({contribution}) AS c"
                f" GROUP BY {grouped}"  # not the constants: a number there would name a column
            )
    columns = ",\n        ".join(f"{c} {integer} NOT NULL DEFAULT 0" for c in BUCKET_COLUMNS)
    fill = ";\n    ".join(fills)
    return f"""
    CREATE TABLE stats_rollup (
        span INTEGER NOT NULL,
        dim TEXT NOT NULL,
        bucket_at {integer} NOT NULL,
        value TEXT NOT NULL,
        status TEXT NOT NULL,
        code TEXT NOT NULL,
        description TEXT NOT NULL,
        n {integer} NOT NULL DEFAULT 0,
        fee {integer} NOT NULL DEFAULT 0,
        {columns},
        PRIMARY KEY ({_KEY})
    );
    CREATE INDEX messages_phone ON messages (phone, created_at);
    {fill}
    """
