"""Idempotency keys: claim, complete, release, expiry."""

from __future__ import annotations

from shared.store import IdempotencyRecord, Store


def begin(
    store: Store, key: str = "k1", *, now: int = 100, fingerprint: str = "fp-a"
) -> IdempotencyRecord | None:
    return store.idempotency_begin(key, fingerprint=fingerprint, now=now, in_progress_ttl=30, ttl=3600)


def test_claim_then_in_progress(store: Store) -> None:
    assert begin(store) is None
    record = begin(store, now=101, fingerprint="fp-b")
    assert record is not None
    assert (record.key, record.status, record.fingerprint, record.response) == (
        "k1",
        "in_progress",
        "fp-a",
        None,
    )
    assert (record.created_at, record.expires_at) == (100, 130)
    assert begin(store, "k2") is None  # keys are independent


def test_complete_stores_the_response(store: Store) -> None:
    assert begin(store) is None
    response = {"message_id": "m1", "status": "submitted", "fee": 1, "text": "验证码"}
    store.idempotency_complete("k1", response, now=110)
    record = begin(store, now=200)
    assert record is not None
    assert record.status == "completed"
    assert record.response == response
    assert record.fingerprint == "fp-a"
    assert record.expires_at == 110 + 3600
    store.idempotency_complete("k1", response, now=120, ttl=10)
    assert begin(store, now=129) is not None
    assert begin(store, now=130) is None  # expired: claimed again


def test_stale_claim_is_taken_over(store: Store) -> None:
    assert begin(store, now=100) is None
    assert begin(store, now=129) is not None
    assert begin(store, now=130, fingerprint="fp-new") is None
    record = begin(store, now=131)
    assert record is not None
    assert record.fingerprint == "fp-new"
    assert record.created_at == 130


def test_release_lets_the_next_caller_claim(store: Store) -> None:
    assert begin(store) is None
    store.idempotency_release("k1")
    assert begin(store, now=101) is None
    store.idempotency_release("never-claimed")


def test_complete_without_claim_and_purge(store: Store) -> None:
    store.idempotency_complete("k9", {"ok": True}, now=100)
    record = begin(store, "k9", now=101)
    assert record is not None
    assert record.response == {"ok": True}
    assert record.fingerprint == ""
    assert record.expires_at == 100 + 24 * 3600
    assert store.purge_expired(now=100 + 24 * 3600) == (0 if store.expires_by_itself else 1)
    # purged (SQL), or left to DynamoDB's TTL and seen expired by the claim itself
    assert begin(store, "k9", now=100 + 24 * 3600 if store.expires_by_itself else 102) is None
