"""Tencent's hourly statistics, computed from the emulator's own records: API 3.0
`SendStatusStatistics` / `CallbackStatusStatistics` and legacy `pullsendstatus` /
`pullcallbackstatus` (reference §1.4, §1.5, §2.6).

A window is given in whole Beijing hours, `yyyymmddhh`, both ends included. The emulator keeps
only the numbers it accepted, so a request count equals its success count; a receipt counts once
it is due. Nothing here imports the functions' code.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from local.emulator import codes
from local.emulator.codes import Rejected
from local.emulator.engine import Engine

BEIJING = timezone(timedelta(hours=8))
MAX_DAYS = 32
# Tencent's five failure classes, in the order of `status_fail_0 … status_fail_4`.
FAILURE_CLASSES = (
    "InternalErrorCount",
    "InvalidNumberCount",
    "ShutdownErrorCount",
    "BlackListCount",
    "FrequencyLimitCount",
)
# The emulator's carrier codes → failure class (anything else: carrier internal).
_FAILURE_CLASS = {
    "MK:0001": "InvalidNumberCount",
    "MK:0005": "ShutdownErrorCount",
    "MK:0012": "BlackListCount",
}


def hour_of(value: Any, name: str) -> int:
    """Unix seconds of a `yyyymmddhh` Beijing hour (string or number)."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    try:
        moment = datetime.strptime(text, "%Y%m%d%H").replace(tzinfo=BEIJING)
    except ValueError:
        raise Rejected(codes.INVALID_PARAMETER_VALUE, f"{name} must be an hour as yyyymmddhh") from None
    return int(moment.timestamp())


def window(begin: Any, end: Any, begin_name: str, end_name: str) -> tuple[int, int]:
    """[start, stop) in unix seconds: the begin hour through the end of the end hour."""
    start, last = hour_of(begin, begin_name), hour_of(end, end_name)
    if last < start:
        raise Rejected(codes.INVALID_PARAMETER_VALUE, f"{end_name} must not be before {begin_name}")
    if last - start > MAX_DAYS * 86400:
        raise Rejected(codes.INVALID_PARAMETER_VALUE, f"the range may be at most {MAX_DAYS} days")
    return start, last + 3600


def send_counts(engine: Engine, app_id: str, start: int, stop: int) -> dict[str, int]:
    """Messages accepted in the window and the parts they billed."""
    sent = [m for m in engine.messages() if m.app_id == app_id and start <= m.submitted_at < stop]
    return {"requests": len(sent), "success": len(sent), "fee": sum(m.fee for m in sent)}


def callback_counts(engine: Engine, app_id: str, start: int, stop: int) -> dict[str, int]:
    """Receipts (due ones) of the messages accepted in the window, by outcome and failure class."""
    counts = dict.fromkeys(("requests", "callbacks", "success", "fail", *FAILURE_CLASSES), 0)
    for message in engine.messages():
        if message.app_id != app_id or not start <= message.submitted_at < stop:
            continue
        counts["requests"] += 1
        receipt = engine.receipt(message.message_id)
        if receipt is None:
            continue
        counts["callbacks"] += 1
        if receipt.status == "SUCCESS":
            counts["success"] += 1
        else:
            counts["fail"] += 1
            counts[_FAILURE_CLASS.get(receipt.carrier_code, "InternalErrorCount")] += 1
    return counts


def v3_send_statistics(engine: Engine, app_id: str, data: dict[str, Any]) -> dict[str, Any]:
    start, stop = window(data.get("BeginTime"), data.get("EndTime"), "BeginTime", "EndTime")
    counts = send_counts(engine, app_id, start, stop)
    return {
        "SendStatusStatistics": {
            "FeeCount": counts["fee"],
            "RequestCount": counts["requests"],
            "RequestSuccessCount": counts["success"],
        }
    }


def v3_callback_statistics(engine: Engine, app_id: str, data: dict[str, Any]) -> dict[str, Any]:
    start, stop = window(data.get("BeginTime"), data.get("EndTime"), "BeginTime", "EndTime")
    counts = callback_counts(engine, app_id, start, stop)
    return {
        "CallbackStatusStatistics": {
            "CallbackCount": counts["callbacks"],
            "RequestSuccessCount": counts["requests"],
            "CallbackFailCount": counts["fail"],
            "CallbackSuccessCount": counts["success"],
            **{name: counts[name] for name in FAILURE_CLASSES},
        }
    }


def legacy_statistics(engine: Engine, operation: str, app_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """`pullsendstatus` or `pullcallbackstatus` (`begin_date`, `end_date`)."""
    start, stop = window(data.get("begin_date"), data.get("end_date"), "begin_date", "end_date")
    if operation == "pullsendstatus":
        sent = send_counts(engine, app_id, start, stop)
        body = {"bill_number": sent["fee"], "request": sent["requests"], "success": sent["success"]}
    else:
        counts = callback_counts(engine, app_id, start, stop)
        body = {
            "status": counts["callbacks"],
            "status_success": counts["success"],
            "status_fail": counts["fail"],
            **{f"status_fail_{i}": counts[name] for i, name in enumerate(FAILURE_CLASSES)},
            "success": counts["requests"],
        }
    return {"result": 0, "errmsg": "OK", "data": body}
