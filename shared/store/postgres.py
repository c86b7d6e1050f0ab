"""PostgreSQL store (psycopg 3): one connection per store, explicit transactions.

Read-then-write sections take transaction-scoped advisory locks on their keys (in one sorted
order, so they cannot deadlock each other). A connection found dead (the server restarted
under a warm container) is reopened and the transaction retried once, but only when it had not
reached COMMIT; a deadlock or serialization failure is retried a few times. Anything else that
keeps the database out of reach is `StoreUnavailableError`, with the URL's password scrubbed.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar, cast

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import errors as pg_errors

from shared.errors import ConfigurationError, SmsError, StoreUnavailableError
from shared.store.base import ORPHAN_RECEIPT_TTL, redact_url, scrub, url_secrets
from shared.store.sql import Row, SqlStore, Tx, refresh_status_sql, statements
from shared.store.stats import migration as stats_migration

T = TypeVar("T")

CONNECT_TIMEOUT = 5  # seconds; unless the URL sets connect_timeout
LOCK_TIMEOUT = "10s"  # longest wait for a row or advisory lock before giving up
_CONFLICT_RETRIES = 3
_CONFLICTS = (pg_errors.TransactionRollback, pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
# Rate-limit counters are locked by stripe: a multi send of 20,000 numbers names 60,000 counters,
# and advisory locks share the server's lock table (64 × max_connections by default).
RATE_LOCK_STRIPES = 256
_CACHED_PARAMS = 50  # psycopg parses a statement with more parameters anew on every execute
_REFRESH_STATUSES = refresh_status_sql("message_id = ANY(%b::text[])")

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
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX messages_phone ON messages (phone, created_at);
    CREATE TABLE receipts (
        id BIGSERIAL PRIMARY KEY,
        message_id TEXT NOT NULL,
        phone TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'unknown')),
        carrier_code TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        received_at BIGINT NOT NULL,
        session_context TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        stored_at BIGINT NOT NULL,
        UNIQUE (message_id, status, carrier_code, received_at)
    );
    CREATE INDEX receipts_phone ON receipts (phone, received_at);
    CREATE TABLE replies (
        id BIGSERIAL PRIMARY KEY,
        reply_key TEXT NOT NULL UNIQUE,
        phone TEXT NOT NULL,
        text TEXT NOT NULL,
        sign TEXT NOT NULL DEFAULT '',
        extend TEXT NOT NULL DEFAULT '',
        replied_at BIGINT NOT NULL,
        source TEXT NOT NULL,
        stored_at BIGINT NOT NULL
    );
    CREATE INDEX replies_phone ON replies (phone, replied_at);
    CREATE TABLE idempotency (
        idem_key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
        response TEXT,
        ttl BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX idempotency_expires ON idempotency (expires_at);
    CREATE TABLE rate_hits (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        rkey TEXT NOT NULL,
        hit_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX rate_hits_key ON rate_hits (name, rkey, hit_at);
    CREATE INDEX rate_hits_expires ON rate_hits (expires_at);
    CREATE TABLE otp_codes (
        id TEXT PRIMARY KEY,
        phone TEXT NOT NULL,
        purpose TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        caller TEXT NOT NULL DEFAULT '',
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'used', 'locked', 'superseded')),
        resend_after BIGINT NOT NULL DEFAULT 0
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
        bucket_at BIGINT NOT NULL,
        hits INTEGER NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (name, rkey, bucket_at)
    );
    CREATE INDEX rate_counts_expires ON rate_counts (expires_at);
    INSERT INTO rate_counts (name, rkey, bucket_at, hits, expires_at)
        SELECT name, rkey, hit_at, COUNT(*), MAX(expires_at) FROM rate_hits GROUP BY name, rkey, hit_at;
    DROP TABLE rate_hits;
    """,
    # 3: reconciliation (see shared/reconcile.py): when a `submitted` message is next due for a
    # per-number pull, why a message ended `unknown` without a receipt, and an index of the
    # `submitted` messages only (a message leaves it when its receipt comes).
    """
    ALTER TABLE messages ADD COLUMN reconcile_at BIGINT;
    ALTER TABLE messages ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
    CREATE INDEX messages_submitted ON messages (created_at) WHERE status = 'submitted';
    """,
    # 4: short-lived answers shared by every container (the per-number status read-through).
    """
    CREATE TABLE read_cache (
        ckey TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at BIGINT NOT NULL
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
        created_at BIGINT NOT NULL DEFAULT 0,
        synced_at BIGINT NOT NULL
    );
    """,
    # 6: the suppression list (opt-outs, shared/suppressions.py): a number's latest opt-out or
    # opt-in, kept when taken off so an older reply processed later cannot put it back.
    """
    CREATE TABLE suppressions (
        phone TEXT PRIMARY KEY,
        suppressed INTEGER NOT NULL CHECK (suppressed IN (0, 1)),
        changed_at BIGINT NOT NULL,
        sign TEXT NOT NULL DEFAULT '',
        keyword TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX suppressions_on ON suppressions (phone) WHERE suppressed = 1;
    """,
    # 7: the delivery-statistics rollup, filled from the stored messages (see shared/store/stats.py)
    stats_migration("BIGINT"),
    # 8: SQLite drops its index of the counters' expiry; this one stays: the purge takes expired
    # rows a batch at a time, skipping those a send holds, and finds them by it.
    "SELECT 1;",
    # 9: a number's rules (`sms:phone:<limit>/<window>`, limit <= 100) count the same sends by the
    # second, so their rows merge into one series, `sms:phone` (see common.counter_name); the hits
    # in flight carry over (a bucket's rows hold the same hits in each rule still counting it).
    """
    INSERT INTO rate_counts (name, rkey, bucket_at, hits, expires_at)
        SELECT 'sms:phone', rkey, bucket_at, MAX(hits), MAX(expires_at) FROM rate_counts
        WHERE name ~ '^sms:phone:[0-9]+/' AND split_part(substr(name, 11), '/', 1)::bigint <= 100
        GROUP BY rkey, bucket_at;
    DELETE FROM rate_counts
        WHERE name ~ '^sms:phone:[0-9]+/' AND split_part(substr(name, 11), '/', 1)::bigint <= 100;
    """,
)


def lock_id(namespace: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for a key."""
    digest = hashlib.blake2b(f"{namespace}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_SCHEMA_LOCK = lock_id("schema", "sms-functions")
_PLACEHOLDERS: dict[str, str] = {}


def _pg_sql(sql: str) -> str:
    converted = _PLACEHOLDERS.get(sql)
    if converted is None:
        converted = _PLACEHOLDERS[sql] = sql.replace("?", "%s")
    return converted


class _CopyingTx(Tx, Protocol):
    def copy_in(self, copy_sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class _PgTx:
    """`Tx` over a psycopg cursor (`?` becomes `%s`)."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cur.execute(_pg_sql(sql), tuple(params))
        return self._cur.rowcount

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(_pg_sql(sql), [tuple(row) for row in rows])  # pipelined by psycopg 3

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._cur.execute(_pg_sql(sql), tuple(params))
        return self._cur.fetchone()

    def copy_in(self, copy_sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """`COPY … FROM STDIN` these rows."""
        with self._cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cur.execute(_pg_sql(sql), tuple(params))
        return self._cur.fetchall()


class PostgresStore(SqlStore):
    """The store in a PostgreSQL database."""

    dialect = "postgresql"
    _ids_as_array = True

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self._conninfo = url
        self._secrets = url_secrets(url)
        self._conn: psycopg.Connection[Any] | None = None
        self._mutex = threading.RLock()

    # -- connection -------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        try:
            params = pg_conninfo.conninfo_to_dict(self._conninfo)
        except psycopg.ProgrammingError:
            raise ConfigurationError(f"SMS_STORE_URL is not a valid PostgreSQL URL: {self.url}") from None
        extra: dict[str, Any] = {}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in params:
            extra["application_name"] = "sms-functions"
        conn = psycopg.connect(self._conninfo, autocommit=False, **extra)
        try:
            conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            conn.commit()
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self._discard()
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def transaction(self, fn: Callable[[Tx], T], *, write: bool = True) -> T:  # noqa: ARG002 - SqlStore.transaction's signature
        with self._mutex:
            reconnected = False
            conflicts = 0
            while True:
                committing = False
                conn: psycopg.Connection[Any] | None = None
                try:
                    conn = self._connection()
                    with conn.cursor() as cur:
                        result = fn(_PgTx(cur))
                    committing = True
                    conn.commit()
                    return result
                except psycopg.Error as exc:
                    lost = conn is not None and (conn.closed or conn.broken)
                    if conn is not None and not lost:
                        _rollback(conn)
                    if lost:
                        self._discard()
                        if not committing and not reconnected:
                            reconnected = True  # the server went away while we were idle: once more
                            continue
                    elif isinstance(exc, _CONFLICTS) and conflicts < _CONFLICT_RETRIES:
                        conflicts += 1
                        time.sleep(0.01 * conflicts)
                        continue
                    failure = self._translate(exc)
                except BaseException:
                    if conn is not None and not (conn.closed or conn.broken):
                        _rollback(conn)
                    raise
                # raised out here, so the driver's exception (which may quote the URL) is not chained
                raise failure

    def _translate(self, exc: psycopg.Error) -> SmsError:
        text = scrub(str(exc).strip(), self._secrets)
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return StoreUnavailableError(f"PostgreSQL store {self.url} unavailable: {text}")
        return SmsError(
            f"PostgreSQL store {self.url} rejected a statement: {type(exc).__name__}: {text}",
            code="store_error",
        )

    def _lock(self, tx: Tx, namespace: str, keys: Iterable[str]) -> None:
        if namespace == "rate":  # one lock per counter would overflow the server's lock table
            keys = {str(lock_id(namespace, key) % RATE_LOCK_STRIPES) for key in keys}  # on big sends
            namespace = "rate-stripe"
        locks = sorted({lock_id(namespace, key) for key in keys})
        for start in range(0, len(locks), _CACHED_PARAMS):  # in one round trip, taken left to right
            part = locks[start : start + _CACHED_PARAMS]
            tx.execute("SELECT " + ", ".join(["pg_advisory_xact_lock(?)"] * len(part)), part)

    # A statement with more parameters than psycopg's query cache takes (50) is parsed anew, in
    # Python, on every execute. So a bigger batch of rows is COPYed (psycopg formats its rows in C)
    # into a session-private table and inserted from there, and a longer id list goes as one array
    # (docs/performance.md, "The store's share").

    def _insert_ignore_rows(self, tx: Tx, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> int:
        if len(rows) * len(rows[0]) <= _CACHED_PARAMS:
            return super()._insert_ignore_rows(tx, table, columns, rows)  # one cached statement
        batch = self._copy_to_batch(tx, table, columns, rows)
        return tx.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {batch} ORDER BY n"  # noqa: S608
            " ON CONFLICT DO NOTHING"
        )

    def _insert_new(self, tx: Tx, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
        if len(rows) <= 2:  # a statement a row: fewer round trips than the COPY's three
            return super()._insert_new(tx, table, columns, rows)
        batch = self._copy_to_batch(tx, table, columns, rows)
        return [
            row[0]
            for row in tx.all(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {batch} ORDER BY n"  # noqa: S608
                f" ON CONFLICT DO NOTHING RETURNING {columns.partition(',')[0]}",
            )
        ]

    def _copy_to_batch(self, tx: Tx, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> str:
        """COPY the rows, numbered in column `n`, into this session's batch table for `table` (made
        on first use, emptied at every commit, so it also works behind a transaction-pooling
        proxy); its name. Inserting from it `ORDER BY n` takes the rows' locks in their order."""
        batch = f"sms_batch_{table}"
        tx.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {batch} ON COMMIT DELETE ROWS AS"  # noqa: S608
            f" SELECT {columns}, 0::bigint AS n FROM {table} WITH NO DATA"
        )
        cast(_CopyingTx, tx).copy_in(
            f"COPY {batch} ({columns}, n) FROM STDIN", [(*row, n) for n, row in enumerate(rows)]
        )
        return batch

    def _refresh_status(self, tx: Tx, message_ids: Iterable[str], now: int) -> None:
        ids = sorted(set(message_ids))
        if len(ids) > 1:  # one statement; PostgreSQL scans = ANY(…) in key order: locks in one order
            tx.execute(_REFRESH_STATUSES, (now, ids))
        elif ids:
            super()._refresh_status(tx, ids, now)

    def _with_receipts(self, tx: Tx, message_ids: Sequence[str]) -> list[str]:
        if len(message_ids) <= _CACHED_PARAMS:
            return super()._with_receipts(tx, message_ids)
        rows = tx.all(
            "SELECT DISTINCT message_id FROM receipts WHERE message_id = ANY(%b::text[])",
            (list(message_ids),),
        )
        return [row[0] for row in rows]

    # A rate-limit check's rows in one statement each, not executemany's pipeline: a round trip
    # less for each, and psycopg's pipeline costs more CPU than a statement (ad hoc, 4 checks).

    def _delete_stale_hits(self, tx: Tx, stale: Sequence[tuple[str, str, int]]) -> None:
        if len(stale) * 3 > _CACHED_PARAMS:
            return super()._delete_stale_hits(tx, stale)
        where = " OR ".join(["(name = ? AND rkey = ? AND bucket_at <= ?)"] * len(stale))
        tx.execute(f"DELETE FROM rate_counts WHERE {where}", [v for row in stale for v in row])  # noqa: S608

    # A multi send's counters: per rule, one SELECT (and, for stale rows, one DELETE) over an array
    # of keys; every new hit COPYed and upserted in one statement, whatever the number of keys.

    def _rate_rows(
        self, tx: Tx, rules: Sequence[tuple[str, Sequence[str]]]
    ) -> Iterable[tuple[str, str, int, int]]:
        for name, keys in rules:
            for key, bucket_at, hits in tx.all(
                "SELECT rkey, bucket_at, hits FROM rate_counts WHERE name = ? AND rkey = ANY(%b::text[])",
                (name, list(keys)),
            ):
                yield name, key, int(bucket_at), int(hits)

    def _key_rows(
        self, tx: Tx, names: Sequence[str], keys: Sequence[str]
    ) -> Iterable[tuple[str, str, int, int]]:
        for name, key, bucket_at, hits in tx.all(
            "SELECT name, rkey, bucket_at, hits FROM rate_counts"
            " WHERE name = ANY(%b::text[]) AND rkey = ANY(%b::text[])",
            (list(names), list(keys)),
        ):
            yield name, key, int(bucket_at), int(hits)

    def _delete_stale_keys(self, tx: Tx, name: str, up_to: int, keys: Sequence[str]) -> None:
        tx.execute(
            "DELETE FROM rate_counts WHERE name = ? AND bucket_at <= ? AND rkey = ANY(%b::text[])",
            (name, up_to, list(keys)),
        )

    def _add_hit_counts(self, tx: Tx, hits: Sequence[tuple[str, str, int, int, int]]) -> None:
        if len(hits) * 5 <= _CACHED_PARAMS:
            return self._add_hits_rows(tx, hits)
        columns = "name, rkey, bucket_at, expires_at, hits"
        batch = self._copy_to_batch(tx, "rate_counts", columns, hits)
        tx.execute(
            f"INSERT INTO rate_counts ({columns}) SELECT {columns} FROM {batch} ORDER BY n"  # noqa: S608
            " ON CONFLICT (name, rkey, bucket_at) DO UPDATE SET hits = rate_counts.hits + EXCLUDED.hits"
        )

    def _add_hits_rows(self, tx: Tx, hits: Sequence[tuple[str, str, int, int, int]]) -> None:
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(hits))
        tx.execute(
            f"INSERT INTO rate_counts (name, rkey, bucket_at, expires_at, hits) VALUES {values}"  # noqa: S608
            " ON CONFLICT (name, rkey, bucket_at) DO UPDATE SET hits = rate_counts.hits + EXCLUDED.hits",
            [v for row in hits for v in row],
        )

    def purge_expired(self, now: int, *, orphan_receipt_ttl: int = ORPHAN_RECEIPT_TTL) -> int:
        # skip rows a live rate-limit transaction is pruning itself, instead of waiting on them
        total = self.transaction(
            lambda tx: tx.execute(
                "DELETE FROM rate_counts WHERE ctid IN (SELECT ctid FROM rate_counts WHERE expires_at <= ?"
                " FOR UPDATE SKIP LOCKED)",
                (now,),
            )
        )
        total += self.transaction(
            lambda tx: tx.execute("DELETE FROM idempotency WHERE expires_at <= ?", (now,))
        )
        total += self.transaction(
            lambda tx: tx.execute("DELETE FROM read_cache WHERE expires_at <= ?", (now,))
        )
        return total + self.otp_purge_expired(now) + self._purge_orphan_receipts(now - orphan_receipt_ttl)

    def close(self) -> None:
        with self._mutex:
            self._discard()


def _rollback(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):  # the original error is the one worth reporting
        conn.rollback()


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest applied migration (0 for a new database)."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone() if exists and exists[0] else None
    conn.commit()
    return int(row[0] or 0) if row else 0


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Apply pending migrations under an advisory lock (safe when processes race)."""
    if schema_version(conn) >= len(MIGRATIONS):
        return len(MIGRATIONS)
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        )
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = int(row[0] or 0) if row else 0
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                (version, int(time.time())),
            )
        conn.commit()
    except BaseException:
        _rollback(conn)
        raise
    return len(MIGRATIONS)
