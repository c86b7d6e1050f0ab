"""One-time verification codes: send a code by SMS, verify what the user typed.

Only an HMAC-SHA256 of each code is stored, keyed with `SMS_OTP_SECRET` and bound to the code's
id, number and purpose; without the secret every operation fails (`misconfigured`). The resend
window and the send limits are one atomic rate-limit reservation in the store, so parallel sends
for one number produce at most the allowed SMS. A code record is created only once Tencent took
the SMS (or may have: outcome unknown), so a refused or unreachable send leaves no live code.
Verification is `otp_attempt`'s guarded update: a code is good exactly once, and wrong attempts
lock it after `SMS_OTP_MAX_ATTEMPTS`.

Plain functions of the container's `Services`, a request body and the caller; no event shapes, no
HTTP. Time comes from `Services.clock`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple

from shared import bodies, catalogue, limits, suppressions, templates, validation
from shared import phone as phones
from shared.config import OTP_LENGTHS, Settings
from shared.errors import (
    Category,
    ConfigurationError,
    RateLimitedError,
    SmsError,
    TencentError,
    ValidationError,
)
from shared.models import NO_TEMPLATE, Message, SendResult
from shared.observability import logger, metrics
from shared.phone import mask
from shared.services import Services
from shared.store.base import OtpRecord, RateCheck, Store

DEFAULT_PURPOSE = "login"
HASH_SCHEME = "hmac-sha256"
SEND_FIELDS = bodies.OTP_SEND.names
VERIFY_FIELDS = bodies.OTP_VERIFY.names
_PURPOSE = re.compile(r"[a-z0-9_-]{1,32}")
_CODE = re.compile(r"[0-9]{4,8}")
_ID = re.compile(r"otp_[A-Za-z0-9_-]{16,64}")


# ---------------------------------------------------------------------------- errors


class OtpError(SmsError):
    """A verification that did not succeed; the machine code says why."""

    status, code, category = 400, "otp_error", Category.CALLER


class OtpNotFoundError(OtpError):
    status, code = 404, "otp_not_found"


class OtpMismatchError(OtpError):
    status, code = 400, "otp_mismatch"


class OtpLockedError(OtpError):
    status, code = 423, "otp_locked"


class OtpUsedError(OtpError):
    status, code = 409, "otp_used"


class OtpExpiredError(OtpError):
    status, code = 410, "otp_expired"


class OtpSupersededError(OtpError):
    status, code = 410, "otp_superseded"


class OtpWrongCallerError(OtpError):
    status, code = 403, "otp_wrong_caller"


class OtpResendTooSoonError(RateLimitedError):
    code = "otp_resend_too_soon"


# ---------------------------------------------------------------------------- requests


class SendRequest(NamedTuple):
    """A validated `POST /otp/send`."""

    phone: str
    purpose: str
    length: int


class VerifyRequest(NamedTuple):
    """A validated `POST /otp/verify`."""

    phone: str
    purpose: str
    code: str
    otp_id: str = ""


def parse_send(body: Mapping[str, Any], settings: Settings) -> SendRequest:
    """`{"phone" | "mobile"+"nationcode", "purpose"?, "length"?}`; a length may only lengthen the code."""
    validation.only_fields(body, SEND_FIELDS)
    length = body.get("length", settings.otp_length)
    if isinstance(length, bool) or not isinstance(length, int) or length not in OTP_LENGTHS:
        raise ValidationError("length must be a whole number of digits from 4 to 8", field="length")
    if length < settings.otp_length:
        raise ValidationError(
            f"length may not be shorter than the configured {settings.otp_length} digits (SMS_OTP_LENGTH)",
            field="length",
        )
    return SendRequest(validation.receiving_phone_of(body), _purpose(body), length)


def parse_verify(body: Mapping[str, Any]) -> VerifyRequest:
    """`{"phone" | "mobile"+"nationcode", "code", "purpose"?, "id"?}`."""
    validation.only_fields(body, VERIFY_FIELDS)
    code = body.get("code")
    if not isinstance(code, str) or not _CODE.fullmatch(code.strip()):
        raise ValidationError("code must be the 4 to 8 digits of the SMS, as a string", field="code")
    otp_id = body.get("id", "")
    if otp_id is None:
        otp_id = ""
    if not isinstance(otp_id, str) or (otp_id and not _ID.fullmatch(otp_id)):
        raise ValidationError("id must be the id the send answered with", field="id")
    return VerifyRequest(validation.phone_of(body), _purpose(body), code.strip(), otp_id)


def _purpose(body: Mapping[str, Any]) -> str:
    purpose = body.get("purpose", DEFAULT_PURPOSE)
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise ValidationError(
            "purpose must be 1 to 32 characters of a-z, 0-9, _ and - (e.g. login, bind_phone)",
            field="purpose",
        )
    return purpose


# ---------------------------------------------------------------------------- codes


def new_code(length: int) -> str:
    """`length` decimal digits from the operating system's secure random source."""
    if length not in OTP_LENGTHS:
        raise ValueError(f"a code has 4 to 8 digits, not {length}")
    return f"{secrets.randbelow(10**length):0{length}d}"


def new_id() -> str:
    """An unguessable code id (safe in URLs and logs)."""
    return "otp_" + secrets.token_urlsafe(18)


def hash_code(secret: str, otp_id: str, phone: str, purpose: str, code: str) -> str:
    """The stored form of a code: HMAC-SHA256 under the server secret, bound to id, number and purpose."""
    message = "\x00".join(("otp-v1", otp_id, phone, purpose, code)).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{HASH_SCHEME}:{digest}"


def code_matches(secret: str, record: OtpRecord, code: str) -> bool:
    """Whether `code` is the record's code, compared in constant time."""
    expected = hash_code(secret, record.id, record.phone, record.purpose, code)
    return hmac.compare_digest(expected.encode("ascii"), record.code_hash.encode("utf-8"))


def _secret(settings: Settings) -> str:
    if not settings.otp_secret:
        raise ConfigurationError(
            "one-time codes need a server secret: set SMS_OTP_SECRET (a long random string)"
        )
    return settings.otp_secret.reveal()


def lifetime_minutes(ttl: int) -> int:
    """The lifetime the SMS announces: whole minutes, never more than the code really lives."""
    return max(1, ttl // 60)


def otp_message(code: str, settings: Settings, phone: str = "+8613800000000") -> Message:
    """The SMS: the OTP template of the number's region (`SMS_OTP_TEMPLATE_ID`, and
    `SMS_OTP_TEMPLATE_ID_INTERNATIONAL` abroad) with the code and its lifetime (just the code for a
    1-parameter template)."""
    international = not phones.is_mainland(phone)
    pair = templates.defaults(settings.otp_template_id, settings.otp_template_id_international, settings)
    template_id = pair[1] if international else pair[0]
    if not template_id:  # refused by `validation.check_destination` (after the country check)
        return Message(params=(code,), sign=settings.default_sign, template_id_international=NO_TEMPLATE)
    setting = (
        "SMS_OTP_TEMPLATE_ID_INTERNATIONAL"
        if template_id != settings.otp_template_id
        else "SMS_OTP_TEMPLATE_ID"
    )
    params: tuple[str, ...] = (code, str(lifetime_minutes(settings.otp_ttl)))
    spec = settings.templates.get(template_id)
    if settings.templates and spec is None:
        raise ConfigurationError(f"{setting} {template_id} is not in the template catalogue (SMS_TEMPLATES)")
    if spec is not None:
        if spec.params not in (1, 2):
            raise ConfigurationError(
                f"the OTP template {template_id} must take the code (and the lifetime in minutes)"
            )
        params = params[: spec.params]
    return Message(template_id=template_id, params=params, sign=settings.default_sign)


# ---------------------------------------------------------------------------- send


def resend_check(phone: str, purpose: str, settings: Settings) -> RateCheck:
    """One code per number and purpose per resend window."""
    return RateCheck(f"otp:resend:{purpose}", phone, 1, settings.otp_resend_after)


def send_code(
    services: Services, body: Mapping[str, Any], *, caller: str, deadline: float | None
) -> dict[str, Any]:
    """Send a new code: `{"id", "expires_in", "resend_after"}` (never the code).

    A send inside the resend window is refused (429 `otp_resend_too_soon`); a send after it
    supersedes the number's previous code for the purpose.
    """
    settings = services.settings
    secret = _secret(settings)
    request = parse_send(body, settings)
    code = new_code(request.length)
    message = otp_message(code, settings, request.phone)
    validation.check_destination(request.phone, message, settings, field="phone")
    catalogue.check_send(services, message, [catalogue.Target(request.phone, "phone")])
    suppressions.check_single(services, request.phone, message)  # codes only with SMS_SUPPRESS_ALL=1
    now = services.now()
    checks = [resend_check(request.phone, request.purpose, settings)]
    checks += limits.checks_for(settings, caller=caller, phones=[request.phone], scope="otp")
    reservation = _reserve(services, checks, checks[0])
    try:
        result = services.client.send_single(request.phone, message, deadline=deadline)
    except SmsError as error:
        if error.status != 504:  # provably not sent: no code; the window and quotas are given back
            reservation.release()
            _log_send(request, caller, None, error.code)
            raise
        result = SendResult(request.phone, "", "unknown", 0, error.code, error.message)
    if result.status == "failed":
        reservation.release()
        _log_send(request, caller, result, result.code)
        raise TencentError(result.code, result.message)
    record = _store_code(
        services.store, request, code, caller, now, settings, secret
    )  # sent, or may have been
    _record_message(services.store, result, message, caller, now)
    _log_send(request, caller, result, result.code, record.id)
    answer = {"id": record.id, "expires_in": settings.otp_ttl, "resend_after": settings.otp_resend_after}
    if result.status == "unknown":
        raise SmsError(
            "the SMS may or may not have been sent: the code works if it arrives; "
            f"otherwise send again after {settings.otp_resend_after} s",
            code="outcome_unknown",
            status=504,
            category=Category.UNKNOWN_OUTCOME,
            details=answer,
        )
    metrics.add_metric(name="OtpSent", unit="Count", value=1)
    return answer


def _reserve(services: Services, checks: list[RateCheck], window: RateCheck) -> limits.Reservation:
    try:
        return limits.reserve(services, checks)
    except RateLimitedError as error:
        if error.details.get("limit") != window.name:
            raise
        raise OtpResendTooSoonError(
            f"a code was sent to this number less than {window.window_seconds} s ago; "
            f"retry in {error.retry_after} s",
            retry_after=error.retry_after,
        ) from None


def _store_code(
    store: Store, request: SendRequest, code: str, caller: str, now: int, settings: Settings, secret: str
) -> OtpRecord:
    otp_id = new_id()
    record = OtpRecord(
        id=otp_id,
        phone=request.phone,
        purpose=request.purpose,
        code_hash=hash_code(secret, otp_id, request.phone, request.purpose, code),
        created_at=now,
        expires_at=now + settings.otp_ttl,
        caller=caller,
        max_attempts=settings.otp_max_attempts,
        resend_after=now + settings.otp_resend_after,
    )
    store.otp_create(record, supersede_active=True)
    return record


def _record_message(store: Store, result: SendResult, message: Message, caller: str, now: int) -> None:
    """Keep the SMS in the message log (for receipts) with the code masked; best effort."""
    if not result.message_id:
        return
    params = ["*" * len(message.params[0]), *message.params[1:]]
    try:
        store.record_sends(
            [result],
            template_id=message.template_id,
            params=params,
            sign=message.sign,
            caller=caller,
            now=now,
        )
    except SmsError as error:  # the code is stored and works: do not fail the send over the log
        logger.error("otp sent but message not recorded", extra={"error_code": error.code})


def _log_send(
    request: SendRequest, caller: str, result: SendResult | None, outcome: str, otp_id: str = ""
) -> None:
    sent = result is not None and result.status != "failed"
    (logger.info if sent else logger.warning)(
        "otp sent" if sent else "otp not sent",
        extra={
            "phone": mask(request.phone),
            "purpose": request.purpose,
            "otp_id": otp_id,
            "caller": caller,
            "status": result.status if result else "error",
            "tencent_code": outcome,
            "message_id": result.message_id if result else "",
        },
    )


# ---------------------------------------------------------------------------- verify


def verify_code(services: Services, body: Mapping[str, Any], *, caller: str) -> dict[str, Any]:
    """Check a code: `{"verified": true, "id", "phone"}`, else an `OtpError` naming why.

    The code is found by `id` when given, else it is the newest active code of the number and
    purpose. A code sent from a mini-program (caller `wx:<openId>`) verifies only for that openId.
    """
    secret = _secret(services.settings)
    request = parse_verify(body)
    store = services.store
    if request.otp_id:
        record = store.otp_get(request.otp_id)
        if record is not None and (record.phone, record.purpose) != (request.phone, request.purpose):
            record = None  # someone else's code: say nothing about it
    else:
        record = store.otp_latest_active(request.phone, request.purpose)
    if record is None:
        _log_verify(request, caller, "not_found")
        raise OtpNotFoundError("no active code for this number and purpose; request a new one")
    if record.caller.startswith("wx:") and caller != record.caller:
        _log_verify(request, caller, "wrong_caller", record.id)
        raise OtpWrongCallerError("this code was requested by another mini-program user")
    matched = code_matches(secret, record, request.code)
    attempt = store.otp_attempt(record.id, matched=matched, now=services.now())
    _log_verify(request, caller, "mismatch" if attempt.status == "active" else attempt.status, record.id)
    if attempt.status == "verified":
        metrics.add_metric(name="OtpVerified", unit="Count", value=1)
        return {"verified": True, "id": record.id, "phone": record.phone}
    metrics.add_metric(name="OtpRejected", unit="Count", value=1)
    raise _failure(attempt.status, record, attempt.attempts)


def _failure(status: str, record: OtpRecord, attempts: int) -> OtpError:
    details = {"id": record.id}
    if status == "active":
        left = max(0, record.max_attempts - attempts)
        return OtpMismatchError(
            f"wrong code; {left} attempt(s) left", details={**details, "attempts_left": left}
        )
    if status == "locked":
        return OtpLockedError(
            "too many wrong attempts: this code no longer works; request a new one",
            details={**details, "attempts_left": 0},
        )
    if status == "used":
        return OtpUsedError("this code was already used; request a new one", details=details)
    if status == "expired":
        return OtpExpiredError("this code has expired; request a new one", details=details)
    if status == "superseded":
        return OtpSupersededError("a newer code was sent; use the newest SMS", details=details)
    return OtpNotFoundError("no such code for this number and purpose; request a new one", details=details)


def _log_verify(request: VerifyRequest, caller: str, outcome: str, otp_id: str = "") -> None:
    (logger.info if outcome == "verified" else logger.warning)(
        "otp verify",
        extra={
            "phone": mask(request.phone),
            "purpose": request.purpose,
            "otp_id": otp_id,
            "caller": caller,
            "outcome": outcome,
        },
    )
