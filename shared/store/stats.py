"""Delivery statistics: an hourly rollup the SQL stores keep in the same transaction as every
message and receipt write, and the query that answers `GET /sms/stats` from it.

One rollup row per (send hour, template, country, caller, status, failure code, description) holds
a message count, a fee sum and a latency histogram of fixed buckets. A write snapshots the
messages it touches before and after, and adds the difference, so a message that changes status
moves from one row to another. A query reads rollup rows only: its cost grows with hours ×
templates × countries × callers × codes in the window, not with messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from shared import phone as phones
from shared.store.base import GROUP_BYS, LATENCY_BOUNDS

HOUR = 3600
DAY = 86400
TOP_FAILURES = 5  # per group
TOP_FAILURES_TOTAL = 20
_IN_BATCH = 500
_BUCKETS = len(LATENCY_BOUNDS) + 1  # the last one is open: LATENCY_BOUNDS[-1] seconds and more
BUCKET_COLUMNS = tuple(f"lat{i}" for i in range(_BUCKETS))
_KEY = "hour_at, template_id, country, caller, status, code, description"
_VALUES = "n, fee, " + ", ".join(BUCKET_COLUMNS)
_UPSERT = (
    f"INSERT INTO stats_hourly ({_KEY}, {_VALUES}) VALUES ({', '.join('?' * (7 + 2 + _BUCKETS))})"  # noqa: S608
    f" ON CONFLICT ({_KEY}) DO UPDATE SET "
    + ", ".join(f"{c} = stats_hourly.{c} + excluded.{c}" for c in ("n", "fee", *BUCKET_COLUMNS))
)
# A message's rollup-relevant fields with its deciding receipt (the one that set its status).
_SNAPSHOT = (
    "SELECT m.message_id, m.created_at, m.template_id, m.phone, m.caller, m.status, m.fee, m.code,"
    " r.carrier_code, r.description, r.received_at FROM messages m"
    " LEFT JOIN receipts r ON r.id = (SELECT x.id FROM receipts x WHERE x.message_id = m.message_id"
    " ORDER BY CASE WHEN x.status = 'unknown' THEN 1 ELSE 0 END, x.received_at DESC, x.id DESC LIMIT 1)"
    " WHERE m.message_id IN "
)

Key = tuple[int, str, str, str, str, str, str]


def country_of(e164: str) -> str:
    """ISO region of a stored number (`ZZ` when it cannot be told)."""
    if phones.is_mainland(e164):
        return "CN"
    try:
        return phones.region_of(e164)
    except Exception:
        return "ZZ"


def latency_bucket(seconds: int) -> int:
    """Index of the histogram bucket holding a submit-to-delivered latency."""
    for index, bound in enumerate(LATENCY_BOUNDS):
        if seconds < bound:
            return index
    return len(LATENCY_BOUNDS)


def _contribution(row: Sequence[Any]) -> tuple[Key, int, int | None]:
    """(rollup key, fee, latency bucket or None) of one snapshot row."""
    _, created, template, number, caller, status, fee, send_code, code, description, received = row
    if status == "failed":
        code, description = (code or send_code or "", description or "")
    else:
        code, description = "", ""
    bucket = None
    if status == "delivered" and received is not None:
        bucket = latency_bucket(max(0, int(received) - int(created)))
    key = (
        int(created) - int(created) % HOUR,
        template,
        country_of(number),
        caller,
        status,
        code,
        description,
    )
    return key, int(fee), bucket


def snapshot(tx: Any, message_ids: Iterable[str]) -> dict[str, Sequence[Any]]:
    """The rollup-relevant state of these messages now (the stored ones only)."""
    ids = sorted(set(message_ids))
    found: dict[str, Sequence[Any]] = {}
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        for row in tx.all(_SNAPSHOT + f"({', '.join('?' * len(batch))})", batch):
            found[row[0]] = row
    return found


def apply_change(tx: Any, before: dict[str, Sequence[Any]], message_ids: Iterable[str]) -> None:
    """Move the messages' contributions from their `before` state to their state now."""
    ids = set(message_ids)
    before = {message_id: row for message_id, row in before.items() if message_id in ids}
    after = snapshot(tx, ids)
    deltas: dict[Key, list[int]] = {}
    for sign, states in ((-1, before), (1, after)):
        for message_id, row in states.items():
            other = after if sign < 0 else before
            if message_id in other and tuple(other[message_id]) == tuple(row):
                continue  # unchanged: no move
            key, fee, bucket = _contribution(row)
            delta = deltas.setdefault(key, [0] * (2 + _BUCKETS))
            delta[0] += sign
            delta[1] += sign * fee
            if bucket is not None:
                delta[2 + bucket] += sign
    rows = [(*key, *delta) for key, delta in sorted(deltas.items()) if any(delta)]
    if rows:
        tx.execute_many(_UPSERT, rows)


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


def query(tx: Any, frm: int, to: int, group_by: str) -> Stats:
    """Aggregate the rollup rows of the window into groups (see `Store.stats`)."""
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {GROUP_BYS}, got {group_by!r}")
    start, end = hour_window(frm, to)
    sums = ", ".join(f"SUM({c})" for c in ("n", "fee", *BUCKET_COLUMNS))
    rows = tx.all(
        f"SELECT {_KEY}, {sums} FROM stats_hourly WHERE hour_at >= ? AND hour_at < ?"  # noqa: S608
        f" GROUP BY {_KEY} HAVING SUM(n) <> 0",  # rows every message has moved out of
        (start, end),
    )
    column = {"hour": 0, "day": 0, "template": 1, "country": 2, "caller": 3, "status": 4}[group_by]
    groups: dict[Any, _Group] = {}
    total = _Group()
    for row in rows:
        value = row[column]
        if group_by == "hour":
            value = int(value)
        elif group_by == "day":
            value = int(value) - int(value) % DAY
        args = (row[4], row[5], row[6], int(row[7]), int(row[8]), [int(v) for v in row[9:]])
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
            f"SUM(CASE WHEN m.status = 'delivered' AND r.received_at IS NOT NULL"
            f" AND {latency} >= {low}{upper} THEN 1 ELSE 0 END)"
        )
    key = (
        "(m.created_at / 3600) * 3600, m.template_id,"
        " CASE WHEN substr(m.phone, 1, 3) = '+86' THEN 'CN' ELSE 'ZZ' END, m.caller, m.status,"
        " CASE WHEN m.status = 'failed' THEN COALESCE(NULLIF(r.carrier_code, ''), m.code) ELSE '' END,"
        " CASE WHEN m.status = 'failed' THEN COALESCE(r.description, '') ELSE '' END"
    )
    columns = ",\n        ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in BUCKET_COLUMNS)
    return f"""
    CREATE TABLE stats_hourly (
        hour_at {integer} NOT NULL,
        template_id TEXT NOT NULL,
        country TEXT NOT NULL,
        caller TEXT NOT NULL,
        status TEXT NOT NULL,
        code TEXT NOT NULL,
        description TEXT NOT NULL,
        n {integer} NOT NULL DEFAULT 0,
        fee {integer} NOT NULL DEFAULT 0,
        {columns},
        PRIMARY KEY ({_KEY})
    );
    CREATE INDEX messages_phone ON messages (phone, created_at);
    INSERT INTO stats_hourly ({_KEY}, {_VALUES})
        SELECT {key}, COUNT(*), SUM(m.fee), {", ".join(buckets)}
        FROM messages m LEFT JOIN receipts r ON r.id = (SELECT x.id FROM receipts x
            WHERE x.message_id = m.message_id ORDER BY CASE WHEN x.status = 'unknown' THEN 1 ELSE 0 END,
            x.received_at DESC, x.id DESC LIMIT 1)
        GROUP BY {key}
    """  # noqa: S608 - built from constants only
