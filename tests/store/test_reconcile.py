"""Reconciliation queries: which `submitted` messages are due, deferring them, giving up on them."""

from __future__ import annotations

from shared.store import Store
from shared.store.base import Unconfirmed
from tests.store.helpers import raw_rows
from tests.store.test_messages import OTHER, PHONE, receipt, record, sent


def test_unconfirmed_are_old_enough_submitted_messages_oldest_first(store: Store) -> None:
    record(store, sent("m-new"), now=1900)
    record(store, sent("m-b", OTHER), sent("m-a"), now=1000)
    record(
        store, sent("m-old"), sent("m-failed", status="failed"), sent("m-unknown", status="unknown"), now=500
    )
    record(store, sent("m-done"), now=400)
    store.save_receipts([receipt("m-done")], source="pull", now=1000)

    due = store.unconfirmed_messages(now=2000, older_than=900, limit=10)

    assert due == [
        Unconfirmed("m-old", PHONE, 500),
        Unconfirmed("m-a", PHONE, 1000),
        Unconfirmed("m-b", OTHER, 1000),
    ]
    assert [u.message_id for u in store.unconfirmed_messages(now=2000, older_than=900, limit=2)] == [
        "m-old",
        "m-a",
    ]
    assert store.unconfirmed_messages(now=2000, older_than=900, limit=0) == []


def test_deferred_messages_are_due_again_only_at_their_time(store: Store) -> None:
    record(store, sent("m1"), sent("m2"), now=100)
    store.defer_reconcile([("m1", 5000), ("no-such-message", 5000)], now=2000)

    assert [u.message_id for u in store.unconfirmed_messages(now=4999, older_than=900, limit=10)] == ["m2"]
    assert [u.message_id for u in store.unconfirmed_messages(now=5000, older_than=900, limit=10)] == [
        "m1",
        "m2",
    ]


def test_give_up_marks_only_submitted_messages_unknown_with_the_reason(store: Store) -> None:
    record(store, sent("m1"), sent("m2"), sent("m3"), now=100)
    store.save_receipts([receipt("m2", "failed", code="UNDELIV")], source="pull", now=200)

    changed = store.give_up_unconfirmed(["m1", "m2", "m1"], reason="no_receipt_within_window", now=700000)

    assert changed == 1
    m1, m2, m3 = (store.get_message(i) for i in ("m1", "m2", "m3"))
    assert m1 is not None
    assert m2 is not None
    assert m3 is not None
    assert (m1.status, m1.status_reason, m1.updated_at) == ("unknown", "no_receipt_within_window", 700000)
    assert m1.to_dict()["status_reason"] == "no_receipt_within_window"
    assert (m2.status, m2.status_reason) == ("failed", "")
    assert (m3.status, m3.status_reason) == ("submitted", "")
    assert store.unconfirmed_messages(now=800000, older_than=900, limit=10) == [Unconfirmed("m3", PHONE, 100)]
    assert store.give_up_unconfirmed([], reason="x", now=1) == 0


def test_a_late_receipt_still_decides_and_clears_the_reason(store: Store) -> None:
    record(store, sent("m1"), now=100)
    store.give_up_unconfirmed(["m1"], reason="no_receipt_within_window", now=700000)
    store.save_receipts([receipt("m1", at=650000)], source="phone_pull", now=700100)

    message = store.get_message("m1")
    assert message is not None
    assert (message.status, message.status_reason) == ("delivered", "")


def test_many_messages_given_up_at_once(store: Store) -> None:
    ids = [f"m{i:04d}" for i in range(1200)]
    record(store, *(sent(i) for i in ids), now=100)
    store.defer_reconcile([(i, 300) for i in ids], now=200)

    assert store.give_up_unconfirmed(ids, reason="no_receipt_within_window", now=700000) == 1200
    assert store.unconfirmed_messages(now=800000, older_than=0, limit=5000) == []


def test_submitted_messages_have_their_own_index(store_url: str, store: Store) -> None:
    record(store, sent("m1"), now=100)
    if store.dialect == "dynamodb":  # listed in the sparse gsi1 while `submitted`, unlisted after
        from shared.store.dynamodb import DynamoDbStore, iter_items

        assert isinstance(store, DynamoDbStore)
        (item,) = iter_items(store, "M#")
        assert item["gsi1pk"]["S"].startswith("U#")
        assert item["gsi1sk"]["S"].endswith("#m1")
        store.save_receipts([receipt("m1")], source="pull", now=200)
        (item,) = (i for i in iter_items(store, "M#") if i["sk"]["S"] == "M")
        assert "gsi1pk" not in item
        assert "gsi1sk" not in item
        return
    if store_url.startswith("sqlite"):
        rows = raw_rows(
            store_url, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
        )
    else:
        rows = raw_rows(store_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'messages'")
    assert ("messages_submitted",) in rows
