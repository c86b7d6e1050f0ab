"""SQLite store: one file (or `:memory:`), WAL mode, one connection shared by threads under a lock.

Every write runs in `BEGIN IMMEDIATE`, which takes the database's write lock up front, so the
read-then-write sections (idempotency, rate limits, codes) are atomic across threads *and*
processes; a writer that cannot get the lock within the busy timeout gets
`StoreUnavailableError`.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import chain, repeat
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from shared.errors import SmsError, StoreUnavailableError
from shared.models import SendResult
from shared.store import stats as rollup
from shared.store.base import MESSAGE_STATUSES, RateDecision
from shared.store.sql import (
    _MESSAGE_COLUMNS,
    BudgetWrite,
    Row,
    SqlStore,
    Tx,
    Written,
    statements,
    stored_status,
)
from shared.store.stats import migration as stats_migration

T = TypeVar("T")

DEFAULT_BUSY_TIMEOUT_MS = 5000
EARLY_DECISIONS_FROM = 1000  # a list this long has its budget's hits written while it is sent
BUDGET_THREAD = "sms-budget"  # the thread that writes them
# Values a statement may bind: 32,766 since SQLite 3.32, 999 before it.
MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
# A checkpoint copies the WAL into the database once ~40 MB of it have built up (SQLite's default
# is 1,000 pages, ~4 MB): a long list's commits rewrite many of the same index pages, each copied
# once a checkpoint rather than once a commit. The WAL file is cut back to 64 MB when it restarts.
WAL_CHECKPOINT_PAGES = 10_000
WAL_SIZE_LIMIT = 64 * 1024 * 1024

# Ordered migrations; version N is MIGRATIONS[N - 1]. Never edit one that has shipped: append.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE messages (
        message_id TEXT PRIMARY KEY,
        phone TEXT NOT NULL,
        template_id TEXT NOT NULL DEFAULT '',
        params TEXT NOT NULL DEFAULT '[]',
        sign TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('submitted', 'delivered', 'failed', 'unknown')),
        fee INTEGER NOT NULL DEFAULT 0,
        code TEXT NOT NULL DEFAULT '',
        caller TEXT NOT NULL DEFAULT '',
        session_context TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX messages_phone ON messages (phone, created_at);
    CREATE TABLE receipts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        phone TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'unknown')),
        carrier_code TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        received_at INTEGER NOT NULL,
        session_context TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        UNIQUE (message_id, status, carrier_code, received_at)
    );
    CREATE INDEX receipts_phone ON receipts (phone, received_at);
    CREATE TABLE replies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        reply_key TEXT NOT NULL UNIQUE,
        phone TEXT NOT NULL,
        text TEXT NOT NULL,
        sign TEXT NOT NULL DEFAULT '',
        extend TEXT NOT NULL DEFAULT '',
        replied_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        stored_at INTEGER NOT NULL
    );
    CREATE INDEX replies_phone ON replies (phone, replied_at);
    CREATE TABLE idempotency (
        idem_key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
        response TEXT,
        ttl INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX idempotency_expires ON idempotency (expires_at);
    CREATE TABLE rate_hits (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        rkey TEXT NOT NULL,
        hit_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX rate_hits_key ON rate_hits (name, rkey, hit_at);
    CREATE INDEX rate_hits_expires ON rate_hits (expires_at);
    CREATE TABLE otp_codes (
        id TEXT PRIMARY KEY,
        phone TEXT NOT NULL,
        purpose TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        caller TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'used', 'locked', 'superseded')),
        resend_after INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX otp_codes_phone ON otp_codes (phone, purpose, status, created_at);
    CREATE INDEX otp_codes_expires ON otp_codes (expires_at);
    """,
    # 2: rate limits as counters per time bucket instead of a row per hit (see common.bucket_width);
    # the hits in flight carry over as one-second buckets. messages_phone served no query and
    # cost every stored message an index update.
    """
    DROP INDEX messages_phone;
    CREATE TABLE rate_counts (
        name TEXT NOT NULL,
        rkey TEXT NOT NULL,
        bucket_at INTEGER NOT NULL,
        hits INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (name, rkey, bucket_at)
    ) WITHOUT ROWID;
    CREATE INDEX rate_counts_expires ON rate_counts (expires_at);
    INSERT INTO rate_counts (name, rkey, bucket_at, hits, expires_at)
        SELECT name, rkey, hit_at, COUNT(*), MAX(expires_at) FROM rate_hits GROUP BY name, rkey, hit_at;
    DROP TABLE rate_hits;
    """,
    # 3: reconciliation (see shared/reconcile.py): when a `submitted` message is next due for a
    # per-number pull, why a message ended `unknown` without a receipt, and an index of the
    # `submitted` messages only (a message leaves it when its receipt comes).
    """
    ALTER TABLE messages ADD COLUMN reconcile_at INTEGER;
    ALTER TABLE messages ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
    CREATE INDEX messages_submitted ON messages (created_at) WHERE status = 'submitted';
    """,
    # 4: short-lived answers shared by every container (the per-number status read-through).
    """
    CREATE TABLE read_cache (
        ckey TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX read_cache_expires ON read_cache (expires_at);
    """,
    # 5: Tencent's template catalogue (shared/catalogue.py), replaced whole at each sync.
    """
    CREATE TABLE templates (
        template_id TEXT PRIMARY KEY,
        international INTEGER NOT NULL,
        status INTEGER NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL DEFAULT '',
        review_reply TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL DEFAULT 0,
        synced_at INTEGER NOT NULL
    );
    """,
    # 6: the suppression list (opt-outs, shared/suppressions.py): a number's latest opt-out or
    # opt-in, kept when taken off so an older reply processed later cannot put it back.
    """
    CREATE TABLE suppressions (
        phone TEXT PRIMARY KEY,
        suppressed INTEGER NOT NULL CHECK (suppressed IN (0, 1)),
        changed_at INTEGER NOT NULL,
        sign TEXT NOT NULL DEFAULT '',
        keyword TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX suppressions_on ON suppressions (phone) WHERE suppressed = 1;
    """,
    # 7: the delivery-statistics rollup, filled from the stored messages (see shared/store/stats.py)
    stats_migration("INTEGER"),
    # 8: no index of the counters' expiry: it doubled the cost of every counter a send writes (the
    # keys come in any order, so both trees take random inserts), for a purge that runs on a timer
    # and scans the table instead (~70 ms per 1.5 million counters, the write lock held that long).
    """
    DROP INDEX rate_counts_expires;
    """,
    # 9: a number's rules (`sms:phone:<limit>/<window>`, limit <= 100) count the same sends by the
    # second, so their rows merge into one series, `sms:phone` (see common.counter_name); the hits
    # in flight carry over (a bucket's rows hold the same hits in each rule still counting it).
    """
    INSERT INTO rate_counts (name, rkey, bucket_at, hits, expires_at)
        SELECT 'sms:phone', rkey, bucket_at, MAX(hits), MAX(expires_at) FROM rate_counts
        WHERE name GLOB 'sms:phone:[0-9]*/*'
            AND CAST(substr(name, 11, instr(substr(name, 11), '/') - 1) AS INTEGER) <= 100
        GROUP BY rkey, bucket_at;
    DELETE FROM rate_counts WHERE name GLOB 'sms:phone:[0-9]*/*'
        AND CAST(substr(name, 11, instr(substr(name, 11), '/') - 1) AS INTEGER) <= 100;
    """,
)


def parse_sqlite_url(url: str) -> tuple[str, bool, int]:
    """(sqlite3 target, is-uri, busy timeout ms) for `sqlite:///rel.db`, `sqlite:////abs.db`,
    `sqlite:///:memory:`; query parameters other than `busy_timeout` (ms) go to SQLite's URI."""
    parts = urlsplit(url)
    path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    if parts.netloc:  # sqlite://host/... is not a thing; treat `sqlite://rel.db` as a path
        path = unquote(parts.netloc) + ("/" + path if path else "")
    query = parse_qsl(parts.query, keep_blank_values=True)
    busy = DEFAULT_BUSY_TIMEOUT_MS
    rest: list[tuple[str, str]] = []
    for name, value in query:
        if name == "busy_timeout":
            busy = int(value)
        else:
            rest.append((name, value))
    if path in ("", ":memory:") and not rest:
        return ":memory:", False, busy
    target = "file:" + (":memory:" if path in ("", ":memory:") else quote(os.path.abspath(path)))
    if rest:
        target += "?" + urlencode(rest)
    return target, True, busy


# A batch of message rows binds each result's fields as they are, the batch's shared values once a
# statement, and lets SQL pick the columns (`VALUES` names its columns column1, column2, …): no
# tuple is built a row, and a statement takes 3,640 rows. A writer beside a busy send holds the
# interpreter lock only to bind; SQLite runs the statement without it, and each time the writer
# wants the lock back it waits its turn behind the sending threads: the fewer statements, the fewer
# waits.
_FIELD = {name: f"column{i}" for i, name in enumerate(SendResult._fields, 1)}
_SHARED = 6  # template_id, params, sign, caller, created_at, updated_at
MESSAGE_ROWS_PER_INSERT = (MAX_VARIABLES - _SHARED) // len(SendResult._fields)
_INSERT_RESULTS = (
    f"INSERT OR IGNORE INTO messages ({_MESSAGE_COLUMNS})"  # noqa: S608 - constant column names
    f" SELECT {_FIELD['message_id']}, {_FIELD['phone']}, ?, ?, ?,"
    f" CASE WHEN {_FIELD['status']} IN ({', '.join(repr(s) for s in MESSAGE_STATUSES)})"
    f" THEN {_FIELD['status']} ELSE 'unknown' END, CAST({_FIELD['fee']} AS INTEGER), {_FIELD['code']},"
    f" ?, ?, ?, {_FIELD['session_context']} FROM (VALUES "
)
_RESULT_MARKS = f"({', '.join('?' * len(SendResult._fields))})"
# A batch whose results share their status, fee, code and context (a send's accepted numbers)
# binds those once too: a row is its id and number, two values rather than nine. Measured, a
# statement of about 4,000 such rows cost least a row (larger ones cost more).
_ONE_KIND = operator.itemgetter(*map(SendResult._fields.index, ("status", "fee", "code", "session_context")))
_ID_AND_PHONE = operator.itemgetter(*map(SendResult._fields.index, ("message_id", "phone")))
_INSERT_ONE_KIND = (
    f"INSERT OR IGNORE INTO messages ({_MESSAGE_COLUMNS})"  # noqa: S608 - constant column names
    " SELECT column1, column2, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM (VALUES "
)
MESSAGE_PAIRS_PER_INSERT = min(4000, (MAX_VARIABLES - _INSERT_ONE_KIND.count("?")) // 2)
# The rows a batch added (rowids above the table's largest before it): those whose receipt came
# first, and the others counted for the statistics rollup, mainland numbers as one, all in SQL.
_NEW_WITH_RECEIPTS = (
    "SELECT DISTINCT m.message_id FROM messages m NOT INDEXED"  # by rowid, not a scan of an index
    " JOIN receipts r ON r.message_id = m.message_id WHERE m.rowid > ?"
)
# In one pass over the new rows: mainland numbers counted as one, the others listed (comma-joined,
# a kind) rather than grouped a row a number (a step a row, and a sort by number). Core SQL only: no
# JSON functions, which a SQLite before 3.38 may lack.
_NEW_TALLY = (
    "SELECT status, fee, code, count(*), group_concat("
    "CASE WHEN substr(phone, 1, length(?)) <> ? THEN phone END, ',')"
    " FROM messages m WHERE rowid > ?{} GROUP BY substr(phone, 1, length(?)) = ?, 1, 2, 3"
)
_WITHOUT_RECEIPTS = " AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.message_id = m.message_id)"


class _SqliteTx:
    """`Tx` over a sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._conn.execute(sql, tuple(params)).fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(row) for row in self._conn.execute(sql, tuple(params)).fetchall()]


class SqliteStore(SqlStore):
    """The store in a SQLite database file."""

    dialect = "sqlite"
    _insert_ignore_prefix = "INSERT OR IGNORE INTO"
    _insert_ignore_suffix = ""
    # one writer at a time: rows in phone order fill neighbouring pages of the phone index (a list's
    # numbers come in any order, each on its own page of an index holding a day's messages)
    _message_order = operator.attrgetter("phone")
    _rows_per_insert = MESSAGE_ROWS_PER_INSERT
    _pairs_per_insert = MESSAGE_PAIRS_PER_INSERT

    def __init__(self, url: str) -> None:
        self.url = url
        self._target, self._uri, self._busy_ms = parse_sqlite_url(url)
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.RLock()
        self._json_each: bool | None = None  # asked on the first multi send, not at every start
        self._writing: list[threading.Thread] = []  # budgets committing after their answers

    # -- connection -------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        conn = sqlite3.connect(
            self._target,
            uri=self._uri,
            timeout=self._busy_ms / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_ms)}")
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
                conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            except sqlite3.OperationalError:
                pass  # read-only or busy: keep the current mode; writes will report the problem
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def transaction(self, fn: Callable[[Tx], T], *, write: bool = True) -> T:
        with self._mutex:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(_SqliteTx(conn))
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
                return result
            except sqlite3.Error as exc:
                failure = self._translate(exc)
            raise failure  # outside the except: no chained driver exception

    def _translate(self, exc: sqlite3.Error) -> SmsError:
        where = os.path.basename(self._target.partition("?")[0]) or ":memory:"
        if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
            return StoreUnavailableError(f"SQLite store {where} unavailable: {exc}")
        return SmsError(
            f"SQLite store {where} rejected a statement: {type(exc).__name__}: {exc}", code="store_error"
        )

    # -- messages ---------------------------------------------------------------------------
    def _insert_message_rows(self, tx: Tx, rows: Sequence[SendResult], written: Written) -> int:
        message, by = written[:3], (written.caller, written.at, written.at)  # [:3]: template, params, sign
        kinds = set(map(_ONE_KIND, rows))
        if len(kinds) == 1:  # the kind bound once a statement, a row its id and number
            _, fee, code, context = kinds.pop()  # the status as `stored_status` keeps it
            shared: tuple[Any, ...] = (*message, stored_status(rows[0]), int(fee), code, *by, context)
            head, marks, step, bound = _INSERT_ONE_KIND, "(?, ?)", self._pairs_per_insert, _ID_AND_PHONE
        else:  # each result's fields as they are, SQL picking the columns
            shared = (*message, *by)
            head, marks, step, bound = _INSERT_RESULTS, _RESULT_MARKS, self._rows_per_insert, None
        new = 0
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            values = chain.from_iterable(part if bound is None else map(bound, part))
            new += tx.execute(head + ", ".join([marks] * len(part)) + ")", (*shared, *values))
        return new

    def _record_new(self, tx: Tx, rows: Sequence[SendResult], written: Written) -> bool:
        """Insert first, in a savepoint; when every row went in, find the early receipts and count
        the new rows by their rowids, in SQL: no id looked up before, no Python a row. A stored id,
        or a number that does not split back from its list, undoes the savepoint: the careful way
        then reads first. One row (a single send) is looked up by its id instead: no savepoint."""
        if len(rows) == 1:
            return self._record_one(tx, rows[0], written)
        top = tx.one("SELECT coalesce(max(rowid), 0) FROM messages")
        assert top is not None
        tx.execute("SAVEPOINT messages")
        if self._insert_message_rows(tx, rows, written) == len(rows):
            early = [row[0] for row in tx.all(_NEW_WITH_RECEIPTS, (top[0],))]
            tally: Counter[tuple[str, rollup.Kind]] = Counter()
            stored = 0
            mainland = rollup.MAINLAND
            query = _NEW_TALLY.format(_WITHOUT_RECEIPTS if early else "")
            for status, fee, code, n, listed in tx.all(
                query, (mainland, mainland, top[0], mainland, mainland)
            ):
                kind = (status, int(fee), code)
                if listed is None:  # the mainland's
                    tally[(rollup.MAINLAND_COUNTRY, kind)] += n
                else:  # counted in C
                    numbers = listed.split(",")
                    if len(numbers) != n:  # a number held a comma
                        break
                    tally.update(zip(rollup.countries(numbers), repeat(kind)))
                stored += n
            if stored + len(early) == len(rows):  # every row counted: the rowids were all above top
                tx.execute("RELEASE messages")
                self._refresh_status(tx, early, written.at)  # they take their receipt's status
                rollup.add_tally(tx, written.at, written.template_id, written.caller, tally)
                if early:
                    rollup.apply_change(tx, {}, early)
                return True
        tx.execute("ROLLBACK TO messages")
        tx.execute("RELEASE messages")
        return False

    def _record_one(self, tx: Tx, row: SendResult, written: Written) -> bool:
        """`_record_new` of one row: inserted unless its id is stored (then nothing changed and the
        careful way runs), then counted as the careful way counts a row that was not there before."""
        if self._insert_message_rows(tx, (row,), written) != 1:
            return False
        self._count_inserted(tx, (row,), written, {})
        return True

    def _add_key_hits(self, tx: Tx, keys: Sequence[str], rules: Sequence[tuple[str, int, int]]) -> None:
        # a multi send's keys as one JSON array a rule: a third of the CPU of a bound row each
        if self._json_each is None:
            self._json_each = has_json_each(self._connection())  # inside the transaction's lock
        if not self._json_each:
            return super()._add_key_hits(tx, keys, rules)
        array = json.dumps(list(keys))
        for name, start, expires in rules:
            tx.execute(
                "INSERT INTO rate_counts (name, rkey, bucket_at, expires_at, hits)"
                " SELECT ?, value, ?, ?, 1 FROM json_each(?) WHERE true"
                " ON CONFLICT (name, rkey, bucket_at) DO UPDATE SET hits = rate_counts.hits + 1",
                (name, start, expires, array),
            )

    def _decide_then_write(self, hit: BudgetWrite, size: int) -> list[RateDecision]:
        """A long list's decisions as soon as they are made, its hits written and committed after,
        in a thread of their own: the first chunks go out while SQLite writes the counters (in C,
        without the GIL), instead of after. The transaction holds the database's write lock from
        its reads to its commit, so no other writer, in this process or another, decides on counts
        without these hits; this process's next store call waits for the commit (`_mutex`)."""
        if size < EARLY_DECISIONS_FROM:
            return super()._decide_then_write(hit, size)
        from concurrent.futures import Future  # loaded anyway by the send that follows (asyncio)

        decided: Future[list[RateDecision]] = Future()

        def write() -> None:
            try:
                decisions = self.transaction(lambda tx: hit(tx, decided.set_result))
            except BaseException as error:  # handed to the caller, or logged
                if not decided.done():
                    decided.set_exception(error)
                    return
                from shared.observability import logger  # here: a store alone loads no powertools

                logger.error(  # the numbers were let through: their hits are not counted
                    "rate-limit hits not recorded",
                    extra={"numbers": size, "error_code": getattr(error, "code", "internal_error")},
                    exc_info=not isinstance(error, SmsError),
                )
            else:
                if not decided.done():  # nothing allowed: nothing to write after deciding
                    decided.set_result(decisions)

        thread = threading.Thread(target=write, name=BUDGET_THREAD, daemon=True)
        self._writing = [*(t for t in self._writing if t.is_alive()), thread]
        thread.start()
        return decided.result()

    def settle(self) -> None:
        for thread in self._writing:
            thread.join()

    def close(self) -> None:
        self.settle()
        with self._mutex:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()


def has_json_each(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has `json_each` (built in since 3.38, a compile option before)."""
    try:
        conn.execute("SELECT value FROM json_each('[1]')").fetchall()
    except sqlite3.OperationalError:
        return False
    return True


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the original error is the one worth reporting
            conn.execute("ROLLBACK")


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration (0 for a new database)."""
    try:
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations under the write lock (safe when processes race); return the version."""
    if schema_version(conn) >= len(MIGRATIONS):
        return schema_version(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
        )
        current = schema_version(conn)
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, int(time.time()))
            )
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return len(MIGRATIONS)
