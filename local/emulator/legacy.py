"""The legacy v5 protocol: `POST /v5/tlssmssvr/<op>?sdkappid=…&random=…` with a sha256 `sig`.

`handle` verifies and answers one request; the answer is always HTTP 200 with
`{"result": <int>, "errmsg": <str>, …}` (reference §1).
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from local.emulator import codes, statistics
from local.emulator.codes import Rejected, Rejection
from local.emulator.engine import Engine, InboundReply, Outcomes, Receipt, SendSpec
from local.emulator.jsontext import EncodedItems, plain, string
from local.emulator.numbers import Destination, legacy_destinations
from local.emulator.sigs import legacy_sig

SEND_OPS = frozenset({"sendsms", "sendmultisms2"})
PULL_OPS = frozenset({"pullstatus", "pullstatus4mobile"})
STATS_OPS = frozenset({"pullsendstatus", "pullcallbackstatus"})
OPERATIONS = SEND_OPS | PULL_OPS | STATS_OPS
TIME_TOLERANCE = 600  # seconds
MAX_PULL = 100

_SIGN_PREFIX = re.compile(r"^【([^】]*)】")
_BEIJING_OFFSET = 8 * 3600


def handle(engine: Engine, operation: str, query: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Answer one legacy request (the JSON object to send back with HTTP 200)."""
    ext: str | None = None  # sends echo `ext`, even when refused
    try:
        if operation not in OPERATIONS:
            raise Rejected(codes.NO_SUCH_OP, f"no such REST interface: {operation}")
        app = engine.catalogue.app(query.get("sdkappid", ""))
        if app is None:
            raise Rejected(codes.NO_APP)
        random = query.get("random", "")
        if not random.isdigit():
            raise Rejected(codes.BAD_BODY, "random must be an unsigned integer in the URL")
        data = _json_object(body)
        if operation in PULL_OPS or operation in STATS_OPS:
            _verify(engine, app.appkey, int(random), data, None)
            if operation in STATS_OPS:
                return statistics.legacy_statistics(engine, operation, app.appid, data)
            return _pull(engine, operation, app.appid, data)
        ext = data["ext"] if isinstance(data.get("ext"), str) else ""
        destinations = _destinations(operation, data)
        _verify(engine, app.appkey, int(random), data, destinations)
        return {**_send(engine, operation, app.appid, data, destinations), "ext": ext}
    except Rejected as exc:
        engine.count("rejected")
        answer: dict[str, Any] = {"result": exc.rejection.legacy, "errmsg": exc.detail}
        if ext is not None:
            answer["ext"] = ext
        return answer


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(codes.BAD_BODY, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Rejected(codes.BAD_BODY, "the body is not a JSON object")
    return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_field(data: dict[str, Any], name: str, message: str) -> int:
    value: Any = data.get(name)
    if not _is_int(value):
        raise Rejected(codes.BAD_BODY, message)
    return int(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str) or _is_int(value)


def _destinations(operation: str, data: dict[str, Any]) -> tuple[Destination, ...]:
    tel = data.get("tel")
    tels = [tel] if operation == "sendsms" else tel
    if not isinstance(tels, list) or not all(isinstance(t, dict) for t in tels):
        raise Rejected(
            codes.BAD_BODY, "tel must be an object" if operation == "sendsms" else "tel must be a list"
        )
    pairs = [(t.get("nationcode"), t.get("mobile")) for t in tels]
    for code, mobile in pairs:
        if not (type(code) is str and type(mobile) is str) and not (_is_scalar(code) and _is_scalar(mobile)):
            raise Rejected(codes.BAD_BODY, "every tel needs a nationcode and a mobile")
    if not pairs:
        raise Rejected(codes.EMPTY_NUMBERS)
    return legacy_destinations(pairs)


def _verify(
    engine: Engine,
    appkey: str,
    random: int,
    data: dict[str, Any],
    destinations: tuple[Destination, ...] | None,
) -> None:
    sig = data.get("sig")
    if not isinstance(sig, str) or not sig:
        raise Rejected(codes.SIG_MISSING)
    timestamp = _int_field(data, "time", "time must be an integer")
    mobiles = None if destinations is None else [d.raw for d in destinations]
    if not hmac.compare_digest(legacy_sig(appkey, random, timestamp, mobiles), sig):
        raise Rejected(codes.SIG_FAIL)
    if abs(engine.clock() - timestamp) > TIME_TOLERANCE:
        raise Rejected(codes.STALE_TIME)


def _optional_str(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Rejected(codes.BAD_BODY, f"{name} must be a string")
    return value


def _send(
    engine: Engine, operation: str, appid: str, data: dict[str, Any], destinations: tuple[Destination, ...]
) -> dict[str, Any]:
    if "tpl_id" in data:
        tpl_id, params = data["tpl_id"], data.get("params", [])
        if not (_is_int(tpl_id) or (isinstance(tpl_id, str) and tpl_id.isdigit())):
            raise Rejected(codes.BAD_BODY, "tpl_id must be a number")
        if not isinstance(params, list) or not all(_is_scalar(p) for p in params):
            raise Rejected(codes.BAD_BODY, "params must be a list of strings")
        template_id, values, sign = str(tpl_id), tuple(str(p) for p in params), _optional_str(data, "sign")
    elif "msg" in data:
        template_id, values, sign = _match_content(engine, data, destinations)
    else:
        raise Rejected(codes.BAD_BODY, "a send needs tpl_id and params, or type and msg")
    spec = SendSpec(
        protocol="legacy",
        operation=operation,
        app_id=appid,
        destinations=destinations,
        template_id=template_id,
        params=values,
        sign=sign,
        extend=_optional_str(data, "extend"),
        session_context=_optional_str(data, "ext"),
    )
    outcomes = engine.send(spec)
    if operation == "sendsms":
        return _detail(outcomes.results[0], outcomes.fee)
    return {"result": 0, "errmsg": "OK", "detail": details(destinations, outcomes)}


def _match_content(
    engine: Engine, data: dict[str, Any], destinations: tuple[Destination, ...]
) -> tuple[str, tuple[str, ...], str]:
    """The content form: `msg` must render an approved template (after an optional `【sign】`)."""
    msg, kind = data.get("msg"), data.get("type", 0)
    if not isinstance(msg, str) or not _is_int(kind) or kind not in (0, 1):
        raise Rejected(codes.BAD_BODY, "type must be 0 or 1 and msg a string")
    engine.check_numbers(destinations)
    mainland = engine.is_mainland(destinations)
    found = _SIGN_PREFIX.match(msg)
    if found:
        sign, text = found.group(1), msg[found.end() :]
        if sign not in engine.catalogue.signs:
            raise Rejected(codes.SIGN, f"the signature {sign!r} is not approved")
    else:
        sign, text = (engine.catalogue.default_sign if mainland else ""), msg
    match = engine.catalogue.match_content(text, international=not mainland)
    if match is None:
        raise Rejected(codes.TEMPLATE, "the content does not match any approved template")
    template, params = match
    return template.id, params, sign


def _detail(result: str | Rejection, fee: int) -> dict[str, Any]:
    """A `sendsms` answer's fields for its one number."""
    if isinstance(result, Rejection):
        return {"result": result.legacy, "errmsg": result.message, "sid": "", "fee": 0}
    return {"result": 0, "errmsg": "OK", "sid": result, "fee": fee}


def details(destinations: Sequence[Destination], outcomes: Outcomes) -> EncodedItems:
    """A `sendmultisms2` answer's `detail`: one item per number in request order, as JSON text."""
    fee = outcomes.fee
    items = EncodedItems()
    for destination, result in zip(destinations, outcomes.results, strict=True):
        number = f'"mobile":{string(destination.mobile)},"nationcode":{string(destination.nationcode)}}}'
        if isinstance(result, Rejection):
            head = plain({"result": result.legacy, "errmsg": result.message, "sid": "", "fee": 0})
            items.append(f"{head[:-1]},{number}")
        else:
            items.append(f'{{"result":0,"errmsg":"OK","sid":{string(result)},"fee":{fee},{number}')
    return items


def _pull(engine: Engine, operation: str, appid: str, data: dict[str, Any]) -> dict[str, Any]:
    kind = _int_field(data, "type", "type must be 0 (reports) or 1 (replies)")
    if kind not in (0, 1):
        raise Rejected(codes.BAD_BODY, "type must be 0 (reports) or 1 (replies)")
    limit: Any = data.get("max")
    if not _is_int(limit) or not 1 <= limit <= MAX_PULL:
        raise Rejected(codes.BAD_LIMIT, f"max must be between 1 and {MAX_PULL}")
    items: list[dict[str, Any]]
    if operation == "pullstatus":
        if kind == 0:
            items = [receipt_item(r) for r in engine.pull_receipts(appid, limit)]
        else:
            items = [reply_item(r) for r in engine.pull_replies(appid, limit)]
    else:
        begin = _int_field(data, "begin_time", "begin_time must be unix seconds")
        end = _int_field(data, "end_time", "end_time must be unix seconds")
        if not (_is_scalar(data.get("nationcode")) and _is_scalar(data.get("mobile"))):
            raise Rejected(codes.BAD_BODY, "nationcode and mobile are required")
        e164 = Destination.from_legacy(data["nationcode"], data["mobile"]).e164
        if e164 is None:
            raise Rejected(codes.BAD_NUMBER)
        if kind == 0:
            items = [receipt_item(r) for r in engine.receipts_for(appid, e164, begin, end, limit)]
        else:
            items = [reply_item(r) for r in engine.replies_for(appid, e164, begin, end, limit)]
    return {"result": 0, "errmsg": "OK", "count": len(items), "data": items}


def receipt_item(receipt: Receipt) -> dict[str, Any]:
    """A legacy report object (reference §1.5)."""
    message = receipt.message
    return {
        "user_receive_time": beijing_time(receipt.received_at),
        "nationcode": message.nationcode,
        "mobile": message.mobile,
        "report_status": receipt.status,
        "errmsg": receipt.carrier_code,
        "description": receipt.description,
        "sid": message.message_id,
    }


def reply_item(reply: InboundReply) -> dict[str, Any]:
    """A legacy reply object (reference §1.5)."""
    return {
        "nationcode": reply.nationcode,
        "mobile": reply.mobile,
        "text": reply.text,
        "sign": reply.sign,
        "time": reply.time,
        "extend": reply.extend,
    }


def beijing_time(timestamp: int) -> str:
    """`YYYY-MM-DD hh:mm:ss` in Beijing time (UTC+8, no daylight saving): the legacy report clock."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp + _BEIJING_OFFSET))
