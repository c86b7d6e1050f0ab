"""Template and signature listing (`DescribeSmsTemplateList`, `DescribeSmsSignList`) and the send
rule that only approved, live templates (StatusCode 0) may be sent. Like the whole emulator, it
imports nothing of the package it judges.

Answer shapes and limits follow Tencent's API 3.0 (reference §2.6): `International` 0 (mainland)
or 1 (international) is required; `TemplateIdSet`/`SignIdSet` (≤100 ids) or `Limit` (1..100) with
`Offset` pick what is listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from local.emulator import codes
from local.emulator.codes import Rejected, Rejection

if TYPE_CHECKING:
    from local.emulator.catalogue import Template
    from local.emulator.engine import Engine

MAX_IDS = 100
SIGN_ID_BASE = 1000  # the emulator numbers its signs 1000, 1001, … in sorted order
STATUS_LIVE, STATUS_IN_REVIEW, STATUS_NOT_LIVE, STATUS_REJECTED = 0, 1, 2, -1
STATUSES = (STATUS_LIVE, STATUS_IN_REVIEW, STATUS_NOT_LIVE, STATUS_REJECTED)

TEMPLATE_NOT_LIVE = Rejection(
    1014,
    "FailedOperation.TemplateUnapprovedOrNotExist",
    "the template is not approved or does not exist",
)
TOO_MANY_IDS = Rejection(1004, "InvalidParameterValue", f"at most {MAX_IDS} ids per request")


def check_live(template: Template) -> None:
    """The send rule: a template in review, approved but not live, or rejected is refused."""
    if template.status != STATUS_LIVE:
        raise Rejected(
            TEMPLATE_NOT_LIVE, f"template {template.id!r} is not approved (StatusCode {template.status})"
        )


def _international(data: dict[str, Any]) -> int:
    value = data.get("International")
    if value is None:
        raise Rejected(codes.MISSING_PARAMETER, "The parameter `International` is missing.")
    if isinstance(value, bool) or value not in (0, 1):
        raise Rejected(codes.INVALID_PARAMETER_VALUE, "International must be 0 or 1.")
    return int(value)


def _ids(data: dict[str, Any], name: str) -> list[int] | None:
    value = data.get(name)
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise Rejected(codes.INVALID_PARAMETER, f"The parameter `{name}` must be a list of integers.")
    if len(value) > MAX_IDS:
        raise Rejected(TOO_MANY_IDS, f"{name} holds at most {MAX_IDS} ids.")
    return value


def _page(data: dict[str, Any]) -> tuple[int, int]:
    limit, offset = data.get("Limit"), data.get("Offset")
    if limit is None or offset is None:
        raise Rejected(codes.MISSING_PARAMETER, "Give an id set, or Limit and Offset.")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_IDS:
        raise Rejected(codes.BAD_LIMIT, f"Limit must be between 1 and {MAX_IDS}.")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise Rejected(codes.BAD_OFFSET, "Offset must be a whole number, at least 0.")
    return limit, offset


def _select(items: list[Any], ids: list[int] | None, id_of: Any, data: dict[str, Any]) -> list[Any]:
    if ids is not None:
        wanted = set(ids)
        return [item for item in items if id_of(item) in wanted]
    limit, offset = _page(data)
    return items[offset : offset + limit]


def describe_templates(engine: Engine, data: dict[str, Any]) -> dict[str, Any]:
    """`DescribeSmsTemplateList` → `DescribeTemplateStatusSet`."""
    international = _international(data)
    ids = _ids(data, "TemplateIdSet")
    templates = sorted(
        (
            t
            for t in engine.catalogue.templates.values()
            if (t.both or int(t.international) == international) and t.id.isdigit()
        ),
        key=lambda t: int(t.id),
    )
    return {
        "DescribeTemplateStatusSet": [
            {
                "TemplateId": int(t.id),
                "International": 3 if t.both else international,  # 3: serves both regions
                "StatusCode": t.status,
                "ReviewReply": t.review_reply,
                "TemplateName": t.name or f"template {t.id}",
                "CreateTime": t.created,
                "TemplateContent": t.text,
            }
            for t in _select(templates, ids, lambda t: int(t.id), data)
        ]
    }


def describe_signs(engine: Engine, data: dict[str, Any]) -> dict[str, Any]:
    """`DescribeSmsSignList` → `DescribeSignListStatusSet` (every emulator sign is approved)."""
    international = _international(data)
    ids = _ids(data, "SignIdSet")
    signs = list(enumerate(sorted(engine.catalogue.signs), start=SIGN_ID_BASE))
    return {
        "DescribeSignListStatusSet": [
            {
                "SignId": sign_id,
                "International": international,
                "StatusCode": STATUS_LIVE,
                "ReviewReply": "",
                "SignName": name,
                "CreateTime": 0,
                "QualificationId": 0,
                "QualificationName": "",
                "QualificationStatusCode": 0,
            }
            for sign_id, name in _select(signs, ids, lambda s: s[0], data)
        ]
    }
