"""Tencent's template catalogue: read it (`DescribeSmsTemplateList`), keep it in the store, and
check a send against it before anything goes to Tencent.

The catalogue exists on API 3.0 only: the legacy v5 API has no call that lists templates, so there
`SMS_TEMPLATES` is all there is. `SMS_TEMPLATES` is also the static override on API 3.0: a template
it names is checked by it (see `shared.validation`) and not against the synced catalogue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from shared import payloads, texts
from shared import phone as phones
from shared.config import Settings
from shared.errors import SmsError, ValidationError
from shared.models import Message
from shared.observability import logger
from shared.payloads import ApiCall
from shared.services import Services
from shared.store.base import Store, StoredTemplate

ACTION = "DescribeSmsTemplateList"
MAX_PAGE = 100  # Tencent's cap on Limit and on TemplateIdSet
MAINLAND, INTERNATIONAL, BOTH = 0, 1, 3
LIVE = 0
STATUS_NAMES = {0: "approved and live", 1: "in review", 2: "approved, not yet live", -1: "rejected"}
CACHE_SECONDS = 60.0  # how long a container trusts its copy of the stored catalogue
MAX_PAGES = 100  # 10 000 templates per region: far above any account's quota
VERIFICATION_WORDS = ("验证码", "verification code", "校验码", "动态码")
MAX_CODE_PARAM = 6  # Tencent: a verification-code template's variables are 0-6 digits (1038)


class NotSupportedError(SmsError):
    status, code = 501, "not_supported"


# --------------------------------------------------------------------------- wire


def build_describe_templates(
    international: int, *, offset: int = 0, limit: int = MAX_PAGE, template_ids: Sequence[str] = ()
) -> ApiCall:
    """`DescribeSmsTemplateList` for one region class: by ids (≤100) or one page (`Limit` ≤100)."""
    if international not in (MAINLAND, INTERNATIONAL):
        raise ValueError("International is 0 (mainland) or 1 (international)")
    if template_ids:
        if len(template_ids) > MAX_PAGE:
            raise ValueError(f"at most {MAX_PAGE} template ids per call")
        return ApiCall(
            ACTION, {"International": international, "TemplateIdSet": [int(i) for i in template_ids]}
        )
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ValueError(f"Limit is 1..{MAX_PAGE} and Offset at least 0")
    return ApiCall(ACTION, {"International": international, "Limit": limit, "Offset": offset})


def parse_describe_templates(answer: Any, call: ApiCall) -> list[StoredTemplate]:
    """The templates of a `DescribeSmsTemplateList` answer (`Response.Error` raises `TencentError`)."""
    response = payloads.parse_v3_envelope(answer, call)
    items = response.get("DescribeTemplateStatusSet")
    if not isinstance(items, list):
        raise payloads.malformed(call)
    try:
        return [_template(item) for item in items]
    except (KeyError, TypeError, ValueError):
        raise payloads.malformed(call) from None


def _template(item: dict[str, Any]) -> StoredTemplate:
    international, status = int(item["International"]), int(item["StatusCode"])
    if international not in (MAINLAND, INTERNATIONAL, BOTH) or status not in STATUS_NAMES:
        raise ValueError("unknown International or StatusCode")
    return StoredTemplate(
        template_id=str(int(item["TemplateId"])),
        international=international,
        status=status,
        name=str(item.get("TemplateName") or ""),
        text=str(item.get("TemplateContent") or ""),
        review_reply=str(item.get("ReviewReply") or ""),
        created_at=int(item.get("CreateTime") or 0),
    )


# --------------------------------------------------------------------------- sync


def sync(services: Services, *, deadline: float | None = None) -> dict[str, Any]:
    """Read the whole catalogue (mainland and international, page by page) and replace the stored
    one with it. Nothing is stored unless every page arrived."""
    if services.settings.api == "legacy":
        raise NotSupportedError(
            "the legacy API has no call that lists templates; describe them in SMS_TEMPLATES instead"
        )
    client = services.client
    found: dict[str, StoredTemplate] = {}
    for international in (MAINLAND, INTERNATIONAL):
        for page in range(MAX_PAGES):
            call = build_describe_templates(international, offset=page * MAX_PAGE)
            items = parse_describe_templates(client.call(call, deadline=deadline), call)
            for item in items:
                found.setdefault(item.template_id, item)  # an International 3 template is listed twice
            if len(items) < MAX_PAGE:
                break
    at = services.now()
    stored = services.store.save_templates(list(found.values()), now=at)
    _forget()
    live = sum(1 for t in found.values() if t.status == LIVE)
    logger.info("template catalogue synced", extra={"templates": stored, "live": live})
    return {"synced": stored, "live": live, "synced_at": at}


def refresh_if_due(services: Services, *, deadline: float | None = None) -> dict[str, Any]:
    """The scheduled refresh: sync when `SMS_TEMPLATE_SYNC_INTERVAL` has passed since the last one.
    A failure is reported, not raised: the receipts pull it runs beside must not fail with it."""
    settings = services.settings
    if settings.api == "legacy" or not settings.template_sync_interval:
        return {"skipped": "legacy API" if settings.api == "legacy" else "SMS_TEMPLATE_SYNC_INTERVAL=off"}
    try:
        last = max((t.synced_at for t in services.store.templates()), default=0)
        if last and services.now() - last < settings.template_sync_interval:
            return {"skipped": "not due", "synced_at": last}
        return sync(services, deadline=deadline)
    except SmsError as error:  # Tencent or the store unavailable: the next run tries again
        logger.warning("template catalogue sync failed", extra={"error_code": error.code})
        return {"error": error.to_body()["error"]}


def listing(services: Services) -> dict[str, Any]:
    """`GET /sms/templates`: the stored catalogue, when it was synced, and the static overrides."""
    stored = services.store.templates()
    return {
        "templates": [_listed(t) for t in stored],
        "synced_at": max((t.synced_at for t in stored), default=None),
        "overrides": {tid: spec._asdict() for tid, spec in services.settings.templates.items()},
    }


def _listed(template: StoredTemplate) -> dict[str, Any]:
    body = template.to_dict()
    body["status_name"] = STATUS_NAMES.get(template.status, "unknown")
    body["params"] = texts.placeholder_count(template.text)
    return body


# --------------------------------------------------------------------------- checks

_cache_lock = threading.Lock()
_cache: tuple[Store, float, dict[str, StoredTemplate]] | None = None


def known_templates(store: Store) -> Mapping[str, StoredTemplate]:
    """The stored catalogue by id, as this container last read it (at most `CACHE_SECONDS` ago)."""
    global _cache
    cached = _cache
    if cached is not None and cached[0] is store and time.monotonic() < cached[1]:
        return cached[2]
    templates = {t.template_id: t for t in store.templates()}
    with _cache_lock:
        _cache = (store, time.monotonic() + CACHE_SECONDS, templates)
    return templates


def _forget() -> None:
    global _cache
    with _cache_lock:
        _cache = None


def is_verification(template: StoredTemplate, settings: Settings) -> bool:
    """A verification-code template: the OTP template, or one whose text says it carries a code
    (`DescribeSmsTemplateList` does not return a template's kind)."""
    text = template.text.lower()
    return template.template_id == settings.otp_template_id or any(w in text for w in VERIFICATION_WORDS)


def check_message(services: Services, message: Message) -> StoredTemplate | None:
    """Raise when the synced catalogue refuses `message` whatever the number; return its entry.

    Nothing is checked for a plain-content send, a template `SMS_TEMPLATES` names, or while no
    catalogue has been synced."""
    settings = services.settings
    if message.is_content or not message.template_id or message.template_id in settings.templates:
        return None
    catalogue = known_templates(services.store)
    if not catalogue:
        return None
    template = catalogue.get(message.template_id)
    if template is None:
        raise ValidationError(
            f"template {message.template_id} is not in the account's template catalogue at Tencent",
            field="template_id",
            code="unknown_template",
            details={"tencent_rule": "FailedOperation.TemplateIdNotExist"},
        )
    if template.status != LIVE:
        raise ValidationError(
            f"template {message.template_id} is {STATUS_NAMES.get(template.status, 'not live')} at Tencent "
            f"(StatusCode {template.status}); only approved and live templates (StatusCode 0) can be sent",
            field="template_id",
            code="template_not_live",
            details={"tencent_rule": "FailedOperation.TemplateUnapprovedOrNotExist"},
        )
    wanted = texts.placeholder_count(template.text)
    if len(message.params) != wanted:
        raise ValidationError(
            f"template {message.template_id} has {wanted} placeholder(s) but got {len(message.params)} "
            "parameter(s); Tencent wants exactly one per placeholder",
            field="params",
            code="wrong_param_count",
            details={"tencent_rule": "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"},
        )
    if is_verification(template, settings):
        for index, value in enumerate(message.params):
            if not (value.isascii() and value.isdigit() and len(value) <= MAX_CODE_PARAM):
                raise ValidationError(
                    f"template {message.template_id} is a verification-code template: Tencent accepts "
                    f"only up to {MAX_CODE_PARAM} digits in each of its parameters",
                    field=f"params[{index}]",
                    code="verification_code_params",
                    details={"tencent_rule": "InvalidParameterValue.TemplateParameterFormatError"},
                )
    return template


def check_number(template: StoredTemplate | None, number: str, *, field: str) -> None:
    """Raise when the template (from `check_message`) cannot go to `number`'s region."""
    if template is None or template.international == BOTH:
        return
    mainland = phones.is_mainland(number)
    if (template.international == MAINLAND) == mainland:
        return
    kind = "a mainland China" if template.international == MAINLAND else "an international"
    rule = (
        "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone"
        if mainland is False
        else "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone"
    )
    raise ValidationError(
        f"template {template.template_id} is {kind} template and cannot go to {phones.region_of(number)}",
        field=field,
        code="template_region_mismatch",
        details={"tencent_rule": rule},
    )


class Target(NamedTuple):
    """A number and the request field that named it."""

    phone: str
    field: str


def check_send(services: Services, message: Message, targets: Sequence[Target]) -> None:
    """The whole pre-send check of one send against the synced catalogue (400 on the first problem)."""
    checked: set[bool] = set()
    for target in targets:  # each region's template (shared.templates) checked once
        mainland = phones.is_mainland(target.phone)
        if mainland not in checked:
            template = check_message(services, message.for_region(international=not mainland))
            check_number(template, target.phone, field=target.field)
            checked.add(mainland)
