"""`hit_rate_limits_per_key` decides and records exactly what `hit_rate_limits_each` does for the
same groups (each key's rules, then the shared checks), shortcut or not.

Each scenario runs four times in one store, in four namespaces (keys and shared counters prefixed
`a` to `d`): through `hit_rate_limits_per_key` and through `hit_rate_limits_each`, each with the
per-number rules as one series (their counter rows shared) and as separate counters, with undos in
between; every decision, retry time and the counters left must match.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shared.store import RateCheck, RateDecision, RateRule, Store, open_store

PHONES = [f"+86138{i:08d}" for i in range(14)]


def _strip(decision: RateDecision, prefix: str) -> tuple[bool, int, tuple[str, str] | None]:
    check = decision.check
    named = None if check is None else (check.name, check.key.removeprefix(prefix))
    return decision.allowed, decision.retry_after, named


def _scenario(
    seed: int,
) -> tuple[list[RateRule], list[tuple[str, int, int]], list[tuple[int, list[str], int]]]:
    rng = random.Random(seed)
    rules = [
        RateRule(f"sms:phone:r{i}", rng.choice([0, 1, 1, 2, 3]) if i else rng.choice([1, 2]), window)
        for i, window in enumerate(sorted(rng.sample([10, 30, 60, 300, 3600], rng.randint(1, 3))))
    ]
    shared = [("multi:numbers:x", rng.randint(4, 30), 600), ("global:daily", rng.randint(8, 40), 86400)]
    shared = shared[: rng.randint(0, 2)]
    steps, now = [], 0
    for _ in range(8):
        now += rng.choice([0, 1, 5, 20, 70])
        steps.append((now, rng.sample(PHONES, rng.randint(1, len(PHONES))), rng.randint(0, 3)))
    return rules, shared, steps


# DynamoDB takes `hit_rate_limits_each` for both: comparing them there would compare a call with itself
SQL_STORES = pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@SQL_STORES
@pytest.mark.parametrize("seed", range(6))
def test_per_key_matches_each(store: Store, seed: int) -> None:
    _matches_each(store, seed)


def _matches_each(store: Store, seed: int) -> None:
    """Four namespaces: `hit_rate_limits_per_key` (a, c) and `hit_rate_limits_each` (b, d), with the
    rules as one series sharing their counter rows (a, b) and as separate counters (c, d)."""
    plain, shared_specs, steps = _scenario(seed)
    series = [rule._replace(series="sms:phone") for rule in plain]
    rules = {"a": series, "b": series, "c": plain, "d": plain}
    shared = {ns: [RateCheck(name, f"{ns}:k", limit, w) for name, limit, w in shared_specs] for ns in rules}
    for now, phones, undo in steps:
        decided = {}
        for ns, ns_rules in rules.items():
            keys = [f"{ns}{p}" for p in phones]
            if ns in "ac":
                decided[ns] = store.hit_rate_limits_per_key(keys, ns_rules, shared[ns], now=now)
            else:
                groups = [(*(rule.on(key) for rule in ns_rules), *shared[ns]) for key in keys]
                decided[ns] = store.hit_rate_limits_each(groups, now=now)
        for ns in "abc":
            assert [_strip(d, ns) for d in decided[ns]] == [_strip(d, "d") for d in decided["d"]]
        given_back = [p for p, d in zip(phones, decided["a"], strict=True) if d.allowed][:undo]
        for ns, ns_rules in rules.items():
            checks = [c for p in given_back for c in (*(r.on(f"{ns}{p}") for r in ns_rules), *shared[ns])]
            if checks:
                store.undo_rate_hits(checks, now=now)
    # what is left counts the same: one more of every number, every rule and shared check at once
    last = steps[-1][0] + 1
    after = {
        ns: store.hit_rate_limits_each(
            [[*(r.on(f"{ns}{p}") for r in ns_rules), *shared[ns]] for p in PHONES], now=last
        )
        for ns, ns_rules in rules.items()
    }
    for ns in "abc":
        assert [_strip(d, ns) for d in after[ns]] == [_strip(d, "d") for d in after["d"]]


def test_the_general_way_when_keys_repeat(store: Store) -> None:
    rule = RateRule("sms:phone:2/30s", 2, 30)
    cap = RateCheck("global:daily", "all", 10, 86400)
    decisions = store.hit_rate_limits_per_key(["+8613800000001"] * 3, [rule], [cap], now=0)
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[2].check == rule.on("+8613800000001")
    assert decisions[2].retry_after == 30
    assert store.hit_rate_limits_per_key([], [rule], [cap], now=0) == []


def test_a_rule_of_zero_refuses_every_number_and_records_nothing(store: Store) -> None:
    rules = [RateRule("sms:phone:5/1h", 5, 3600), RateRule("sms:phone:0/1d", 0, 86400)]
    cap = RateCheck("global:daily", "all", 1, 86400)
    decisions = store.hit_rate_limits_per_key(PHONES[:3], rules, [cap], now=0)
    assert [(d.allowed, d.check, d.retry_after) for d in decisions] == [
        (False, rules[1].on(p), 86400) for p in PHONES[:3]
    ]
    assert store.hit_rate_limits([cap], now=1).allowed  # the cap took no hit from them


def test_a_big_list_against_the_shared_caps(store: Store) -> None:
    """A multi send's worth of numbers (more than one IN list), some of them used before."""
    phones = [f"+8613{i:09d}" for i in range(1500)]
    rules = [RateRule("sms:phone:1/30s", 1, 30), RateRule("sms:phone:5/1h", 5, 3600)]
    cap = RateCheck("global:daily", "all", 1200, 86400)
    assert store.hit_rate_limits_per_key(phones[:100:10], rules, [cap], now=0)[0].allowed
    decisions = store.hit_rate_limits_per_key(phones, rules, [cap], now=10)
    used = set(phones[:100:10])
    refused_by_rule = [d.check for p, d in zip(phones, decisions, strict=True) if p in used]
    assert refused_by_rule == [rules[0].on(p) for p in phones[:100:10]]
    assert all(d.retry_after == 20 for p, d in zip(phones, decisions, strict=True) if p in used)
    allowed = [p for p, d in zip(phones, decisions, strict=True) if d.allowed]
    assert len(allowed) == 1200 - 10
    assert all(d.check == cap for d in decisions[phones.index(allowed[-1]) + 1 :] if not d.allowed)


@SQL_STORES
def test_a_cap_spent_by_the_call_itself_names_its_own_hits_in_the_retry(store: Store) -> None:
    """A cap over 100 counts in buckets (1/100 of its window): when this call spends it, the retry
    time comes from the hits this call recorded, as `hit_rate_limits_each` has it."""
    _cap_spent_by_the_call(store)


def _cap_spent_by_the_call(store: Store) -> None:
    rules = [RateRule("sms:phone:1/30s", 1, 30)]
    phones = [f"+8613{i:09d}" for i in range(160)]
    decided = {}
    for ns in "ab":
        cap = RateCheck("global:daily", f"{ns}:all", 150, 86400)
        keys = [f"{ns}{p}" for p in phones]
        if ns == "a":
            decided[ns] = store.hit_rate_limits_per_key(keys, rules, [cap], now=1000)
        else:
            decided[ns] = store.hit_rate_limits_each(
                [[r.on(k) for r in rules] + [cap] for k in keys], now=1000
            )
    assert [_strip(d, "a") for d in decided["a"]] == [_strip(d, "b") for d in decided["b"]]
    assert [d.retry_after for d in decided["a"][150:]] == [864 + 863 + 86400 - 1000] * 10


def test_sqlite_without_json_each_decides_the_same(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SQLite before 3.38 may lack `json_each`: the counter rows then go one bound row each."""
    import shared.store.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "has_json_each", lambda _conn: False)
    store = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        for seed in range(6, 10):
            _matches_each(store, seed)
        _cap_spent_by_the_call(store)
    finally:
        store.close()
