"""What happened at a glance: delivery statistics from the store, Tencent's own hourly statistics
for comparison, and one message's or one number's history for the dashboard's search.

Numbers are masked in every answer unless the caller asks to reveal them (`reveal=1`); a reveal
is logged, with the caller and the masked number, never the number itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import phone as phones
from shared.errors import NotFoundError, ValidationError
from shared.observability import logger
from shared.services import Services
from shared.store.base import GROUP_BYS, Store, StoredMessage
from shared.store.stats import HOUR, hour_window

DEFAULT_WINDOW = 86400
MAX_WINDOW = 93 * 86400  # a quarter: the hour groups of a chart stay a few thousand points
TENCENT_MAX_WINDOW = 32 * 86400  # CallbackStatusStatistics refuses longer ranges
MAX_MESSAGES = 200
_TRUE = ("1", "true", "yes")


def _only(query: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in query if k not in allowed)
    if unknown:
        raise ValidationError(f"unknown parameter {unknown[0]!r}", field=unknown[0], code="unknown_field")


def _unix(raw: Any, field: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    text = str(raw).strip() if not isinstance(raw, bool) else ""
    if isinstance(raw, int) and not isinstance(raw, bool):
        text = str(raw)
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or int(text) >= 2**32:
        raise ValidationError(f"{field} must be unix seconds", field=field)
    return int(text)


def parse_window(query: Mapping[str, Any], now: int, longest: int) -> tuple[int, int]:
    """`from` and `to` (unix seconds; default: the `DEFAULT_WINDOW` before now)."""
    to = _unix(query.get("to"), "to", now)
    frm = _unix(query.get("from"), "from", to - DEFAULT_WINDOW)
    if frm >= to:
        raise ValidationError("from must be before to", field="from")
    if to - frm > longest:
        raise ValidationError(f"the window may be at most {longest // 86400} days", field="from")
    return frm, to


def store_stats(services: Services, query: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /sms/stats?from=&to=&group_by=`: groups and totals from the store's rollup."""
    _only(query, {"from", "to", "group_by"})
    now = services.now()
    frm, to = parse_window(query, now, MAX_WINDOW)
    group_by = str(query.get("group_by") or "hour")
    if group_by not in GROUP_BYS:
        raise ValidationError(f"group_by must be one of {', '.join(GROUP_BYS)}", field="group_by")
    answer = services.store.stats(frm, to, group_by).to_dict()
    answer["as_of"] = now
    return answer


def tencent_stats(services: Services, query: Mapping[str, Any], *, deadline: float | None) -> dict[str, Any]:
    """`GET /sms/stats/tencent?from=&to=`: Tencent's send and receipt statistics for the same hours."""
    _only(query, {"from", "to"})
    now = services.now()
    frm, to = parse_window(query, now, TENCENT_MAX_WINDOW)
    start, end = hour_window(frm, to)
    client = services.client
    return {
        "from": start,
        "to": end,
        "api": services.settings.api,
        "send": client.statistics("send", start, end - HOUR, deadline=deadline),
        "callback": client.statistics("callback", start, end - HOUR, deadline=deadline),
        "as_of": now,
    }


def _shown(number: str, reveal: bool) -> str:
    return number if reveal else phones.mask(number)


def _history(store: Store, message: StoredMessage, reveal: bool) -> dict[str, Any]:
    body = message.to_dict()
    body["phone"] = _shown(message.phone, reveal)
    body.pop("latest_receipt", None)
    receipts = store.receipts_for(message.message_id)
    body["receipts"] = [{**r.to_dict(), "phone": _shown(r.phone, reveal)} for r in receipts]
    return body


def message_history(services: Services, query: Mapping[str, Any], *, caller: str) -> dict[str, Any]:
    """`GET /sms/messages?phone=…` or `?message_id=…` (`&reveal=1`, `&limit=`): each message with
    every receipt, and the number's replies since its oldest listed message."""
    _only(query, {"phone", "message_id", "reveal", "limit"})
    reveal = str(query.get("reveal", "")).lower() in _TRUE
    limit = _unix(query.get("limit"), "limit", 20)
    if not 1 <= limit <= MAX_MESSAGES:
        raise ValidationError(f"limit must be between 1 and {MAX_MESSAGES}", field="limit")
    raw_phone, message_id = query.get("phone"), query.get("message_id")
    if bool(raw_phone) == bool(message_id):
        raise ValidationError("give either phone or message_id", field="phone")
    store = services.store
    if message_id:
        if len(str(message_id)) > 128:
            raise ValidationError("message_id is too long", field="message_id")
        found = store.get_message(str(message_id))
        if found is None:
            raise NotFoundError(f"no message {message_id!r} is known to this store", code="message_not_found")
        number, messages = found.phone, [found]
    else:
        number = phones.normalize(raw_phone, field="phone")
        messages = store.messages_for_phone(number, limit)
    since = min((m.created_at for m in messages), default=0)
    replies = [r for r in store.replies_for(number, since)] if messages else []
    if reveal:
        logger.info("numbers revealed", extra={"caller": caller, "phone": phones.mask(number)})
    return {
        "phone": _shown(number, reveal),
        "revealed": reveal,
        "messages": [_history(store, m, reveal) for m in messages],
        "replies": [{**r.to_dict(), "phone": _shown(r.phone, reveal)} for r in replies],
    }
