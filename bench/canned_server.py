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

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
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
            items = [
                {
                    "SerialNo": f"2019:{next(self.ids)}",
                    "PhoneNumber": number,
                    "Fee": 1,
                    "SessionContext": data.get("SessionContext", ""),
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
                for number in numbers
            ]
            return 200, {"Response": {"SendStatusSet": items, "RequestId": "canned"}}
        tels = data["tel"] if isinstance(data["tel"], list) else [data["tel"]]
        self.stats["accepted"] += len(tels)
        details = [
            {
                "fee": 1,
                "mobile": t["mobile"],
                "nationcode": t["nationcode"],
                "result": 0,
                "errmsg": "OK",
                "sid": f"2019:{next(self.ids)}",
            }
            for t in tels
        ]
        if isinstance(data["tel"], list):
            return 200, {"result": 0, "errmsg": "OK", "ext": data.get("ext", ""), "detail": details}
        single = {k: v for k, v in details[0].items() if k not in ("mobile", "nationcode")}
        return 200, {**single, "ext": data.get("ext", "")}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats["connections"] += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if self.latency and not path.startswith("/_emulator/"):
                    await asyncio.sleep(self.latency)
                status, answer = self.answer(method, path, headers, body)
                content = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
                head = (
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
                )
                if headers.get("connection", "").lower() == "close":
                    writer.write((head + "Connection: close\r\n\r\n").encode() + content)
                    await writer.drain()
                    return
                writer.write((head + "\r\n").encode() + content)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


async def main_async(port: int, latency_ms: float) -> None:
    canned = Canned(latency_ms)
    server = await asyncio.start_server(canned.serve, "127.0.0.1", port, backlog=512)
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
