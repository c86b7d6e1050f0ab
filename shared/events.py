"""Trigger adapters: any supported event in, one `Invocation` out; response shaping back.

`parse_event(event, context)` recognises every trigger the functions are deployed behind
(AWS API Gateway REST/HTTP API, function URLs, EventBridge schedules, SQS, direct invokes;
Tencent SCF function URLs, the legacy SCF API gateway, CloudBase HTTP access, SCF timers and
mini-program `wx.cloud.callFunction` calls) and turns it into an `Invocation`.
`shape_http_response` gives back the response shape the trigger expects; the functions route
with `shared.http.Routes`.

Stdlib only (no powertools): cheap to import.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote

from shared.context import FunctionContext, wrap_context
from shared.errors import PayloadTooLargeError, ValidationError

AWS_REST = "aws_rest"
AWS_HTTP_API = "aws_http_api"
AWS_FUNCTION_URL = "aws_function_url"
AWS_SCHEDULE = "aws_schedule"
AWS_SQS = "aws_sqs"
SCF_FUNCTION_URL = "scf_function_url"
SCF_APIGW = "scf_apigw"
CLOUDBASE_HTTP = "cloudbase_http"
SCF_TIMER = "scf_timer"
WX_CALLFUNCTION = "wx_callfunction"
DIRECT = "direct"

HTTP_TRIGGERS = frozenset(
    {AWS_REST, AWS_HTTP_API, AWS_FUNCTION_URL, SCF_FUNCTION_URL, SCF_APIGW, CLOUDBASE_HTTP}
)
SCHEDULE_TRIGGERS = frozenset({AWS_SCHEDULE, SCF_TIMER})
_AWS_TRIGGERS = frozenset({AWS_REST, AWS_HTTP_API, AWS_FUNCTION_URL, AWS_SCHEDULE, AWS_SQS})
_TENCENT_TRIGGERS = frozenset({SCF_FUNCTION_URL, SCF_APIGW, CLOUDBASE_HTTP, SCF_TIMER, WX_CALLFUNCTION})

DEFAULT_MAX_BODY_BYTES = 64 * 1024
_WX_EVENT_KEYS = ("userInfo", "tcbContext")
_MAX_KEYS_SHOWN = 12
_MAX_KEY_CHARS = 32
_DIGIT_RUN = re.compile(r"\d{4,}")
_NOTHING: Mapping[str, str] = MappingProxyType({})
# What a path keeps as it is when one that arrived decoded is encoded again (RFC 3986 pchar + "/").
# Every other gateway hands over the path as the client sent it (percent-encoded); the router
# decodes each segment once (`shared.http.path_segments`).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class UnsupportedEventError(ValidationError):
    """The event is of no shape this package knows; the message says what arrived (never values)."""

    code = "unsupported_event"

    @classmethod
    def about(cls, event: Any, reason: str = "") -> UnsupportedEventError:
        """An error naming what was received: its type and (truncated, scrubbed) top-level keys."""
        what = describe_event(event)
        prefix = f"unsupported event ({reason})" if reason else "unsupported event"
        return cls(
            f"{prefix}: got {what}; expected an HTTP trigger event (API Gateway, function URL, "
            "SCF, CloudBase), an SQS batch, a schedule/timer event or a JSON object"
        )


class InvalidBodyError(ValidationError):
    """An HTTP body that cannot be read as text (bad base64, not UTF-8).

    `invocation` is the request with an empty body, so the caller can still answer in the
    trigger's HTTP shape.
    """

    code = "invalid_body"
    invocation: Invocation | None = None


class HttpRequest(NamedTuple):
    """One HTTP request, whichever gateway delivered it. Header names are lower-case; `path` is
    percent-encoded as the client sent it (segments are decoded once, when routed)."""

    method: str
    path: str
    headers: Mapping[str, str] = _NOTHING
    query: Mapping[str, str] = _NOTHING
    body: str = ""
    source_ip: str = ""
    path_params: Mapping[str, str] = _NOTHING
    repeated_query: frozenset[str] = frozenset()  # query names given more than once (`?a=1&a=2`)


class QueueRecord(NamedTuple):
    """One message of a queue batch."""

    message_id: str
    body: str
    receive_count: int = 1


class WxIdentity(NamedTuple):
    """The mini-program caller. `trusted` is True when it came from the platform's context."""

    app_id: str | None
    open_id: str | None
    union_id: str | None = None
    source: str | None = None
    trusted: bool = False


@dataclass(frozen=True)
class Invocation:
    """What a handler needs to know about one invocation, whatever triggered it."""

    trigger: str
    platform: str
    request_id: str
    http: HttpRequest | None = None
    payload: dict[str, Any] | None = None
    records: tuple[QueueRecord, ...] = ()
    wx: WxIdentity | None = None
    raw_event: dict[str, Any] = field(default_factory=dict, repr=False)
    context: FunctionContext | None = field(default=None, repr=False, compare=False)

    @property
    def is_http(self) -> bool:
        """Whether the invocation came through an HTTP trigger."""
        return self.http is not None


# ---------------------------------------------------------------------------- small helpers


def _scrub_key(key: str) -> str:
    """A key safe to put in an error: truncated, printable, digit runs (phone numbers) removed."""
    text = key if len(key) <= _MAX_KEY_CHARS else key[:_MAX_KEY_CHARS] + "…"
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return _DIGIT_RUN.sub("#", text)


def describe_event(event: Any) -> str:
    """Name what an event is without quoting any value: type, size, top-level keys."""
    if event is None:
        return "null"
    if isinstance(event, Mapping):
        keys = [_scrub_key(str(k)) for k in event]
        if not keys:
            return "an empty JSON object"
        shown = ", ".join(keys[:_MAX_KEYS_SHOWN])
        more = f", … {len(keys) - _MAX_KEYS_SHOWN} more" if len(keys) > _MAX_KEYS_SHOWN else ""
        return f"a JSON object with keys [{shown}{more}]"
    if isinstance(event, (list, tuple)):
        return f"a list of {len(event)} items"
    if isinstance(event, str):
        return f"a string of {len(event)} characters"
    if isinstance(event, (bytes, bytearray)):
        return f"{len(event)} bytes"
    if isinstance(event, bool):
        return "a boolean"
    if isinstance(event, (int, float)):
        return "a number"
    return f"a value of type {type(event).__name__}"


def _dict(value: Any) -> dict[str, Any]:
    """`value` if it is a dict, else an empty one."""
    return value if isinstance(value, dict) else {}


def _scalar(value: Any) -> str | None:
    """A JSON scalar as text (`true`/`false` for booleans); None for null and containers."""
    if value is None or isinstance(value, (dict, list, tuple)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(value: Any) -> str | None:
    """A non-empty scalar as text, else None."""
    text = _scalar(value)
    return text or None


def _header_value(value: Any) -> str | None:
    """A header value as one string; list values are joined with `, `."""
    if isinstance(value, (list, tuple)):
        parts = [p for p in (_scalar(v) for v in value) if p is not None]
        return ", ".join(parts) if parts else None
    return _scalar(value)


def _headers(single: Any, multi: Any = None) -> dict[str, str]:
    """Lower-cased headers from a single-value map, completed by a multi-value map."""
    out: dict[str, str] = {}
    for source in (single, multi):
        if not isinstance(source, dict):
            continue
        for name, value in source.items():
            key = str(name).lower()
            if key in out:
                continue
            text = _header_value(value)
            if text is not None:
                out[key] = text
    return out


def _query(*sources: Any) -> dict[str, str]:
    """Query parameters from maps (later ones win) or raw strings; list values keep the last."""
    out: dict[str, str] = {}
    for source in sources:
        if isinstance(source, str):
            for key, value in parse_qsl(source.lstrip("?"), keep_blank_values=True):
                out[key] = value
            continue
        if not isinstance(source, dict):
            continue
        for name, value in source.items():
            if isinstance(value, (list, tuple)):
                texts = [t for t in (_scalar(v) for v in value) if t is not None]
                text = texts[-1] if texts else None
            else:
                text = _scalar(value)
            if text is not None:
                out[str(name)] = text
    return out


def _repeated(*sources: Any) -> frozenset[str]:
    """Query names given more than once in any one source: a raw query string, or a map whose value
    is a list of several (REST `multiValueQueryStringParameters`, SCF / CloudBase maps)."""
    names: set[str] = set()
    for source in sources:
        if isinstance(source, str):
            seen: set[str] = set()
            for key, _ in parse_qsl(source.lstrip("?"), keep_blank_values=True):
                (names if key in seen else seen).add(key)
        elif isinstance(source, dict):
            names.update(str(k) for k, v in source.items() if isinstance(v, (list, tuple)) and len(v) > 1)
    return frozenset(names)


def _params(value: Any) -> dict[str, str]:
    """Path parameters as a str→str dict."""
    return {str(k): t for k, v in _dict(value).items() if (t := _scalar(v)) is not None}


def _truthy(value: Any) -> bool:
    """`true`, `"true"` or 1 (gateways are not consistent about the flag's type)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return value is True or (isinstance(value, int) and value == 1)


def _read_body(event: Mapping[str, Any]) -> tuple[str, InvalidBodyError | None]:
    """The body as text, or "" and the error saying why it could not be read."""
    try:
        return _body(event), None
    except InvalidBodyError as error:
        return "", error


def _body(event: Mapping[str, Any]) -> str:
    """The request body as text, base64-decoded when flagged; non-UTF-8 raises `invalid_body`."""
    body = event.get("body")
    if body is None:
        return ""
    if not isinstance(body, str):
        if isinstance(body, (dict, list, int, float)):  # some gateways hand over parsed JSON
            try:
                return json.dumps(body, ensure_ascii=False)
            except (ValueError, RecursionError):
                raise InvalidBodyError("body could not be read") from None
        raise InvalidBodyError("body must be text")
    if not _truthy(event.get("isBase64Encoded")):
        return body
    try:
        raw = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBodyError("body is flagged base64 but is not valid base64") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidBodyError("body is not UTF-8 text") from None


def _first_hop(forwarded_for: str | None) -> str:
    """The client address of an `X-Forwarded-For` chain."""
    if not forwarded_for:
        return ""
    return forwarded_for.split(",")[0].strip()


def _method_and_path(event: Mapping[str, Any], method: Any, path: Any) -> tuple[str, str]:
    """Validated method and path, or UnsupportedEventError."""
    if not isinstance(method, str) or not method.strip():
        raise UnsupportedEventError.about(event, "HTTP-like event without a method")
    if not isinstance(path, str) or not path.strip():
        raise UnsupportedEventError.about(event, "HTTP-like event without a path")
    path = path.strip()
    return method.strip().upper(), path if path.startswith("/") else "/" + path


# ---------------------------------------------------------------------------- per trigger


def _looks_like_v2(event: Mapping[str, Any]) -> bool:
    return event.get("version") == "2.0" and (
        "http" in _dict(event.get("requestContext")) or "rawPath" in event or "routeKey" in event
    )


def _looks_like_v1(event: Mapping[str, Any]) -> bool:
    if "httpMethod" in event:
        return True
    return "path" in event and any(
        k in event for k in ("headers", "multiValueHeaders", "queryString", "queryStringParameters")
    )


def _parse_v2(event: dict[str, Any]) -> tuple[str, HttpRequest, str | None, InvalidBodyError | None]:
    """AWS HTTP API (payload 2.0) or Lambda function URL."""
    rc = _dict(event.get("requestContext"))
    http = _dict(rc.get("http"))
    method, path = _method_and_path(event, http.get("method"), event.get("rawPath") or http.get("path"))
    stage = rc.get("stage")
    if isinstance(stage, str) and stage and stage != "$default":  # named stages prefix rawPath
        prefix = "/" + stage
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :] or "/"
    domain = str(rc.get("domainName") or "")
    trigger = AWS_FUNCTION_URL if ".lambda-url." in domain else AWS_HTTP_API
    if trigger == AWS_HTTP_API:  # HTTP APIs hand over the path already decoded: make it raw again
        path = quote(path, safe=_PATH_SAFE)
    headers = _headers(event.get("headers"))
    cookies = event.get("cookies")
    if isinstance(cookies, list) and "cookie" not in headers:
        parts = [c for c in cookies if isinstance(c, str)]
        if parts:
            headers["cookie"] = "; ".join(parts)
    body, body_error = _read_body(event)
    query = _query(event.get("queryStringParameters"))
    if not query and isinstance(event.get("rawQueryString"), str):
        query = _query(event["rawQueryString"])
    # payload 2.0 joins a repeated parameter's values with commas: only the raw string tells
    repeated = _repeated(event.get("rawQueryString"), event.get("queryStringParameters"))
    request = HttpRequest(
        method=method,
        path=path,
        headers=headers,
        query=query,
        body=body,
        source_ip=_text(http.get("sourceIp")) or _first_hop(headers.get("x-forwarded-for")),
        path_params=_params(event.get("pathParameters")),
        repeated_query=repeated,
    )
    return trigger, request, _text(rc.get("requestId")), body_error


def _parse_v1(
    event: dict[str, Any], ctx: FunctionContext
) -> tuple[str, HttpRequest, str | None, InvalidBodyError | None]:
    """AWS REST v1 proxy, legacy SCF API gateway, CloudBase HTTP access or SCF function URL."""
    raw_rc = event.get("requestContext")
    rc = _dict(raw_rc)
    method, path = _method_and_path(event, event.get("httpMethod") or rc.get("httpMethod"), event.get("path"))
    if "multiValueHeaders" in event or "resource" in event:
        trigger = AWS_REST
    elif "serviceId" in rc:
        trigger = SCF_APIGW
    elif "envId" in rc:
        trigger = CLOUDBASE_HTTP
    elif raw_rc is None:
        trigger = SCF_FUNCTION_URL
    else:  # an unknown gateway's v1-like event: answer in the shape of the platform we run on
        trigger = SCF_FUNCTION_URL if ctx.platform == "tencent" else AWS_REST
    headers = _headers(event.get("headers"), event.get("multiValueHeaders"))
    query = _query(
        event.get("multiValueQueryStringParameters"),
        event.get("queryStringParameters"),
        event.get("queryString"),  # SCF: the real query string
    )
    repeated = _repeated(
        event.get("multiValueQueryStringParameters"),
        event.get("queryStringParameters"),
        event.get("queryString"),
    )
    body, body_error = _read_body(event)
    request_id = _text(rc.get("requestId"))
    if request_id is None and trigger == SCF_APIGW:
        request_id = headers.get("x-api-requestid") or None
    source_ip = (
        _text(_dict(rc.get("identity")).get("sourceIp"))
        or _text(rc.get("sourceIp"))
        or _first_hop(headers.get("x-forwarded-for"))
    )
    request = HttpRequest(
        method=method,
        path=path,
        headers=headers,
        query=query,
        body=body,
        source_ip=source_ip,
        path_params=_params(event.get("pathParameters")),
        repeated_query=repeated,
    )
    return trigger, request, request_id, body_error


def _parse_sqs(event: dict[str, Any], records: list[Any]) -> tuple[QueueRecord, ...]:
    """SQS records, or UnsupportedEventError when the batch comes from another source."""
    if not records:
        raise UnsupportedEventError.about(event, "empty Records batch")
    parsed: list[QueueRecord] = []
    for record in records:
        item = _dict(record)
        source = item.get("eventSource") or item.get("EventSource")
        if source != "aws:sqs":
            name = _scrub_key(source) if isinstance(source, str) else "an unknown source"
            raise UnsupportedEventError.about(event, f"Records from {name}, only aws:sqs is supported")
        message_id = _text(item.get("messageId"))
        body = item.get("body")
        if message_id is None or not isinstance(body, (str, type(None))):
            raise UnsupportedEventError.about(event, "SQS record without messageId or text body")
        attributes = _dict(item.get("attributes"))
        count = attributes.get("ApproximateReceiveCount")
        receive_count = int(count) if isinstance(count, str) and count.isascii() and count.isdigit() else 1
        parsed.append(QueueRecord(message_id=message_id, body=body or "", receive_count=receive_count))
    return tuple(parsed)


def _timer_payload(message: Any) -> dict[str, Any]:
    """SCF timer `Message`: a JSON object is the payload, other text becomes `{"message": …}`."""
    if isinstance(message, dict):
        return message
    if message is None:
        return {}
    if not isinstance(message, str):
        return {"message": _scalar(message) or ""}
    if not message.strip():
        return {}
    try:
        decoded = json.loads(message)
    except (ValueError, RecursionError):
        decoded = None
    return decoded if isinstance(decoded, dict) else {"message": message}


def _wx_identity(event: Mapping[str, Any], env: Mapping[str, str]) -> WxIdentity | None:
    """The caller: from the context environment (trusted) when present, else the event's userInfo."""
    source = env.get("TCB_SOURCE") or None
    if env.get("WX_OPENID") or env.get("WX_APPID"):
        return WxIdentity(
            app_id=env.get("WX_APPID") or None,
            open_id=env.get("WX_OPENID") or None,
            union_id=env.get("WX_UNIONID") or None,
            source=source,
            trusted=True,
        )
    info = _dict(event.get("userInfo"))
    app_id, open_id = _text(info.get("appId")), _text(info.get("openId"))
    if app_id is None and open_id is None:
        return None
    return WxIdentity(
        app_id=app_id, open_id=open_id, union_id=_text(info.get("unionId")), source=source, trusted=False
    )


def _platform(ctx: FunctionContext, trigger: str) -> str:
    """The context decides; an unrecognised context object falls back to the event's shape."""
    if ctx.platform != "local" or ctx.raw is None:
        return ctx.platform
    if trigger in _AWS_TRIGGERS:
        return "aws"
    if trigger in _TENCENT_TRIGGERS:
        return "tencent"
    return "local"


# ---------------------------------------------------------------------------- public API


def parse_event(event: Any, context: Any = None) -> Invocation:
    """Turn any supported event (and the platform's context) into one `Invocation`.

    Raises `UnsupportedEventError` for shapes nobody supports and `InvalidBodyError`
    (`invalid_body`, carrying `.invocation` for shaping the answer) for an undecodable HTTP body.
    """
    ctx = wrap_context(context)
    if not isinstance(event, dict):
        raise UnsupportedEventError.about(event)

    def make(trigger: str, request_id: str | None = None, **fields: Any) -> Invocation:
        return Invocation(
            trigger=trigger,
            platform=_platform(ctx, trigger),
            request_id=request_id or ctx.aws_request_id,
            raw_event=event,
            context=ctx,
            **fields,
        )

    records = event.get("Records")
    if isinstance(records, list):
        return make(AWS_SQS, records=_parse_sqs(event, records))
    if _looks_like_v2(event) or _looks_like_v1(event):
        parsed = _parse_v2(event) if _looks_like_v2(event) else _parse_v1(event, ctx)
        trigger, request, request_id, body_error = parsed
        invocation = make(trigger, request_id, http=request)
        if body_error is not None:
            body_error.invocation = invocation
            raise body_error
        return invocation
    if event.get("Type") == "Timer":
        return make(SCF_TIMER, payload=_timer_payload(event.get("Message")))
    if "detail-type" in event:
        detail = event.get("detail")
        return make(AWS_SCHEDULE, payload=detail if isinstance(detail, dict) else {})
    env = ctx.environment
    if any(k in event for k in _WX_EVENT_KEYS) or env.get("WX_OPENID"):
        payload = {k: v for k, v in event.items() if k not in _WX_EVENT_KEYS}
        return make(WX_CALLFUNCTION, payload=payload, wx=_wx_identity(event, env))
    return make(DIRECT, payload=event)


def shape_http_response(
    inv: Invocation,
    status: int,
    body: str,
    headers: Mapping[str, str],
    is_base64: bool = False,
    *,
    cookies: Sequence[str] = (),
) -> dict[str, Any]:
    """The integration response `inv.trigger` expects (`Set-Cookie` headers are moved to cookies)."""
    plain: dict[str, str] = {}
    set_cookies = list(cookies)
    for name, value in headers.items():
        if str(name).lower() == "set-cookie":
            set_cookies.append(str(value))
        else:
            plain[str(name)] = str(value)
    text = body if isinstance(body, str) else ("" if body is None else str(body))
    if inv.trigger == AWS_REST:
        multi = {k: [v] for k, v in plain.items()}
        if set_cookies:
            multi["Set-Cookie"] = set_cookies
        return {
            "statusCode": int(status),
            "headers": plain,
            "multiValueHeaders": multi,
            "body": text,
            "isBase64Encoded": bool(is_base64),
        }
    if inv.trigger in (AWS_HTTP_API, AWS_FUNCTION_URL):
        response: dict[str, Any] = {
            "statusCode": int(status),
            "headers": plain,
            "body": text,
            "isBase64Encoded": bool(is_base64),
        }
        if set_cookies:
            response["cookies"] = set_cookies
        return response
    tencent_headers: dict[str, str | list[str]] = dict(plain)
    if set_cookies:  # SCF gateways accept list-valued headers
        tencent_headers["Set-Cookie"] = set_cookies[0] if len(set_cookies) == 1 else set_cookies
    return {
        "isBase64Encoded": bool(is_base64),
        "statusCode": int(status),
        "headers": tencent_headers,
        "body": text,
    }


def header(http: HttpRequest | Mapping[str, Any], name: str) -> str | None:
    """A request header, case-insensitively; list values are joined with `, `."""
    headers = http.headers if isinstance(http, HttpRequest) else http
    wanted = name.lower()
    if wanted in headers:
        return _header_value(headers[wanted])
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return _header_value(value)
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body(http: HttpRequest, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object, or a ValidationError/PayloadTooLargeError saying why not."""
    body = http.body or ""
    size = len(body) if len(body) > max_bytes else len(body.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise PayloadTooLargeError(f"body is {size} bytes or more; the limit is {max_bytes}")
    if not body.strip():
        raise ValidationError("body is empty", code="invalid_body")
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})",
            code="invalid_json",
        ) from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ValidationError(f"body is not valid JSON: {reason}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise ValidationError(f"body must be a JSON object, got {describe_event(value)}", code="invalid_body")
    return value
