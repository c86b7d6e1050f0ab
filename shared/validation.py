"""Strict validation of request bodies before anything is sent. Every rejection names the field."""

from __future__ import annotations

import re
import unicodedata
from bisect import insort
from collections.abc import Mapping
from itertools import compress
from operator import not_
from typing import Any, NamedTuple

from shared import bodies, templates
from shared import phone as phones
from shared.bodies import MAX_CONTENT, MAX_PARAMS, MAX_SESSION_CONTEXT_BYTES
from shared.config import Settings
from shared.errors import SmsError, ValidationError
from shared.models import Message, PullKind
from shared.payloads import MAX_PULL
from shared.plan import SendPlan, plan_multi_send

MESSAGE_FIELDS = frozenset(bodies.MESSAGE)
SINGLE_FIELDS = bodies.SEND.names
MULTI_FIELDS = bodies.SEND_MULTI.names
CHUNK_FIELDS = frozenset({"batch_id", "chunk"})  # only on queued chunks (internal triggers)
# What a handset would turn into a link, after folding fullwidth / ideographic dots to `.`:
# a scheme, `www.`, a punycode label, an IPv4 or IPv6 literal, `host.tld` with a country-code
# (any two letters) or common generic TLD, a Chinese-script TLD, or `host.word/path`.
_GENERIC_TLDS = (
    "com|net|org|info|biz|xyz|top|site|online|shop|store|club|vip|app|dev|link|click|live|life|"
    "pro|win|bid|icu|fun|wang|ren|work|tech|cloud|email|asia|mobi|name|ink|group|news|"
    "space|website|today|red|art|love|kim|run|gov|edu|int|mil|tel|xin|cyou|buzz|rest|monster|sbs|cfd"
)
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])"
_LINK = re.compile(
    r"[a-z][a-z0-9+.-]*:/{1,3}|www\.|xn--"
    rf"|(?<![0-9.])(?:{_OCTET}\.){{3}}{_OCTET}(?![0-9]|\.[0-9])"
    r"|(?<![0-9a-f:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![0-9a-f:])"
    r"|(?<![\w:])(?:[0-9a-f]{1,4}:)*[0-9a-f]{0,4}::[0-9a-f]{1,4}(?![\w:])"
    rf"|[\w-]\.(?:[a-z]{{2}}|{_GENERIC_TLDS})(?![a-z0-9])"
    r"|[\w-]\.(?:中国|中國|公司|网络|網絡|在线|商城|网址|网店|香港|台湾|台灣)(?!\w)"
    r"|[a-z0-9-]\.[a-z]{2,63}[/:?#]",
    re.IGNORECASE,
)
_DOTS = str.maketrans({"\u3002": ".", "\uff61": ".", "\ufe12": "."})  # NFKC leaves these ideographic stops
# Characters no parameter may hold (Unicode categories): controls, format characters (zero-width
# and bidi controls among them), line and paragraph separators, lone surrogates.
_FORBIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_LAYOUT = frozenset("\t\n\r")  # what plain content, a sign or `ext` may still hold


class CountryNotAllowedError(SmsError):
    status, code = 403, "country_not_allowed"


class SendCommand(NamedTuple):
    """A validated send: E.164 numbers (unique, in order) and the message."""

    phones: tuple[str, ...]
    message: Message
    duplicates: tuple[str, ...] = ()
    idempotency_key: str = ""
    plan: SendPlan | None = None
    chunk_key: str = ""  # `chunk:<batch>:<n>` for a queued chunk: what makes re-delivery harmless


def parse_single_send(body: Mapping[str, Any], settings: Settings) -> SendCommand:
    """`POST /sms/send` or the direct-invoke / mini-program event."""
    only_fields(body, SINGLE_FIELDS)
    number = receiving_phone_of(body)
    message = parse_message(body, settings)
    check_destination(number, message, settings, field="phone")
    return SendCommand((number,), message, idempotency_key=_idempotency_key(body))


def parse_multi_send(body: Mapping[str, Any], settings: Settings, *, internal: bool = False) -> SendCommand:
    """`POST /sms/send-multi`, a direct invoke or (`internal`) one queued chunk of a fanned-out batch."""
    only_fields(body, MULTI_FIELDS | CHUNK_FIELDS if internal else MULTI_FIELDS)
    batch_id, chunk = body.get("batch_id"), body.get("chunk")
    if (batch_id is None) != (chunk is None):
        raise ValidationError("a queued chunk carries both batch_id and chunk", field="batch_id")
    if batch_id is not None and (
        not isinstance(batch_id, str)
        or not 1 <= len(batch_id) <= 64
        or isinstance(chunk, bool)
        or not isinstance(chunk, int)
        or chunk < 0
    ):
        raise ValidationError("batch_id must be a short string and chunk a whole number", field="batch_id")
    raw = body.get("phones")
    if not isinstance(raw, list) or not raw:
        raise ValidationError("phones must be a non-empty list of phone numbers", field="phones")
    message = parse_message(body, settings)
    plan = plan_multi_send(raw)
    if plan.mainland_mobiles:  # mobiles of one region: that region's check is all there is
        check_destination(plan.numbers[0], message, settings, field=f"phones[{plan.positions[0]}]")
    else:
        _check_each(plan, message, settings)
    chunk_key = f"chunk:{batch_id}:{chunk}" if batch_id is not None else ""
    return SendCommand(plan.numbers, message, plan.duplicates, _idempotency_key(body), plan, chunk_key)


def _check_each(plan: SendPlan, message: Message, settings: Settings) -> None:
    """Every number of the plan can take an SMS, and each region's first may be sent this message.
    A mainland mobile passes the first check as it is (matched in C): of those, only the first is
    visited, for its region."""
    numbers, positions = plan.numbers, plan.positions
    mobiles = list(map(phones.CN_E164_MOBILE_RE.fullmatch, numbers))
    visited = list(compress(range(len(numbers)), map(not_, mobiles)))
    first_mobile = next(compress(range(len(numbers)), mobiles), None)
    if first_mobile is not None:
        insort(visited, first_mobile)
    checked: set[str] = set()  # a number passes or fails check_destination by its region alone
    for index in visited:
        number, field = numbers[index], f"phones[{positions[index]}]"
        phones.check_receives_sms(number, field=field)
        region = phones.region_of(number)
        if region not in checked:
            check_destination(number, message, settings, field=field)
            checked.add(region)


def parse_message(body: Mapping[str, Any], settings: Settings) -> Message:
    """The template (or plain content) part of a send request."""
    content = body.get("content")
    if content is not None:
        if "template_id" in body or "params" in body:
            raise ValidationError("give either content or template_id + params, not both", field="content")
        if not isinstance(content, str) or not content.strip():
            raise ValidationError("content must be a non-empty string", field="content")
        if len(content) > MAX_CONTENT:
            raise ValidationError(f"content is longer than {MAX_CONTENT} characters", field="content")
        _no_control(content, "content")
        content_type = body.get("type", 0)
        if content_type not in (0, 1) or isinstance(content_type, bool):
            raise ValidationError("type must be 0 (notification) or 1 (marketing)", field="type")
        return Message(
            content=content,
            content_type=content_type,
            extend=_extend(body),
            session_context=_session_context(body),
        )
    if "type" in body:
        raise ValidationError("type applies to plain-content sends only", field="type")
    mainland, international = templates.parse_choice(body, settings)
    params = _params(body.get("params", []), settings)
    sign = body.get("sign", settings.default_sign)
    if not isinstance(sign, str) or (sign and not 2 <= len(sign) <= 20):
        raise ValidationError("sign must be the approved signature text (2 to 20 characters)", field="sign")
    _no_control(sign, "sign")
    if not mainland and not international:
        raise ValidationError(
            "template_id is required (no TENCENT_SMS_TEMPLATE_ID default is set)", field="template_id"
        )
    message = Message(
        params=params,
        sign=sign,
        extend=_extend(body),
        session_context=_session_context(body),
    )
    return templates.with_templates(message, mainland, international)


def check_destination(number: str, message: Message, settings: Settings, *, field: str) -> None:
    """Country allow-list, and a usable template for the number's region (`shared.templates`)."""
    region = phones.region_of(number)
    if "*" not in settings.allowed_countries and region not in settings.allowed_countries:
        raise CountryNotAllowedError(
            f"sending to {region} numbers is not enabled (SMS_ALLOWED_COUNTRIES)", field=field
        )
    if phones.is_mainland(number) and not message.is_content and not message.sign:
        raise ValidationError(
            "sign is required for mainland China numbers (or set TENCENT_SMS_SIGN)", field="sign"
        )
    templates.check_region(number, message, settings, field=field)


def parse_pull(body: Mapping[str, Any]) -> tuple[PullKind, int]:
    """`POST /sms/pull`, the timer argument, or a direct invoke: `{"kind", "max"}`."""
    only_fields(body, bodies.PULL.names)
    return _kind(body.get("kind", "receipts")), _max(body.get("max", MAX_PULL))


class StatusQuery(NamedTuple):
    kind: PullKind
    phone: str
    begin: int
    end: int
    limit: int


def parse_status_query(raw_phone: str, query: Mapping[str, str], now: int) -> StatusQuery:
    """`GET /sms/status/{phone}?kind=&begin=&end=&max=`; the window defaults to the last 24 h."""
    only_fields(query, {"kind", "begin", "end", "max"})
    number = phones.normalize(raw_phone, field="phone")
    end = _unix(query.get("end"), "end", default=now)
    begin = _unix(query.get("begin"), "begin", default=end - 86400)
    if begin > end:
        raise ValidationError("begin must not be after end", field="begin")
    if begin < now - 7 * 86400:
        raise ValidationError("begin may be at most 7 days back (Tencent keeps no more)", field="begin")
    return StatusQuery(
        _kind(query.get("kind", "receipts")), number, begin, end, _max(query.get("max", MAX_PULL))
    )


def phone_of(body: Mapping[str, Any]) -> str:
    """The one number of a request: `phone` (E.164), or the seed's `mobile` + `nationcode` (default 86)."""
    if "phone" in body:
        if "mobile" in body or "nationcode" in body:
            raise ValidationError("give either phone or nationcode + mobile, not both", field="phone")
        return phones.normalize(body["phone"], field="phone")
    if "mobile" in body:
        return phones.normalize(body["mobile"], nationcode=body.get("nationcode", "86"), field="mobile")
    raise ValidationError("phone (E.164) or mobile + nationcode is required", field="phone")


def receiving_phone_of(body: Mapping[str, Any]) -> str:
    """`phone_of`, refusing numbers that cannot receive SMS (landlines, toll-free, premium-rate…)."""
    number = phone_of(body)
    phones.check_receives_sms(number, field="phone" if "phone" in body else "mobile")
    return number


def only_fields(body: Mapping[str, Any], allowed: frozenset[str] | set[str]) -> None:
    """Refuse anything but a JSON object holding only `allowed` keys, naming the first stranger."""
    if not isinstance(body, Mapping):
        raise ValidationError("the request must be a JSON object", field="body")
    unknown = sorted(str(k) for k in body if k not in allowed)
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0][:64]!r}; allowed: {', '.join(sorted(allowed))}", field=unknown[0][:64]
        )


def _params(raw: Any, settings: Settings) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ValidationError("params must be a list of strings", field="params")
    if len(raw) > MAX_PARAMS:
        raise ValidationError(f"at most {MAX_PARAMS} template parameters", field="params")
    values = []
    for index, value in enumerate(raw):
        field = f"params[{index}]"
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError("each parameter must be a string (or a whole number)", field=field)
        text = str(value)
        if not text:
            raise ValidationError("a parameter must not be empty", field=field)
        if len(text) > settings.max_param_length:
            raise ValidationError(
                f"a parameter may be at most {settings.max_param_length} characters "
                "(SMS_MAX_PARAM_LENGTH, Tencent's limit)",
                field=field,
            )
        _no_control(text, field, allow=frozenset())
        if has_link(text):
            raise ValidationError(
                "Tencent does not allow links (web addresses, domain names, IP addresses) in template "
                "parameters",
                field=field,
            )
        values.append(text)
    return tuple(values)


def _extend(body: Mapping[str, Any]) -> str:
    extend = body.get("extend", "")
    if not isinstance(extend, str) or (extend and (not _ascii_digits(extend) or len(extend) > 12)):
        raise ValidationError("extend must be an extension code of digits", field="extend")
    return extend


def _session_context(body: Mapping[str, Any]) -> str:
    ext = body.get("ext", "")
    if not isinstance(ext, str) or len(ext.encode("utf-8")) > MAX_SESSION_CONTEXT_BYTES:
        raise ValidationError(
            f"ext must be a string of at most {MAX_SESSION_CONTEXT_BYTES} bytes", field="ext"
        )
    _no_control(ext, "ext")
    return ext


def _idempotency_key(body: Mapping[str, Any]) -> str:
    key = body.get("idempotency_key", "")
    return idempotency_key_value(key, "idempotency_key")


def idempotency_key_value(key: Any, field: str) -> str:
    """A client idempotency key: 1–128 printable ASCII characters."""
    if key in ("", None):
        return ""
    if not isinstance(key, str) or not 1 <= len(key) <= 128 or not key.isascii() or not key.isprintable():
        raise ValidationError("an idempotency key is 1 to 128 printable ASCII characters", field=field)
    return key


def has_link(text: str) -> bool:
    """Whether `text` holds something a handset would show as a link, in any spelling."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_DOTS)
    return _LINK.search(text) is not None


def _no_control(text: str, field: str, *, allow: frozenset[str] = _LAYOUT) -> None:
    """Refuse control, format (zero-width, bidi), separator and surrogate characters; `allow`
    names the few layout controls the field may keep."""
    if text.isprintable():  # C speed; only non-printables need a closer look (a space is printable)
        return
    for char in text:
        if char not in allow and not char.isprintable() and unicodedata.category(char) in _FORBIDDEN:
            raise ValidationError(
                f"character U+{ord(char):04X} (control, invisible, bidi or separator) is not allowed",
                field=field,
            )


def _kind(raw: Any) -> PullKind:
    if raw == "receipts":
        return "receipts"
    if raw == "replies":
        return "replies"
    raise ValidationError("kind must be 'receipts' or 'replies'", field="kind")


def _max(raw: Any) -> int:
    value = _whole(raw, "max")
    if not 1 <= value <= MAX_PULL:
        raise ValidationError(f"max must be between 1 and {MAX_PULL}", field="max")
    return value


def _unix(raw: Any, field: str, *, default: int) -> int:
    if raw is None or raw == "":
        return default
    value = _whole(raw, field)
    if not 0 <= value < 2**32:
        raise ValidationError(f"{field} must be unix seconds", field=field)
    return value


def _whole(raw: Any, field: str) -> int:
    if isinstance(raw, bool):
        raise ValidationError(f"{field} must be a whole number", field=field)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _ascii_digits(raw.strip()) and len(raw.strip()) <= 12:
        return int(raw.strip())
    raise ValidationError(f"{field} must be a whole number", field=field)


def message_fields(message: Message) -> dict[str, Any]:
    """The request fields that reproduce `message` (what a queued chunk carries)."""
    if message.is_content:
        fields: dict[str, Any] = {"content": message.content, "type": message.content_type}
    else:
        fields = {
            "template_id": templates.request_value(message),
            "params": list(message.params),
            "sign": message.sign,
        }
    if message.extend:
        fields["extend"] = message.extend
    if message.session_context:
        fields["ext"] = message.session_context
    return fields


def _ascii_digits(text: str) -> bool:
    """0-9 only: `str.isdigit` also accepts '²', '٣' or '７', which int() or Tencent then refuse."""
    return text.isascii() and text.isdigit()
