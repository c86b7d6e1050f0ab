"""API 3.0: `POST /` signed with TC3-HMAC-SHA256, the action in `X-TC-Action` (reference §2).

`handle` verifies and answers one request: `{"Response": {…, "RequestId"}}` on success,
`{"Response": {"Error": {"Code", "Message"}, "RequestId"}}` otherwise, always with HTTP 200.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from local.emulator import codes, statistics, templates_api
from local.emulator.catalogue import Credential
from local.emulator.codes import Rejected, Rejection
from local.emulator.engine import Engine, InboundReply, Outcomes, Receipt, SendSpec
from local.emulator.jsontext import EncodedItems, plain, string
from local.emulator.numbers import Destination, iso_code, v3_destinations
from local.emulator.sigs import parse_authorization, utc_date, verify_tc3

SERVICE = "sms"
VERSION = "2021-01-11"
MAX_PULL = 100

TIME_TOLERANCE = 300  # seconds
PER_NUMBER_LOOKBACK = 7 * 86_400
REGIONS = frozenset(
    {
        "ap-beijing",
        "ap-guangzhou",
        "ap-nanjing",
        "ap-shanghai",
        "ap-chengdu",
        "ap-chongqing",
        "ap-hongkong",
        "ap-singapore",
        "ap-bangkok",
        "ap-mumbai",
        "ap-seoul",
        "ap-tokyo",
        "na-ashburn",
        "na-siliconvalley",
        "eu-frankfurt",
    }
)

Action = Callable[[Engine, Credential, dict[str, Any]], dict[str, Any]]


def handle(engine: Engine, method: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Answer one API 3.0 request. `headers` has lower-case names, values as received."""
    request_id = str(uuid.uuid4())
    try:
        credential = _authenticate(engine, method, headers, body)
        version = headers.get("x-tc-version", "")
        if not version:
            raise Rejected(codes.MISSING_PARAMETER, "The header X-TC-Version is missing.")
        if version != VERSION:
            raise Rejected(codes.NO_SUCH_VERSION, f"The API version {version!r} does not exist.")
        region = headers.get("x-tc-region", "")
        if not region:
            raise Rejected(codes.MISSING_PARAMETER, "The header X-TC-Region is missing.")
        if region not in REGIONS:
            raise Rejected(codes.INVALID_PARAMETER_VALUE, f"The region {region!r} is not supported.")
        name = headers.get("x-tc-action", "")
        if not name:
            raise Rejected(codes.MISSING_PARAMETER, "The header X-TC-Action is missing.")
        action = ACTIONS.get(name)
        if action is None:
            raise Rejected(codes.NO_SUCH_OP, f"The action {name!r} does not exist.")
        response = action(engine, credential, _json_object(body))
    except Rejected as exc:
        engine.count("rejected")
        error = {"Code": exc.rejection.code, "Message": exc.detail}
        return {"Response": {"Error": error, "RequestId": request_id}}
    response["RequestId"] = request_id
    return {"Response": response}


def _authenticate(engine: Engine, method: str, headers: Mapping[str, str], body: bytes) -> Credential:
    """Verify the TC3 signature over the headers it names, as received (the host with or without
    its port), and the exact body."""
    auth = parse_authorization(headers.get("authorization", ""))
    if auth is None:
        raise Rejected(codes.INVALID_AUTHORIZATION)
    credential = engine.catalogue.credential(auth.secret_id)
    if credential is None:
        raise Rejected(codes.SECRET_ID_NOT_FOUND)
    raw_timestamp = headers.get("x-tc-timestamp", "")
    if not raw_timestamp.isdigit():
        raise Rejected(codes.MISSING_PARAMETER, "The header X-TC-Timestamp is missing or not unix seconds.")
    timestamp = int(raw_timestamp)
    if abs(engine.clock() - timestamp) > TIME_TOLERANCE:
        raise Rejected(codes.SIGNATURE_EXPIRE)
    if auth.date != utc_date(timestamp):
        raise Rejected(
            codes.INVALID_AUTHORIZATION, "The credential date is not the UTC date of X-TC-Timestamp."
        )
    if not {"content-type", "host"} <= set(auth.signed_headers):
        raise Rejected(codes.INVALID_AUTHORIZATION, "SignedHeaders must include content-type and host.")
    if any(name not in headers for name in auth.signed_headers):
        raise Rejected(codes.SIGNATURE_FAILURE)
    if auth.service != SERVICE or not verify_tc3(
        auth, secret_key=credential.secret_key, timestamp=timestamp, method=method, headers=headers, body=body
    ):
        raise Rejected(codes.SIGNATURE_FAILURE)
    token = headers.get("x-tc-token", "")
    if token != credential.session_token:
        raise Rejected(codes.TOKEN_FAILURE)
    return credential


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(codes.BAD_BODY, "The request body is not JSON.") from None
    if not isinstance(data, dict):
        raise Rejected(codes.BAD_BODY, "The request body is not a JSON object.")
    return data


def _get(data: dict[str, Any], name: str, kind: str, *, required: bool = True) -> Any:
    """A parameter of the expected kind (`str`, `int`, `strings`), or None when optional and absent."""
    value = data.get(name)
    if value is None:
        if required:
            raise Rejected(codes.MISSING_PARAMETER, f"The parameter `{name}` is missing.")
        return None
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "strings":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise Rejected(codes.INVALID_PARAMETER, f"The parameter `{name}` must be of type {kind}.")
    return value


def _app_id(engine: Engine, credential: Credential, data: dict[str, Any]) -> str:
    app_id: str = _get(data, "SmsSdkAppId", "str")
    if app_id not in engine.catalogue.sdk_app_ids:
        raise Rejected(codes.NO_APP, f"The SmsSdkAppId {app_id!r} does not exist.")
    if app_id not in credential.sdk_app_ids:
        raise Rejected(codes.APP_NOT_OWNED)
    return app_id


def _limit(data: dict[str, Any]) -> int:
    limit: int = _get(data, "Limit", "int")
    if not 1 <= limit <= MAX_PULL:
        raise Rejected(codes.BAD_LIMIT, f"Limit must be between 1 and {MAX_PULL}.")
    return limit


# ---------------------------------------------------------------------- actions


def _send_sms(engine: Engine, credential: Credential, data: dict[str, Any]) -> dict[str, Any]:
    numbers: list[str] = _get(data, "PhoneNumberSet", "strings")
    app_id = _app_id(engine, credential, data)
    template_id: str = _get(data, "TemplateId", "str")
    spec = SendSpec(
        protocol="v3",
        operation="SendSms",
        app_id=app_id,
        destinations=v3_destinations(numbers),
        template_id=template_id,
        params=tuple(_get(data, "TemplateParamSet", "strings", required=False) or ()),
        sign=_get(data, "SignName", "str", required=False) or "",
        extend=_get(data, "ExtendCode", "str", required=False) or "",
        session_context=_get(data, "SessionContext", "str", required=False) or "",
    )
    outcomes = engine.send(spec)
    return {"SendStatusSet": send_statuses(spec.destinations, outcomes, spec.session_context)}


def send_statuses(
    destinations: Sequence[Destination], outcomes: Outcomes, session_context: str
) -> EncodedItems:
    """The `SendStatusSet` items, one per number in request order, written as JSON text."""
    accepted_tail = (
        f'"Fee":{outcomes.fee},"SessionContext":{string(session_context)},'
        '"Code":"Ok","Message":"send success","IsoCode":'
    )
    items = EncodedItems()
    for destination, result in zip(destinations, outcomes.results, strict=True):
        if isinstance(result, Rejection):
            items.append(plain(refused_status(destination, result, session_context)))
        else:
            e164 = destination.e164 or ""
            items.append(
                f'{{"SerialNo":{string(result)},"PhoneNumber":{string(e164)},'
                f"{accepted_tail}{string(iso_code(e164))}}}"
            )
    return items


def refused_status(destination: Destination, rejection: Rejection, session_context: str) -> dict[str, Any]:
    """A `SendStatusSet` item for a number that was not sent to."""
    return {
        "SerialNo": "",
        "PhoneNumber": destination.e164 or destination.raw,
        "Fee": 0,
        "SessionContext": session_context,
        "Code": rejection.code,
        "Message": rejection.message,
        "IsoCode": "",
    }


def _pull_send_status(engine: Engine, credential: Credential, data: dict[str, Any]) -> dict[str, Any]:
    limit = _limit(data)
    receipts = engine.pull_receipts(_app_id(engine, credential, data), limit)
    return {"PullSmsSendStatusSet": [receipt_item(r) for r in receipts]}


def _pull_reply_status(engine: Engine, credential: Credential, data: dict[str, Any]) -> dict[str, Any]:
    limit = _limit(data)
    replies = engine.pull_replies(_app_id(engine, credential, data), limit)
    return {"PullSmsReplyStatusSet": [reply_item(r) for r in replies]}


def _window(engine: Engine, credential: Credential, data: dict[str, Any]) -> tuple[str, str, int, int, int]:
    """(app id, E.164, begin, end, limit) of a per-number pull."""
    begin: int = _get(data, "BeginTime", "int")
    offset: int = _get(data, "Offset", "int")
    limit = _limit(data)
    phone: str = _get(data, "PhoneNumber", "str")
    app_id = _app_id(engine, credential, data)
    now = int(engine.clock())
    end: int = _get(data, "EndTime", "int", required=False)
    end = now if end is None else end
    if offset != 0:
        raise Rejected(codes.BAD_OFFSET)
    if begin < now - PER_NUMBER_LOOKBACK:
        raise Rejected(codes.BAD_BEGIN_TIME)
    if end < begin:
        raise Rejected(codes.BAD_END_TIME)
    e164 = Destination.from_v3(phone).e164
    if e164 is None:
        raise Rejected(codes.BAD_NUMBER)
    return app_id, e164, begin, end, limit


def _pull_send_status_by_phone(
    engine: Engine, credential: Credential, data: dict[str, Any]
) -> dict[str, Any]:
    receipts = engine.receipts_for(*_window(engine, credential, data))
    return {"PullSmsSendStatusSet": [receipt_item(r) for r in receipts]}


def _pull_reply_status_by_phone(
    engine: Engine, credential: Credential, data: dict[str, Any]
) -> dict[str, Any]:
    replies = engine.replies_for(*_window(engine, credential, data))
    return {"PullSmsReplyStatusSet": [reply_item(r) for r in replies]}


ACTIONS: dict[str, Action] = {
    "SendSms": _send_sms,
    "PullSmsSendStatus": _pull_send_status,
    "PullSmsReplyStatus": _pull_reply_status,
    "PullSmsSendStatusByPhoneNumber": _pull_send_status_by_phone,
    "PullSmsReplyStatusByPhoneNumber": _pull_reply_status_by_phone,
    "DescribeSmsTemplateList": lambda engine, _credential, data: templates_api.describe_templates(
        engine, data
    ),
    "DescribeSmsSignList": lambda engine, _credential, data: templates_api.describe_signs(engine, data),
    "SendStatusStatistics": lambda e, c, d: statistics.v3_send_statistics(e, _app_id(e, c, d), d),
    "CallbackStatusStatistics": lambda e, c, d: statistics.v3_callback_statistics(e, _app_id(e, c, d), d),
}


def receipt_item(receipt: Receipt) -> dict[str, Any]:
    """A `PullSmsSendStatus` item (reference §2.6)."""
    message = receipt.message
    return {
        "UserReceiveTime": receipt.received_at,
        "CountryCode": message.nationcode,
        "SubscriberNumber": message.mobile,
        "PhoneNumber": message.phone,
        "SerialNo": message.message_id,
        "ReportStatus": receipt.status,
        "Description": receipt.carrier_code,
        "SessionContext": message.session_context,
    }


def reply_item(reply: InboundReply) -> dict[str, Any]:
    """A `PullSmsReplyStatus` item (reference §2.6)."""
    return {
        "ExtendCode": reply.extend,
        "CountryCode": reply.nationcode,
        "PhoneNumber": reply.phone,
        "SignName": reply.sign,
        "ReplyContent": reply.text,
        "ReplyTime": reply.time,
        "SubscriberNumber": reply.mobile,
    }
