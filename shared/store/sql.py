"""`SqlStore`: the queries both backends share.

A backend supplies a transaction runner (`transaction`), row locks for read-then-write sections
(`_lock`; SQLite needs none because every write transaction holds the database's write lock)
and its dialect's `INSERT … ignore duplicates` form. SQL here is written with `?` placeholders,
sticks to what SQLite (any 3.x with WAL) and PostgreSQL both accept, and contains no `%`.
"""

from __future__ import annotations

import abc
import json
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any, NamedTuple, Protocol, TypeVar

from shared.models import Receipt, Reply, SendResult
from shared.store import stats as rollup
from shared.store.base import (
    ALLOWED,
    MESSAGE_STATUSES,
    ORPHAN_RECEIPT_TTL,
    RECEIPT_STATUSES,
    IdempotencyRecord,
    OtpAttempt,
    OtpRecord,
    RateCheck,
    RateDecision,
    RateRule,
    Store,
    StoredMessage,
    StoredTemplate,
    Suppression,
    Unconfirmed,
)
from shared.store.common import (
    DEFAULT_IDEMPOTENCY_TTL,
    check_rates,
    check_source,
    counter_name,
    hit_bucket,
    reply_key,
    retry_from_rows,
    stale_up_to,
)

T = TypeVar("T")
Row = tuple[Any, ...]
BudgetWrite = Callable[["Tx", Callable[[list[RateDecision]], None]], list[RateDecision]]


def _ignore(decisions: list[RateDecision]) -> None:
    """A `decided` hook for a budget answered after its commit: nothing to do early."""


class Tx(Protocol):
    """One open transaction: statements with `?` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the affected row count."""
        ...

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for every row of parameters (one round trip where the driver can)."""
        ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query; return its first row or None."""
        ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query; return all rows."""
        ...


_MESSAGE_COLUMNS = (
    "message_id, phone, template_id, params, sign, status, fee, code, caller, created_at, updated_at,"
    " session_context"
)
_RECEIPT_COLUMNS = "message_id, phone, status, carrier_code, description, received_at, session_context"
_REPLY_COLUMNS = "phone, text, sign, extend, replied_at"
_OTP_COLUMNS = (
    "id, phone, purpose, code_hash, created_at, expires_at, caller, attempts, max_attempts, status,"
    " resend_after"
)
# The receipt that decides a message's status: the newest definitive one, else the newest.
_DECIDING_ORDER = "CASE WHEN status = 'unknown' THEN 1 ELSE 0 END, received_at DESC, id DESC"
_LATEST_RECEIPT_STATUS = (
    "(SELECT status FROM receipts WHERE receipts.message_id = messages.message_id"  # noqa: S608
    f" ORDER BY {_DECIDING_ORDER} LIMIT 1)"
)


# Whole statements built once from the constant column lists above (no input is ever formatted in).
_SELECT_MESSAGE = f"SELECT {_MESSAGE_COLUMNS}, status_reason FROM messages WHERE message_id = ?"  # noqa: S608
_SELECT_LATEST_RECEIPT = (
    f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE message_id = ?"  # noqa: S608
    f" ORDER BY {_DECIDING_ORDER} LIMIT 1"
)
_BY_MESSAGE_ID = operator.attrgetter("message_id")
_IN_BATCH = 500  # ids per IN (...) list, well inside every driver's parameter limit


def refresh_status_sql(which: str) -> str:
    """The UPDATE giving the messages `which` selects (a condition on message_id) the status of
    their deciding receipt, where it differs; its one parameter before `which`'s is `updated_at`."""
    return (
        f"UPDATE messages SET status = {_LATEST_RECEIPT_STATUS}, status_reason = '', updated_at = ?"  # noqa: S608
        f" WHERE {which} AND status <> COALESCE({_LATEST_RECEIPT_STATUS}, status)"
    )


_REFRESH_STATUS = refresh_status_sql("message_id = ?")
_SELECT_UNCONFIRMED = (
    "SELECT message_id, phone, created_at FROM messages"
    " WHERE status = 'submitted' AND created_at <= ? AND (reconcile_at IS NULL OR reconcile_at <= ?)"
    " ORDER BY created_at, message_id LIMIT ?"
)
_PURGE_ORPHAN_RECEIPTS = (
    "DELETE FROM receipts WHERE stored_at <= ?"
    " AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.message_id = receipts.message_id)"
)
_SELECT_RECEIPTS = f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE message_id = ? ORDER BY received_at, id"  # noqa: S608
_SELECT_REPLIES = (
    f"SELECT {_REPLY_COLUMNS} FROM replies WHERE phone = ? AND replied_at >= ?"  # noqa: S608
    " ORDER BY replied_at, id"
)
_INSERT_OTP = f"INSERT INTO otp_codes ({_OTP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_SELECT_OTP = f"SELECT {_OTP_COLUMNS} FROM otp_codes WHERE id = ?"  # noqa: S608
_SELECT_ACTIVE_OTP = (
    f"SELECT {_OTP_COLUMNS} FROM otp_codes"  # noqa: S608
    " WHERE phone = ? AND purpose = ? AND status = 'active'"
)


_SUPPRESSION_COLUMNS = "phone, suppressed, changed_at, sign, keyword, source"
_UPSERT_SUPPRESSION = (
    f"INSERT INTO suppressions ({_SUPPRESSION_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
    " ON CONFLICT (phone) DO UPDATE SET suppressed = excluded.suppressed,"
    " changed_at = excluded.changed_at, sign = excluded.sign, keyword = excluded.keyword,"
    " source = excluded.source, updated_at = excluded.updated_at"
)
_LIST_SUPPRESSIONS = (
    f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions"  # noqa: S608
    " WHERE suppressed = 1 AND phone > ? ORDER BY phone LIMIT ?"
)


def _suppression(row: Row) -> Suppression:
    return Suppression(row[0], bool(row[1]), int(row[2]), row[3], row[4], row[5])


_SELECT_PHONE_MESSAGES = (
    f"SELECT {_MESSAGE_COLUMNS}, status_reason FROM messages WHERE phone = ?"  # noqa: S608
    " ORDER BY created_at DESC, message_id DESC LIMIT ?"
)


def _stored_message(tx: Tx, row: Row) -> StoredMessage:
    """A `_MESSAGE_COLUMNS, status_reason` row with its deciding receipt."""
    latest = tx.one(_SELECT_LATEST_RECEIPT, (row[0],))
    return StoredMessage(
        message_id=row[0],
        phone=row[1],
        template_id=row[2],
        params=list(json.loads(row[3])),
        sign=row[4],
        status=row[5],
        fee=int(row[6]),
        code=row[7],
        caller=row[8],
        created_at=int(row[9]),
        updated_at=int(row[10]),
        session_context=row[11],
        status_reason=row[12],
        latest_receipt=_receipt(latest) if latest else None,
    )


def statements(script: str) -> list[str]:
    """A migration script split into statements (migration scripts hold no `;` inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _receipt(row: Row) -> Receipt:
    return Receipt(
        message_id=row[0],
        phone=row[1],
        status=row[2],
        carrier_code=row[3],
        description=row[4],
        received_at=int(row[5]),
        session_context=row[6],
    )


def _reply(row: Row) -> Reply:
    return Reply(phone=row[0], text=row[1], sign=row[2], extend=row[3], replied_at=int(row[4]))


def _otp(row: Row) -> OtpRecord:
    return OtpRecord(
        id=row[0],
        phone=row[1],
        purpose=row[2],
        code_hash=row[3],
        created_at=int(row[4]),
        expires_at=int(row[5]),
        caller=row[6],
        attempts=int(row[7]),
        max_attempts=int(row[8]),
        status=row[9],
        resend_after=int(row[10]),
    )


def _live_counts(tx: Tx, checks: Sequence[RateCheck], now: int) -> list[int]:
    """Hits inside each check's window, in one query."""
    select = (
        "SELECT CAST(? AS INTEGER), COALESCE(SUM(hits), 0) FROM rate_counts"
        " WHERE name = ? AND rkey = ? AND bucket_at > ?"
    )
    params = [v for i, c in enumerate(checks) for v in (i, counter_name(c), c.key, stale_up_to(c, now))]
    rows = tx.all(" UNION ALL ".join([select] * len(checks)), params)
    counts = {int(index): int(total) for index, total in rows}
    return [counts[index] for index in range(len(checks))]


def _retry_after(tx: Tx, check: RateCheck, count: int, now: int) -> int:
    """Seconds until enough of the check's hits leave its window for one more to fit."""
    if check.limit == 0:
        return check.window_seconds
    rows = tx.all(
        "SELECT bucket_at, hits FROM rate_counts WHERE name = ? AND rkey = ? AND bucket_at > ?"
        " ORDER BY bucket_at",
        (counter_name(check), check.key, stale_up_to(check, now)),
    )
    return retry_from_rows(check, rows, count - check.limit + 1, now)


def _counter_hits(checks: Iterable[RateCheck], now: int) -> list[tuple[str, str, int, int, int]]:
    """The (counter name, key, bucket start, expiry, hits) rows that one hit per check makes, each
    row named once: checks of one series on one key share a row and one hit, or k hits when
    each of them is named k times; a counter named k times otherwise takes k."""
    named = Counter(checks)
    rows: dict[tuple[str, str], list[int]] = {}
    for check, n in named.items():
        start, expires = hit_bucket(check, now)
        row = rows.setdefault((counter_name(check), check.key), [start, expires, n])
        row[1], row[2] = max(row[1], expires), max(row[2], n)
    return [(name, key, start, expires, n) for (name, key), (start, expires, n) in sorted(rows.items())]


def _counter_bounds(
    checks: Iterable[RateCheck], now: int
) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Per counter name of these checks (one a rule): the second up to which none of its checks
    counts a row any more, and (the row a hit goes to, the latest expiry any of them needs)."""
    stale: dict[str, int] = {}
    bucket: dict[str, tuple[int, int]] = {}
    for check in checks:
        name, up_to, (start, expires) = counter_name(check), stale_up_to(check, now), hit_bucket(check, now)
        stale[name] = min(stale.get(name, up_to), up_to)
        bucket[name] = (start, max(bucket.get(name, (start, expires))[1], expires))
    return stale, bucket


def _in_window(check: RateCheck, rows: Iterable[tuple[int, int]], now: int) -> list[tuple[int, int]]:
    """The (bucket start, hits) rows of a check's counter that its own window still counts."""
    up_to = stale_up_to(check, now)
    return [row for row in rows if row[0] > up_to]


class Written(NamedTuple):
    """What every message row of one `record_sends` batch shares."""

    template_id: str
    params: str  # JSON
    sign: str
    caller: str
    at: int  # created_at and updated_at


def stored_status(result: SendResult) -> str:
    """The status a message row keeps for a send's result: any other is `unknown`."""
    return result.status if result.status in MESSAGE_STATUSES else "unknown"


def _each_id_once(results: Sequence[SendResult]) -> list[SendResult]:
    """The results with a message id, each id once: of an id named twice, the first. A send's ids
    are distinct: then no Python runs a result."""
    ids = set(map(_BY_MESSAGE_ID, results))
    if len(ids) == len(results) and "" not in ids:
        return list(results)
    return list({r.message_id: r for r in reversed(results) if r.message_id}.values())


class SqlStore(Store):
    """Everything but connections, transactions and locks."""

    #: how this dialect says "insert unless a unique key already has the row"
    _insert_ignore_prefix = "INSERT INTO"
    _insert_ignore_suffix = " ON CONFLICT DO NOTHING"
    #: message rows a statement: 80 × 12 values fit every driver's limit, SQLite's 999 before 3.32
    _rows_per_insert = 80
    #: whether the statistics rollup passes id lists as one array (PostgreSQL)
    _ids_as_array = False
    #: the order a batch of message rows is inserted in: by id, so concurrent writers (PostgreSQL)
    #: take the rows' locks in one order
    _message_order: Callable[[SendResult], Any] = _BY_MESSAGE_ID

    @abc.abstractmethod
    def transaction(self, fn: Callable[[Tx], T], *, write: bool = True) -> T:
        """Run `fn` in one transaction, committed when it returns, rolled back when it raises."""

    def _lock(self, tx: Tx, namespace: str, keys: Iterable[str]) -> None:
        """Serialise read-then-write sections on these keys until the transaction ends."""

    def _insert_ignore(self, table: str, columns: str, count: int, rows: int = 1) -> str:
        marks = ", ".join([f"({', '.join('?' * count)})"] * rows)
        prefix, suffix = self._insert_ignore_prefix, self._insert_ignore_suffix
        return f"{prefix} {table} ({columns}) VALUES {marks}{suffix}"

    def _with_receipts(self, tx: Tx, message_ids: Sequence[str]) -> list[str]:
        """Those of `message_ids` that already have a receipt."""
        found: list[str] = []
        for start in range(0, len(message_ids), _IN_BATCH):
            batch = message_ids[start : start + _IN_BATCH]
            marks = ", ".join("?" * len(batch))
            sql = f"SELECT DISTINCT message_id FROM receipts WHERE message_id IN ({marks})"  # noqa: S608
            found += [row[0] for row in tx.all(sql, batch)]
        return found

    def _insert_new(self, tx: Tx, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Insert each row, in order, unless a unique key already has it: the first column of the
        rows that were new (a row twice counts once)."""
        insert = self._insert_ignore(table, columns, len(rows[0]))
        return [row[0] for row in rows if tx.execute(insert, row)]

    def _insert_ignore_rows(self, tx: Tx, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> int:
        """Insert many rows, `_rows_per_insert` to a statement: one statement step instead of one
        per row (SQLite releases and re-takes the GIL on every step, which a busy process's other
        threads make slow) and fewer round trips (PostgreSQL). Answers how many were new."""
        width, new, step = len(rows[0]), 0, self._rows_per_insert
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            new += tx.execute(
                self._insert_ignore(table, columns, width, len(part)), tuple(chain.from_iterable(part))
            )
        return new

    # -- messages ---------------------------------------------------------------------------
    def record_sends(
        self,
        results: Sequence[SendResult],
        *,
        template_id: str,
        params: Sequence[str],
        sign: str,
        caller: str,
        now: int,
    ) -> None:
        rows = _each_id_once(results)
        if not rows:
            return
        rows.sort(key=self._message_order)
        written = Written(template_id, json.dumps(list(params), ensure_ascii=False), sign, caller, now)

        def write(tx: Tx) -> None:
            if self._record_new(tx, rows, written):
                return  # every id was new: stored and counted
            ids = [r.message_id for r in rows]
            before = rollup.snapshot(tx, ids, self._ids_as_array)
            self._insert_message_rows(tx, rows, written)  # a stored id stays as it is
            self._count_inserted(tx, rows, written, before)

        self.transaction(write)

    def _count_inserted(
        self, tx: Tx, rows: Sequence[SendResult], written: Written, before: dict[str, Sequence[Any]]
    ) -> None:
        """After the rows' insert: those whose receipt came first take its status, the others new
        are counted as written (not read back), and those stored `before` or changed move."""
        early = self._with_receipts(tx, [r.message_id for r in rows])
        self._refresh_status(tx, early, written.at)
        changed = before.keys() | set(early)
        kept = (r for r in rows if r.message_id not in changed)
        rollup.add_written(
            tx,
            written.at,
            written.template_id,
            written.caller,
            ((r.phone, stored_status(r), int(r.fee), r.code) for r in kept),
        )
        if changed:
            rollup.apply_change(tx, before, changed, self._ids_as_array)

    def _record_new(self, tx: Tx, rows: Sequence[SendResult], written: Written) -> bool:  # noqa: ARG002
        """Store and count a batch of message rows in one pass if every id is new (a send's ids
        are), answering whether it did; else change nothing. Here never: the ids' earlier state is
        read first (PostgreSQL: one round trip, a savepoint would be two)."""
        return False

    def _insert_message_rows(self, tx: Tx, rows: Sequence[SendResult], written: Written) -> int:
        """Insert a message row for each result, leaving a stored id as it is; how many were new."""
        at = written.at
        values = [
            (r.message_id, r.phone, written.template_id, written.params, written.sign, stored_status(r),
             int(r.fee), r.code, written.caller, at, at, r.session_context)
            for r in rows
        ]  # fmt: skip
        return self._insert_ignore_rows(tx, "messages", _MESSAGE_COLUMNS, values)

    def get_message(self, message_id: str) -> StoredMessage | None:
        def read(tx: Tx) -> StoredMessage | None:
            row = tx.one(_SELECT_MESSAGE, (message_id,))
            return None if row is None else _stored_message(tx, row)

        return self.transaction(read, write=False)

    def messages_for_phone(self, phone: str, limit: int = 50) -> list[StoredMessage]:
        def read(tx: Tx) -> list[StoredMessage]:
            rows = tx.all(_SELECT_PHONE_MESSAGES, (phone, max(1, int(limit))))
            return [_stored_message(tx, row) for row in rows]

        return self.transaction(read, write=False)

    def stats(self, frm: int, to: int, group_by: str) -> rollup.Stats:
        return self.transaction(lambda tx: rollup.query(tx, frm, to, group_by), write=False)

    def _refresh_status(self, tx: Tx, message_ids: Iterable[str], now: int) -> None:
        """Give each message the status of its latest receipt, if it has one and it differs."""
        ids = sorted(set(message_ids))
        for start in range(0, len(ids), _IN_BATCH):
            batch = ids[start : start + _IN_BATCH]
            which = "message_id = ?" if len(batch) == 1 else f"message_id IN ({', '.join('?' * len(batch))})"
            tx.execute(refresh_status_sql(which), (now, *batch))

    # -- reconciliation ---------------------------------------------------------------------
    def unconfirmed_messages(self, *, now: int, older_than: int, limit: int) -> list[Unconfirmed]:
        rows = self.transaction(
            lambda tx: tx.all(_SELECT_UNCONFIRMED, (now - older_than, now, max(0, int(limit)))),
            write=False,
        )
        return [Unconfirmed(row[0], row[1], int(row[2])) for row in rows]

    def defer_reconcile(self, due: Sequence[tuple[str, int]], *, now: int) -> None:  # noqa: ARG002 - Store's signature
        rows = sorted((message_id, int(at)) for message_id, at in due)

        def write(tx: Tx) -> None:
            for message_id, at in rows:
                tx.execute(
                    "UPDATE messages SET reconcile_at = ? WHERE message_id = ? AND status = 'submitted'",
                    (at, message_id),
                )

        if rows:
            self.transaction(write)

    def give_up_unconfirmed(self, message_ids: Sequence[str], *, reason: str, now: int) -> int:
        ids = sorted(set(message_ids))

        def write(tx: Tx) -> int:
            changed = 0
            for start in range(0, len(ids), _IN_BATCH):
                batch = ids[start : start + _IN_BATCH]
                before = rollup.snapshot(tx, batch, self._ids_as_array)  # the statistics move with them
                changed += tx.execute(
                    "UPDATE messages SET status = 'unknown', status_reason = ?, updated_at = ?"  # noqa: S608
                    f" WHERE status = 'submitted' AND message_id IN ({', '.join('?' * len(batch))})",
                    (reason, now, *batch),
                )
                rollup.apply_change(tx, before, batch, self._ids_as_array)
            return changed

        return self.transaction(write) if ids else 0

    # -- receipts and replies ---------------------------------------------------------------
    def save_receipts(self, receipts: Sequence[Receipt], *, source: str, now: int) -> int:
        check_source(source)
        for r in receipts:
            if r.status not in RECEIPT_STATUSES:
                raise ValueError(f"receipt status must be one of {RECEIPT_STATUSES}, got {r.status!r}")
        if not receipts:
            return 0
        # one order for every writer, so concurrent overlapping batches cannot deadlock
        ordered = sorted(receipts, key=lambda r: (r.message_id, r.status, r.carrier_code, r.received_at))
        rows = [
            (r.message_id, r.phone, r.status, r.carrier_code, r.description, int(r.received_at),
             r.session_context, source, now)
            for r in ordered
        ]  # fmt: skip

        def write(tx: Tx) -> int:
            before = rollup.snapshot(tx, [r.message_id for r in ordered], self._ids_as_array)
            new = self._insert_new(tx, "receipts", _RECEIPT_COLUMNS + ", source, stored_at", rows)
            self._refresh_status(tx, new, now)
            rollup.apply_change(tx, before, new, self._ids_as_array)
            return len(new)

        return self.transaction(write)

    def receipts_for(self, message_id: str) -> list[Receipt]:
        rows = self.transaction(
            lambda tx: tx.all(
                _SELECT_RECEIPTS,
                (message_id,),
            ),
            write=False,
        )
        return [_receipt(row) for row in rows]

    def save_replies(self, replies: Sequence[Reply], *, source: str, now: int) -> int:
        check_source(source)
        if not replies:
            return 0
        keyed = sorted((reply_key(r), r) for r in replies)
        rows = [(key, r.phone, r.text, r.sign, r.extend, int(r.replied_at), source, now) for key, r in keyed]
        columns = "reply_key, " + _REPLY_COLUMNS + ", source, stored_at"
        return self.transaction(lambda tx: len(self._insert_new(tx, "replies", columns, rows)))

    def replies_for(self, phone: str, since: int = 0) -> list[Reply]:
        rows = self.transaction(
            lambda tx: tx.all(
                _SELECT_REPLIES,
                (phone, since),
            ),
            write=False,
        )
        return [_reply(row) for row in rows]

    # -- idempotency ------------------------------------------------------------------------
    def idempotency_begin(
        self, key: str, *, fingerprint: str, now: int, in_progress_ttl: int, ttl: int
    ) -> IdempotencyRecord | None:
        claim_new_key = self._insert_ignore(
            "idempotency", "fingerprint, status, ttl, created_at, expires_at, idem_key", 6
        )

        def claim(tx: Tx) -> IdempotencyRecord | None:
            self._lock(tx, "idempotency", [key])
            expires = now + in_progress_ttl
            if tx.execute(claim_new_key, (fingerprint, "in_progress", ttl, now, expires, key)):
                return None  # a key never seen (the usual case): claimed in one statement
            row = tx.one(
                "SELECT fingerprint, status, response, created_at, expires_at FROM idempotency"
                " WHERE idem_key = ?",
                (key,),
            )
            if row is not None and int(row[4]) > now:
                return IdempotencyRecord(
                    key=key,
                    fingerprint=row[0],
                    status=row[1],
                    response=json.loads(row[2]) if row[2] is not None else None,
                    created_at=int(row[3]),
                    expires_at=int(row[4]),
                )
            tx.execute(  # the stored answer has expired: the key starts over
                "UPDATE idempotency SET fingerprint = ?, status = 'in_progress', response = NULL,"
                " ttl = ?, created_at = ?, expires_at = ? WHERE idem_key = ?",
                (fingerprint, ttl, now, expires, key),
            )
            return None

        return self.transaction(claim)

    def idempotency_complete(
        self, key: str, response: dict[str, Any], *, now: int, ttl: int | None = None
    ) -> None:
        body = json.dumps(response, ensure_ascii=False)

        def complete(tx: Tx) -> None:
            self._lock(tx, "idempotency", [key])
            if not tx.execute(  # kept for `ttl`, else for the ttl the claim stored
                "UPDATE idempotency SET status = 'completed', response = ?, expires_at = ? + COALESCE(?, ttl)"
                " WHERE idem_key = ?",
                (body, now, ttl, key),
            ):
                keep = ttl if ttl is not None else DEFAULT_IDEMPOTENCY_TTL
                tx.execute(
                    "INSERT INTO idempotency (idem_key, fingerprint, status, response, ttl, created_at,"
                    " expires_at) VALUES (?, '', 'completed', ?, ?, ?, ?)",
                    (key, body, keep, now, now + keep),
                )

        self.transaction(complete)

    def idempotency_release(self, key: str) -> None:
        def release(tx: Tx) -> None:
            self._lock(tx, "idempotency", [key])
            tx.execute("DELETE FROM idempotency WHERE idem_key = ?", (key,))

        self.transaction(release)

    # -- rate limits ------------------------------------------------------------------------
    def hit_rate_limits(self, checks: Sequence[RateCheck], *, now: int) -> RateDecision:
        check_rates(checks)
        if not checks:
            return RateDecision(allowed=True)

        hits = _counter_hits(checks, now)

        def hit(tx: Tx) -> RateDecision:
            self._lock(tx, "rate", [f"{name}\x00{key}" for name, key, *_ in hits])
            stale: dict[tuple[str, str], int] = {}  # per counter, what no check of it still counts
            for c in checks:
                up_to, counter = stale_up_to(c, now), (counter_name(c), c.key)
                stale[counter] = min(up_to, stale.get(counter, up_to))
            self._delete_stale_hits(tx, [(name, key, up_to) for (name, key), up_to in sorted(stale.items())])
            counts = _live_counts(tx, checks, now)
            for c, count in zip(checks, counts, strict=True):
                if count >= c.limit:
                    return RateDecision(allowed=False, check=c, retry_after=_retry_after(tx, c, count, now))
            self._add_hit_counts(tx, hits)
            return RateDecision(allowed=True)

        return self.transaction(hit)

    def _delete_stale_hits(self, tx: Tx, stale: Sequence[tuple[str, str, int]]) -> None:
        """Delete each (name, key)'s counter rows starting at or before its second."""
        tx.execute_many("DELETE FROM rate_counts WHERE name = ? AND rkey = ? AND bucket_at <= ?", stale)

    def undo_rate_hits(self, checks: Sequence[RateCheck], now: int) -> None:
        if not checks:
            return
        # a counter named many times (a multi send's global cap) is one statement, not one a name
        given_back = _counter_hits(checks, now)

        def undo(tx: Tx) -> None:
            self._lock(tx, "rate", [f"{name}\x00{key}" for name, key, *_ in given_back])
            tx.execute_many(
                "UPDATE rate_counts SET hits = CASE WHEN hits > ? THEN hits - ? ELSE 0 END"
                " WHERE name = ? AND rkey = ? AND bucket_at = ? AND hits > 0",
                [(n, n, name, key, start) for name, key, start, _, n in given_back],
            )

        self.transaction(undo)

    def hit_rate_limits_each(self, groups: Sequence[Sequence[RateCheck]], *, now: int) -> list[RateDecision]:
        # Decided in Python over the counters read once: the per-group loop touches dicts only.
        # Rules (names) share a window, hence one staleness bound each; the checks of a series
        # share their counter rows (see `counter_name`), each counting them in its own window.
        counters: dict[tuple[str, str], RateCheck] = {}
        for group in groups:
            for check in group:
                counters.setdefault((check.name, check.key), check)
        if not counters:
            return [ALLOWED] * len(groups)
        check_rates(list(counters.values()))
        rules = {name: counters[name, key] for name, key in counters}  # one check a rule
        rule_row = {name: counter_name(check) for name, check in rules.items()}
        row_of = {counter: (rule_row[counter[0]], counter[1]) for counter in counters}
        stale, bucket = _counter_bounds(rules.values(), now)
        by_row: dict[str, list[str]] = {}
        for row, key in dict.fromkeys(row_of.values()):
            by_row.setdefault(row, []).append(key)

        def hit(tx: Tx) -> list[RateDecision]:
            self._lock(tx, "rate", (f"{row}\x00{key}" for row, key in row_of.values()))  # SQLite reads none
            live, _ = self._live_rows(tx, self._rate_rows(tx, sorted(by_row.items())), stale)
            held = {  # hits in each check's window, before this call's
                counter: sum(hits for _, hits in _in_window(counters[counter], live[row], now))
                for counter, row in row_of.items()
                if row in live
            }
            added: dict[tuple[str, str], int] = {}  # per counter row: the hits of groups allowed
            decisions: list[RateDecision] = []
            for group in groups:
                need: dict[tuple[str, str], int] = {}  # per check: how often the group names it
                adds: dict[tuple[str, str], int] = {}  # per counter row: the hits the group adds
                blocked: RateCheck | None = None
                for check in group:
                    counter = (check.name, check.key)
                    row = row_of[counter]
                    n = need[counter] = need.get(counter, 0) + 1
                    n = adds[row] = max(adds.get(row, 0), n)
                    if held.get(counter, 0) + added.get(row, 0) + n > check.limit:
                        blocked = check
                        break
                if blocked is None:
                    for row, n in adds.items():
                        added[row] = added.get(row, 0) + n
                    decisions.append(ALLOWED)
                else:
                    counter = (blocked.name, blocked.key)
                    row = row_of[counter]
                    ours = added.get(row, 0)
                    rows = _in_window(blocked, live.get(row, ()), now)
                    decisions.append(
                        self._refused(blocked, rows, held.get(counter, 0) + ours, ours, adds[row], now)
                    )
            if added:
                self._add_hit_counts(tx, [(name, key, *bucket[name], n) for (name, key), n in added.items()])
            return decisions

        return self.transaction(hit)

    def hit_rate_limits_per_key(
        self, keys: Sequence[str], rules: Sequence[RateRule], shared: Sequence[RateCheck], *, now: int
    ) -> list[RateDecision]:
        # A 100,000-number send's budget without a check object, a group or a dict per number: a
        # key with no live row passes its rules unless one has limit 0, so only the shared counters
        # are counted for it. The cases this shortcut does not cover go the general way.
        counters = [(c.name, c.key) for c in shared]
        names = {rule.name for rule in rules}
        probe = {check.name: check for check in (*(rule.on("") for rule in rules), *shared)}
        rule_row = {rule.name: counter_name(probe[rule.name]) for rule in rules}
        rows = set(rule_row.values())  # the rules' counter names: one for a series
        if (
            not keys
            or not rules
            or len(names) < len(rules)
            or len(set(counters)) < len(counters)
            or any(
                name in names or name in rows or counter_name(c) != name
                for c, (name, _) in zip(shared, counters, strict=True)
            )
            or len(set(keys)) < len(keys)
        ):
            return super().hit_rate_limits_per_key(keys, rules, shared, now=now)
        check_rates([*(rule.on(keys[0]) for rule in rules), *shared])
        by_key = [(name, [key]) for name, key in counters]
        stale, bucket = _counter_bounds(probe.values(), now)
        zero = next((rule for rule in rules if rule.limit == 0), None)

        def hit(tx: Tx, decided: Callable[[list[RateDecision]], None]) -> list[RateDecision]:
            self._lock(  # SQLite reads none
                tx,
                "rate",
                chain(
                    (f"{row}\x00{key}" for row in rows for key in keys), (f"{n}\x00{k}" for n, k in counters)
                ),
            )
            # in key order: a list's numbers fall all over the counters' B-tree, and reading and
            # writing them in order visits each page once instead of once per number
            ordered = sorted(keys)
            found = chain(self._key_rows(tx, sorted(rows), ordered), self._rate_rows(tx, by_key))
            live, count = self._live_rows(tx, found, stale)
            touched = {key for name, key in count if name in rows}
            held = [count.get(counter, 0) for counter in counters]  # the shared counters, as they grow
            # no key with a live counter and room for all under every shared cap: all go at once
            everyone = (
                not touched
                and zero is None
                and all(spent + len(keys) <= check.limit for spent, check in zip(held, shared, strict=True))
            )
            if everyone:
                decisions, allowed = [ALLOWED] * len(keys), ordered
            else:
                decisions = []
                for key in keys:
                    blocked, in_window, spent = zero, [], 0
                    if key in touched:
                        for rule in rules:
                            in_window = _in_window(
                                probe[rule.name], live.get((rule_row[rule.name], key), ()), now
                            )
                            spent = sum(hits for _, hits in in_window)
                            if spent >= rule.limit:
                                blocked = rule
                                break
                    if blocked is not None:
                        decisions.append(self._refused(blocked.on(key), in_window, spent, 0, 1, now))
                        continue
                    full = next((i for i, check in enumerate(shared) if held[i] >= check.limit), None)
                    if full is not None:
                        check, counter = shared[full], counters[full]
                        ours = held[full] - count.get(counter, 0)
                        decisions.append(
                            self._refused(check, live.get(counter, []), held[full], ours, 1, now)
                        )
                        continue
                    for i in range(len(held)):
                        held[i] += 1
                    decisions.append(ALLOWED)
                allowed = sorted(key for key, d in zip(keys, decisions, strict=True) if d.allowed)
            if allowed:
                decided(decisions)  # every read done, nothing written yet
                self._add_key_hits(tx, allowed, [(row, *bucket[row]) for row in sorted(rows)])
                if counters:
                    self._add_hit_counts(
                        tx, [(name, key, *bucket[name], len(allowed)) for name, key in counters]
                    )
            return decisions

        return self._decide_then_write(hit, len(keys))

    def _decide_then_write(self, hit: BudgetWrite, size: int) -> list[RateDecision]:  # noqa: ARG002
        """Run a list's budget transaction (`hit`, which calls `decided` between its reads and
        its writes) and answer its decisions: here once it has committed. `size`: the list's length."""
        return self.transaction(lambda tx: hit(tx, _ignore))

    def _live_rows(
        self, tx: Tx, rows: Iterable[tuple[str, str, int, int]], stale: dict[str, int]
    ) -> tuple[dict[tuple[str, str], list[tuple[int, int]]], dict[tuple[str, str], int]]:
        """The counter rows read still inside their rule's window, per (name, key), and their hit
        counts; what it read outside, it prunes (as `hit_rate_limits` does)."""
        live: dict[tuple[str, str], list[tuple[int, int]]] = {}
        expired: dict[str, set[str]] = {}
        for name, key, bucket_at, hits in rows:
            if bucket_at > stale[name]:
                live.setdefault((name, key), []).append((bucket_at, hits))
            else:
                expired.setdefault(name, set()).add(key)
        for name, keys in sorted(expired.items()):
            self._delete_stale_keys(tx, name, stale[name], sorted(keys))
        return live, {counter: sum(hits for _, hits in found) for counter, found in live.items()}

    @staticmethod
    def _refused(
        check: RateCheck, rows: list[tuple[int, int]], count: int, added: int, need: int, now: int
    ) -> RateDecision:
        """The decision for a group's `check` blocked: `count` hits in its window, `added` of them
        this call's, the others in these (bucket start, hits) `rows`; the group needed `need` more.
        It names when enough of them (ours too) will have left."""
        if check.limit == 0:
            return RateDecision(allowed=False, check=check, retry_after=check.window_seconds)
        ours = [(hit_bucket(check, now)[0], added)]
        retry = retry_from_rows(check, sorted(rows + ours), count + need - check.limit, now)
        return RateDecision(allowed=False, check=check, retry_after=retry)

    def _rate_rows(
        self, tx: Tx, rules: Sequence[tuple[str, Sequence[str]]]
    ) -> Iterable[tuple[str, str, int, int]]:
        """Every counter row of these (rule name, keys): (name, key, bucket start, hits)."""
        for name, keys in rules:
            for start in range(0, len(keys), _IN_BATCH):
                batch = keys[start : start + _IN_BATCH]
                marks = ", ".join("?" * len(batch))
                sql = f"SELECT rkey, bucket_at, hits FROM rate_counts WHERE name = ? AND rkey IN ({marks})"  # noqa: S608
                for key, bucket_at, hits in tx.all(sql, (name, *batch)):
                    yield name, key, int(bucket_at), int(hits)

    def _key_rows(
        self, tx: Tx, names: Sequence[str], keys: Sequence[str]
    ) -> Iterable[tuple[str, str, int, int]]:
        """Every counter row of these rules on these keys: (name, key, bucket start, hits)."""
        step = _IN_BATCH - len(names)
        rules = ", ".join("?" * len(names))
        for start in range(0, len(keys), step):
            batch = keys[start : start + step]
            marks = ", ".join("?" * len(batch))
            sql = (
                "SELECT name, rkey, bucket_at, hits FROM rate_counts"  # noqa: S608
                f" WHERE name IN ({rules}) AND rkey IN ({marks})"
            )
            for name, key, bucket_at, hits in tx.all(sql, (*names, *batch)):
                yield name, key, int(bucket_at), int(hits)

    def _add_key_hits(self, tx: Tx, keys: Sequence[str], rules: Sequence[tuple[str, int, int]]) -> None:
        """One hit on every key's row of each (rule name, bucket start, expiry)."""
        self._add_hit_counts(
            tx, [(name, key, start, expires, 1) for name, start, expires in rules for key in keys]
        )

    def _delete_stale_keys(self, tx: Tx, name: str, up_to: int, keys: Sequence[str]) -> None:
        """Delete these keys' rows of rule `name` starting at or before second `up_to`."""
        for start in range(0, len(keys), _IN_BATCH):
            batch = keys[start : start + _IN_BATCH]
            marks = ", ".join("?" * len(batch))
            tx.execute(
                f"DELETE FROM rate_counts WHERE name = ? AND bucket_at <= ? AND rkey IN ({marks})",  # noqa: S608
                (name, up_to, *batch),
            )

    def _add_hit_counts(self, tx: Tx, hits: Sequence[tuple[str, str, int, int, int]]) -> None:
        """`n` hits on each (name, key, bucket start, expiry, n) counter row (each row named once)."""
        tx.execute_many(
            "INSERT INTO rate_counts (name, rkey, bucket_at, expires_at, hits) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name, rkey, bucket_at) DO UPDATE SET hits = rate_counts.hits + excluded.hits",
            hits,
        )

    # -- one-time codes ---------------------------------------------------------------------
    def otp_create(self, record: OtpRecord, *, supersede_active: bool) -> int:
        def create(tx: Tx) -> int:
            self._lock(tx, "otp", [f"{record.phone}\x00{record.purpose}"])
            superseded = 0
            if supersede_active:
                superseded = tx.execute(
                    "UPDATE otp_codes SET status = 'superseded' WHERE phone = ? AND purpose = ?"
                    " AND status = 'active'",
                    (record.phone, record.purpose),
                )
            tx.execute(
                _INSERT_OTP,
                (
                    record.id,
                    record.phone,
                    record.purpose,
                    record.code_hash,
                    record.created_at,
                    record.expires_at,
                    record.caller,
                    record.attempts,
                    record.max_attempts,
                    record.status,
                    record.resend_after,
                ),
            )
            return superseded

        return self.transaction(create)

    def otp_get(self, otp_id: str) -> OtpRecord | None:
        row = self.transaction(lambda tx: tx.one(_SELECT_OTP, (otp_id,)), write=False)
        return _otp(row) if row else None

    def otp_latest_active(self, phone: str, purpose: str, *, now: int | None = None) -> OtpRecord | None:
        sql = _SELECT_ACTIVE_OTP
        params: tuple[Any, ...] = (phone, purpose)
        if now is not None:
            sql += " AND expires_at > ?"
            params += (now,)
        sql += " ORDER BY created_at DESC, id DESC LIMIT 1"
        row = self.transaction(lambda tx: tx.one(sql, params), write=False)
        return _otp(row) if row else None

    def otp_attempt(self, otp_id: str, *, matched: bool, now: int) -> OtpAttempt:
        def attempt(tx: Tx) -> OtpAttempt:
            # A guarded UPDATE is atomic on both backends: concurrent attempts queue on the row and
            # re-check `status = 'active'`, so exactly one correct attempt can flip it to used.
            if matched:
                changed = tx.execute(
                    "UPDATE otp_codes SET status = 'used'"
                    " WHERE id = ? AND status = 'active' AND expires_at > ?",
                    (otp_id, now),
                )
            else:
                changed = tx.execute(
                    "UPDATE otp_codes SET attempts = attempts + 1,"
                    " status = CASE WHEN attempts + 1 >= max_attempts THEN 'locked' ELSE 'active' END"
                    " WHERE id = ? AND status = 'active' AND expires_at > ?",
                    (otp_id, now),
                )
            row = tx.one("SELECT status, attempts, expires_at FROM otp_codes WHERE id = ?", (otp_id,))
            if row is None:
                return OtpAttempt("not_found", 0)
            status, attempts = row[0], int(row[1])
            if changed and matched:
                return OtpAttempt("verified", attempts)
            if status == "active" and not changed:
                return OtpAttempt("expired", attempts)
            return OtpAttempt(status, attempts)

        return self.transaction(attempt)

    def otp_purge_expired(self, now: int) -> int:
        return self.transaction(lambda tx: tx.execute("DELETE FROM otp_codes WHERE expires_at <= ?", (now,)))

    # -- short-lived answers ------------------------------------------------------------------
    def cache_get(self, key: str, *, now: int) -> dict[str, Any] | None:
        row = self.transaction(
            lambda tx: tx.one("SELECT value FROM read_cache WHERE ckey = ? AND expires_at > ?", (key, now)),
            write=False,
        )
        value = json.loads(row[0]) if row is not None else None
        return value if isinstance(value, dict) else None

    def cache_put(self, key: str, value: dict[str, Any], *, now: int, ttl: int) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        self.transaction(
            lambda tx: tx.execute(
                "INSERT INTO read_cache (ckey, value, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (ckey) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                (key, text, now + ttl),
            )
        )

    # -- template catalogue -----------------------------------------------------------------
    def save_templates(self, templates: Sequence[StoredTemplate], *, now: int) -> int:
        rows = [
            (
                t.template_id,
                int(t.international),
                int(t.status),
                t.name,
                t.text,
                t.review_reply,
                int(t.created_at),
                now,
            )
            for t in {t.template_id: t for t in templates}.values()
        ]

        def write(tx: Tx) -> int:
            tx.execute("DELETE FROM templates")
            if rows:
                tx.execute_many(
                    "INSERT INTO templates (template_id, international, status, name, content,"
                    " review_reply, created_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            return len(rows)

        return self.transaction(write)

    def templates(self) -> list[StoredTemplate]:
        rows = self.transaction(
            lambda tx: tx.all(
                "SELECT template_id, international, status, name, content, review_reply, created_at,"
                " synced_at FROM templates"
            ),
            write=False,
        )
        found = [
            StoredTemplate(
                str(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]), int(r[7])
            )
            for r in rows
        ]
        return sorted(found, key=lambda t: (len(t.template_id), t.template_id))

    def peek_rate_limits(self, checks: Sequence[RateCheck], *, now: int) -> RateDecision:
        check_rates(checks)
        if not checks:
            return RateDecision(allowed=True)

        def peek(tx: Tx) -> RateDecision:
            for c, live in zip(checks, _live_counts(tx, checks, now), strict=True):
                if live >= c.limit:
                    return RateDecision(allowed=False, check=c, retry_after=_retry_after(tx, c, live, now))
            return RateDecision(allowed=True)

        return self.transaction(peek, write=False)

    # -- housekeeping -----------------------------------------------------------------------
    def purge_expired(self, now: int, *, orphan_receipt_ttl: int = ORPHAN_RECEIPT_TTL) -> int:
        total = self.transaction(
            lambda tx: tx.execute("DELETE FROM rate_counts WHERE expires_at <= ?", (now,))
        )
        total += self.transaction(
            lambda tx: tx.execute("DELETE FROM read_cache WHERE expires_at <= ?", (now,))
        )
        total += self.transaction(
            lambda tx: tx.execute("DELETE FROM idempotency WHERE expires_at <= ?", (now,))
        )
        return total + self.otp_purge_expired(now) + self._purge_orphan_receipts(now - orphan_receipt_ttl)

    def _purge_orphan_receipts(self, stored_before: int) -> int:
        """Delete receipts stored at or before `stored_before` whose message the store never recorded."""
        return self.transaction(lambda tx: tx.execute(_PURGE_ORPHAN_RECEIPTS, (stored_before,)))

    # -- suppressions ------------------------------------------------------------------------
    def set_suppressions(self, changes: Sequence[Suppression], *, now: int, force: bool = False) -> int:
        if not changes:
            return 0
        ordered = sorted(changes, key=lambda c: (int(c.changed_at), c.suppressed))

        def write(tx: Tx) -> int:
            phones = sorted({c.phone for c in ordered})
            self._lock(tx, "suppression", phones)
            held = {row.phone: row for row in self._suppressions_of(tx, phones, only_suppressed=False)}
            changed: dict[str, Suppression] = {}
            for change in ordered:
                current = changed.get(change.phone) or held.get(change.phone)
                if current is not None:
                    if force:
                        change = change._replace(changed_at=max(int(change.changed_at), current.changed_at))
                    elif (change.changed_at, change.suppressed) < (current.changed_at, current.suppressed):
                        continue
                    if change == current:
                        continue
                changed[change.phone] = change
            tx.execute_many(
                _UPSERT_SUPPRESSION,
                [
                    (c.phone, int(c.suppressed), int(c.changed_at), c.sign, c.keyword, c.source, now)
                    for c in changed.values()
                ],
            )
            return len(changed)

        return self.transaction(write)

    def _suppressions_of(self, tx: Tx, phones: Sequence[str], *, only_suppressed: bool) -> list[Suppression]:
        found: list[Suppression] = []
        for start in range(0, len(phones), _IN_BATCH):
            batch = phones[start : start + _IN_BATCH]
            marks = ", ".join("?" * len(batch))
            which = " AND suppressed = 1" if only_suppressed else ""
            sql = f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions WHERE phone IN ({marks}){which}"  # noqa: S608
            found += [_suppression(row) for row in tx.all(sql, batch)]
        return found

    def get_suppression(self, phone: str) -> Suppression | None:
        found = self.transaction(
            lambda tx: self._suppressions_of(tx, [phone], only_suppressed=False), write=False
        )
        return found[0] if found else None

    def list_suppressions(self, *, after: str = "", limit: int = 100) -> list[Suppression]:
        rows = self.transaction(lambda tx: tx.all(_LIST_SUPPRESSIONS, (after, int(limit))), write=False)
        return [_suppression(row) for row in rows]

    def suppressed(self, phones: Sequence[str]) -> set[str]:
        unique = sorted(set(phones))
        if not unique:
            return set()
        found = self.transaction(
            lambda tx: self._suppressions_of(tx, unique, only_suppressed=True), write=False
        )
        return {row.phone for row in found}

    def ping(self) -> None:
        self.transaction(lambda tx: tx.one("SELECT 1"), write=False)
