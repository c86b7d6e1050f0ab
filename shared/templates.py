"""Which template each number gets: Tencent sends mainland templates only to mainland China numbers
and international templates only to the others (HK, Macau, Taiwan included); an `International = 3`
template serves both.

A request names its template as `"template_id": "7839"` (that one for every region, unless
`SMS_TEMPLATES` says it cannot go to one) or per region, `{"mainland": "7839", "international":
"7841"}` (a region it leaves out has none). A request naming no template gets the defaults:
`TENCENT_SMS_TEMPLATE_ID` for mainland numbers and `TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL` for the
others (or the mainland default, when `SMS_TEMPLATES` says it serves both). A number whose region is
left without a usable template is refused (400, naming its field) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared import phone as phones
from shared.config import Settings, TemplateSpec
from shared.errors import ValidationError
from shared.models import NO_TEMPLATE, Message, SendResult

REGIONS = ("mainland", "international")
MAX_TEMPLATE_ID = 20


def parse_choice(body: Mapping[str, Any], settings: Settings) -> tuple[str, str]:
    """The (mainland, international) templates of a request; "" where a region has none."""
    if "template_id" not in body:
        return defaults(settings.default_template_id, settings.default_template_id_international, settings)
    raw = body["template_id"]
    if isinstance(raw, Mapping):
        unknown = sorted(str(k) for k in raw if k not in REGIONS)
        if unknown or not raw:
            raise ValidationError(
                'template_id per region takes "mainland" and/or "international"', field="template_id"
            )
        choice = tuple(_template_id(raw.get(region), f"template_id.{region}") for region in REGIONS)
        for region, template_id in zip(REGIONS, choice, strict=True):
            spec = settings.templates.get(template_id)
            if spec is not None and not spec.serves(international=region == "international"):
                raise ValidationError(
                    f"template {template_id} cannot go to {region} numbers (SMS_TEMPLATES)",
                    field=f"template_id.{region}",
                    code="template_region_mismatch",
                )
        return choice[0], choice[1]
    template_id = _template_id(raw, "template_id")
    if not template_id:
        raise ValidationError(
            "template_id must be the numeric id of an approved template", field="template_id"
        )
    return template_id, template_id  # for every region: `check_region` refuses one it cannot serve


def defaults(mainland: str, international: str, settings: Settings) -> tuple[str, str]:
    """A default pair: the mainland one also goes abroad only when `SMS_TEMPLATES` says it may."""
    spec = settings.templates.get(mainland)
    if spec is not None and not spec.serves(international=False):
        mainland, international = "", international or mainland
    elif not international and spec is not None and spec.serves(international=True):
        international = mainland
    return mainland, international


def with_templates(message: Message, mainland: str, international: str) -> Message:
    """`message` sending a pair (one `template_id` when both regions share it)."""
    if mainland == international:
        return message._replace(template_id=mainland, template_id_international="")
    return message._replace(template_id=mainland, template_id_international=international or NO_TEMPLATE)


def template_for(message: Message, number: str) -> str:
    """The template `message` sends to `number` ("" when its region has none)."""
    return message.for_region(international=not phones.is_mainland(number)).template_id


def by_template(results: Sequence[SendResult], message: Message) -> list[tuple[str, list[SendResult]]]:
    """Results grouped by the template each number was sent (one group unless regions differ)."""
    if not message.template_id_international:
        return [(message.template_id or "", list(results))]
    groups: dict[str, list[SendResult]] = {}
    for result in results:
        groups.setdefault(template_for(message, result.phone), []).append(result)
    return list(groups.items())


def check_region(number: str, message: Message, settings: Settings, *, field: str) -> TemplateSpec | None:
    """Refuse (400 naming `field`) a number whose region has no usable template, or whose template the
    catalogue does not know or gives another parameter count; return what the catalogue knows."""
    if message.is_content:
        return None
    international = not phones.is_mainland(number)
    template_id = template_for(message, number)
    region = phones.region_of(number)
    if not template_id:
        kind = "international" if international else "mainland"
        setting = "TENCENT_SMS_TEMPLATE_ID" + ("_INTERNATIONAL" if international else "")
        otp_setting = "SMS_OTP_TEMPLATE_ID" + ("_INTERNATIONAL" if international else "")
        raise ValidationError(
            f"no {kind} template for {region} numbers (Tencent requires one): "
            f'give template_id {{"{kind}": …}}'
            f" or set {setting} ({otp_setting} for one-time codes)",
            field=field,
            code="no_template_for_region",
        )
    spec = settings.templates.get(template_id)
    if settings.templates and spec is None:
        raise ValidationError(
            f"template {template_id} is not in the configured template catalogue",
            field="template_id",
            code="unknown_template",
        )
    if spec is None:
        return None
    if not spec.serves(international=international):
        kind = "an international" if spec.international else "a mainland China"
        raise ValidationError(
            f"template {template_id} is {kind} template and cannot go to {region}",
            field=field,
            code="template_region_mismatch",
        )
    if len(message.params) != spec.params:
        raise ValidationError(
            f"template {template_id} takes {spec.params} parameter(s), got {len(message.params)}",
            field="params",
            code="wrong_param_count",
        )
    return spec


def request_value(message: Message) -> str | dict[str, str]:
    """The request's `template_id` that reproduces `message` for the numbers it was validated for
    (what a queued chunk carries): one id unless two regions have different templates, so chunks
    stay readable by a version without per-region templates."""
    international = message.template_id_international
    if not international or international == NO_TEMPLATE:
        return message.template_id
    if not message.template_id:
        return international
    return {"mainland": message.template_id, "international": international}


def _template_id(raw: Any, field: str) -> str:
    if raw is None:
        return ""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > MAX_TEMPLATE_ID:
        raise ValidationError("template_id must be the numeric id of an approved template", field=field)
    return raw
