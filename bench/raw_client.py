"""The practical ceiling of one Python process: a minimal asyncio HTTP/1.1 client.

`send_all` keeps `in_flight` keep-alive connections busy, one request each (HTTP/1.1 has no
multiplexing), sending TC3-signed API 3.0 `SendSms` requests built and signed with
`shared.payloads` — the same bytes our `SmsClient` sends — and counts the numbers Tencent answered
`Ok` for. No pool, no timeouts, no retries, no per-number result objects: nothing a production
client could skip less of.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

from shared import payloads
from shared.models import Message


async def _worker(
    host: str,
    port: int,
    chunks: Iterator[Sequence[str]],
    message: Message,
    credentials: dict[str, str],
    base_url: str,
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
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
            path = urlsplit(request.url).path or "/"
            head = [
                f"POST {path} HTTP/1.1",
                f"Host: {host}:{port}",
                f"Content-Length: {len(request.content)}",
            ]
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
            body = await reader.readexactly(length)
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
    split = urlsplit(base_url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    shared: Iterator[Sequence[str]] = iter(chunks)  # one iterator: each chunk is taken once
    workers = [
        _worker(host, port, shared, message, credentials, base_url)
        for _ in range(max(1, min(in_flight, len(chunks))))
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


def credentials_from_env() -> dict[str, str]:
    import os

    return {
        "secret_id": os.environ["TENCENTCLOUD_SECRETID"],
        "secret_key": os.environ["TENCENTCLOUD_SECRETKEY"],
        "sdk_app_id": os.environ.get("TENCENT_SMS_SDKAPPID") or os.environ["TENCENT_SMS_APPID"],
    }
