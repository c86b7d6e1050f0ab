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
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from shared import payloads, suppressions
from shared.deadletter import dead_letter, dead_letter_raw
from shared.errors import (
    AuthenticationError,
    NotFoundError,
    PayloadTooLargeError,
    SmsError,
    StoreUnavailableError,
    UnknownOutcomeError,
    ValidationError,
)
from shared.models import PullKind, PullResult, Receipt, Reply
from shared.observability import logger, metrics
from shared.phone import mask
from shared.services import Services
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
    services: Services,
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
    client = services.client

    def keep_raw(operation: str, content: bytes) -> None:
        dead_letter_raw(services, kind, operation, content)
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
        if not _keep(services, result, summary):
            break
        if result.count < limit:
            summary.stopped = "empty"
            break
    _count(summary)
    (logger.info if summary.pulled or summary.error else logger.debug)(
        "pull finished", extra=summary.to_dict()
    )
    return summary


def _keep(services: Services, result: PullResult, summary: PullSummary) -> bool:
    """Commit one batch; False when it had to be dead-lettered (pulling must stop)."""
    if result.unparsed:
        dead_letter(services, summary.kind, list(result.unparsed), "unparsed")
        summary.dead_lettered += len(result.unparsed)
    parsed, set_aside = admissible(services, summary.kind, [*result.receipts, *result.replies])
    summary.dead_lettered += set_aside
    if not parsed:
        return True
    try:
        new = save_items(services, summary.kind, parsed, source="pull")
    except StoreUnavailableError as error:
        dead_letter(services, summary.kind, [item.to_dict() for item in parsed], "store_unavailable")
        summary.dead_lettered += len(parsed)
        summary.stopped = "store_unavailable"
        summary.error = error.to_body()["error"]
        return False
    summary.stored += new
    summary.duplicates += len(parsed) - new
    return True


# Per-receipt bounds: what a push or pull may make the store keep for one item.
MAX_MESSAGE_ID = 128
MAX_RECEIPT_PHONE = 32
MAX_CARRIER_CODE = 64
MAX_DESCRIPTION = 256
MAX_RECEIPT_CONTEXT = 512


def admissible(
    services: Services, kind: PullKind, items: Sequence[Receipt | Reply]
) -> tuple[list[Receipt | Reply], int]:
    """The items the store may take, and how many were dead-lettered instead: a receipt dated beyond
    now + `SMS_RECEIPT_MAX_SKEW` (or before 1970) would decide its message's status for good, so it
    is set aside as `implausible_time`; one whose message id or phone is over the per-item bounds is
    set aside as `oversized_item`; longer text fields are cut to their bounds."""
    if kind != "receipts":
        return list(items), 0
    latest = services.now() + services.settings.receipt_max_skew
    kept: list[Receipt | Reply] = []
    implausible: list[dict[str, Any]] = []
    oversized: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Receipt):
            continue
        if not 0 <= item.received_at <= latest:
            implausible.append(item.to_dict())
        elif not 0 < len(item.message_id) <= MAX_MESSAGE_ID or len(item.phone) > MAX_RECEIPT_PHONE:
            oversized.append({k: str(v)[:MAX_DESCRIPTION] for k, v in item.to_dict().items()})
        else:
            kept.append(
                item._replace(
                    carrier_code=item.carrier_code[:MAX_CARRIER_CODE],
                    description=item.description[:MAX_DESCRIPTION],
                    session_context=item.session_context[:MAX_RECEIPT_CONTEXT],
                )
            )
    if implausible:
        dead_letter(services, kind, implausible, "implausible_time")
    if oversized:
        dead_letter(services, kind, oversized, "oversized_item")
    return kept, len(implausible) + len(oversized)


def save_items(services: Services, kind: PullKind, items: Sequence[Receipt | Reply], *, source: str) -> int:
    """Store admissible items (see `admissible`); return how many were new."""
    now, store = services.now(), services.store
    if kind == "receipts":
        return store.save_receipts([i for i in items if isinstance(i, Receipt)], source=source, now=now)
    replies = [i for i in items if isinstance(i, Reply)]
    stored = store.save_replies(replies, source=source, now=now)
    suppressions.apply_replies(services, replies, source=source)  # opt-outs; applying twice is harmless
    return stored


def _count(summary: PullSummary) -> None:
    if summary.pulled:
        metrics.add_metric(name="ItemsPulled", unit="Count", value=summary.pulled)
    if summary.stored:
        metrics.add_metric(name="ItemsStored", unit="Count", value=summary.stored)


def status_for_phone(
    services: Services, query: StatusQuery, *, deadline: float | None, cache_key: str | None = None
) -> dict[str, Any]:
    """Read one number's receipts or replies through to Tencent, storing what comes back.

    With `cache_key`, an answer given for the same key less than `SMS_STATUS_CACHE_TTL` seconds ago
    (by any container: it is kept in the store) is given again instead of calling Tencent, whose
    per-number pulls allow 20 calls a second in all. Such an answer says `"cached": true`.
    """
    ttl, store = services.settings.status_cache_ttl, services.store
    now = services.now()
    if cache_key and ttl:
        try:
            cached = store.cache_get(cache_key, now=now)
        except StoreUnavailableError:
            cached = None  # read through instead
        if cached is not None:
            return {**cached, "stored": 0, "cached": True}
    result = services.client.pull_for_phone(
        query.kind, query.phone, query.begin, query.end, query.limit, deadline=deadline
    )
    items, _ = admissible(services, query.kind, [*result.receipts, *result.replies])
    stored = 0
    try:
        stored = save_items(services, query.kind, items, source="phone_pull")
    except StoreUnavailableError:
        logger.warning("per-number pull not stored", extra={"phone": mask(query.phone), "count": len(items)})
    answer = {"phone": query.phone, "kind": query.kind, "items": result.items(), "stored": stored}
    if cache_key and ttl:
        try:
            store.cache_put(cache_key, answer, now=now, ttl=ttl)
        except StoreUnavailableError:
            logger.warning("per-number answer not cached", extra={"phone": mask(query.phone)})
    return {**answer, "cached": False}


def message_status(services: Services, message_id: str) -> dict[str, Any]:
    """The stored message with its latest receipt."""
    if not message_id or len(message_id) > 128:
        raise ValidationError("message_id is empty or too long", field="message_id")
    message = services.store.get_message(message_id)
    if message is None:
        raise NotFoundError(f"no message {message_id!r} is known to this store", code="message_not_found")
    return message.to_dict()


# --------------------------------------------------------------------------- push callbacks

CALLBACK_OK = {"result": 0, "errmsg": "OK"}


MAX_CALLBACK_DEPTH = 8  # a push is an array of flat objects: depth 2
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')  # strings (skipped) and brackets


def check_callback_token(services: Services, presented: str | None, *, repeated: bool = False) -> None:
    """Tencent does not sign pushes: the callback URL carries our secret token (`?token=`), exactly
    once: a repeated token is refused (400) whatever its values, so no guess rides along a right one."""
    expected = services.settings.callback_token.reveal()
    if not expected:
        raise AuthenticationError(
            "callbacks are not enabled: set SMS_CALLBACK_TOKEN and put it in the callback URL",
            code="not_configured",
        )
    if repeated:
        raise ValidationError(
            "the token query parameter is given more than once", field="token", code="repeated_parameter"
        )
    if not presented or not hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8")):
        raise AuthenticationError("the callback token is missing or wrong")


def receive_callback(services: Services, kind: PullKind, body_text: str) -> tuple[int, dict[str, Any]]:
    """Store one push (reports: an array; replies: an object or array). Malformed items are set aside
    one by one; the answer is what Tencent expects, and a non-zero result only if the store failed."""
    data = _callback_json(body_text, services.settings.callback_max_bytes)
    raw_items = data if isinstance(data, list) else [data]
    parse = payloads.legacy_receipt if kind == "receipts" else payloads.legacy_reply
    parsed = payloads.collect_items(kind, raw_items, parse)
    bad = list(parsed.unparsed)
    if bad:
        dead_letter(services, kind, bad, "malformed_callback_item")
    good, set_aside = admissible(services, kind, [*parsed.receipts, *parsed.replies])
    try:
        stored = save_items(services, kind, good, source="callback") if good else 0
    except StoreUnavailableError:
        dead_letter(services, kind, [i.to_dict() for i in good], "store_unavailable")
        return 503, {"result": 1, "errmsg": "store unavailable; please retry"}
    metrics.add_metric(name="CallbackItems", unit="Count", value=len(raw_items))
    logger.info(
        "callback stored",
        extra={"kind": kind, "items": len(raw_items), "stored": stored, "rejected": len(bad) + set_aside},
    )
    return 200, dict(CALLBACK_OK)


def _callback_json(body_text: str, limit: int) -> Any:
    """The push body parsed, once it is known to be small enough (413) and shallow enough (400) that
    parsing cannot exhaust memory or the recursion limit."""
    size = len(body_text) if len(body_text) > limit else len(body_text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise PayloadTooLargeError(f"the callback body is over {limit} bytes (SMS_CALLBACK_MAX_BYTES)")
    if _nests_deeper(body_text, MAX_CALLBACK_DEPTH):
        raise ValidationError(
            f"the callback body nests deeper than {MAX_CALLBACK_DEPTH} levels", code="too_deep"
        )
    try:
        return json.loads(body_text)
    except (ValueError, RecursionError):
        raise ValidationError("the callback body is not JSON", code="invalid_json") from None


def _nests_deeper(text: str, limit: int) -> bool:
    """Whether JSON `text` opens more than `limit` arrays/objects inside one another (brackets
    inside strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def purge_expired(services: Services) -> int:
    """Drop expired idempotency records and one-time codes, and receipts of messages this store never
    recorded once `SMS_ORPHAN_RECEIPT_TTL` has passed (run by the schedule)."""
    try:
        return services.store.purge_expired(
            services.now(), orphan_receipt_ttl=services.settings.orphan_receipt_ttl
        )
    except StoreUnavailableError as error:
        logger.warning("purge skipped", extra={"error_code": error.code})
        return 0
