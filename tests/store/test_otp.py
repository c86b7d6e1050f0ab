"""One-time codes: create, supersede, attempts, expiry, purge."""

from __future__ import annotations

from shared.store import OtpAttempt, OtpRecord, Store

PHONE = "+8613800000000"


def code(otp_id: str, *, created: int = 100, phone: str = PHONE, max_attempts: int = 3) -> OtpRecord:
    return OtpRecord(
        id=otp_id,
        phone=phone,
        purpose="login",
        code_hash="sha256:" + otp_id,
        created_at=created,
        expires_at=created + 300,
        caller="app:1",
        max_attempts=max_attempts,
        resend_after=created + 60,
    )


def test_create_get_and_latest(store: Store) -> None:
    record = code("a")
    assert store.otp_create(record, supersede_active=True) == 0
    assert store.otp_get("a") == record
    assert store.otp_get("missing") is None
    assert store.otp_latest_active(PHONE, "login") == record
    assert store.otp_latest_active(PHONE, "signup") is None
    assert store.otp_latest_active(PHONE, "login", now=399) == record
    assert store.otp_latest_active(PHONE, "login", now=400) is None


def test_supersede(store: Store) -> None:
    store.otp_create(code("a", created=100), supersede_active=True)
    assert store.otp_create(code("b", created=200), supersede_active=True) == 1
    assert store.otp_get("a").status == "superseded"  # type: ignore[union-attr]
    assert store.otp_latest_active(PHONE, "login").id == "b"  # type: ignore[union-attr]
    assert store.otp_attempt("a", matched=True, now=201) == OtpAttempt("superseded", 0)
    store.otp_create(code("c", created=300), supersede_active=False)
    assert store.otp_get("b").status == "active"  # type: ignore[union-attr]
    assert store.otp_latest_active(PHONE, "login").id == "c"  # type: ignore[union-attr]


def test_correct_code_is_used_once(store: Store) -> None:
    store.otp_create(code("a"), supersede_active=True)
    assert store.otp_attempt("a", matched=True, now=150) == OtpAttempt("verified", 0)
    assert store.otp_attempt("a", matched=True, now=151) == OtpAttempt("used", 0)
    assert store.otp_attempt("a", matched=False, now=152) == OtpAttempt("used", 0)
    assert store.otp_latest_active(PHONE, "login") is None


def test_wrong_codes_lock_at_max(store: Store) -> None:
    store.otp_create(code("a", max_attempts=3), supersede_active=True)
    assert store.otp_attempt("a", matched=False, now=150) == OtpAttempt("active", 1)
    assert store.otp_attempt("a", matched=False, now=151) == OtpAttempt("active", 2)
    assert store.otp_attempt("a", matched=False, now=152) == OtpAttempt("locked", 3)
    assert store.otp_attempt("a", matched=True, now=153) == OtpAttempt("locked", 3)
    assert store.otp_get("a").status == "locked"  # type: ignore[union-attr]


def test_expired_and_missing(store: Store) -> None:
    store.otp_create(code("a"), supersede_active=True)
    assert store.otp_attempt("a", matched=True, now=400) == OtpAttempt("expired", 0)
    assert store.otp_attempt("a", matched=False, now=400) == OtpAttempt("expired", 0)
    assert store.otp_attempt("zzz", matched=True, now=100) == OtpAttempt("not_found", 0)


def test_purge_expired_codes(store: Store) -> None:
    store.otp_create(code("a", created=100), supersede_active=False)
    store.otp_create(code("b", created=200), supersede_active=False)
    assert store.otp_purge_expired(now=399) == 0
    if store.expires_by_itself:  # DynamoDB: TTL deletes them; reads check expiry themselves
        assert store.otp_purge_expired(now=400) == 0
        assert store.purge_expired(now=500) == 0
        assert store.otp_latest_active(PHONE, "login", now=500) is None
        return
    assert store.otp_purge_expired(now=400) == 1
    assert store.otp_get("a") is None
    assert store.otp_get("b") is not None
    assert store.purge_expired(now=500) == 1
