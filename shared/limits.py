"""Anti-pumping rate limits, kept in the store so they hold across concurrent invocations.

Limits are per phone number, per caller (an API key or a direct invoker), per end user (a
mini-program openId or a client IP) and a global daily cap. Exceeding one answers 429 with
`Retry-After` and the name of the limit.

A number has one budget whatever the route (single send, multi send, queued chunk, code): its
checks are named `sms:phone:<rate>` everywhere, one series (`PHONE_SERIES`: the same sends in
each rule's window), and the global daily cap counts numbers. A multi send reserves its numbers in
one store call (`reserve_numbers`): the numbers over a limit stay behind, named with that limit,
the others go.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from shared.config import Rate, Settings
from shared.errors import RateLimitedError
from shared.models import SendResult
from shared.services import Services
from shared.store.base import ALLOWED, RateCheck, RateDecision, RateRule, Store

END_USER_PREFIXES = ("wx:", "ip:")
#: a number's rules count the same sends, so they are one series (see `RateCheck`)
PHONE_SERIES = "sms:phone"


class Reservation(NamedTuple):
    """Hits recorded for one send; `release()` gives them back when nothing went out."""

    store: Store
    checks: tuple[RateCheck, ...]
    at: int

    def release(self) -> None:
        if self.checks:
            self.store.undo_rate_hits(self.checks, now=self.at)


def checks_for(
    settings: Settings, *, caller: str, phones: Sequence[str], scope: str = "sms", global_cap: bool = True
) -> list[RateCheck]:
    """The limits one send must pass: every number's, the caller's, and the global daily cap."""
    checks = [check for phone in phones for check in phone_checks(settings, phone)]
    caller_rates = (
        settings.limit_per_end_user if caller.startswith(END_USER_PREFIXES) else settings.limit_per_caller
    )
    checks += caller_checks(caller_rates, caller=caller, scope=scope)
    if global_cap:
        checks += global_checks(settings)
    return checks


def phone_checks(settings: Settings, phone: str) -> list[RateCheck]:
    """One number's budget: the same counters on every route."""
    return [rule.on(phone) for rule in _phone_rules(settings.limit_per_phone)]


@functools.lru_cache(maxsize=8)
def _phone_rules(rates: tuple[Rate, ...]) -> tuple[RateRule, ...]:
    """The per-number rates as rules, named once rather than per number."""
    return tuple(RateRule(f"{PHONE_SERIES}:{rate}", rate.limit, rate.seconds, PHONE_SERIES) for rate in rates)


def global_checks(settings: Settings) -> list[RateCheck]:
    """The daily cap of all SMS together (one hit per number)."""
    if not settings.limit_global_daily:
        return []
    return [RateCheck("global:daily", "all", settings.limit_global_daily, 86400)]


def allowance_checks(settings: Settings, caller: str) -> list[RateCheck]:
    """The numbers a caller's multi sends may reach (`SMS_LIMIT_MULTI_PER_CALLER`)."""
    return [_check("multi:numbers", caller, rate) for rate in settings.limit_multi_per_caller]


def _check(name: str, key: str, rate: Rate) -> RateCheck:
    return RateCheck(f"{name}:{rate}", key, rate.limit, rate.seconds)


def reserve(services: Services, checks: Sequence[RateCheck]) -> Reservation:
    """Record one hit for every check, or none and raise `RateLimitedError` naming the limit hit."""
    at, store = services.now(), services.store
    decision = store.hit_rate_limits(list(checks), now=at)
    if not decision.allowed:
        raise limited_error(decision)
    return Reservation(store, tuple(checks), at)


def caller_checks(rates: Sequence[Rate], *, caller: str, scope: str) -> list[RateCheck]:
    """One caller's limits on something other than sending (e.g. `status` reads)."""
    return [_check(f"{scope}:caller", caller, rate) for rate in rates]


def reserve_all(services: Services, checks: Sequence[RateCheck]) -> Reservation:
    """`reserve` for checks naming one counter many times (a list's numbers against a caller's
    allowance): each needs its own free hit, and the store sees each counter once."""
    at, store = services.now(), services.store
    decision = store.hit_rate_limits_each([checks], now=at)[0]
    if not decision.allowed:
        raise limited_error(decision)
    return Reservation(store, tuple(checks), at)


def limited_error(decision: RateDecision, message: str = "") -> RateLimitedError:
    """The 429 for a refused decision, naming its limit."""
    check = decision.check
    assert check is not None
    kind, _, rate = check.name.rpartition(":")
    return RateLimitedError(
        message or f"rate limit {check.name} reached; retry in {decision.retry_after} s",
        retry_after=max(1, decision.retry_after),
        details={"limit": check.name, "limit_kind": kind.split(":")[-1], "rate": rate},
    )


class NumberBudget(NamedTuple):
    """A multi send's numbers after their limits: the refused ones with the decision that refused
    them, and the allowed ones, each of which took one hit on every rule and shared check (given
    back for a number provably not sent)."""

    store: Store
    refused: dict[str, RateDecision]
    reserved: frozenset[str]
    rules: tuple[RateRule, ...]
    shared: tuple[RateCheck, ...]
    at: int

    def release(self, phones: Iterable[str]) -> None:
        """Give back these allowed numbers' hits, in one store call."""
        checks = [
            check
            for phone in phones
            if phone in self.reserved
            for check in (*(rule.on(phone) for rule in self.rules), *self.shared)
        ]
        if checks:
            self.store.undo_rate_hits(checks, now=self.at)


def reserve_numbers(services: Services, phones: Sequence[str], *, caller: str = "") -> NumberBudget:
    """Each number's budget, the caller's multi allowance (when `caller` is given) and the global
    daily cap, for every number at once: allowed numbers record their hits, the others none."""
    settings, store, at = services.settings, services.store, services.now()
    shared = tuple((allowance_checks(settings, caller) if caller else []) + global_checks(settings))
    rules = _phone_rules(settings.limit_per_phone)
    decisions = store.hit_rate_limits_per_key(phones, rules, shared, now=at)
    if decisions.count(ALLOWED) == len(decisions):  # the usual list: no Python a number
        return NumberBudget(store, {}, frozenset(phones), rules, shared, at)
    refused = {
        phone: decision for phone, decision in zip(phones, decisions, strict=True) if not decision.allowed
    }
    return NumberBudget(store, refused, frozenset(phones).difference(refused), rules, shared, at)


def limited_result(phone: str, decision: RateDecision) -> SendResult:
    """The per-number result of a number held back by a limit (nothing was sent)."""
    check = decision.check
    assert check is not None
    retry_after = max(1, decision.retry_after)
    return SendResult(
        phone=phone,
        message_id="",
        status="rate_limited",
        fee=0,
        code="rate_limited",
        message=f"rate limit {check.name} reached; retry in {retry_after} s",
        limit=check.name,
        retry_after=retry_after,
    )
