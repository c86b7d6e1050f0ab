"""Anti-pumping rate limits, kept in the store so they hold across concurrent invocations.

Limits are per phone number, per caller (an API key or a direct invoker), per end user (a
mini-program openId or a client IP) and a global daily cap. Exceeding one answers 429 with
`Retry-After` and the name of the limit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

from shared.config import Rate, Settings
from shared.errors import RateLimitedError
from shared.runtime import runtime
from shared.store.base import RateCheck

END_USER_PREFIXES = ("wx:", "ip:")


class Reservation(NamedTuple):
    """Hits recorded for one send; `release()` gives them back when nothing went out."""

    checks: tuple[RateCheck, ...]
    at: int

    def release(self) -> None:
        if self.checks:
            runtime.store.undo_rate_hits(self.checks, now=self.at)


def checks_for(
    settings: Settings, *, caller: str, phones: Sequence[str], scope: str = "sms", global_cap: bool = True
) -> list[RateCheck]:
    """The limits one send must pass: every number's, the caller's, and the global daily cap."""
    checks = [_check(f"{scope}:phone", phone, rate) for phone in phones for rate in settings.limit_per_phone]
    caller_rates = (
        settings.limit_per_end_user if caller.startswith(END_USER_PREFIXES) else settings.limit_per_caller
    )
    checks += [_check(f"{scope}:caller", caller, rate) for rate in caller_rates]
    if global_cap and settings.limit_global_daily:
        checks.append(RateCheck("global:daily", "all", settings.limit_global_daily, 86400))
    return checks


def _check(name: str, key: str, rate: Rate) -> RateCheck:
    return RateCheck(f"{name}:{rate}", key, rate.limit, rate.seconds)


def reserve(checks: Sequence[RateCheck], *, now: int | None = None) -> Reservation:
    """Record one hit for every check, or none and raise `RateLimitedError` naming the limit hit."""
    at = int(time.time()) if now is None else now
    decision = runtime.store.hit_rate_limits(list(checks), now=at)
    if not decision.allowed:
        check = decision.check
        assert check is not None
        kind, _, rate = check.name.rpartition(":")
        raise RateLimitedError(
            f"rate limit {check.name} reached; retry in {decision.retry_after} s",
            retry_after=max(1, decision.retry_after),
            details={"limit": check.name, "limit_kind": kind.split(":")[-1], "rate": rate},
        )
    return Reservation(tuple(checks), at)


def caller_checks(rates: Sequence[Rate], *, caller: str, scope: str) -> list[RateCheck]:
    """One caller's limits on something other than sending (e.g. `status` reads)."""
    return [_check(f"{scope}:caller", caller, rate) for rate in rates]
