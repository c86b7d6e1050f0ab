"""The template catalogue and the read-only rate-limit look, on SQLite and PostgreSQL."""

from __future__ import annotations

from shared.store.base import RateCheck, Store, StoredTemplate

LIVE = StoredTemplate("7839", 0, 0, "login", "{1}为您的登录验证码", "", 1_600_000_000)
REVIEW = StoredTemplate("7842", 0, 1, "shipping", "订单{1}已发货", "", 0)
BOTH = StoredTemplate("10001", 3, 0, "both", "Code {1}", "", 0)
REJECTED = StoredTemplate("7843", 0, -1, "coupon", "券{1}", "需带退订方式", 0)


def test_catalogue_is_replaced_whole(store: Store) -> None:
    assert store.templates() == []
    assert store.save_templates([BOTH, REVIEW, LIVE, LIVE], now=100) == 3
    assert store.templates() == [
        t._replace(synced_at=100) for t in (LIVE, REVIEW, BOTH)
    ]  # by id, numerically
    assert store.save_templates([REJECTED], now=200) == 1
    assert store.templates() == [REJECTED._replace(synced_at=200)]  # 7839 and the others are gone
    assert store.save_templates([], now=300) == 0
    assert store.templates() == []


def test_peek_sees_the_limit_and_records_nothing(store: Store) -> None:
    check = RateCheck("sms:phone:1/30s", "+8613800000001", 1, 30)
    for _ in range(3):
        assert store.peek_rate_limits([check], now=1000).allowed
    assert store.hit_rate_limits([check], now=1000).allowed  # the peeks took no quota
    seen = store.peek_rate_limits([check], now=1010)
    assert not seen.allowed
    assert seen.check == check
    assert seen.retry_after == 20
    assert store.peek_rate_limits([check], now=1030).allowed
    assert store.peek_rate_limits([], now=1030).allowed
