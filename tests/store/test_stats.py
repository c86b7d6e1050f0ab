"""Delivery statistics: the rollup the store keeps with every write agrees with direct counts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from shared import phone
from shared.models import Receipt, SendResult
from shared.store import Store, open_store
from shared.store.base import GROUP_BYS, LATENCY_BOUNDS
from shared.store.sqlite import MIGRATIONS
from shared.store.stats import DAY, HOUR, countries, country_of, latency_bucket, quantile
from tests.store.helpers import raw_rows, raw_script

ROLLUP_VERSION = next(n for n, script in enumerate(MIGRATIONS, start=1) if "stats_rollup" in script)

T0 = 1_700_000_000 - 1_700_000_000 % DAY  # a UTC midnight
PHONES = ["+8613800000001", "+8613900000002", "+14155550100", "+447911123456", "+8618600000003"]
TEMPLATES = ["1001", "1002", "2001"]
CALLERS = ["key:aaaa", "wx:openid-1"]
FAIL_CODES = [("MK:0001", "空号"), ("MK:0005", "停机"), ("UNDELIV", "not delivered")]


def message_rows(store: Store, store_url: str, frm: int, to: int) -> list[tuple[Any, ...]]:
    """(id, created_at, template, phone, caller, status, fee, code) of the messages sent in [frm, to),
    read directly (SQL, or a Scan of the DynamoDB table), not through the rollup."""
    if not store_url.startswith("dynamodb"):
        return raw_rows(
            store_url,
            "SELECT message_id, created_at, template_id, phone, caller, status, fee, code FROM messages"
            " WHERE created_at >= ? AND created_at < ?",
            (frm, to),
        )
    from shared.store.dynamodb import DynamoDbStore, iter_items

    assert isinstance(store, DynamoDbStore)
    rows = []
    for item in iter_items(store, "M#"):
        if item["sk"]["S"] != "M" or not frm <= int(item["ca"]["N"]) < to:
            continue
        message = store.get_message(item["pk"]["S"][2:])
        assert message is not None
        m = message
        rows.append((m.message_id, m.created_at, m.template_id, m.phone, m.caller, m.status, m.fee, m.code))
    return rows


def expected(store: Store, store_url: str, frm: int, to: int, group_by: str) -> dict[Any, dict[str, Any]]:
    """Counts straight from the messages and their deciding receipts (no rollup)."""
    rows = message_rows(store, store_url, frm, to)
    groups: dict[Any, dict[str, Any]] = {}
    for message_id, created, template, number, caller, status, fee, code in rows:
        message = store.get_message(message_id)
        assert message is not None
        key = {
            "hour": created - created % HOUR,
            "day": created - created % DAY,
            "template": template,
            "country": country_of(number),
            "caller": caller,
            "status": status,
        }[group_by]
        group = groups.setdefault(
            key, {"sent": 0, "delivered": 0, "failed": 0, "pending": 0, "fee": 0, "lat": [], "fail": {}}
        )
        group["sent"] += 1
        group["fee"] += fee
        if status == "submitted":
            group["pending"] += 1
        elif status in ("delivered", "failed"):
            group[status] += 1
        receipt = message.latest_receipt
        if status == "delivered" and receipt is not None:
            group["lat"].append(max(0, receipt.received_at - created))
        if status == "failed":
            reason = (receipt.carrier_code if receipt else code, receipt.description if receipt else "")
            group["fail"][reason] = group["fail"].get(reason, 0) + 1
    return groups


def check(store: Store, store_url: str, frm: int, to: int, group_by: str) -> None:
    answer = store.stats(frm, to, group_by).to_dict()
    want = expected(store, store_url, answer["from"], answer["to"], group_by)
    got = {g["group"]: g for g in answer["groups"] if g["sent"]}
    assert set(got) == set(want), group_by
    for key, counts in want.items():
        group = got[key]
        for name in ("sent", "delivered", "failed", "pending", "fee"):
            assert group[name] == counts[name], (group_by, key, name)
        hist = [0] * (len(LATENCY_BOUNDS) + 1)
        for seconds in counts["lat"]:
            hist[latency_bucket(seconds)] += 1
        assert group["latency_histogram"] == hist
        assert group["latency_p50_s"] == quantile(hist, 0.5)
        decided = counts["delivered"] + counts["failed"]
        assert group["delivery_rate"] == (round(counts["delivered"] / decided, 4) if decided else None)
        top = sorted(counts["fail"].items(), key=lambda item: (-item[1], item[0]))[:5]
        assert [(f["code"], f["description"], f["count"]) for f in group["top_failures"]] == [
            (code, description, n) for (code, description), n in top
        ]
    assert answer["totals"]["sent"] == sum(c["sent"] for c in want.values())


def workload(store: Store, seed: int, messages: int = 120, batch: int = 15) -> None:
    """Sends over two days, `batch` messages a write, some failed or unknown at once, some recorded
    twice; receipts in every order: late, early (before the send), duplicated, `unknown` then
    definitive, failed then delivered, for unknown ids."""
    rnd = random.Random(seed)
    ids = [f"s{seed}-{i:04d}" for i in range(messages)]
    early = set(rnd.sample(ids, 10))
    for message_id in early:  # receipts that arrive before their send is recorded
        store.save_receipts(
            [Receipt(message_id, PHONES[0], "delivered", "DELIVRD", "ok", T0 + 50)], source="callback", now=T0
        )
    stored: list[SendResult] = []
    for start in range(0, messages, batch):
        at = T0 + rnd.randrange(0, 2 * DAY)
        results = [
            SendResult(rnd.choice(PHONES), m, "submitted", fee=rnd.choice([1, 2]), code="Ok", message="")
            if rnd.random() < 0.8
            else SendResult(rnd.choice(PHONES), m, rnd.choice(["failed", "unknown"]), 0, "E1", "no")
            for m in ids[start : start + batch]
        ]
        if start and rnd.random() < 0.5:  # a send recorded again (a retried write): the first stays
            again = [r._replace(status="failed", fee=0, code="E2") for r in rnd.sample(stored, 3)]
            results = results + again if batch > 1 else again[:1]
        store.record_sends(
            results,
            template_id=rnd.choice(TEMPLATES),
            params=[],
            sign="s",
            caller=rnd.choice(CALLERS),
            now=at,
        )
        stored += results
    for _ in range(messages * 2):
        message_id = rnd.choice([*ids, "nobody-knows"])
        kind = rnd.random()
        at = T0 + rnd.randrange(0, 2 * DAY + 4000)
        if kind < 0.5:
            r = Receipt(message_id, PHONES[1], "delivered", "DELIVRD", "user received", at)
        elif kind < 0.8:
            code, description = rnd.choice(FAIL_CODES)
            r = Receipt(message_id, PHONES[1], "failed", code, description, at)
        else:
            r = Receipt(message_id, PHONES[1], "unknown", "", "", at)
        store.save_receipts([r, r] if kind < 0.1 else [r], source=rnd.choice(["pull", "callback"]), now=at)


def check_windows(store: Store, store_url: str, group_by: str) -> None:
    """The workload's two days, whole and in windows cut inside hours and days."""
    check(store, store_url, T0, T0 + 2 * DAY + HOUR, group_by)
    check(store, store_url, T0 + 5 * HOUR + 17, T0 + 30 * HOUR - 5, group_by)  # hour rows only
    check(store, store_url, T0 + 5 * HOUR, T0 + 2 * DAY + 3 * HOUR, group_by)  # hours, a day, hours


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_stats_agree_with_direct_counts(store: Store, store_url: str, group_by: str) -> None:
    workload(store, seed=7)
    check_windows(store, store_url, group_by)


@pytest.mark.parametrize("group_by", ["status", "country", "template"])
def test_stats_agree_with_direct_counts_for_single_sends(store: Store, store_url: str, group_by: str) -> None:
    """A message a write (a single send's way, some recorded again, some with a receipt first)."""
    workload(store, seed=11, messages=90, batch=1)
    check_windows(store, store_url, group_by)


def test_hour_groups_cover_the_window_and_bad_group_by_is_refused(store: Store) -> None:
    store.record_sends(
        [SendResult(PHONES[0], "m1", "submitted", fee=1, code="Ok", message="")],
        template_id="1",
        params=[],
        sign="",
        caller="c",
        now=T0 + 10,
    )
    answer = store.stats(T0, T0 + 3 * HOUR, "hour").to_dict()
    assert [g["group"] for g in answer["groups"]] == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert [g["sent"] for g in answer["groups"]] == [1, 0, 0]
    assert answer["totals"]["latency_p50_s"] is None
    assert answer["totals"]["delivery_rate"] is None
    with pytest.raises(ValueError, match="group_by"):
        store.stats(T0, T0 + HOUR, "phone")


def test_messages_for_phone_newest_first(store: Store) -> None:
    for i in range(4):
        sends = [
            SendResult(PHONES[0], f"p{i}", "submitted", 1, "Ok", ""),
            SendResult(PHONES[1], f"q{i}", "submitted", 1, "Ok", ""),
        ]
        store.record_sends(sends, template_id="1", params=[], sign="", caller="c", now=T0 + i)
    store.save_receipts(
        [Receipt("p2", PHONES[0], "failed", "MK:0001", "空号", T0 + 9)], source="pull", now=T0 + 9
    )
    found = store.messages_for_phone(PHONES[0], limit=3)
    assert [m.message_id for m in found] == ["p3", "p2", "p1"]
    assert found[1].status == "failed"
    assert found[1].latest_receipt is not None
    assert store.messages_for_phone("+8613000000000") == []


def test_upgrade_fills_the_rollup_from_stored_messages(store_url: str) -> None:
    """A database written before the rollup existed gets it filled by the migration."""
    if store_url.startswith("dynamodb"):
        pytest.skip("SQL schema migrations only: the DynamoDB store kept its rollup from its first write")
    old = open_store(store_url)
    workload(old, seed=3, messages=60)
    old.close()
    later = ["CREATE INDEX rate_counts_expires ON rate_counts (expires_at)"]  # SQLite's 8 drops it
    raw_script(
        store_url,
        [
            "DROP TABLE stats_rollup",
            "DROP INDEX messages_phone",
            *(later if store_url.startswith("sqlite") else []),
            f"DELETE FROM schema_version WHERE version >= {ROLLUP_VERSION}",  # noqa: S608
        ],
    )
    upgraded = open_store(store_url)
    try:
        for group_by in ("hour", "template", "status", "caller"):
            check(upgraded, store_url, T0, T0 + 3 * DAY, group_by)
        countries = {g["group"] for g in upgraded.stats(T0, T0 + 3 * DAY, "country").groups if g["sent"]}
        assert countries <= {"CN", "ZZ"}  # SQL cannot tell regions apart: documented
    finally:
        upgraded.close()


def test_countries_of_numbers_validated_or_not_are_country_of_each() -> None:
    """Numbers a send validated are looked up in C; the others (mainland, never validated, not a
    number at all) as `country_of` says."""
    numbers = ["+14155552671", "+447400123456", "+8613800000000", "+861012345678", "+6581234567", "nope"]
    expected = ["US", "GB", "CN", "CN", "SG", "ZZ"]
    phone._known.clear()
    assert countries(numbers) == [country_of(n) for n in numbers] == expected
    phone.untyped(numbers)  # as a send's validation does
    assert countries(numbers) == expected
    assert countries(numbers[:2]) == ["US", "GB"]
    assert phone.known_regions(numbers) == ["US", "GB", "CN", "CN", "SG", None]
