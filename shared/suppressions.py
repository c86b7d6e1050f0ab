"""Opt-outs honoured. A reply (pulled or pushed) whose whole text, trimmed and case-folded, is an
opt-out keyword (`SMS_OPT_OUT_KEYWORDS`: R, T, TD, 退订, STOP, UNSUBSCRIBE) puts the number on the
store's suppression list; an opt-in keyword (`SMS_OPT_IN_KEYWORDS`: START) takes it off. The reply's
time decides, not the order replies are processed in.

Marketing sends skip suppressed numbers (per-number status `suppressed`, nothing sent, no fee; a
single send is a 409 `suppressed`). A send is marketing when its template is in
`SMS_MARKETING_TEMPLATES`, its `SMS_TEMPLATES` text carries a refusal phrase (Tencent's 拒收请回复R,
回T退订, or Reply STOP), or it is legacy plain content of type 1. Verification codes and
notifications still go to suppressed numbers unless `SMS_SUPPRESS_ALL=1`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from shared import phone as phones
from shared.config import Settings
from shared.errors import Category, NotFoundError, SmsError, ValidationError
from shared.models import Message, Reply, SendResult
from shared.observability import logger
from shared.phone import mask
from shared.services import Services
from shared.store.base import Suppression

# The refusal phrases marketing templates carry (Tencent requires one on mainland marketing SMS).
REFUSAL = re.compile(
    r"拒收请回复\s*R|回\s*T\s*D?\s*退订|退订\s*回\s*T|回复\s*T\s*D?\s*退订"
    r"|\b(reply|text|send)\s+stop\b|\bstop\s+to\s+(opt[\s-]*out|unsubscribe|end|cancel|stop)\b",
    re.IGNORECASE,
)
SUPPRESSED_MESSAGE = "the recipient opted out (replied with an opt-out keyword); not sent"
MAX_PAGE = 1000


class SuppressedError(SmsError):
    status, code, category = 409, "suppressed", Category.CALLER


def keyword_of(text: str, keywords: frozenset[str]) -> str:
    """The keyword a reply is (its whole text, trimmed and case-folded), or ""."""
    word = text.strip().casefold()
    return word if word in keywords else ""


def changes_from_replies(replies: Sequence[Reply], settings: Settings, *, source: str) -> list[Suppression]:
    """The suppression changes a batch of replies asks for (most replies ask for none)."""
    changes = []
    for reply in replies:
        if keyword := keyword_of(reply.text, settings.opt_out_keywords):
            changes.append(Suppression(reply.phone, True, int(reply.replied_at), reply.sign, keyword, source))
        elif keyword := keyword_of(reply.text, settings.opt_in_keywords):
            changes.append(
                Suppression(reply.phone, False, int(reply.replied_at), reply.sign, keyword, source)
            )
    return changes


def apply_replies(services: Services, replies: Sequence[Reply], *, source: str) -> int:
    """Put numbers that replied an opt-out keyword on the list, take opt-ins off; return how many
    numbers changed. Applying the same replies again changes nothing (replies are pulled at least once)."""
    changes = changes_from_replies(replies, services.settings, source=source)
    if not changes:
        return 0
    changed = services.store.set_suppressions(changes, now=services.now())
    for change in changes:
        audit("opt-out reply" if change.suppressed else "opt-in reply", change)
    return changed


def audit(event: str, change: Suppression, *, caller: str = "") -> None:
    """One log line per change of the list (masked number), for whoever must show who opted out when."""
    extra: dict[str, Any] = {
        "phone": mask(change.phone),
        "suppressed": change.suppressed,
        "changed_at": change.changed_at,
        "keyword": change.keyword,
        "source": change.source,
    }
    if caller:
        extra["caller"] = caller
    logger.info(f"suppression: {event}", extra=extra)


def is_marketing(message: Message, settings: Settings, *, international: bool) -> bool:
    """Whether `message`, as sent to that region class, is marketing (see the module docstring)."""
    if message.is_content:
        return message.content_type == 1
    template_id = message.for_region(international=international).template_id
    if template_id in settings.marketing_templates:
        return True
    spec = settings.templates.get(template_id)
    return spec is not None and bool(REFUSAL.search(spec.text))


def blocked(services: Services, numbers: Sequence[str], message: Message) -> set[str]:
    """Those of `numbers` this send must skip: suppressed, where the send is marketing (or always
    with `SMS_SUPPRESS_ALL`). One store query per few hundred numbers, none when nothing applies."""
    settings = services.settings
    mainland, abroad = (
        settings.suppress_all or is_marketing(message, settings, international=international)
        for international in (False, True)
    )
    if mainland and abroad:
        candidates = list(numbers)
    elif mainland or abroad:
        candidates = [n for n in numbers if phones.is_mainland(n) == mainland]
    else:
        return set()
    return services.store.suppressed(candidates) if candidates else set()


def check_single(services: Services, number: str, message: Message, *, field: str = "phone") -> None:
    """Refuse (409 `suppressed`) a send to one number that `blocked` would skip."""
    if blocked(services, [number], message):
        logger.info("sms suppressed", extra={"phone": mask(number), "template_id": message.template_id})
        raise SuppressedError(
            "the recipient opted out of these messages (replied with an opt-out keyword); nothing was sent",
            field=field,
        )


def suppressed_result(number: str) -> SendResult:
    """The per-number result of a number skipped because it opted out (nothing sent, no fee)."""
    return SendResult(number, "", "suppressed", 0, "suppressed", SUPPRESSED_MESSAGE)


def parse_page(query: Any) -> tuple[str, int]:
    """`?after=<phone>&limit=` of `GET /sms/suppressions`."""
    after = query.get("after", "") or ""
    if after:
        after = phones.normalize(after, field="phone")
    raw = str(query.get("limit", "100")).strip()
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ValidationError(f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit")
    return after, int(raw)


def list_page(services: Services, query: Any) -> dict[str, Any]:
    after, limit = parse_page(query)
    rows = services.store.list_suppressions(after=after, limit=limit)
    return {
        "items": [row.to_dict() for row in rows],
        "next": rows[-1].phone if len(rows) == limit else None,
    }


def get_one(services: Services, raw_phone: str) -> dict[str, Any]:
    """`GET /sms/suppressions/{phone}`: the number's latest opt-out or opt-in; 404 if it never had one."""
    number = phones.normalize(raw_phone, field="phone")
    found = services.store.get_suppression(number)
    if found is None:
        raise NotFoundError(f"{mask(number)} never opted out", code="suppression_not_found")
    return found.to_dict()


def operator_change(services: Services, raw_phone: str, *, suppressed: bool, caller: str) -> dict[str, Any]:
    """`PUT` (suppress) or `DELETE` (take off) `/sms/suppressions/{phone}`, audited."""
    now, store = services.now(), services.store
    number = phones.normalize(raw_phone, field="phone")
    change = Suppression(number, suppressed, now, source="api")
    store.set_suppressions([change], now=now, force=True)
    audit("put by an operator" if suppressed else "removed by an operator", change, caller=caller)
    current = store.get_suppression(number)
    return (current or change).to_dict()
