"""The dead-letter sink: where pulled or pushed items go when the store cannot keep them.

Every dead-lettered batch is written as one structured ERROR log line (phone numbers masked, like
every log line) and, in full, to the durable sink named by `SMS_DEAD_LETTER_URL`:
- `file:///path/dead-letter.jsonl` (default: `sms-functions-dead-letter.jsonl` in the temp dir), one
  JSON object per line, appended and fsynced;
- `https://sqs.<region>.amazonaws.com/<account>/<queue>`: an SQS queue (boto3, which Lambda ships).

A pull answer that arrived but cannot be parsed is kept whole (`dead_letter_raw`): its items were
handed out by Tencent and exist nowhere else.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from typing import Any

from shared.observability import logger, metrics
from shared.services import Services

_lock = threading.Lock()


def sink_url(services: Services) -> str:
    return services.settings.dead_letter_url or "file://" + os.path.join(
        tempfile.gettempdir(), "sms-functions-dead-letter.jsonl"
    )


def dead_letter(services: Services, kind: str, items: Sequence[dict[str, Any]], reason: str) -> bool:
    """Keep `items` that could not be stored. Never raises: True when the durable sink took them;
    False when only the ERROR log line holds them (the sink failed, and says so in the log)."""
    if not items:
        return True
    entry = {"kind": kind, "reason": reason, "at": services.now(), "items": list(items)}
    logger.error("dead-lettered", extra={"dead_letter": entry, "count": len(items)})
    metrics.add_metric(name="ItemsDeadLettered", unit="Count", value=len(items))
    return _write(sink_url(services), entry, len(items))


def dead_letter_raw(
    services: Services, kind: str, operation: str, content: bytes, reason: str = "unparseable_answer"
) -> bool:
    """Keep the exact bytes of an answer that could not be parsed (`raw_base64` in the sink; the
    log line has them as text, phone numbers masked). Never raises; True when the sink took them."""
    entry: dict[str, Any] = {
        "kind": kind,
        "reason": reason,
        "at": services.now(),
        "operation": operation,
        "items": [],
        "raw_bytes": len(content),
    }
    logger.error(
        "dead-lettered an answer that could not be parsed",
        extra={"dead_letter": {**entry, "raw_text": content.decode("utf-8", "replace")}},
    )
    metrics.add_metric(name="AnswersDeadLettered", unit="Count", value=1)
    return _write(sink_url(services), {**entry, "raw_base64": base64.b64encode(content).decode("ascii")}, 1)


def _write(url: str, entry: dict[str, Any], count: int) -> bool:
    try:
        if url.startswith("file://"):
            _append_file(url[len("file://") :], entry)
        elif url.startswith("https://sqs."):
            _send_sqs(url, entry)
        else:
            raise ValueError("SMS_DEAD_LETTER_URL must be file:///… or an SQS queue URL")
    except Exception as exc:
        logger.critical(
            "dead-letter sink failed; the items are only in the log line above",
            extra={"sink_error": type(exc).__name__, "count": count},
        )
        return False
    return True


def _append_file(path: str, entry: dict[str, Any]) -> None:
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _send_sqs(url: str, entry: dict[str, Any]) -> None:  # pragma: no cover - needs AWS
    import boto3

    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(entry, ensure_ascii=False))
