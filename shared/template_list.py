"""API 3.0 `DescribeSmsTemplateList`: Tencent's template catalogue with each template's region and
review status (the legacy API has no such call: there `SMS_TEMPLATES` is all there is).

Builders and parsers only, like `shared.payloads`; `SmsClient.describe_templates` pages through it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from shared.payloads import ApiCall, malformed, parse_v3_envelope, placeholder_count

MAX_PAGE = 100  # Tencent's limit for Limit and for TemplateIdSet
STATUS_TEXT = {0: "approved and live", 1: "in review", 2: "approved, not yet live", -1: "rejected"}


class TencentTemplate(NamedTuple):
    """One template as Tencent lists it. `international`: 0 mainland, 1 international, 3 both;
    `status`: 0 approved and live (the only one that may be sent), 1 in review, 2 approved not yet
    live, -1 rejected (`review_reply` says why)."""

    template_id: str
    international: int
    status: int
    review_reply: str
    name: str
    created_at: int
    content: str

    @property
    def live(self) -> bool:
        return self.status == 0

    @property
    def params(self) -> int:
        return placeholder_count(self.content)

    def serves(self, *, international: bool) -> bool:
        return self.international == 3 or self.international == int(international)

    def to_dict(self) -> dict[str, Any]:
        body = self._asdict()
        body["status_text"] = STATUS_TEXT.get(self.status, "unknown")
        body["params"] = self.params
        return body


def build_describe(*, international: bool, offset: int = 0, limit: int = MAX_PAGE) -> ApiCall:
    """One page of the account's templates of a region (`International` 0 or 1; `Limit` ≤ 100 from
    `Offset`); the call takes no SmsSdkAppId."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ValueError(f"limit must be 1..{MAX_PAGE} and offset not negative")
    return ApiCall(
        "DescribeSmsTemplateList", {"International": int(international), "Limit": limit, "Offset": offset}
    )


def parse_describe(answer: Any, call: ApiCall) -> list[TencentTemplate]:
    """`DescribeTemplateStatusSet[]`; an item of the wrong shape makes the answer malformed."""
    response = parse_v3_envelope(answer, call)
    items = response.get("DescribeTemplateStatusSet")
    if not isinstance(items, list):
        raise malformed(call)
    try:
        return [
            TencentTemplate(
                str(int(item["TemplateId"])),
                int(item["International"]),
                int(item["StatusCode"]),
                str(item.get("ReviewReply") or ""),
                str(item.get("TemplateName") or ""),
                int(item.get("CreateTime") or 0),
                str(item["TemplateContent"]),
            )
            for item in items
        ]
    except (KeyError, TypeError, ValueError):
        raise malformed(call) from None
