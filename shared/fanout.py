"""Fan-out beyond one invocation: a number list too large for one function run is cut into chunks of
≤200 numbers, each put on a queue that triggers `send_multi` again — one record, one chunk.

`SMS_FANOUT_QUEUE_URL` names the queue:
- `https://sqs.<region>.amazonaws.com/<account>/<queue>` — SQS (boto3, which Lambda ships); the queue
  triggers send_multi with partial-batch failure reporting (serverless.yml wires it);
- `scf://<function>?region=ap-guangzhou&namespace=default` — Tencent SCF: the chunk is an asynchronous
  invocation (`Invoke`, `InvocationType=Event`) of that function, signed with the role's credentials;
- `local+http://127.0.0.1:<port>/_local/queue` — the local gateway's queue (`python -m local`).

Every chunk carries the batch id and its number; `send_multi` keys its idempotency on both, so a chunk
delivered twice, or enqueued again by a retried request, is sent once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared import payloads, signing
from shared.errors import ConfigurationError, SmsError
from shared.outbound import OutboundRequest
from shared.plan import SendPlan
from shared.services import Services
from shared.transport import Transport, shared_transport

SQS_BATCH = 10  # SendMessageBatch takes at most 10 entries
SCF_VERSION = "2018-04-16"


class EnqueueError(SmsError):
    """Some chunks could not be queued; the ones that were will be sent. Retrying the request with
    the same Idempotency-Key re-queues everything and sends each chunk at most once."""

    status, code = 503, "fanout_incomplete"


@dataclass(frozen=True)
class Chunk:
    """One queue record: a batch id, the chunk's number and the send-multi request for ≤200 numbers."""

    batch_id: str
    index: int
    body: dict[str, Any]


def chunks_for(batch_id: str, plan: SendPlan, message_fields: Mapping[str, Any]) -> list[Chunk]:
    """The records for a planned send (mainland and international chunks already apart)."""
    return [
        Chunk(
            batch_id, index, {**message_fields, "phones": list(numbers), "batch_id": batch_id, "chunk": index}
        )
        for index, numbers in enumerate(plan.chunks)
    ]


def new_batch_id(seed: str = "") -> str:
    """A batch id; derived from `seed` (caller + idempotency key) so a retried request reuses it."""
    if seed:
        return "batch-" + uuid.uuid5(uuid.NAMESPACE_URL, "sms-functions:" + seed).hex[:20]
    return "batch-" + uuid.uuid4().hex[:20]


def enqueue(services: Services, chunks: Sequence[Chunk]) -> None:
    """Put every chunk on the queue (`SMS_FANOUT_QUEUE_URL`); raise `EnqueueError` naming the chunks
    that did not make it."""
    queue_url = services.settings.fanout_queue_url
    scheme = urlsplit(queue_url).scheme
    if queue_url.startswith("https://sqs."):
        failed = _enqueue_sqs(queue_url, chunks)
    elif scheme == "scf":
        failed = _enqueue_scf(services, queue_url, chunks)
    elif scheme in ("local+http", "local+https"):
        failed = _enqueue_local(services, queue_url[len("local+") :], chunks)
    else:
        raise ConfigurationError(
            "SMS_FANOUT_QUEUE_URL must be an SQS queue URL, scf://<function> or local+http://…"
        )
    if failed:
        raise EnqueueError(
            f"{len(failed)} of {len(chunks)} chunks could not be queued; retry with the same Idempotency-Key",
            details={"batch_id": chunks[0].batch_id, "failed_chunks": sorted(failed)},
        )


def _enqueue_sqs(queue_url: str, chunks: Sequence[Chunk]) -> list[int]:
    import boto3  # present on Lambda; only this backend needs it

    region = urlsplit(queue_url).hostname.split(".")[1]  # type: ignore[union-attr]
    sqs = boto3.client("sqs", region_name=region)
    failed: list[int] = []
    for start in range(0, len(chunks), SQS_BATCH):
        group = chunks[start : start + SQS_BATCH]
        entries = [
            {
                "Id": str(c.index),
                "MessageBody": json.dumps(c.body, ensure_ascii=False),
                "MessageAttributes": {"batchId": {"DataType": "String", "StringValue": c.batch_id}},
            }
            for c in group
        ]
        try:
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:  # the whole call failed: none of this group is queued
            failed.extend(c.index for c in group)
            continue
        failed.extend(int(f["Id"]) for f in answer.get("Failed", []))
    return failed


def _transport(services: Services) -> Transport:
    """The process's pooled transport for these settings (the one the SMS client uses too)."""
    from shared.client import transport_options

    return shared_transport(transport_options(services.settings))


def _enqueue_scf(services: Services, queue_url: str, chunks: Sequence[Chunk]) -> list[int]:
    """Asynchronous SCF invocations through the Tencent Cloud API (`scf` Invoke, TC3-signed)."""
    split = urlsplit(queue_url)
    query = {k: v[-1] for k, v in parse_qs(split.query).items()}
    settings = services.settings
    if not (settings.secret_id and settings.secret_key):
        raise ConfigurationError("scf:// fan-out needs TENCENTCLOUD_SECRETID/SECRETKEY (the function's role)")
    endpoint = settings.scf_endpoint
    host = urlsplit(endpoint).netloc
    transport = _transport(services)
    failed: list[int] = []
    for chunk in chunks:
        body = {
            "FunctionName": split.netloc,
            "InvocationType": "Event",
            "ClientContext": json.dumps(chunk.body, ensure_ascii=False),
            "Namespace": query.get("namespace", "default"),
            "Qualifier": query.get("qualifier", "$LATEST"),
        }
        content = payloads.encode_json(body)
        headers = signing.tc3_headers(
            secret_id=settings.secret_id,
            secret_key=settings.secret_key.reveal(),
            session_token=settings.session_token.reveal(),
            host=host,
            action="Invoke",
            version=SCF_VERSION,
            region=query.get("region", settings.region),
            timestamp=services.now(),
            payload=content,
            service="scf",
        )
        try:
            raw = transport.post(OutboundRequest(endpoint.rstrip("/") + "/", headers, content), is_send=False)
            answer = json.loads(raw)
            if "Error" in answer.get("Response", {}):
                failed.append(chunk.index)
        except (SmsError, ValueError):
            failed.append(chunk.index)
    return failed


def _enqueue_local(services: Services, url: str, chunks: Sequence[Chunk]) -> list[int]:
    """The local gateway's queue: it turns the records into SQS events for send_multi."""
    records = [
        {"messageId": f"{c.batch_id}-{c.index}", "body": json.dumps(c.body, ensure_ascii=False)}
        for c in chunks
    ]
    content = json.dumps({"records": records}, ensure_ascii=False).encode("utf-8")
    try:
        _transport(services).post(
            OutboundRequest(url, {"Content-Type": "application/json"}, content), is_send=False
        )
    except SmsError:
        return [c.index for c in chunks]
    return []
