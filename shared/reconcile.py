"""Reconciliation: receipts that a pull lost are asked for again, one number at a time.

Tencent hands each queued receipt out once, so a pull whose answer never arrived (a dropped
connection, a stall past the read timeout, a process killed before it stored the batch) loses
what it was handed. Tencent also keeps every number's receipts for 7 days behind the per-number
pulls (`PullSmsSendStatusByPhoneNumber`, legacy `pullstatus4mobile`), which can be asked as
often as needed. So the scheduled run, after draining the queue, takes messages still
`submitted` `SMS_RECONCILE_AFTER` after they were sent (oldest first, `SMS_RECONCILE_BATCH` a
run), groups them by number, and makes one per-number pull per number (paced to
`SMS_RECONCILE_PULL_RATE`), storing what comes back through the normal save (the store
de-duplicates). A message still without a receipt is asked for again when it is twice as old
(15 min, 30 min, 1 h, … up to the 7-day mark, a dozen pulls at most); at the 7-day mark, after
a last pull, it ends `unknown` with `status_reason = no_receipt_within_window`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shared import payloads, tracking
from shared.errors import Category, SmsError, StoreUnavailableError
from shared.models import Receipt
from shared.observability import logger, metrics
from shared.phone import mask
from shared.services import Services
from shared.store.base import Store, Unconfirmed

TENCENT_KEEPS = 7 * 86_400  # per-number pulls reach at most 7 days back
EDGE = 300  # seconds the begin time stays inside those 7 days (clocks differ, requests take time)
CLOCK_SKEW = 60  # a receipt may be stamped a little before our record of the send
PAGES_PER_NUMBER = 5  # per-number pulls have no paging (Offset is always 0): the window moves on
GIVE_UP_REASON = "no_receipt_within_window"


@dataclass
class ReconcileSummary:
    """What a reconciliation run did."""

    checked: int = 0  # messages due and looked at
    pulls: int = 0  # per-number pulls made
    found: int = 0  # of the checked messages, those that now have a receipt
    stored: int = 0  # receipts new to the store (of any message of those numbers)
    deferred: int = 0  # still without a receipt: asked for again later
    unknown: int = 0  # past Tencent's 7 days without a receipt: marked `unknown`
    stopped: str = ""  # done | disabled | deadline | store_unavailable | rate_limited | tencent_error
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        if body["error"] is None:
            body.pop("error")
        return body


def reconcile(services: Services, *, deadline: float | None) -> ReconcileSummary:
    """One bounded run over the messages due now (see the module docstring). Never raises for
    Tencent or the store: it stops and says why; what it did not reach stays due."""
    summary = ReconcileSummary()
    settings, store = services.settings, services.store
    if not settings.reconcile_after:
        summary.stopped = "disabled"
        return summary
    now = services.now()
    try:
        due = store.unconfirmed_messages(
            now=now, older_than=settings.reconcile_after, limit=settings.reconcile_batch
        )
        by_phone: dict[str, list[Unconfirmed]] = {}
        for message in due:  # oldest first, and so are the numbers
            by_phone.setdefault(message.phone, []).append(message)
        pace = _Pace(settings.reconcile_pull_rate)
        summary.stopped = "done"
        for phone, messages in by_phone.items():
            if not _time_left(deadline, pace):
                summary.stopped = "deadline"
                break
            try:
                receipts = _receipts_for(services, phone, messages, now, deadline, pace, summary)
            except SmsError as error:
                summary.stopped = (
                    "rate_limited" if error.category == Category.RATE_LIMITED else "tencent_error"
                )
                summary.error = error.to_body()["error"]
                logger.warning(
                    "reconciliation stopped",
                    extra={
                        "phone": mask(phone),
                        "error_code": error.code,
                        "tencent_code": error.tencent_code,
                    },
                )
                break
            summary.checked += len(messages)
            summary.stored += (
                tracking.save_items(services, "receipts", receipts, source="phone_pull") if receipts else 0
            )
            _settle(store, messages, {r.message_id for r in receipts}, now, settings.reconcile_after, summary)
    except StoreUnavailableError as error:
        summary.stopped = "store_unavailable"
        summary.error = error.to_body()["error"]
    _report(summary)
    return summary


def _receipts_for(
    services: Services,
    phone: str,
    messages: Sequence[Unconfirmed],
    now: int,
    deadline: float | None,
    pace: _Pace,
    summary: ReconcileSummary,
) -> list[Receipt]:
    """The number's receipts since its oldest due message was sent (within Tencent's 7 days); a
    full answer may hide more, so the window moves past it, a few times at most."""
    wanted = {m.message_id for m in messages}
    begin = max(min(m.created_at for m in messages) - CLOCK_SKEW, now - TENCENT_KEEPS + EDGE)
    found: list[Receipt] = []
    for page in range(PAGES_PER_NUMBER):
        if page and not _time_left(deadline, pace):
            break
        pace.take()
        result = services.client.pull_for_phone("receipts", phone, begin, now, deadline=deadline)
        summary.pulls += 1
        found += result.receipts
        wanted -= {r.message_id for r in result.receipts}
        latest = max((r.received_at for r in result.receipts), default=begin)
        if not wanted or result.count < payloads.MAX_PULL or latest <= begin:
            break
        begin = latest
    return found


def _time_left(deadline: float | None, pace: _Pace) -> bool:
    return deadline is None or deadline - pace.now() >= tracking.MIN_SECONDS_FOR_ANOTHER_PULL + pace.wait


def _settle(
    store: Store,
    messages: Sequence[Unconfirmed],
    found: set[str],
    now: int,
    after: int,
    summary: ReconcileSummary,
) -> None:
    """Messages without a receipt: given up at Tencent's 7-day mark, else asked again at twice the age."""
    missing = [m for m in messages if m.message_id not in found]
    summary.found += len(messages) - len(missing)
    expired = [m.message_id for m in missing if now - m.created_at >= TENCENT_KEEPS]
    later = [
        (m.message_id, min(now + max(after, now - m.created_at), m.created_at + TENCENT_KEEPS))
        for m in missing
        if now - m.created_at < TENCENT_KEEPS
    ]
    if expired:
        summary.unknown += store.give_up_unconfirmed(expired, reason=GIVE_UP_REASON, now=now)
    if later:
        store.defer_reconcile(later, now=now)
        summary.deferred += len(later)


def _report(summary: ReconcileSummary) -> None:
    if summary.stored:
        metrics.add_metric(name="ReceiptsReconciled", unit="Count", value=summary.stored)
    if summary.unknown:
        metrics.add_metric(name="MessagesWithoutReceipt", unit="Count", value=summary.unknown)
    (logger.info if summary.checked or summary.error else logger.debug)(
        "reconciliation finished", extra=summary.to_dict()
    )


class _Pace:
    """At most `rate` per-number pulls a second from this run (Tencent counts them per account)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    def now(self) -> float:
        return time.monotonic()

    @property
    def wait(self) -> float:
        return max(0.0, self._next - time.monotonic())

    def take(self) -> None:
        wait = self.wait
        if wait:
            time.sleep(wait)
        self._next = time.monotonic() + self.interval
