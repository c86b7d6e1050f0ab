"""Typed requests and results shared by both protocols and every function.

Phones are E.164 strings (`+8613800000000`) everywhere inside the package; the legacy
nationcode + mobile form exists only on the wire (`payloads`) and at the edge (`events`).
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

# rate_limited: held back by a limit; suppressed: opted out of marketing. Neither was sent.
SendStatus = Literal["submitted", "failed", "unknown", "rate_limited", "suppressed"]
ReceiptStatus = Literal["delivered", "failed", "unknown"]
PullKind = Literal["receipts", "replies"]

NO_TEMPLATE = "none"  # `Message.template_id_international`: numbers outside the mainland have no template
OK_CODE = "Ok"  # API 3.0's per-number success code; legacy result 0 is mapped to it too


class Message(NamedTuple):
    """What to send: a template with parameters, or (legacy API only) plain content."""

    template_id: str = ""
    params: tuple[str, ...] = ()
    sign: str = ""
    content: str = ""
    content_type: int = 0  # legacy `type`: 0 notification, 1 marketing
    extend: str = ""
    session_context: str = ""  # legacy `ext`, API 3.0 `SessionContext`
    # The template for numbers outside the mainland when it differs (`template_id` is then the
    # mainland's; empty: `template_id` serves every region; NO_TEMPLATE: none). See `shared.templates`.
    template_id_international: str = ""

    @property
    def is_content(self) -> bool:
        return bool(self.content)

    def for_region(self, *, international: bool) -> Message:
        """This message as sent to one region class: `template_id` is that region's template."""
        if not self.template_id_international:
            return self
        chosen = self.template_id_international if international else self.template_id
        return self._replace(
            template_id="" if chosen == NO_TEMPLATE else chosen, template_id_international=""
        )


class SendResult(NamedTuple):  # one per number of a send: cheaper to build than a frozen dataclass
    """The outcome for one number of a send."""

    phone: str
    message_id: str
    status: SendStatus
    fee: int
    code: str
    message: str
    session_context: str = ""
    limit: str = ""  # rate_limited: the limit that held the number back
    retry_after: int = 0  # rate_limited: seconds until that limit has room

    @property
    def ok(self) -> bool:
        return self.status == "submitted"

    def to_dict(self) -> dict[str, Any]:
        body = {
            "message_id": self.message_id,
            "phone": self.phone,
            "status": self.status,
            "fee": self.fee,
            "code": self.code,
            "message": self.message,
        }
        if self.status == "rate_limited":
            body["limit"], body["retry_after"] = self.limit, self.retry_after
        return body


def status_counts(results: Iterable[SendResult]) -> Counter[str]:
    """How many results have each status (counted in C: no Python runs a result)."""
    return Counter(map(operator.attrgetter("status"), results))


class MultiSendResult(NamedTuple):
    """Per-number results of a multi send, in the caller's order, with what pre-flight removed."""

    results: tuple[SendResult, ...]
    duplicates: tuple[str, ...] = ()
    requests: int = 0

    def counts(self) -> Counter[str]:
        """How many results have each status."""
        return status_counts(self.results)

    @property
    def submitted(self) -> int:
        return self.counts()["submitted"]

    @property
    def failed(self) -> int:
        return self.counts()["failed"]

    @property
    def unknown(self) -> int:
        return self.counts()["unknown"]

    @property
    def rate_limited(self) -> int:
        return self.counts()["rate_limited"]

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts()
        # SendResult.to_dict's fields, unpacked rather than a method call a number
        results = [
            {
                "message_id": message_id,
                "phone": phone,
                "status": status,
                "fee": fee,
                "code": code,
                "message": text,
            }
            for phone, message_id, status, fee, code, text, _, _, _ in self.results
        ]
        if counts["rate_limited"]:
            for entry, result in zip(results, self.results, strict=True):
                if result.status == "rate_limited":
                    entry["limit"], entry["retry_after"] = result.limit, result.retry_after
        body: dict[str, Any] = {
            "results": results,
            "submitted": counts["submitted"],
            "failed": counts["failed"],
        }
        if counts["unknown"]:
            body["unknown"] = counts["unknown"]
        if counts["rate_limited"]:
            body["rate_limited"] = counts["rate_limited"]
        if counts["suppressed"]:
            body["suppressed"] = counts["suppressed"]
        if self.duplicates:
            body["duplicates_removed"] = list(self.duplicates)
        return body


class Receipt(NamedTuple):
    """A delivery report for one message."""

    message_id: str
    phone: str
    status: ReceiptStatus
    carrier_code: str  # legacy `errmsg` / 3.0 `Description`, e.g. DELIVRD
    description: str
    received_at: int  # unix seconds the handset received it (0 when unknown)
    session_context: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Reply(NamedTuple):
    """An inbound SMS (uplink) from a handset."""

    phone: str
    text: str
    sign: str
    extend: str
    replied_at: int

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


@dataclass(frozen=True)
class PullResult:
    """What one pull returned, parsed; nothing the server handed out is dropped."""

    kind: PullKind
    receipts: tuple[Receipt, ...] = ()
    replies: tuple[Reply, ...] = ()
    unparsed: tuple[dict[str, Any], ...] = ()  # items that did not parse, kept whole

    @property
    def count(self) -> int:
        return len(self.receipts) + len(self.replies) + len(self.unparsed)

    def items(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.receipts] + [r.to_dict() for r in self.replies]
