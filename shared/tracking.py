"""Tracking what happened to messages: pulls into the store, push callbacks, status queries.

A pulled item is handed out by Tencent once. So each pulled batch is committed to the store before
the next pull is made; a batch the store cannot take goes to the dead-letter sink and pulling stops,
leaving the rest queued at Tencent. An answer that arrived but cannot be parsed is dead-lettered
as raw bytes before the error goes further, and pulling stops. Once items were pulled, a run never
ends in an exception that would hide them: it reports what it stored and dead-lettered. What a
fault still loses (an answer that never arrived) is found again by `shared.reconcile`.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from shared import payloads, suppressions
from shared.deadletter import dead_letter, dead_letter_raw
from shared.errors import (
    AuthenticationError,
    NotFoundError,
    SmsError,
    StoreUnavailableError,
    UnknownOutcomeError,
    ValidationError,
)
from shared.models import PullKind, PullResult, Receipt, Reply
from shared.observability import logger, metrics
from shared.phone import mask
from shared.runtime import runtime
from shared.validation import StatusQuery

MIN_SECONDS_FOR_ANOTHER_PULL = 2.0


@dataclass
class PullSummary:
    """What a pull run did."""

    kind: PullKind
    pulled: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    # empty | deadline | store_unavailable | connection_lost | bad_answer | tencent_error | batch_limit
    stopped: str = ""
    raw_dead_lettered: int = 0  # answers kept as raw bytes (their items unknown until reconciled)
    error: dict[str, Any] | None = None
    items: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, *, with_items: bool = False) -> dict[str, Any]:
        body = asdict(self)
        if not with_items:
            body.pop("items")
        if body["error"] is None:
            body.pop("error")
        return body


def pull_into_store(
    kind: PullKind,
    limit: int,
    *,
    deadline: float | None,
    max_batches: int | None = None,
    keep_items: bool = False,
    clock: Any = time.monotonic,
) -> PullSummary:
    """Pull batches of `limit` until the queue is empty, time runs low, or `max_batches` is reached."""
    summary = PullSummary(kind)
    client = runtime.client

    def keep_raw(operation: str, content: bytes) -> None:
        dead_letter_raw(kind, operation, content)
        summary.raw_dead_lettered += 1

    while True:
        if max_batches is not None and summary.batches >= max_batches:
            summary.stopped = "batch_limit"
            break
        if deadline is not None and deadline - clock() < MIN_SECONDS_FOR_ANOTHER_PULL:
            summary.stopped = "deadline"
            break
        try:
            result = client.pull(kind, limit, deadline=deadline, keep_raw=keep_raw)
        except SmsError as error:
            summary.stopped = (
                "connection_lost"
                if isinstance(error, UnknownOutcomeError)
                else "bad_answer"
                if error.code == payloads.BAD_ANSWER_CODE
                else "tencent_error"
            )
            summary.error = error.to_body()["error"]
            logger.error(
                "pull stopped",
                extra={
                    "kind": kind,
                    "error_code": error.code,
                    "tencent_code": error.tencent_code,
                    "detail": error.message,
                },
            )
            break
        summary.batches += 1
        summary.pulled += result.count
        if keep_items:
            summary.items.extend(result.items())
        if not _keep(result, summary):
            break
        if result.count < limit:
            summary.stopped = "empty"
            break
    _count(summary)
    (logger.info if summary.pulled or summary.error else logger.debug)(
        "pull finished", extra=summary.to_dict()
    )
    return summary


def _keep(result: PullResult, summary: PullSummary) -> bool:
    """Commit one batch; False when it had to be dead-lettered (pulling must stop)."""
    if result.unparsed:
        dead_letter(summary.kind, list(result.unparsed), "unparsed")
        summary.dead_lettered += len(result.unparsed)
    parsed = list(result.receipts) + list(result.replies)
    if not parsed:
        return True
    try:
        new = save_items(summary.kind, parsed, source="pull")
    except StoreUnavailableError as error:
        dead_letter(summary.kind, [item.to_dict() for item in parsed], "store_unavailable")
        summary.dead_lettered += len(parsed)
        summary.stopped = "store_unavailable"
        summary.error = error.to_body()["error"]
        return False
    summary.stored += new
    summary.duplicates += len(parsed) - new
    return True


def save_items(kind: PullKind, items: Sequence[Receipt | Reply], *, source: str) -> int:
    now = int(time.time())
    if kind == "receipts":
        return runtime.store.save_receipts(
            [i for i in items if isinstance(i, Receipt)], source=source, now=now
        )
    replies = [i for i in items if isinstance(i, Reply)]
    stored = runtime.store.save_replies(replies, source=source, now=now)
    suppressions.apply_replies(replies, source=source, now=now)  # opt-outs; applying twice is harmless
    return stored


def _count(summary: PullSummary) -> None:
    if summary.pulled:
        metrics.add_metric(name="ItemsPulled", unit="Count", value=summary.pulled)
    if summary.stored:
        metrics.add_metric(name="ItemsStored", unit="Count", value=summary.stored)


def status_for_phone(query: StatusQuery, *, deadline: float | None) -> dict[str, Any]:
    """Read one number's receipts or replies through to Tencent, storing what comes back."""
    result = runtime.client.pull_for_phone(
        query.kind, query.phone, query.begin, query.end, query.limit, deadline=deadline
    )
    items = list(result.receipts) + list(result.replies)
    stored = 0
    try:
        stored = save_items(query.kind, items, source="phone_pull")
    except StoreUnavailableError:
        logger.warning("per-number pull not stored", extra={"phone": mask(query.phone), "count": len(items)})
    return {"phone": query.phone, "kind": query.kind, "items": result.items(), "stored": stored}


def message_status(message_id: str) -> dict[str, Any]:
    """The stored message with its latest receipt."""
    if not message_id or len(message_id) > 128:
        raise ValidationError("message_id is empty or too long", field="message_id")
    message = runtime.store.get_message(message_id)
    if message is None:
        raise NotFoundError(f"no message {message_id!r} is known to this store", code="message_not_found")
    return message.to_dict()


# --------------------------------------------------------------------------- push callbacks

CALLBACK_OK = {"result": 0, "errmsg": "OK"}


def check_callback_token(presented: str | None) -> None:
    """Tencent does not sign pushes: the callback URL carries our secret token (`?token=`)."""
    expected = runtime.settings.callback_token.reveal()
    if not expected:
        raise AuthenticationError(
            "callbacks are not enabled: set SMS_CALLBACK_TOKEN and put it in the callback URL",
            code="not_configured",
        )
    if not presented or not hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8")):
        raise AuthenticationError("the callback token is missing or wrong")


def receive_callback(kind: PullKind, body_text: str) -> tuple[int, dict[str, Any]]:
    """Store one push (reports: an array; replies: an object or array). Malformed items are set aside
    one by one; the answer is what Tencent expects, and a non-zero result only if the store failed."""
    try:
        data = json.loads(body_text)
    except ValueError:
        raise ValidationError("the callback body is not JSON", code="invalid_json") from None
    raw_items = data if isinstance(data, list) else [data]
    parse = payloads.legacy_receipt if kind == "receipts" else payloads.legacy_reply
    parsed = payloads.collect_items(kind, raw_items, parse)
    good: list[Receipt | Reply] = [*parsed.receipts, *parsed.replies]
    bad = list(parsed.unparsed)
    if bad:
        dead_letter(kind, bad, "malformed_callback_item")
    try:
        stored = save_items(kind, good, source="callback") if good else 0
    except StoreUnavailableError:
        dead_letter(kind, [i.to_dict() for i in good], "store_unavailable")
        return 503, {"result": 1, "errmsg": "store unavailable; please retry"}
    metrics.add_metric(name="CallbackItems", unit="Count", value=len(raw_items))
    logger.info(
        "callback stored",
        extra={"kind": kind, "items": len(raw_items), "stored": stored, "rejected": len(bad)},
    )
    return 200, dict(CALLBACK_OK)


def purge_expired() -> int:
    """Drop expired idempotency records and one-time codes (run by the schedule)."""
    try:
        return runtime.store.purge_expired(int(time.time()))
    except StoreUnavailableError as error:
        logger.warning("purge skipped", extra={"error_code": error.code})
        return 0
