"""Messages, receipts and replies: idempotent saves, status from receipts, all-or-nothing."""

from __future__ import annotations

import sqlite3
import sys
import uuid
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.models import Receipt, ReceiptStatus, Reply, SendResult, SendStatus
from shared.store import Store
from shared.store.base import RECEIPT_STATUSES
from shared.store.sql import SqlStore
from shared.store.sqlite import SqliteStore
from tests.store.helpers import InjectedFailure, count_items, fail_statement, fail_write, raw_rows

PHONE = "+8613800000000"
OTHER = "+8613900000000"


def sent(message_id: str, phone: str = PHONE, status: SendStatus = "submitted") -> SendResult:
    return SendResult(phone, message_id, status, fee=1, code="Ok", message="send success")


def receipt(
    message_id: str, status: ReceiptStatus = "delivered", at: int = 1000, code: str = "DELIVRD"
) -> Receipt:
    return Receipt(message_id, PHONE, status, code, "user received", at)


def record(store: Store, *results: SendResult, now: int = 900) -> None:
    store.record_sends(results, template_id="7839", params=["1234"], sign="腾讯云", caller="app:1", now=now)


def test_record_sends_and_get_message(store: Store) -> None:
    m2_sent = sent("m2", OTHER, "unknown")._replace(session_context="ctx-2")
    record(store, sent("m1"), sent("", phone=OTHER, status="failed"), m2_sent)
    message = store.get_message("m1")
    assert message is not None
    assert (message.phone, message.template_id, message.params, message.sign) == (
        PHONE,
        "7839",
        ["1234"],
        "腾讯云",
    )
    assert (message.status, message.fee, message.code, message.caller) == ("submitted", 1, "Ok", "app:1")
    assert (message.created_at, message.updated_at, message.latest_receipt) == (900, 900, None)
    m2 = store.get_message("m2")
    assert m2 is not None
    assert (m2.status, m2.session_context, message.session_context) == ("unknown", "ctx-2", "")
    assert store.get_message("") is None
    assert store.get_message("nope") is None
    body = message.to_dict()
    assert body["message_id"] == "m1"
    assert body["latest_receipt"] is None
    assert body["params"] == ["1234"]


def test_a_large_batch_is_stored_whole_and_keeps_earlier_rows(store_url: str, store: Store) -> None:
    """Rows go in several at a statement; a batch longer than one statement, holding an id that is
    already stored, stores every new row once and leaves the stored one as it was."""
    record(store, sent("m-0007", phone=OTHER), now=800)
    batch = [sent(f"m-{i:04d}", phone=f"+86138{i:08d}") for i in range(250)]
    record(store, *batch, now=900)
    if store.dialect == "dynamodb":
        assert count_items(store, "M#", sk="M") == 250
    else:
        (count,) = raw_rows(store_url, "SELECT COUNT(*) FROM messages")
        assert count[0] == 250
    for i in (0, 79, 80, 249):
        message = store.get_message(f"m-{i:04d}")
        assert message is not None
        assert message.phone == f"+86138{i:08d}"
        assert message.created_at == 900
    kept = store.get_message("m-0007")
    assert kept is not None
    assert kept.phone == OTHER
    assert kept.created_at == 800


def test_a_batch_of_2000_keeps_every_field_and_applies_early_receipts(store: Store) -> None:
    """send_multi's writer stores up to 2,000 rows at once: every field survives (PostgreSQL sends
    them as one array per column), and receipts that came before their sends, anywhere in the
    batch (past SQLite's 500 ids to an IN list), give those messages their status."""
    early: dict[int, ReceiptStatus] = {5: "failed", 499: "delivered", 500: "failed", 1999: "delivered"}
    for i, status in early.items():
        store.save_receipts([receipt(f"b-{i:04d}", status, code=status.upper())], source="callback", now=800)
    batch = [
        sent(f"b-{i:04d}", phone=f"+86138{i:08d}")._replace(session_context="订单 42") for i in range(2000)
    ]
    store.record_sends(batch, template_id="1234567", params=["甲", "b'c\\d\""], sign="腾讯云", caller="app:9",
                       now=2**40)  # fmt: skip
    for i in (0, 5, 499, 500, 1234, 1999):
        message = store.get_message(f"b-{i:04d}")
        assert message is not None
        assert (message.phone, message.template_id, message.params, message.sign, message.caller) == (
            f"+86138{i:08d}", "1234567", ["甲", "b'c\\d\""], "腾讯云", "app:9",
        )  # fmt: skip
        assert (message.fee, message.code, message.created_at, message.session_context) == (
            1,
            "Ok",
            2**40,
            "订单 42",
        )
        assert message.status == early.get(i, "submitted")


def test_recording_the_same_send_twice_keeps_the_first(store: Store) -> None:
    record(store, sent("m1"), now=900)
    record(store, sent("m1", phone=OTHER), now=950)
    message = store.get_message("m1")
    assert message is not None
    assert message.phone == PHONE
    assert message.created_at == 900


def test_an_id_twice_in_one_batch_keeps_its_first_row(store: Store) -> None:
    """Whatever order a store inserts a batch in (SQLite: by phone), the first row of an id
    named twice is the one stored, and the statistics count it once."""
    record(store, sent("m1", phone=OTHER), sent("m2"), sent("m1", phone=PHONE, status="unknown"), now=900)
    message = store.get_message("m1")
    assert message is not None
    assert (message.phone, message.status) == (OTHER, "submitted")
    assert store.stats(0, 10_000, "status").totals["sent"] == 2


def test_a_batch_partly_recorded_before_keeps_those_rows_and_counts_each_message_once(store: Store) -> None:
    """A retried write names stored ids among new ones: the stored rows and their counts stay as
    they were (SQLite inserts first and, finding ids it had, undoes that and goes the careful way)."""
    record(store, sent("m1"), sent("m2", OTHER), now=900)
    again = (sent("m1", status="failed"), sent("m3"), sent("m2", OTHER, "unknown"), sent("m4", OTHER))
    record(store, *again, now=950)
    record(store, sent("m3", status="failed"), sent("m4", OTHER, "failed"), now=960)  # all stored already
    messages = [store.get_message(m) for m in ("m1", "m2", "m3", "m4")]
    first = [("submitted", 900)] * 2 + [("submitted", 950)] * 2
    assert [(m.status, m.created_at) for m in messages if m] == first
    stats = store.stats(0, 10_000, "status").to_dict()
    assert stats["totals"]["sent"] == 4
    assert [(g["group"], g["sent"], g["fee"]) for g in stats["groups"] if g["sent"]] == [("submitted", 4, 4)]


@pytest.mark.parametrize("one_kind", [True, False], ids=["one-kind", "mixed"])
def test_a_batch_longer_than_a_statement_stores_each_row_once(store: Store, one_kind: bool) -> None:
    """Rows go `_rows_per_insert` to a statement (3,640 on SQLite since 3.32, 80 on PostgreSQL;
    SQLite: `_pairs_per_insert`, 4,000, when they share their status, fee, code and context): a
    batch across several statements, with stored ids at their edges, keeps every row once and
    counts it, with its own fee."""
    step = store._rows_per_insert if isinstance(store, SqlStore) else 100
    step = getattr(store, "_pairs_per_insert", step) if one_kind else step
    ids = [f"b{i}" for i in range(2 * step + 3)]
    earlier = [ids[0], ids[step - 1], ids[step], ids[2 * step]]
    fee = [1] * len(ids) if one_kind else [1 + n % 2 for n in range(len(ids))]
    record(store, *(sent(i, f"+86139{n:08d}") for n, i in enumerate(earlier)), now=900)
    record(store, *(sent(i, f"+86138{n:08d}")._replace(fee=fee[n]) for n, i in enumerate(ids)), now=950)
    totals = store.stats(0, 10_000, "status").totals
    kept = sum(fee[ids.index(i)] for i in earlier)  # the new batch's fees of the ids stored before
    assert (totals["sent"], totals["fee"]) == (len(ids), len(earlier) + sum(fee) - kept)
    stored = [store.get_message(i) for i in (*earlier, ids[1], ids[-1])]
    found = [(m.created_at, m.phone[:6], m.fee) for m in stored if m is not None]
    assert found == [(900, "+86139", 1)] * 4 + [(950, "+86138", fee[1]), (950, "+86138", fee[-1])]


def test_a_status_no_message_has_is_stored_as_unknown(store: Store) -> None:
    """A result with an id but a status of no message (held back, opted out) is kept as `unknown`,
    on the fast way (every id new) and on the careful one, and counted so."""
    odd = sent("m1")._replace(status="rate_limited")
    record(store, odd, sent("m2"), now=900)
    record(store, sent("m2"), odd._replace(message_id="m3", status="suppressed"), now=950)
    one_kind = (odd._replace(message_id="m4"), odd._replace(message_id="m5", phone=OTHER))
    record(store, *one_kind, now=960)
    assert [m.status for m in map(store.get_message, ("m1", "m2", "m3", "m4", "m5")) if m] == [
        "unknown",
        "submitted",
        "unknown",
        "unknown",
        "unknown",
    ]
    groups = {g["group"]: g["sent"] for g in store.stats(0, 10_000, "status").to_dict()["groups"]}
    assert {k: n for k, n in groups.items() if n} == {"unknown": 4, "submitted": 1}


def test_sqlite_statements_stay_inside_the_documented_limit(tmp_path: Path) -> None:
    """A batch of several full statements goes through a connection held to SQLite's documented
    limit of values a statement (32,766 since 3.32, 999 before), whatever the linked library allows."""
    store = SqliteStore(f"sqlite:///{tmp_path / 'store.db'}")
    conn = store._connection()
    if sys.version_info >= (3, 11):  # Connection.setlimit
        limit = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        assert conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == limit
    one_kind = [sent(f"a{n}", f"+86138{n:08d}") for n in range(2 * store._pairs_per_insert + 1)]
    fees = [n % 2 for n in range(2 * store._rows_per_insert + 1)]
    mixed = [sent(f"b{n}", f"+86139{n:08d}")._replace(fee=fee) for n, fee in enumerate(fees)]
    record(store, *one_kind, now=950)
    record(store, *mixed, now=950)
    assert store.stats(0, 10_000, "status").totals["sent"] == len(one_kind) + len(mixed)
    store.close()


def _statements(store: SqliteStore, *results: SendResult, now: int) -> list[str]:
    ran: list[str] = []
    store._connection().set_trace_callback(ran.append)
    record(store, *results, now=now)
    store._connection().set_trace_callback(None)
    return ran


def test_sqlite_reads_no_earlier_state_for_a_batch_of_new_ids(tmp_path: Path) -> None:
    """Every id of a send is new: SQLite inserts the rows without looking up each id first, and
    counts them in SQL (the lookup is only for a batch that turns out to name a stored id)."""
    store = SqliteStore(f"sqlite:///{tmp_path / 'store.db'}")
    record(store, sent("m0"), now=900)  # schema made, statements warm

    new = _statements(store, sent("m1"), sent("m2", OTHER), now=950)
    assert not [sql for sql in new if "WHERE m.message_id IN" in sql], new
    assert [sql for sql in new if "count(*)" in sql and "FROM messages" in sql]
    again = _statements(store, sent("m2", OTHER), sent("m3"), now=960)  # m2 is stored: undone, read, inserted
    assert [sql.split(" ")[0] for sql in again if sql.startswith(("SAVEPOINT", "ROLLBACK", "RELEASE"))] == [
        "SAVEPOINT",
        "ROLLBACK",
        "RELEASE",
    ]
    assert [sql for sql in again if "WHERE m.message_id IN" in sql]
    assert store.stats(0, 10_000, "status").totals["sent"] == 4
    store.close()


def test_sqlite_records_a_single_send_by_its_id(tmp_path: Path) -> None:
    """One row (a single send) is inserted and its receipt looked up by id: no savepoint, no
    rowid range, no batch tally. A stored id changes nothing and goes the careful way."""
    store = SqliteStore(f"sqlite:///{tmp_path / 'store.db'}")
    record(store, sent("m0"), now=900)
    assert store.save_receipts([receipt("m2", "failed", code="UNDELIV")], source="callback", now=950) == 1

    for new in (sent("m1", "+447400123456"), sent("m2", OTHER)):  # the second's receipt came first
        ran = _statements(store, new, now=960)
        assert not [sql for sql in ran if sql.startswith(("SAVEPOINT", "ROLLBACK")) or "rowid" in sql], ran
        assert [sql for sql in ran if "FROM receipts WHERE message_id IN" in sql], ran
    again = _statements(store, sent("m1", status="failed"), now=970)  # stored: kept as it was
    assert [sql for sql in again if "WHERE m.message_id IN" in sql], again

    first, second = store.get_message("m1"), store.get_message("m2")
    assert first is not None
    assert (first.status, first.phone, first.created_at) == ("submitted", "+447400123456", 960)
    assert second is not None
    assert second.status == "failed"
    totals = store.stats(0, 10_000, "status").totals
    assert (totals["sent"], totals["failed"]) == (3, 1)
    assert {g["group"]: g["sent"] for g in store.stats(0, 10_000, "country").to_dict()["groups"]} == {
        "CN": 2,
        "GB": 1,
    }
    store.close()


STATUSES: tuple[SendStatus, ...] = ("submitted", "failed", "unknown")


def test_sqlite_counts_a_new_batch_by_country_and_kind_in_sql(tmp_path: Path) -> None:
    """A new batch of several countries and kinds is counted without reading a message back: the
    mainland as one, the other numbers listed once a kind, each under its own country — the same
    counts as the careful way gives for the same messages, on a SQLite without JSON functions."""
    numbers = ["+14155552671", "+447400123456", "+14155552672", "+8613800000001", "+4915123456789"]
    batch = [
        SendResult(number, f"n{i}", status, i % 3, "Ok" if status == "submitted" else f"E{i % 2}", "")
        for i, (number, status) in enumerate((numbers[i % len(numbers)], STATUSES[i % 3]) for i in range(60))
    ]
    fast = SqliteStore(f"sqlite:///{tmp_path / 'fast.db'}")
    careful = SqliteStore(f"sqlite:///{tmp_path / 'careful.db'}")
    for store in (fast, careful):
        record(store, sent("m0"), now=900)
    _without_json_functions(fast)  # as a SQLite before 3.38 may be built
    ran = _statements(fast, *batch, now=950)
    assert not [sql for sql in ran if "WHERE m.message_id IN" in sql or "ROLLBACK" in sql], ran
    careful._record_new = lambda *_: False  # type: ignore[method-assign]
    record(careful, *batch, now=950)
    for group_by in ("country", "status", "caller"):
        counted = fast.stats(0, 10_000, group_by)
        assert counted == careful.stats(0, 10_000, group_by)
    by_country = {g["group"]: g["sent"] for g in fast.stats(0, 10_000, "country").groups}
    assert by_country == {"CN": 13, "US": 24, "GB": 12, "DE": 12}
    for store in (fast, careful):
        store.close()


def _without_json_functions(store: SqliteStore) -> None:
    """The scalar JSON functions a tally could call fail, as where SQLite lacks them (a table-valued
    `json_each` cannot be overridden; the store asks whether it has one before using it)."""

    def missing(*_: object) -> None:
        raise sqlite3.OperationalError("no JSON functions in this SQLite")

    for name in ("json", "json_quote", "json_array", "json_group_array"):
        store._connection().create_function(name, -1, missing)


def test_sqlite_counts_a_batch_whose_numbers_hold_a_comma_the_careful_way(tmp_path: Path) -> None:
    """The fast tally lists a kind's numbers comma-joined; text that is no number (a store is
    handed what it is handed) cannot be split back, so the batch is counted the careful way."""
    phones = ("+1415555,2671", "+14155552672", "+86138000001")
    batch = [sent(f"n{i}", phone) for i, phone in enumerate(phones)]
    fast = SqliteStore(f"sqlite:///{tmp_path / 'fast.db'}")
    careful = SqliteStore(f"sqlite:///{tmp_path / 'careful.db'}")
    ran = _statements(fast, *batch, now=950)
    assert "ROLLBACK TO messages" in ran
    careful._record_new = lambda *_: False  # type: ignore[method-assign]
    record(careful, *batch, now=950)
    assert fast.stats(0, 10_000, "country") == careful.stats(0, 10_000, "country")
    assert fast.stats(0, 10_000, "status").totals["sent"] == 3
    for store in (fast, careful):
        store.close()


def test_sqlite_counts_new_rows_by_rowid_only_when_they_follow_the_table(tmp_path: Path) -> None:
    """The new rows are found by their rowids, above the table's largest before the batch. A
    table holding the largest rowid there is makes SQLite pick them at random: the batch then
    goes the careful way, and every message is stored and counted once all the same."""
    store = SqliteStore(f"sqlite:///{tmp_path / 'store.db'}")
    record(store, sent("m0"), now=900)
    conn = store._connection()
    conn.execute("UPDATE messages SET rowid = 9223372036854775807 WHERE message_id = 'm0'")
    ran = _statements(store, *(sent(f"m{i}", f"+86138{i:08d}") for i in range(1, 40)), now=950)
    assert "ROLLBACK TO messages" in ran
    assert store.stats(0, 10_000, "status").totals["sent"] == 40
    assert [m.created_at for m in map(store.get_message, ("m0", "m1", "m39")) if m] == [900, 950, 950]
    store.close()


def test_receipts_are_idempotent_and_update_status(store: Store) -> None:
    record(store, sent("m1"))
    r = receipt("m1")
    assert store.save_receipts([r], source="pull", now=1001) == 1
    assert store.save_receipts([r], source="callback", now=1002) == 0  # push and pull overlap
    assert store.save_receipts([r, r], source="phone_pull", now=1003) == 0
    assert store.receipts_for("m1") == [r]
    message = store.get_message("m1")
    assert message is not None
    assert message.status == "delivered"
    assert message.updated_at == 1001
    assert message.latest_receipt == r
    assert message.to_dict()["latest_receipt"]["carrier_code"] == "DELIVRD"


def test_one_batch_of_receipts_decides_each_message(store: Store) -> None:
    """Receipts for several stored messages in one batch (PostgreSQL updates them in one
    statement): each message gets the status its own deciding receipt gives."""
    record(store, *[sent(f"s-{i}") for i in range(6)], now=900)
    batch = [
        receipt("s-0", "delivered"),
        receipt("s-1", "failed", code="UNDELIV"),
        receipt("s-2", "unknown", code=""),
        receipt("s-3", "delivered", at=1000),
        receipt("s-3", "failed", at=1010, code="UNDELIV"),  # the later one decides
        receipt("s-4", "unknown", at=1010, code=""),
        receipt("s-4", "delivered", at=1000),  # a definitive one decides over a later unknown
        receipt("nobody", "delivered"),  # a receipt whose send is not stored (yet)
    ]
    assert store.save_receipts(batch, source="pull", now=2000) == 8
    messages = {f"s-{i}": store.get_message(f"s-{i}") for i in range(6)}
    assert {k: m.status for k, m in messages.items() if m} == {
        "s-0": "delivered", "s-1": "failed", "s-2": "unknown", "s-3": "failed", "s-4": "delivered",
        "s-5": "submitted",
    }  # fmt: skip
    assert {k: m.updated_at for k, m in messages.items() if m} == {
        **{f"s-{i}": 2000 for i in range(5)},
        "s-5": 900,
    }


def test_duplicates_within_one_batch_count_once(store: Store) -> None:
    batch = [receipt("m1"), receipt("m1"), receipt("m1", at=1001), receipt("m2", "failed", code="UNDELIV")]
    assert store.save_receipts(batch, source="pull", now=1) == 3


def test_latest_receipt_decides_status(store: Store) -> None:
    record(store, sent("m1"))
    store.save_receipts([receipt("m1", "failed", at=1000, code="MK:0001")], source="pull", now=1001)
    assert store.get_message("m1").status == "failed"  # type: ignore[union-attr]
    store.save_receipts([receipt("m1", "delivered", at=1010)], source="callback", now=1011)
    assert store.get_message("m1").status == "delivered"  # type: ignore[union-attr]
    # an older report arriving late does not win
    store.save_receipts([receipt("m1", "failed", at=990, code="MK:0002")], source="pull", now=1020)
    message = store.get_message("m1")
    assert message is not None
    assert message.status == "delivered"
    assert message.updated_at == 1011
    assert [r.received_at for r in store.receipts_for("m1")] == [990, 1000, 1010]


def test_unknown_receipts_only_decide_without_a_definitive_one(store: Store) -> None:
    record(store, sent("m1"))
    unknown = receipt("m1", "unknown", at=1000, code="")
    store.save_receipts([unknown], source="pull", now=1001)
    message = store.get_message("m1")
    assert message is not None
    assert message.status == "unknown"
    assert message.latest_receipt == unknown
    delivered = receipt("m1", "delivered", at=990)
    store.save_receipts([delivered], source="pull", now=1002)
    store.save_receipts([receipt("m1", "unknown", at=1050, code="?")], source="pull", now=1003)
    message = store.get_message("m1")
    assert message is not None
    assert message.status == "delivered"
    assert message.latest_receipt == delivered
    assert len(store.receipts_for("m1")) == 3


def test_receipt_statuses_cover_the_model() -> None:
    assert set(get_args(ReceiptStatus)) <= set(RECEIPT_STATUSES)


def test_receipt_before_send_is_kept_and_applied(store: Store) -> None:
    assert store.save_receipts([receipt("early", "failed", code="UNDELIV")], source="callback", now=5) == 1
    assert store.get_message("early") is None
    record(store, sent("early"), now=6)
    message = store.get_message("early")
    assert message is not None
    assert message.status == "failed"
    assert message.latest_receipt is not None
    assert message.latest_receipt.carrier_code == "UNDELIV"


def test_invalid_arguments_are_rejected_before_writing(store: Store) -> None:
    with pytest.raises(ValueError, match="source"):
        store.save_receipts([receipt("m1")], source="carrier-pigeon", now=1)
    with pytest.raises(ValueError, match="status"):
        store.save_receipts([receipt("m1"), receipt("m1", status="maybe")], source="pull", now=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source"):
        store.save_replies([], source="email", now=1)
    assert store.receipts_for("m1") == []
    assert store.save_receipts([], source="pull", now=1) == 0


def test_receipts_all_or_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    record(store, sent("m1"))
    batch = [receipt("m1"), receipt("m1", at=1001), receipt("m1", at=1002)]
    fail_statement(monkeypatch, store, fail_at=3)  # after two receipts were inserted
    with pytest.raises(InjectedFailure):
        store.save_receipts(batch, source="pull", now=1003)
    monkeypatch.undo()
    assert store.receipts_for("m1") == []
    message = store.get_message("m1")
    assert message is not None
    assert message.status == "submitted"
    assert store.save_receipts(batch, source="pull", now=1004) == 3


def test_status_update_is_part_of_the_transaction(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    record(store, sent("m1"))
    fail_statement(monkeypatch, store, fail_at=2)  # insert succeeds, status update fails
    with pytest.raises(InjectedFailure):
        store.save_receipts([receipt("m1")], source="pull", now=1001)
    monkeypatch.undo()
    assert store.receipts_for("m1") == []
    assert store.get_message("m1").status == "submitted"  # type: ignore[union-attr]


def test_sends_all_or_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_statement(monkeypatch, store, fail_at=2)
    with pytest.raises(InjectedFailure):
        record(store, sent("a"), sent("b"))
    monkeypatch.undo()
    assert store.get_message("a") is None
    assert store.get_message("b") is None


def test_a_big_batch_is_all_or_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch past one statement (SQLite: 80 rows to a statement; PostgreSQL: COPY, then an
    insert from the copy) failing at its third statement stores none of its rows; again, all."""
    batch = [sent(f"big-{i:03d}", phone=f"+86138{i:08d}") for i in range(300)]
    fail_statement(monkeypatch, store, fail_at=3)
    with pytest.raises(InjectedFailure):
        record(store, *batch)
    monkeypatch.undo()
    assert store.get_message("big-000") is None
    assert store.get_message("big-299") is None
    if store.dialect == "dynamodb":
        # BatchWriteItem is not a transaction: after the rollup count (a transaction) and the
        # phone history entries (12 requests of 25), the third request of messages failing keeps
        # the first two; the send's retry stores the rest, and every row once
        fail_write(monkeypatch, store, 1 + 12 + 3)
        with pytest.raises(InjectedFailure):
            record(store, *batch)
        monkeypatch.undo()
        assert count_items(store, "M#", sk="M") == 50
    record(store, *batch)
    if store.dialect == "dynamodb":
        assert count_items(store, "M#", sk="M") == 300
    assert all(store.get_message(f"big-{i:03d}") is not None for i in (0, 80, 160, 240, 299))


def test_replies_idempotent_and_filtered(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Reply(PHONE, "退订", "腾讯云", "", 100)
    second = Reply(PHONE, "TD", "腾讯云", "01", 200)
    other = Reply(OTHER, "hi", "", "", 150)
    assert store.save_replies([first, second, other, first], source="pull", now=300) == 3
    assert store.save_replies([second], source="callback", now=301) == 0
    # same text at another time, or with another extend, is another reply
    assert store.save_replies([Reply(PHONE, "退订", "腾讯云", "", 101)], source="pull", now=302) == 1
    assert store.save_replies([Reply(PHONE, "退订", "腾讯云", "9", 100)], source="pull", now=302) == 1
    assert store.replies_for(PHONE) == [first, Reply(PHONE, "退订", "腾讯云", "9", 100),
                                        Reply(PHONE, "退订", "腾讯云", "", 101), second]  # fmt: skip
    assert store.replies_for(PHONE, since=150) == [second]
    assert store.replies_for(OTHER) == [other]
    fail_statement(monkeypatch, store, fail_at=2)
    with pytest.raises(InjectedFailure):
        store.save_replies([Reply(OTHER, "x", "", "", 1), Reply(OTHER, "y", "", "", 2)], source="pull", now=1)
    monkeypatch.undo()
    assert store.replies_for(OTHER) == [other]


_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)


@st.composite
def receipt_batches(draw: st.DrawFn) -> list[Receipt]:
    ids = draw(st.lists(_text, min_size=1, max_size=4, unique=True))
    items = st.builds(
        Receipt,
        message_id=st.sampled_from(ids),
        phone=st.sampled_from([PHONE, OTHER]),
        status=st.sampled_from(["delivered", "failed", "unknown"]),
        carrier_code=st.sampled_from(["DELIVRD", "UNDELIV", "MK:0001", ""]),
        description=_text,
        received_at=st.integers(min_value=0, max_value=2**40),
        session_context=_text,
    )
    return draw(st.lists(items, max_size=25))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=receipt_batches())
def test_receipt_batches_round_trip(store: Store, batch: list[Receipt]) -> None:
    prefix = uuid.uuid4().hex + ":"  # examples share the database
    batch = [Receipt(**{**r.to_dict(), "message_id": prefix + r.message_id}) for r in batch]
    first: dict[tuple[str, str, str, int], Receipt] = {}
    for r in batch:
        first.setdefault((r.message_id, r.status, r.carrier_code, r.received_at), r)
    assert store.save_receipts(batch, source="pull", now=1) == len(first)
    assert store.save_receipts(batch[::-1], source="callback", now=2) == 0
    for message_id in {r.message_id for r in batch}:
        stored = store.receipts_for(message_id)
        expected = [r for key, r in first.items() if key[0] == message_id]
        assert sorted(stored, key=repr) == sorted(expected, key=repr)
        assert [r.received_at for r in stored] == sorted(r.received_at for r in stored)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(replies=st.lists(st.builds(Reply, phone=st.just(PHONE), text=_text, sign=_text, extend=_text,
                                  replied_at=st.integers(0, 2**40)), max_size=20))  # fmt: skip
def test_reply_batches_round_trip(store: Store, replies: list[Reply]) -> None:
    phone = "+86" + str(uuid.uuid4().int)[:11]
    replies = [Reply(phone, r.text, r.sign, r.extend, r.replied_at) for r in replies]
    unique = list(dict.fromkeys(replies))
    assert store.save_replies(replies, source="pull", now=1) == len(unique)
    assert store.save_replies(replies, source="callback", now=2) == 0
    assert sorted(store.replies_for(phone), key=repr) == sorted(unique, key=repr)


def test_receipts_of_unknown_messages_are_kept_until_they_expire(store: Store) -> None:
    """A receipt whose message this store never recorded is kept (its send may be recorded late) for
    `orphan_receipt_ttl` after it was stored, then purged; receipts of known messages stay."""
    from shared.store.base import ORPHAN_RECEIPT_TTL

    record(store, sent("known"))
    assert store.save_receipts([receipt("known"), receipt("stray")], source="callback", now=1000) == 2
    assert store.save_receipts([receipt("late")], source="callback", now=5000) == 1
    assert store.purge_expired(1000 + ORPHAN_RECEIPT_TTL - 1) == 0
    assert store.receipts_for("stray")
    assert store.receipts_for("late")
    assert store.purge_expired(1000 + ORPHAN_RECEIPT_TTL) == 1
    assert store.receipts_for("stray") == []
    assert store.receipts_for("late")
    assert store.purge_expired(5000 + 60, orphan_receipt_ttl=60) == 1
    assert store.receipts_for("late") == []
    assert [r.message_id for r in store.receipts_for("known")] == ["known"]  # a known message's stay
    assert store.purge_expired(10**9) == 0
    message = store.get_message("known")
    assert message is not None
    assert message.status == "delivered"
