"""One error taxonomy: every failure is a `SmsError` with an HTTP status and a machine code.

Tencent's own code and message are kept on the error (`tencent_code`, `tencent_message`);
`classify_tencent_code` says whose failure it is: the caller's, the account's, a rate limit,
or a transient one worth retrying.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any


class Category(str, Enum):
    CALLER = "caller"  # the request itself is wrong: fix it, do not retry as is
    ACCOUNT = "account"  # signature, template, balance, credentials, app caps: fix the account
    RATE_LIMITED = "rate_limited"  # a frequency cap was hit: retry later
    TRANSIENT = "transient"  # Tencent or the network hiccuped; nothing was sent: retry
    UNKNOWN_OUTCOME = "unknown_outcome"  # the request may or may not have been acted on: do not retry blindly
    INTERNAL = "internal"  # our own configuration or a bug


_STATUS_BY_CATEGORY = {
    Category.CALLER: 400,
    Category.ACCOUNT: 502,
    Category.RATE_LIMITED: 429,
    Category.TRANSIENT: 503,
    Category.UNKNOWN_OUTCOME: 504,
    Category.INTERNAL: 500,
}


class SmsError(Exception):
    """Base of every error the package raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    category: Category = Category.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        category: Category | None = None,
        field: str | None = None,
        tencent_code: str | None = None,
        tencent_message: str | None = None,
        phones: Sequence[str] = (),
        retry_after: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if category is not None:
            self.category = category
        if status is not None:
            self.status = status
        self.field = field
        self.tencent_code = tencent_code
        self.tencent_message = tencent_message
        self.phones = tuple(phones)
        self.retry_after = retry_after
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        """The error shape every route answers with."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.tencent_code is not None:
            error["tencent_code"] = self.tencent_code
            error["tencent_message"] = self.tencent_message or ""
        if self.phones:
            error["phones"] = list(self.phones)
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        error.update(self.details)
        return {"error": error}


class ValidationError(SmsError):
    status, code, category = 400, "invalid_request", Category.CALLER


class PayloadTooLargeError(SmsError):
    status, code, category = 413, "payload_too_large", Category.CALLER


class AuthenticationError(SmsError):
    status, code, category = 401, "unauthorized", Category.CALLER


class NotFoundError(SmsError):
    status, code, category = 404, "not_found", Category.CALLER


class ConflictError(SmsError):
    status, code, category = 409, "conflict", Category.CALLER


class RateLimitedError(SmsError):
    status, code, category = 429, "rate_limited", Category.RATE_LIMITED


class ConfigurationError(SmsError):
    status, code, category = 500, "misconfigured", Category.INTERNAL


class StoreUnavailableError(SmsError):
    status, code, category = 503, "store_unavailable", Category.TRANSIENT


class TencentError(SmsError):
    """Tencent answered with an error; status and category follow `classify_tencent_code`."""

    def __init__(self, tencent_code: str, tencent_message: str, **kwargs: Any) -> None:
        category = classify_tencent_code(tencent_code)
        kwargs.setdefault("code", _CODE_BY_CATEGORY[category])
        kwargs.setdefault("status", _STATUS_BY_CATEGORY[category])
        super().__init__(
            f"Tencent SMS rejected the request: {tencent_code} {tencent_message}".strip(),
            category=category,
            tencent_code=tencent_code,
            tencent_message=tencent_message,
            **kwargs,
        )


class TencentUnavailableError(SmsError):
    """Tencent could not be reached, or answered in a way that proves nothing was done."""

    status, code, category = 503, "tencent_unavailable", Category.TRANSIENT


class UnknownOutcomeError(SmsError):
    """The request left this process but no answer came back: it may have been acted on."""

    status, code, category = 504, "outcome_unknown", Category.UNKNOWN_OUTCOME


class DeadlineExceededError(SmsError):
    """Too little of the invocation's time remains to make the call; nothing was sent."""

    status, code, category = 503, "deadline_too_close", Category.TRANSIENT


_CODE_BY_CATEGORY = {
    Category.CALLER: "rejected_by_tencent",
    Category.ACCOUNT: "tencent_account_error",
    Category.RATE_LIMITED: "tencent_rate_limited",
    Category.TRANSIENT: "tencent_unavailable",
    Category.UNKNOWN_OUTCOME: "outcome_unknown",
    Category.INTERNAL: "internal_error",
}

# Legacy `result` codes (reference §1.6).
_LEGACY: dict[int, Category] = {
    **dict.fromkeys(
        (1002, 1004, 1015, 1016, 1017, 1018, 1034, 1036, 1038, 1045, 1046, 1048), Category.CALLER
    ),
    **dict.fromkeys(
        (
            1001,
            1003,
            1006,
            1009,
            1011,
            1012,
            1014,
            1019,
            1020,
            1021,
            1022,
            1029,
            1030,
            1031,
            1032,
            1033,
            1047,
        ),
        Category.ACCOUNT,
    ),
    **dict.fromkeys((1013, 1023, 1024, 1025, 1026), Category.RATE_LIMITED),
    **dict.fromkeys((1007, 1008, 60008), Category.TRANSIENT),
}

# API 3.0 codes: exact matches first, then the longest matching prefix (reference §2.8).
_V3_EXACT: dict[str, Category] = {
    "LimitExceeded.PhoneNumberCountLimit": Category.CALLER,
    "InternalError.SigVerificationFail": Category.ACCOUNT,
    "InternalError.SigFieldMissing": Category.ACCOUNT,
    "InternalError.RequestTimeException": Category.ACCOUNT,
    "InternalError.RestApiInterfaceNotExist": Category.ACCOUNT,
    "InternalError.JsonParseFail": Category.CALLER,
    "InvalidParameterValue.SdkAppIdNotExist": Category.ACCOUNT,
    "InvalidParameter.AppidAndBizId": Category.ACCOUNT,
    "FailedOperation.ContainSensitiveWord": Category.CALLER,
    "FailedOperation.FailResolvePacket": Category.CALLER,
    "FailedOperation.JsonParseFail": Category.CALLER,
    "FailedOperation.PhoneNumberInBlacklist": Category.CALLER,
    "FailedOperation.PhoneNumberParseFail": Category.CALLER,
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": Category.CALLER,
    "FailedOperation.ParametersOtherError": Category.CALLER,
    "FailedOperation.OtherError": Category.TRANSIENT,
    "UnsupportedOperation.UnsupportedRegion": Category.CALLER,
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": Category.CALLER,
    "UnsupportedOperation.ContainDomesticPhoneNumber": Category.CALLER,
    "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": Category.CALLER,
    "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone": Category.CALLER,
    "UnsupportedOperation": Category.ACCOUNT,
}
_V3_PREFIX: tuple[tuple[str, Category], ...] = (
    ("AuthFailure", Category.ACCOUNT),
    ("LimitExceeded.PhoneNumber", Category.RATE_LIMITED),
    ("LimitExceeded.DeliveryFrequencyLimit", Category.RATE_LIMITED),
    ("LimitExceeded", Category.ACCOUNT),
    ("RequestLimitExceeded", Category.TRANSIENT),
    ("InternalError", Category.TRANSIENT),
    ("InvalidParameterValue", Category.CALLER),
    ("InvalidParameter", Category.CALLER),
    ("MissingParameter", Category.CALLER),
    ("UnknownParameter", Category.CALLER),
    ("FailedOperation", Category.ACCOUNT),
    ("UnauthorizedOperation", Category.ACCOUNT),
    ("UnsupportedOperation", Category.CALLER),
    ("ServiceUnavailable", Category.TRANSIENT),
    ("ResourceUnavailable", Category.TRANSIENT),
)


def classify_tencent_code(code: str | int) -> Category:
    """Whose failure a Tencent error code is (legacy integer or API 3.0 dotted string)."""
    text = str(code).strip()
    if text.isascii() and text.lstrip("-").isdigit():
        return _LEGACY.get(int(text), Category.ACCOUNT)
    if text in _V3_EXACT:
        return _V3_EXACT[text]
    for prefix, category in _V3_PREFIX:
        if text == prefix or text.startswith(prefix):
            return category
    return Category.ACCOUNT


# Our own codes that can stand in a per-number result when a whole chunk failed.
_OWN_CODE_STATUS = {
    "tencent_unavailable": 503,
    "deadline_too_close": 503,
    "outcome_unknown": 504,
    "tencent_bad_response": 502,
    "store_unavailable": 503,
}


def status_for_code(code: str) -> int:
    """HTTP status for a per-number result code: ours, or Tencent's (legacy or API 3.0)."""
    if code == "Ok":
        return 200
    if code in _OWN_CODE_STATUS:
        return _OWN_CODE_STATUS[code]
    return _STATUS_BY_CATEGORY[classify_tencent_code(code)]
