"""Preview a send without sending: the text the handset shows, its billed parts per region, the fee
per number and in total, and every per-number problem the real send would meet.

The body is that of `POST /sms/send` or `POST /sms/send-multi`. A problem of the whole request
(bad template, wrong parameter count, a template not live) answers the same 400 the send would; a
problem of one number is listed on that number. Rate limits are looked at, never hit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared import catalogue, limits, segments, suppressions, templates, texts, validation
from shared import phone as phones
from shared.config import Settings
from shared.errors import SmsError, ValidationError
from shared.models import Message
from shared.services import Services
from shared.store.base import RateCheck, Store

PREVIEW_FIELDS = validation.SINGLE_FIELDS | validation.MULTI_FIELDS


def preview(services: Services, body: Mapping[str, Any], *, caller: str) -> dict[str, Any]:
    """What `body` would do if sent now; nothing is sent and nothing is recorded."""
    settings, store = services.settings, services.store
    at = services.now()
    validation.only_fields(body, PREVIEW_FIELDS)
    multi = "phones" in body
    message = services.client.with_defaults(validation.parse_message(body, settings))
    numbers = _numbers(body, multi)
    # each region class present gets its own template (shared.templates), so its own text and parts
    present = {not phones.is_mainland(n) for _, n, _ in numbers if n is not None} or {False}
    regional = {intl: message.for_region(international=intl) for intl in sorted(present)}
    template = {intl: catalogue.check_message(services, m) for intl, m in regional.items()}
    text = {intl: _handset_text(m, template[intl], settings) for intl, m in regional.items()}
    # the opted-out numbers the real send would skip, read in one batch
    skipped = suppressions.blocked(services, [n for _, n, _ in numbers if n is not None], message)
    seen: set[str] = set()
    entries = []
    for raw_field, number, problem in numbers:
        if number is not None and number in seen:
            problem = ValidationError("the number is listed before; it is sent once", code="duplicate")
        intl = number is not None and not phones.is_mainland(number)
        entry = _entry(
            number,
            raw_field,
            problem,
            message,
            template.get(intl),
            text.get(intl),
            settings,
            store,
            at,
            skipped,
        )
        if number is not None:
            seen.add(number)
        entries.append(entry)
    sendable = [e for e in entries if not e["problems"]]
    first = text[min(text)]  # the mainland text when there are mainland numbers
    known = all(t is not None for t in text.values())
    answer: dict[str, Any] = {
        "text": first,
        "length": None if first is None else len(first.encode("utf-16-le")) // 2,
        "texts": {("international" if intl else "mainland"): t for intl, t in text.items()},
        "template_id": templates.request_value(message) or None,
        "sign": message.sign or None,
        "regions": _regions(text, entries),
        "numbers": entries,
        "sendable": len(sendable),
        "refused": len(entries) - len(sendable),
        "fee_total": sum(e["fee"] for e in sendable) if known else None,
        "problems": _caller_problems(settings, store, caller, multi, at),
    }
    if not known:
        answer["note"] = (
            "the template's text is unknown: sync the catalogue (POST /sms/templates/sync) or give its "
            "text in SMS_TEMPLATES; parts and fees need it"
        )
    return answer


def _handset_text(message: Message, template: Any, settings: Settings) -> str | None:
    """`【sign】` plus the rendered template (a plain-content text carries its sign itself)."""
    if message.is_content:
        return texts.signed_text(message.sign, message.content)
    spec = settings.templates.get(message.template_id)
    source = spec.text if spec is not None else (template.text if template is not None else "")
    if not source:
        return None
    return texts.signed_text(message.sign, texts.render_template(source, message.params))


def _numbers(body: Mapping[str, Any], multi: bool) -> list[tuple[str, str | None, SmsError | None]]:
    """(field, E.164 or None, problem) for every number the body names, in its order."""
    if not multi:
        try:
            return [("phone" if "phone" in body else "mobile", validation.phone_of(body), None)]
        except ValidationError as error:
            return [(error.field or "phone", None, error)]
    raw = body.get("phones")
    if not isinstance(raw, list) or not raw:
        raise ValidationError("phones must be a non-empty list of phone numbers", field="phones")
    found: list[tuple[str, str | None, SmsError | None]] = []
    for index, value in enumerate(raw):
        field = f"phones[{index}]"
        try:
            found.append((field, phones.normalize(value, field=field), None))
        except ValidationError as error:
            found.append((field, None, error))
    return found


def _entry(
    number: str | None,
    field: str,
    problem: SmsError | None,
    message: Message,
    template: Any,
    text: str | None,
    settings: Settings,
    store: Store,
    at: int,
    skipped: set[str],
) -> dict[str, Any]:
    kind = "duplicate" if problem is not None and problem.code == "duplicate" else "invalid"
    problems = [_problem(problem, kind)] if problem is not None else []
    entry: dict[str, Any] = {"field": field, "phone": number}
    if number is not None and problem is None:
        mainland = phones.is_mainland(number)
        entry["region"] = phones.region_of(number)
        entry["region_class"] = "mainland" if mainland else "international"
        try:
            validation.check_destination(number, message, settings, field=field)
            catalogue.check_number(template, number, field=field)
        except validation.CountryNotAllowedError as error:
            problems.append(_problem(error, "not_allowed"))
        except ValidationError as error:
            if error.field != field:  # the template, its parameters, the sign: the whole request's
                raise
            problems.append(_problem(error, error.code))
        if number in skipped:
            problems.append({"code": "suppressed", "message": "the number opted out of these messages"})
        limited = _peek(store, limits.phone_checks(settings, number), at)
        if limited is not None:
            problems.append(limited)
        if text is not None:
            count = segments.count(text, international=not mainland)
            entry.update(encoding=count.encoding, counted_length=count.length, parts=count.parts)
    entry["problems"] = problems
    entry["fee"] = entry.get("parts", 0) if not problems else 0
    return entry


def _problem(error: SmsError, kind: str) -> dict[str, Any]:
    return {"code": kind, "message": error.message, **({"detail": error.code} if error.code != kind else {})}


def _peek(store: Store, checks: Sequence[RateCheck], at: int) -> dict[str, Any] | None:
    """A rate limit the send would hit now, looked at without recording a hit."""
    if not checks:
        return None
    decision = store.peek_rate_limits(list(checks), now=at)
    if decision.allowed:
        return None
    assert decision.check is not None
    return {
        "code": "rate_limited",
        "message": f"rate limit {decision.check.name} reached; retry in {decision.retry_after} s",
        "limit": decision.check.name,
        "retry_after": max(1, decision.retry_after),
    }


def _caller_problems(
    settings: Settings, store: Store, caller: str, multi: bool, at: int
) -> list[dict[str, Any]]:
    """Limits of the caller (and the global cap) that would refuse the whole send now."""
    scope = "multi" if multi else "sms"
    checks = limits.checks_for(settings, caller=caller, phones=(), scope=scope, global_cap=not multi)
    limited = _peek(store, checks, at)
    return [limited] if limited is not None else []


def _regions(text: Mapping[bool, str | None], entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Parts per region class the request's numbers fall in (each with its own text), with their
    numbers and fees."""
    regions: dict[str, Any] = {}
    for name, international in (("mainland", False), ("international", True)):
        members = [e for e in entries if e.get("region_class") == name]
        if not members:
            continue
        summary: dict[str, Any] = {"numbers": len(members)}
        shown = text.get(international)
        if shown is not None:
            summary["text"] = shown
            summary.update(segments.count(shown, international=international).to_dict())
            summary["fee"] = sum(e["fee"] for e in members)
        regions[name] = summary
    return regions
