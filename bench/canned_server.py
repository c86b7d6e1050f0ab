"""A stand-in for Tencent with capacity to spare: asyncio, one process, canned success answers.

    python bench/canned_server.py --port 0 [--latency-ms 30]

The project's emulator checks every signature, number and template and keeps every message, at
~5 µs of CPU per number (`bench/emulator_cpu.py`): on one core it accepts ~200,000 numbers/s at
best, and it shares the machine with the client being measured. This server only sleeps
`--latency-ms` (without holding anything up) and answers every `SendSms` (API 3.0) and `sendsms` /
`sendmultisms2` (legacy) with `Ok` for each number, in the shapes the real service uses —
thousands of requests per second — so what a benchmark measures is the client.
It checks nothing: use it for throughput, never for correctness.

It serves the emulator's inspection routes the benchmarks use: `GET /_emulator/stats`,
`POST /_emulator/reset`, `POST /_emulator/faults` (`{"latency_ms": N}`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
from typing import Any
from urllib.parse import urlsplit


class Canned:
    def __init__(self, latency_ms: float) -> None:
        self.latency = latency_ms / 1000
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        self.stats = {"accepted": 0, "requests": 0, "connections": 0, "rejected": 0}

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        route = urlsplit(path).path
        if route.startswith("/_emulator/"):
            name = route[len("/_emulator/") :].strip("/")
            if name == "stats":
                return 200, self.stats
            if name == "reset":
                self.reset()
                return 200, {"reset": True}
            if name == "faults" and method == "POST":
                self.latency = float(json.loads(body or b"{}").get("latency_ms", 0)) / 1000
                return 200, {"faults": {"latency_ms": self.latency * 1000}}
            return 404, {"error": "no such route"}
        self.stats["requests"] += 1
        data = json.loads(body)
        if route == "/":
            numbers = data["PhoneNumberSet"]
            self.stats["accepted"] += len(numbers)
            context = _text(data.get("SessionContext", ""))
            items = ",".join(
                f'{{"SerialNo":"2019:{next(self.ids)}","PhoneNumber":{_text(number)},"Fee":1,'
                f'"SessionContext":{context},"Code":"Ok","Message":"send success","IsoCode":"CN"}}'
                for number in numbers
            )
            return 200, f'{{"Response":{{"SendStatusSet":[{items}],"RequestId":"canned"}}}}'.encode()
        tels = data["tel"]
        if not isinstance(tels, list):  # sendsms: one number
            self.stats["accepted"] += 1
            sid = f"2019:{next(self.ids)}"
            return 200, {"fee": 1, "result": 0, "errmsg": "OK", "sid": sid, "ext": data.get("ext", "")}
        self.stats["accepted"] += len(tels)
        ext = _text(data.get("ext", ""))
        rows = ",".join(
            f'{{"fee":1,"mobile":{_text(t["mobile"])},"nationcode":{_text(t["nationcode"])},'
            f'"result":0,"errmsg":"OK","sid":"2019:{next(self.ids)}"}}'
            for t in tels
        )
        return 200, f'{{"result":0,"errmsg":"OK","ext":{ext},"detail":[{rows}]}}'.encode()

    def reply(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        """The whole HTTP answer to one request."""
        status, answer = self.answer(method, path, body)
        content = (
            answer
            if isinstance(answer, bytes)
            else json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        )
        close = "Connection: close\r\n" if headers.get("connection", "").lower() == "close" else ""
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n{close}\r\n"
        )
        return head.encode() + content


class Connection(asyncio.Protocol):
    """One client connection: requests parsed from the bytes as they come (no stream readers, no
    task per request: a few µs of CPU a request), each answered after the latency, in order."""

    def __init__(self, canned: Canned) -> None:
        self.canned = canned
        self.buffer = b""
        self.busy = False  # a request waits for its latency: the next one waits for it (no pipelining)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.canned.stats["connections"] += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.next_request()

    def next_request(self) -> None:
        if self.busy or self.transport is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + size:
            return
        body = self.buffer[end + 4 : end + 4 + size]
        self.buffer = self.buffer[end + 4 + size :]
        self.busy = True
        delay = self.canned.latency if not path.startswith("/_emulator/") else 0
        asyncio.get_running_loop().call_later(delay, self.respond, method, path, headers, body)

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(self.canned.reply(method, path, headers, body))
        if headers.get("connection", "").lower() == "close":
            self.transport.close()
            return
        self.next_request()

    def connection_lost(self, _exc: Exception | None) -> None:
        self.transport = None


def _text(value: Any) -> str:
    """A JSON string (or number) as the answer carries it; digits (a phone number) as they are."""
    if type(value) is str and value.lstrip("+").isdigit() and value.isascii():
        return f'"{value}"'
    if type(value) is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False)


async def main_async(port: int, latency_ms: float) -> None:
    canned = Canned(latency_ms)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(canned), "127.0.0.1", port, backlog=512)
    bound = server.sockets[0].getsockname()[1]
    print(f"Canned Tencent SMS stand-in listening on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args.port, args.latency_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
