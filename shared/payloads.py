"""Request bodies per operation and protocol, signing them into HTTP requests, and parsing answers.

Builders return an `ApiCall` (operation + JSON body, unsigned); `sign_legacy` / `sign_v3` turn it
into the exact bytes and headers to send (an `outbound.OutboundRequest`); parsers turn Tencent's
JSON into `models` results and raise `TencentError` for request-level failures. Nothing here does
I/O or reads a clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from itertools import repeat
from typing import Any, Literal, NamedTuple, cast
from urllib.parse import urlsplit

from shared import phone as phones
from shared import signing
from shared.errors import TencentError, UnknownOutcomeError, ValidationError
from shared.models import (
    OK_CODE,
    Message,
    PullKind,
    PullResult,
    Receipt,
    ReceiptStatus,
    Reply,
    SendResult,
)
from shared.outbound import OutboundRequest

V3_VERSION = "2021-01-11"
V3_SERVICE = "sms"
LEGACY_PATH = "/v5/tlssmssvr/"
MAX_NUMBERS_PER_REQUEST = 200
MAX_PULL = 100
BAD_ANSWER_CODE = "tencent_bad_response"  # an answer that arrived but does not parse
BEIJING = timezone(timedelta(hours=8))

# Legacy result codes that fail the whole request rather than one number.
_LEGACY_REQUEST_LEVEL = frozenset(
    {
        1001,
        1003,
        1004,
        1006,
        1007,
        1008,
        1009,
        1011,
        1019,
        1020,
        1021,
        1022,
        1030,
        1031,
        1033,
        1034,
        1046,
        1047,
        60008,
    }
)


class ApiCall(NamedTuple):
    """One Tencent operation before signing."""

    operation: str  # legacy path segment (`sendsms`) or API 3.0 action (`SendSms`)
    body: dict[str, Any]
    phones: tuple[str, ...] = ()  # E.164 numbers a send goes to (named in unknown-outcome errors)
    is_send: bool = False
    legacy_mobiles: tuple[str, ...] | None = None  # the national numbers the legacy sig covers


# json.dumps' own encoder without its cycle check, which keeps a note of every dict and list it
# enters (a legacy request has a dict a number): our bodies are trees built here, never cyclic.
_ENCODER = json.JSONEncoder(check_circular=False)


def encode_json(body: dict[str, Any]) -> bytes:
    """JSON exactly as the official SDKs write it (ASCII escapes, `, ` and `: ` separators)."""
    return _ENCODER.encode(body).encode("ascii")


# --------------------------------------------------------------------------- legacy v5 builders


def _legacy_tel(e164: str) -> dict[str, str]:
    nationcode, mobile = phones.split(e164)
    return {"nationcode": nationcode, "mobile": mobile}


def _legacy_message_fields(message: Message) -> dict[str, Any]:
    if message.is_content:
        return {"type": message.content_type, "msg": message.content}
    return {"sign": message.sign, "tpl_id": int(message.template_id), "params": list(message.params)}


def build_legacy_send(phone_numbers: Sequence[str], message: Message) -> ApiCall:
    """`sendsms` for one number, `sendmultisms2` for several (≤200, one region class)."""
    _check_chunk(phone_numbers)  # one region: a mainland list is +86 throughout
    if phones.is_mainland(phone_numbers[0]):
        mobiles = [p[3:] for p in phone_numbers]
        tels = [{"nationcode": phones.MAINLAND_CODE, "mobile": m} for m in mobiles]
    else:
        tels = [_legacy_tel(p) for p in phone_numbers]
        mobiles = [t["mobile"] for t in tels]
    single = len(tels) == 1
    body: dict[str, Any] = {"tel": tels[0] if single else tels}
    body.update(_legacy_message_fields(message))
    body.update({"sig": "", "time": 0, "extend": message.extend, "ext": message.session_context})
    return ApiCall(
        operation="sendsms" if single else "sendmultisms2",
        body=body,
        phones=tuple(phone_numbers),
        is_send=True,
        legacy_mobiles=tuple(mobiles),
    )


def build_legacy_pull(kind: PullKind, limit: int) -> ApiCall:
    """`pullstatus`: drain the receipt (type 0) or reply (type 1) queue."""
    return ApiCall(
        "pullstatus", {"sig": "", "time": 0, "type": _legacy_type(kind), "max": _pull_limit(limit)}
    )


def build_legacy_pull_for_phone(kind: PullKind, e164: str, begin: int, end: int, limit: int) -> ApiCall:
    """`pullstatus4mobile`: one number's receipts or replies in [begin, end]."""
    nationcode, mobile = phones.split(e164)
    body = {
        "sig": "",
        "type": _legacy_type(kind),
        "time": 0,
        "max": _pull_limit(limit),
        "begin_time": int(begin),
        "end_time": int(end),
        "nationcode": nationcode,
        "mobile": mobile,
    }
    return ApiCall("pullstatus4mobile", body)


def _legacy_type(kind: PullKind) -> int:
    return 0 if kind == "receipts" else 1


def sign_legacy(
    call: ApiCall, *, base_url: str, appid: str, appkey: str, timestamp: int, random: int
) -> OutboundRequest:
    """Fill `sig` and `time` into the body and put `sdkappid` and `random` in the URL."""
    body = dict(call.body)
    body["sig"] = signing.legacy_sig(appkey, random, timestamp, call.legacy_mobiles)
    body["time"] = timestamp
    url = f"{base_url.rstrip('/')}{LEGACY_PATH}{call.operation}?sdkappid={appid}&random={random}"
    return OutboundRequest(url, {"Content-Type": "application/json"}, encode_json(body))


# --------------------------------------------------------------------------- API 3.0 builders


def build_v3_send(phone_numbers: Sequence[str], message: Message, sdk_app_id: str) -> ApiCall:
    """`SendSms` for 1–200 numbers of one region class."""
    if message.is_content:
        raise ValidationError(
            "plain-content sends exist only on the legacy API; use a template", field="content"
        )
    _check_chunk(phone_numbers)
    body: dict[str, Any] = {
        "PhoneNumberSet": list(phone_numbers),
        "SmsSdkAppId": sdk_app_id,
        "TemplateId": str(message.template_id),
    }
    if message.sign:
        body["SignName"] = message.sign
    body["TemplateParamSet"] = list(message.params)
    if message.extend:
        body["ExtendCode"] = message.extend
    if message.session_context:
        body["SessionContext"] = message.session_context
    return ApiCall("SendSms", body, phones=tuple(phone_numbers), is_send=True)


def build_v3_pull(kind: PullKind, limit: int, sdk_app_id: str) -> ApiCall:
    action = "PullSmsSendStatus" if kind == "receipts" else "PullSmsReplyStatus"
    return ApiCall(action, {"Limit": _pull_limit(limit), "SmsSdkAppId": sdk_app_id})


def build_v3_pull_for_phone(
    kind: PullKind, e164: str, begin: int, end: int, limit: int, sdk_app_id: str
) -> ApiCall:
    action = "PullSmsSendStatusByPhoneNumber" if kind == "receipts" else "PullSmsReplyStatusByPhoneNumber"
    body = {
        "BeginTime": int(begin),
        "Offset": 0,
        "Limit": _pull_limit(limit),
        "PhoneNumber": e164,
        "SmsSdkAppId": sdk_app_id,
        "EndTime": int(end),
    }
    return ApiCall(action, body)


def sign_v3(
    call: ApiCall,
    *,
    base_url: str,
    secret_id: str,
    secret_key: str,
    session_token: str,
    region: str,
    timestamp: int,
) -> OutboundRequest:
    """TC3-sign the body; the signed Host is the one the request will carry."""
    content = encode_json(call.body)
    split = urlsplit(base_url)
    headers = signing.tc3_headers(
        secret_id=secret_id,
        secret_key=secret_key,
        session_token=session_token,
        host=split.netloc,
        action=call.operation,
        version=V3_VERSION,
        region=region,
        timestamp=timestamp,
        payload=content,
    )
    path = split.path.rstrip("/") + "/"
    return OutboundRequest(f"{split.scheme}://{split.netloc}{path}", headers, content)


def _pull_limit(limit: int) -> int:
    if not 1 <= int(limit) <= MAX_PULL:
        raise ValidationError(f"max must be between 1 and {MAX_PULL}", field="max")
    return int(limit)


def _check_chunk(phone_numbers: Sequence[str]) -> None:
    if not phone_numbers:
        raise ValidationError("at least one phone number is required", field="phones")
    if len(phone_numbers) > MAX_NUMBERS_PER_REQUEST:
        raise ValidationError(f"at most {MAX_NUMBERS_PER_REQUEST} numbers per request", field="phones")
    if len(set(map(str.startswith, phone_numbers, repeat(phones.MAINLAND_PREFIX)))) > 1:  # is_mainland, in C
        raise ValidationError("one request cannot mix mainland and international numbers", field="phones")


# --------------------------------------------------------------------------- parsing answers


def decode_json(content: bytes, call: ApiCall) -> Any:
    """Tencent's JSON, or an error: for a send an unknown outcome, since it may have gone through."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        if call.is_send:
            raise UnknownOutcomeError(
                "Tencent answered with something that is not JSON; the numbers may or may not have been sent",
                phones=call.phones,
            ) from None
        raise TencentError(
            "MalformedResponse", "the answer was not JSON", status=502, code=BAD_ANSWER_CODE
        ) from None


def parse_legacy_send(answer: Any, call: ApiCall) -> list[SendResult]:
    """Results of `sendsms` / `sendmultisms2`, one per number of the call, in order."""
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), int):
        raise malformed(call)
    result, errmsg = answer["result"], str(answer.get("errmsg", ""))
    detail = answer.get("detail")
    if call.operation == "sendsms":
        if result in _LEGACY_REQUEST_LEVEL:
            raise TencentError(str(result), errmsg, phones=call.phones)
        return [_legacy_result(call.phones[0], answer, call.body.get("ext", ""))]
    if not isinstance(detail, list) or not detail:
        if result != 0:
            raise TencentError(str(result), errmsg, phones=call.phones)
        raise malformed(call)
    ext = call.body.get("ext", "")
    return _legacy_all_sent(detail, call, ext) or _legacy_each(detail, call, ext)


def _legacy_each(detail: list[Any], call: ApiCall, ext: str) -> list[SendResult]:
    """`sendmultisms2`'s results a number at a time."""
    by_phone = {
        "+" + str(i.get("nationcode", "")) + str(i.get("mobile", "")): i
        for i in detail
        if isinstance(i, dict)
    }
    return _in_call_order(call, by_phone, lambda e164, item: _legacy_result(e164, item, ext))


def _legacy_all_sent(detail: list[Any], call: ApiCall, ext: str) -> list[SendResult] | None:
    """`_legacy_each`'s results for an answer that accepted every number of the call, in its
    order (result 0, a string sid, a whole fee), without a Python call a number; None otherwise."""
    if not _readable_by_column(detail, call):
        return None
    nationcodes, mobiles, codes, fees, sids, texts, contexts = _columns(
        detail, ("nationcode", ""), ("mobile", ""), ("result", None), ("fee", None), ("sid", ""),
        ("errmsg", ""), ("ext", ext),
    )  # fmt: skip
    phones = list(map("+{}{}".format, nationcodes, mobiles))  # each part str()'d, as _legacy_each's
    if phones != list(call.phones) or codes.count(0) != len(codes) or not _all_of(fees, int):
        return None
    if not (_all_of(sids, str) and _all_of(texts, str) and _all_of(contexts, str)):
        return None
    return _submitted(phones, sids, fees, texts, contexts)


def _in_call_order(
    call: ApiCall, by_phone: dict[str, dict[str, Any]], convert: Callable[[str, dict[str, Any]], SendResult]
) -> list[SendResult]:
    """One result per number of the call, in its order; a number the answer left out is `unknown`."""
    return [
        convert(e164, by_phone[e164])
        if e164 in by_phone
        else SendResult(
            e164, "", "unknown", 0, "MissingFromAnswer", "Tencent's answer did not mention this number"
        )
        for e164 in call.phones
    ]


def _legacy_result(e164: str, item: dict[str, Any], ext: str) -> SendResult:
    code = item.get("result")
    ok = code == 0
    return SendResult(
        phone=e164,
        message_id=str(item.get("sid", "")) if ok else "",
        status="submitted" if ok else "failed",
        fee=_int(item.get("fee")) if ok else 0,
        code=OK_CODE if ok else str(code),
        message=str(item.get("errmsg", "")),
        session_context=str(item.get("ext", ext) or ""),
    )


def parse_v3_envelope(answer: Any, call: ApiCall) -> dict[str, Any]:
    """The `Response` object, raising `TencentError` for `Response.Error`."""
    if not isinstance(answer, dict) or not isinstance(answer.get("Response"), dict):
        raise malformed(call)
    response: dict[str, Any] = answer["Response"]
    error = response.get("Error")
    if isinstance(error, dict):
        raise TencentError(
            str(error.get("Code", "")),
            str(error.get("Message", "")),
            phones=call.phones,
            details={"request_id": str(response.get("RequestId", ""))},
        )
    return response


def parse_v3_send(answer: Any, call: ApiCall) -> list[SendResult]:
    """Results of `SendSms`: only `Code == "Ok"` is success; a failed entry has an empty SerialNo."""
    response = parse_v3_envelope(answer, call)
    items = response.get("SendStatusSet")
    if not isinstance(items, list):
        raise malformed(call)
    return _v3_all_sent(items, call) or _v3_each(items, call)


def _v3_each(items: list[Any], call: ApiCall) -> list[SendResult]:
    """`SendSms`'s results a number at a time."""
    by_phone = {str(i.get("PhoneNumber", "")): i for i in items if isinstance(i, dict)}
    return _in_call_order(call, by_phone, _v3_result)


def _v3_all_sent(items: list[Any], call: ApiCall) -> list[SendResult] | None:
    """`_v3_each`'s results for an answer that sent every number of the call, in its order (`Ok`,
    a serial number, a whole fee), without a Python call a number; None otherwise."""
    if not _readable_by_column(items, call):
        return None
    phones, codes, serials, fees, texts, contexts = _columns(
        items, ("PhoneNumber", None), ("Code", None), ("SerialNo", None), ("Fee", None), ("Message", ""),
        ("SessionContext", ""),
    )  # fmt: skip
    if phones != list(call.phones) or codes.count(OK_CODE) != len(codes) or not all(serials):
        return None
    if not (_all_of(serials, str) and _all_of(fees, int) and _all_of(texts, str) and _all_of(contexts, str)):
        return None
    return _submitted(phones, serials, fees, texts, contexts)


# A list's answer read a column at a time: each pass is a C loop (map over dict.get), and the
# results are made by tuple.__new__ as namedtuple's own `_make` does, not by a Python call a number.
_GET = dict.get
_NEW_RESULT = partial(tuple.__new__, SendResult)


def _readable_by_column(items: list[Any], call: ApiCall) -> bool:
    """Whether an answer's entries are all dicts and the call named each number once (an entry
    is then matched to its number by place, not by a lookup that keeps the last of a number's)."""
    return len(set(call.phones)) == len(call.phones) and _all_of(items, dict)


def _all_of(values: list[Any], kind: type) -> bool:
    """Whether every value is of exactly this type (a bool is no int, a str subclass no str)."""
    return set(map(type, values)) == {kind}


def _columns(items: list[dict[str, Any]], *fields: tuple[str, Any]) -> list[list[Any]]:
    """Each (key, default)'s values across the entries, as `item.get(key, default)` gives them."""
    return [list(map(_GET, items, repeat(key), repeat(default))) for key, default in fields]


def _submitted(
    phones: list[str], message_ids: list[str], fees: list[int], texts: list[str], contexts: list[str]
) -> list[SendResult]:
    """A submitted result a number: every field `SendResult` has, in its order."""
    return cast(
        "list[SendResult]",
        list(
            map(
                _NEW_RESULT,
                zip(
                    phones, message_ids, repeat("submitted"), fees, repeat(OK_CODE), texts, contexts,
                    repeat(""), repeat(0),
                ),
            )
        ),
    )  # fmt: skip


def _v3_result(e164: str, item: dict[str, Any]) -> SendResult:
    # positional, and each field read once: this runs for every number of every send
    code, serial = item.get("Code", ""), item.get("SerialNo")
    message, context = str(item.get("Message", "")), str(item.get("SessionContext", "") or "")
    if code == OK_CODE and serial:
        return SendResult(e164, str(serial), "submitted", _int(item.get("Fee")), OK_CODE, message, context)
    return SendResult(e164, "", "failed", 0, str(code), message, context)


def parse_legacy_pull(answer: Any, call: ApiCall, kind: PullKind) -> PullResult:
    """`pullstatus` / `pullstatus4mobile`: every item handed out ends up parsed or kept whole."""
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), int):
        raise malformed(call)
    if answer["result"] != 0:
        raise TencentError(str(answer["result"]), str(answer.get("errmsg", "")))
    data = answer.get("data") or []
    if not isinstance(data, list):
        raise malformed(call)
    parse = legacy_receipt if kind == "receipts" else legacy_reply
    return collect_items(kind, data, parse)


def parse_v3_pull(answer: Any, call: ApiCall, kind: PullKind) -> PullResult:
    response = parse_v3_envelope(answer, call)
    key = "PullSmsSendStatusSet" if kind == "receipts" else "PullSmsReplyStatusSet"
    data = response.get(key) or []
    if not isinstance(data, list):
        raise malformed(call)
    parse = v3_receipt if kind == "receipts" else v3_reply
    return collect_items(kind, data, parse)


def collect_items(kind: PullKind, data: Iterable[Any], parse: Any) -> PullResult:
    """Parse pulled or pushed items one by one; any that does not parse is kept whole in `unparsed`."""
    parsed: list[Any] = []
    unparsed: list[dict[str, Any]] = []
    for item in data:
        try:
            if not isinstance(item, dict):
                raise TypeError("item is not an object")
            parsed.append(parse(item))
        except (KeyError, TypeError, ValueError, AttributeError):
            unparsed.append(item if isinstance(item, dict) else {"raw": item})
    if kind == "receipts":
        return PullResult(kind, receipts=tuple(parsed), unparsed=tuple(unparsed))
    return PullResult(kind, replies=tuple(parsed), unparsed=tuple(unparsed))


def _receipt_status(value: Any) -> ReceiptStatus:
    text = str(value or "").upper()
    if text == "SUCCESS":
        return "delivered"
    if text == "FAIL":
        return "failed"
    return "unknown"


def legacy_receipt(item: dict[str, Any]) -> Receipt:
    """A legacy report object (pull data or push callback)."""
    if not item.get("sid"):
        raise ValueError("receipt without sid")
    return Receipt(
        message_id=str(item["sid"]),
        phone=_e164_from_parts(item["nationcode"], item["mobile"]),
        status=_receipt_status(item.get("report_status")),
        carrier_code=str(item.get("errmsg", "")),
        description=str(item.get("description", "")),
        received_at=beijing_to_unix(str(item.get("user_receive_time", ""))),
        session_context=str(item.get("ext", "") or ""),
    )


def legacy_reply(item: dict[str, Any]) -> Reply:
    """A legacy reply object (pull data or push callback)."""
    return Reply(
        phone=_e164_from_parts(item["nationcode"], item["mobile"]),
        text=str(item["text"]),
        sign=str(item.get("sign", "")),
        extend=str(item.get("extend", "") or ""),
        replied_at=int(item.get("time") or 0),
    )


def v3_receipt(item: dict[str, Any]) -> Receipt:
    if not item.get("SerialNo"):
        raise ValueError("receipt without SerialNo")
    phone = item.get("PhoneNumber") or _e164_from_parts(item["CountryCode"], item["SubscriberNumber"])
    return Receipt(
        message_id=str(item["SerialNo"]),
        phone=str(phone),
        status=_receipt_status(item.get("ReportStatus")),
        carrier_code=str(item.get("Description", "")),
        description=str(item.get("Description", "")),
        received_at=int(item.get("UserReceiveTime") or 0),
        session_context=str(item.get("SessionContext", "") or ""),
    )


def v3_reply(item: dict[str, Any]) -> Reply:
    phone = item.get("PhoneNumber") or _e164_from_parts(item["CountryCode"], item["SubscriberNumber"])
    return Reply(
        phone=str(phone),
        text=str(item["ReplyContent"]),
        sign=str(item.get("SignName", "")),
        extend=str(item.get("ExtendCode", "") or ""),
        replied_at=int(item.get("ReplyTime") or 0),
    )


def _e164_from_parts(nationcode: Any, mobile: Any) -> str:
    code, number = str(nationcode).strip().lstrip("+"), str(mobile).strip()
    if not (code + number).isascii() or not code.isdigit() or not number.isdigit():
        raise ValueError("nationcode and mobile must be digits")
    return f"+{code}{number}"


def beijing_to_unix(text: str) -> int:
    """`YYYY-MM-DD hh:mm:ss` in Beijing time (the legacy receipt clock) → unix seconds; 0 if absent."""
    if not text:
        return 0
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    return int(moment.timestamp())


def unix_to_beijing(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def malformed(call: ApiCall) -> Exception:
    if call.is_send:
        return UnknownOutcomeError(
            "Tencent's answer did not have the expected shape; the numbers may or may not have been sent",
            phones=call.phones,
        )
    return TencentError(
        "MalformedResponse",
        "the answer did not have the expected shape",
        status=502,
        code=BAD_ANSWER_CODE,
    )


# --------------------------------------------------------------------------- hourly statistics

StatisticsKind = Literal["send", "callback"]
FAILURE_CLASSES = ("internal_error", "invalid_number", "shutdown", "blacklist", "frequency_limit")
_V3_FAILURES = (
    "InternalErrorCount",
    "InvalidNumberCount",
    "ShutdownErrorCount",
    "BlackListCount",
    "FrequencyLimitCount",
)


def beijing_hour(timestamp: int) -> str:
    """The Beijing hour holding `timestamp`, as Tencent's statistics take it: `yyyymmddhh`."""
    return datetime.fromtimestamp(timestamp, tz=BEIJING).strftime("%Y%m%d%H")


def build_legacy_statistics(kind: StatisticsKind, first_hour: int, last_hour: int) -> ApiCall:
    """`pullsendstatus` / `pullcallbackstatus` for the hours holding `first_hour` … `last_hour`."""
    body = {
        "sig": "",
        "time": 0,
        "begin_date": int(beijing_hour(first_hour)),
        "end_date": int(beijing_hour(last_hour)),
    }
    return ApiCall("pullsendstatus" if kind == "send" else "pullcallbackstatus", body)


def build_v3_statistics(kind: StatisticsKind, first_hour: int, last_hour: int, sdk_app_id: str) -> ApiCall:
    """`SendStatusStatistics` / `CallbackStatusStatistics` for the hours `first_hour` … `last_hour`."""
    body = {
        "BeginTime": beijing_hour(first_hour),
        "EndTime": beijing_hour(last_hour),
        "SmsSdkAppId": sdk_app_id,
        "Limit": 0,
        "Offset": 0,
    }
    return ApiCall("SendStatusStatistics" if kind == "send" else "CallbackStatusStatistics", body)


def parse_statistics(answer: Any, call: ApiCall) -> dict[str, Any]:
    """Either protocol's statistics answer in one shape (see docs/dashboard.md)."""
    if call.operation in ("pullsendstatus", "pullcallbackstatus"):
        if not isinstance(answer, dict) or not isinstance(answer.get("result"), int):
            raise malformed(call)
        if answer["result"] != 0:
            raise TencentError(str(answer["result"]), str(answer.get("errmsg", "")))
        data = answer.get("data")
        if not isinstance(data, dict):
            raise malformed(call)
        if call.operation == "pullsendstatus":
            return {
                "request_count": _int(data.get("request")),
                "request_success_count": _int(data.get("success")),
                "fee_count": _int(data.get("bill_number")),
            }
        return {
            "callback_count": _int(data.get("status")),
            "callback_success_count": _int(data.get("status_success")),
            "callback_fail_count": _int(data.get("status_fail")),
            "request_success_count": _int(data.get("success")),
            "failures": {n: _int(data.get(f"status_fail_{i}")) for i, n in enumerate(FAILURE_CLASSES)},
        }
    response = parse_v3_envelope(answer, call)
    data = response.get(call.operation)
    if not isinstance(data, dict):
        raise malformed(call)
    if call.operation == "SendStatusStatistics":
        return {
            "request_count": _int(data.get("RequestCount")),
            "request_success_count": _int(data.get("RequestSuccessCount")),
            "fee_count": _int(data.get("FeeCount")),
        }
    return {
        "callback_count": _int(data.get("CallbackCount")),
        "callback_success_count": _int(data.get("CallbackSuccessCount")),
        "callback_fail_count": _int(data.get("CallbackFailCount")),
        "request_success_count": _int(data.get("RequestSuccessCount")),
        "failures": {n: _int(data.get(v3)) for n, v3 in zip(FAILURE_CLASSES, _V3_FAILURES, strict=True)},
    }
