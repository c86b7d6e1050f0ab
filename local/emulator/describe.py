"""API 3.0 `DescribeSmsTemplateList`: the template catalogue with each template's review status, as
Tencent answers it (reference §2, from the SDK's models). Imports nothing from `shared`."""

from __future__ import annotations

from typing import Any

from local.emulator import codes
from local.emulator.catalogue import Credential, Template
from local.emulator.codes import Rejected
from local.emulator.engine import Engine

MAX_IDS = 100  # TemplateIdSet, and Limit without one


def describe_templates(engine: Engine, credential: Credential, data: dict[str, Any]) -> dict[str, Any]:
    """`International` (0 mainland, 1 international; required) and either `TemplateIdSet` (≤100) or
    `Limit` (≤100) + `Offset`. A template serving both regions (3) is listed under either."""
    international = _int(data, "International")
    if international not in (0, 1):
        raise Rejected(codes.INVALID_PARAMETER_VALUE, "International must be 0 or 1.")
    wanted = data.get("TemplateIdSet")
    templates = [t for t in engine.catalogue.templates.values() if t.serves(mainland=international == 0)]
    if wanted:
        if not isinstance(wanted, list) or not all(_whole(i) for i in wanted):
            raise Rejected(codes.INVALID_PARAMETER, "The parameter `TemplateIdSet` must be of type uint64s.")
        if len(wanted) > MAX_IDS:
            raise Rejected(codes.INVALID_PARAMETER_VALUE, f"TemplateIdSet takes at most {MAX_IDS} ids.")
        ids = {str(i) for i in wanted}
        chosen = [t for t in templates if t.id in ids]
    else:
        limit, offset = _int(data, "Limit"), _int(data, "Offset")
        if not 1 <= limit <= MAX_IDS:
            raise Rejected(codes.BAD_LIMIT, f"Limit must be between 1 and {MAX_IDS}.")
        if offset < 0:
            raise Rejected(codes.INVALID_PARAMETER_VALUE, "Offset must not be negative.")
        chosen = sorted(templates, key=lambda t: int(t.id))[offset : offset + limit]
    return {"DescribeTemplateStatusSet": [_item(t) for t in chosen]}


def _item(template: Template) -> dict[str, Any]:
    return {
        "TemplateId": int(template.id),
        "International": 3 if template.both else int(template.international),
        "StatusCode": template.status,
        "ReviewReply": template.review_reply,
        "TemplateName": template.name or f"template {template.id}",
        "CreateTime": template.created_at,
        "TemplateContent": template.text,
    }


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if value is None:
        raise Rejected(codes.MISSING_PARAMETER, f"The parameter `{name}` is missing.")
    if not _whole(value):
        raise Rejected(codes.INVALID_PARAMETER, f"The parameter `{name}` must be of type uint64.")
    return int(value)
