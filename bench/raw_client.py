"""The practical ceiling of one Python process: a minimal asyncio HTTP/1.1 client.

`send_all` keeps `in_flight` keep-alive connections busy, one request each (HTTP/1.1 has no
multiplexing), sending TC3-signed API 3.0 `SendSms` requests built and signed with
`shared.payloads` — the same bytes our `SmsClient` sends — and counts the numbers Tencent answered
`Ok` for. No pool, no timeouts, no retries, no per-number result objects: nothing a production
client could skip less of.

`send_plan` is the same connections under `SmsClient.send_plan`'s contract (per-number results,
`on_chunk`), for `bench/throughput.py`'s what-if of `send_multi` over such a client. Still no
timeouts and no error handling: an upper bound, not a transport.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from shared import payloads
from shared.models import Message, MultiSendResult, SendResult
from shared.outbound import OutboundRequest
from shared.plan import SendPlan


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: OutboundRequest, host: str
) -> tuple[bytes, bytes]:
    """One request on a kept-alive connection: (status line, body)."""
    path = urlsplit(request.url).path or "/"
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(request.content)}"]
    head += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() != "host"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + request.content)
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status_line, await reader.readexactly(length)


async def _worker(
    base_url: str,
    chunks: Iterator[Sequence[str]],
    message: Message,
    credentials: dict[str, str],
) -> int:
    split = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(split.hostname, split.port or 80)
    submitted = 0
    try:
        for chunk in chunks:
            call = payloads.build_v3_send(chunk, message, credentials["sdk_app_id"])
            request = payloads.sign_v3(
                call,
                base_url=base_url,
                secret_id=credentials["secret_id"],
                secret_key=credentials["secret_key"],
                session_token="",
                region="ap-guangzhou",
                timestamp=int(time.time()),
            )
            status_line, body = await _exchange(reader, writer, request, split.netloc)
            if b" 200 " not in status_line:
                continue
            answer = json.loads(body)
            submitted += sum(1 for s in answer["Response"].get("SendStatusSet", ()) if s.get("Code") == "Ok")
    finally:
        writer.close()
    return submitted


async def send_all(
    base_url: str,
    chunks: Sequence[Sequence[str]],
    message: Message,
    credentials: dict[str, str],
    in_flight: int,
) -> int:
    """Send every chunk with `in_flight` requests outstanding; the numbers submitted."""
    shared: Iterator[Sequence[str]] = iter(chunks)  # one iterator: each chunk is taken once
    workers = [
        _worker(base_url, shared, message, credentials) for _ in range(max(1, min(in_flight, len(chunks))))
    ]
    return sum(await asyncio.gather(*workers))


def run(
    base_url: str,
    chunks: Sequence[Sequence[str]],
    message: Message,
    credentials: dict[str, str],
    in_flight: int,
) -> int:
    return asyncio.run(send_all(base_url, chunks, message, credentials, in_flight))


def send_plan(
    client: Any,
    plan: SendPlan,
    message: Message,
    *,
    in_flight: int,
    on_chunk: Callable[[list[SendResult]], None] | None = None,
) -> MultiSendResult:
    """`client.send_plan(plan, message, on_chunk=…)` (an `SmsClient`, API 3.0) with its HTTP part
    done here: signed by `client.sign`, parsed by `shared.payloads`, per-number results in order."""
    message = client.with_defaults(message)
    split = urlsplit(client.settings.base_url)
    chunks = iter(plan.chunks)
    results: list[SendResult] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(split.hostname, split.port or 80)
        try:
            for chunk in chunks:
                call = payloads.build_v3_send(chunk, message, client.settings.sdk_app_id)
                _, body = await _exchange(reader, writer, client.sign(call), split.netloc)
                chunk_results = payloads.parse_v3_send(payloads.decode_json(body, call), call)
                if on_chunk is not None:
                    on_chunk(chunk_results)
                results.extend(chunk_results)
        finally:
            writer.close()

    async def send() -> None:
        await asyncio.gather(*(worker() for _ in range(max(1, min(in_flight, len(plan.chunks))))))

    asyncio.run(send())
    by_phone = {r.phone: r for r in results}
    return MultiSendResult(tuple(by_phone[p] for p in plan.numbers), plan.duplicates, len(plan.chunks))


def credentials_from_env() -> dict[str, str]:
    import os

    return {
        "secret_id": os.environ["TENCENTCLOUD_SECRETID"],
        "secret_key": os.environ["TENCENTCLOUD_SECRETKEY"],
        "sdk_app_id": os.environ.get("TENCENT_SMS_SDKAPPID") or os.environ["TENCENT_SMS_APPID"],
    }
