"""Delivery statistics and message history by phone on the DynamoDB store (shared/store/dynamodb.py).

The rollup is the SQL stores' (shared/store/stats.py: same keys, same buckets, same aggregation),
kept as counter items updated with `ADD` in the transaction that changes a message's status:

- `ST#<span>#<dimension>#<part start>` / `<bucket start, padded>#<JSON [value, status, code,
  description]>` with `n`, `fee` and histogram counters `h0`…; hour items are partitioned by UTC
  day, day items by `DAY_PART` days, so a window is a few Queries on the pk with a sort-key range;
- `SB#<hash of a bulk send's ids>#<part>`: marks a bulk send counted (BatchWriteItem is not
  transactional): the rollup and the marker are written in one transaction *before* the
  messages, so a retried `record_sends` finds the marker and does not count again;
- `H#<phone>` / `<created_at, padded>#<message id>`: a small index item per message, written with
  it; the newest N are one Query (newest first) and one BatchGetItem of the messages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from shared.models import Receipt
from shared.store import stats as rollup
from shared.store.base import GROUP_BYS
from shared.store.stats import DAY, HOUR, Stats

Item = dict[str, dict[str, Any]]
_WIDTH = 20
PART = {HOUR: DAY, DAY: 100 * DAY}  # a partition of rollup items holds this many seconds of buckets
MARKER_TTL = 7 * DAY  # a bulk send's marker outlives any retry of it
PHONE_PREFIX = "H#"


def _pad(number: int) -> str:
    return f"{int(number):0{_WIDTH}d}"


def rollup_key(key: rollup.Key) -> Item:
    """The item of one rollup row."""
    span, dim, bucket, value, status, code, description = key
    part = bucket - bucket % PART[span]
    sort = json.dumps([value, status, code, description], ensure_ascii=False, separators=(",", ":"))
    return {"pk": {"S": f"ST#{span}#{dim}#{part}"}, "sk": {"S": f"{_pad(bucket)}#{sort}"}}


def row_of(
    message: Mapping[str, Any], status: str | None = None, decided: Receipt | None = None
) -> tuple[Any, ...]:
    """A message item as a rollup snapshot row (shared.store.stats), optionally with the status and
    deciding receipt a pending write gives it."""
    if decided is None and "d_json" in message:
        decided = Receipt(**json.loads(message["d_json"]["S"]))
    return (
        message["pk"]["S"][2:],
        int(message["ca"]["N"]),
        message.get("tpl", {}).get("S", ""),
        message.get("phone", {}).get("S", ""),
        message.get("caller", {}).get("S", ""),
        status if status is not None else message["st"]["S"],
        int(message.get("fee", {}).get("N", "0")),
        message.get("code", {}).get("S", ""),
        decided.carrier_code if decided else None,
        decided.description if decided else None,
        decided.received_at if decided else None,
    )


def updates(
    table: str, before: Iterable[tuple[Any, ...]], after: Iterable[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """`Update` operations (ADD) that move messages from their `before` rows to their `after` rows."""
    changes = rollup.deltas({row[0]: row for row in before}, {row[0]: row for row in after})
    operations = []
    for key, delta in sorted(changes.items()):
        names = ["n", "fee", *(f"h{i}" for i in range(len(delta) - 2))]
        added = [(name, value) for name, value in zip(names, delta, strict=True) if value]
        operations.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": rollup_key(key),
                    "UpdateExpression": "ADD " + ", ".join(f"{name} :{name}" for name, _ in added),
                    "ExpressionAttributeValues": {f":{name}": {"N": str(value)} for name, value in added},
                }
            }
        )
    return operations


def marker_key(message_ids: Iterable[str], part: int) -> Item:
    """The marker of one rollup part of a bulk send, named by the send's message ids."""
    digest = hashlib.sha256("\n".join(sorted(set(message_ids))).encode("utf-8", "surrogatepass"))
    return {"pk": {"S": f"SB#{digest.hexdigest()}#{part}"}, "sk": {"S": "SB"}}


def phone_index(phone: str, created_at: int, message_id: str) -> Item:
    return {"pk": {"S": PHONE_PREFIX + phone}, "sk": {"S": f"{_pad(created_at)}#{message_id}"}}


def query(store: Any, frm: int, to: int, group_by: str) -> Stats:
    """The window's rollup items (Queries on the pk, never a Scan), assembled as stats.query does."""
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {GROUP_BYS}, got {group_by!r}")
    start, end = rollup.hour_window(frm, to)
    dim = rollup._GROUPING[group_by][0]
    sums: dict[tuple[Any, str, str, str], list[int]] = {}
    width = len(rollup.BUCKET_COLUMNS)
    for span, lo, hi in rollup._ranges(start, end, group_by):
        for part in range(lo - lo % PART[span], hi, PART[span]):
            items = store._query(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={
                    ":pk": {"S": f"ST#{span}#{dim}#{part}"},
                    ":lo": {"S": _pad(lo)},
                    ":hi": {"S": _pad(hi)},  # below every key of the bucket at `hi`
                },
            )
            for item in items:
                bucket_text, _, sort = item["sk"]["S"].partition("#")
                bucket = int(bucket_text)
                value, status, code, description = json.loads(sort)
                group = {"hour": bucket, "day": bucket - bucket % DAY, "status": status}.get(group_by, value)
                counts = [_number(item, "n"), _number(item, "fee")]
                counts += [_number(item, f"h{i}") for i in range(width)]
                total = sums.setdefault((group, status, code, description), [0] * (2 + width))
                for index, count in enumerate(counts):
                    total[index] += count
    rows = [(*key, *counts) for key, counts in sums.items() if counts[0]]
    return rollup.assemble(rows, start, end, group_by)


def _number(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value else 0


def phone_entries(store: Any, phone: str, limit: int) -> list[str]:
    """Message ids of the newest `limit` index entries of `phone`, newest first."""
    found: list[str] = []
    if limit <= 0:
        return found
    listed = store._query(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": PHONE_PREFIX + phone}},
        ScanIndexForward=False,
        Limit=min(limit, 1000),
        ProjectionExpression="sk",
    )
    for item in listed:
        found.append(item["sk"]["S"].partition("#")[2])
        if len(found) >= limit:
            break
    return found
