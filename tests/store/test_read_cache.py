"""The store's short-lived key-value (`cache_get`/`cache_put`), on SQLite and PostgreSQL: shared by
every connection (container), gone once expired, replaced on a second put, purged by housekeeping."""

from __future__ import annotations

from collections.abc import Callable

from shared.store import Store

NOW = 1_800_000_000


def test_a_value_is_read_back_until_it_expires(store: Store) -> None:
    assert store.cache_get("status:k", now=NOW) is None
    store.cache_put("status:k", {"items": [{"n": 1}], "phone": "+8613800000000"}, now=NOW, ttl=10)
    assert store.cache_get("status:k", now=NOW) == {"items": [{"n": 1}], "phone": "+8613800000000"}
    assert store.cache_get("status:k", now=NOW + 9) is not None
    assert store.cache_get("status:k", now=NOW + 10) is None
    assert store.cache_get("status:other", now=NOW) is None


def test_a_second_put_replaces_value_and_expiry(store: Store) -> None:
    store.cache_put("k", {"v": 1}, now=NOW, ttl=5)
    store.cache_put("k", {"v": "二"}, now=NOW + 3, ttl=5)
    assert store.cache_get("k", now=NOW + 7) == {"v": "二"}
    assert store.cache_get("k", now=NOW + 8) is None


def test_other_connections_see_it(open_stores: Callable[[], Store]) -> None:
    writer, reader = open_stores(), open_stores()
    writer.cache_put("shared", {"ok": True}, now=NOW, ttl=10)
    assert reader.cache_get("shared", now=NOW + 1) == {"ok": True}


def test_purge_drops_expired_values_only(store: Store) -> None:
    store.cache_put("old", {"v": 1}, now=NOW, ttl=1)
    store.cache_put("new", {"v": 2}, now=NOW, ttl=100)
    assert store.purge_expired(NOW + 50) == (0 if store.expires_by_itself else 1)
    assert store.cache_get("old", now=NOW + 50) is None
    assert store.cache_get("new", now=NOW + 50) == {"v": 2}
