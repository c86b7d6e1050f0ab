"""Where a multi send's chunk spends its CPU, step by step, next to the SDK's whole call.

    python bench/chunk_steps.py                      # 20,000 numbers; both APIs; mainland, international
    python bench/chunk_steps.py --apis legacy --international 0,0.5 --repeat 6

Starts the canned server (`bench/canned_server.py`, 0 ms latency) in its own process and sends the
list in its 200-number chunks one at a time, through the functions' own `SmsClient` pieces in the
order `SmsClient._send_chunk` runs them: build (`payloads.build_*_send`), sign and encode
(`SmsClient.sign`), the exchange (`transport.post`: httpcore over a pooled connection), decode
(`payloads.decode_json`), results (`payloads.parse_*_send`). Each step's CPU is this thread's
(`time.thread_time`), so the server's own and time spent waiting do not count. The same chunks
sent by the API's SDK (qcloudsms_py for legacy, tencentcloud-sdk-python for API 3.0), one call a
chunk, give the whole call's CPU for scale. µs a number, median and range of `--repeat` rounds.
One thread, nothing else running in the process: the floor of each step, not what it costs beside
a send's other threads (`bench/throughput.py` measures that).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import _support
from throughput import (
    PARAMS,
    SIGN,
    TEMPLATE,
    _sdk_client,
    _sdk_request,
    _split_numbers,
    qcloudsms_answers_parsed,
    sdk_chunks,
)

STEPS = ("build", "sign and encode", "exchange", "decode", "results")
APIS = ("legacy", "v3")
SDK_NAMES = {"legacy": "qcloudsms_py `SmsMultiSender`", "v3": "tencentcloud-sdk-python `SendSms`"}


def client_for(api: str, url: str, regions: set[str]) -> Any:
    """An `SmsClient` for `api` against `url`, as a deployed function builds it."""
    from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY
    from shared.client import SmsClient
    from shared.config import load_settings

    extra = {"SMS_ALLOWED_COUNTRIES": ",".join(sorted(regions))}
    if api == "legacy":
        extra.update(TENCENT_SMS_API="legacy", TENCENT_SMS_APPID=DEFAULT_APPID)
        extra.update(TENCENT_SMS_APPKEY=DEFAULT_APPKEY)
    _support.apply_env(_support.function_env(url, tempfile.mkdtemp(), **extra))
    return SmsClient(load_settings())


def our_steps(client: Any, chunks: Sequence[tuple[str, ...]]) -> dict[str, float]:
    """Every chunk through the client's pieces, one at a time: each step's thread CPU in seconds."""
    from shared import payloads
    from shared.models import Message

    legacy, app = client.settings.api == "legacy", client.settings.sdk_app_id
    parse = payloads.parse_legacy_send if legacy else payloads.parse_v3_send
    base = client.with_defaults(Message(template_id=TEMPLATE, params=tuple(PARAMS), sign=SIGN))
    spent = dict.fromkeys(STEPS, 0.0)
    clock = time.thread_time
    for chunk in chunks:
        message = base.for_region(international=not chunk[0].startswith("+86"))
        t0 = clock()
        call = (
            payloads.build_legacy_send(chunk, message)
            if legacy
            else payloads.build_v3_send(chunk, message, app)
        )
        t1 = clock()
        request = client.sign(call)
        t2 = clock()
        content = client.transport.post(request, is_send=True, phones=call.phones)
        t3 = clock()
        answer = payloads.decode_json(content, call)
        t4 = clock()
        results = parse(answer, call)
        t5 = clock()
        assert [r.status for r in results] == ["submitted"] * len(chunk), results[:3]
        for step, began, ended in zip(STEPS, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5), strict=True):
            spent[step] += ended - began
    return spent


def sdk_calls(api: str, url: str, numbers: list[str]) -> Callable[[], float]:
    """A round of the SDK's calls for `numbers` (its own chunks, as `bench/throughput.py` sends
    them): thread CPU in seconds."""
    if api == "legacy":
        from qcloudsms_py import SmsMultiSender

        from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY

        qcloudsms_answers_parsed()
        split = _split_numbers(numbers)
        sender = SmsMultiSender(int(DEFAULT_APPID), DEFAULT_APPKEY)
        target = f"{url}/v5/tlssmssvr/sendmultisms2"
        chunks = sdk_chunks(numbers, by=lambda n: split[n][0])

        def send(chunk: list[str]) -> int:
            national = [split[n][1] for n in chunk]
            code = int(split[chunk[0]][0])
            answer = sender.send_with_param(code, national, int(TEMPLATE), PARAMS, sign=SIGN, url=target)
            return sum(1 for d in answer["detail"] if d["result"] == 0)
    else:
        client = _sdk_client(url)
        chunks = sdk_chunks(numbers, by=lambda n: str(n.startswith("+86")))

        def send(chunk: list[str]) -> int:
            answer = client.SendSms(_sdk_request(chunk))
            return sum(1 for s in answer.SendStatusSet if s.Code == "Ok")

    def round_() -> float:
        began = time.thread_time()
        accepted = sum(map(send, chunks))
        spent = time.thread_time() - began
        assert accepted == len(numbers), f"the SDK had {accepted} of {len(numbers)} accepted"
        return spent

    return round_


def measure(api: str, fraction: float, args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    """µs a number of each step (and the SDK's whole call), one entry a round."""
    from shared.plan import plan_multi_send

    numbers, regions = _support.mixed_list(args.numbers, fraction)
    client = client_for(api, url, regions)
    chunks = plan_multi_send(numbers).chunks
    sdk_round = sdk_calls(api, url, numbers)
    our_steps(client, chunks[:5])  # warm: connections, caches
    sdk_round()
    rounds: dict[str, list[float]] = {step: [] for step in (*STEPS, "all five", "sdk")}
    for _ in range(args.repeat):
        spent = our_steps(client, chunks)
        for step, seconds in spent.items():
            rounds[step].append(seconds / len(numbers) * 1e6)
        rounds["all five"].append(sum(spent.values()) / len(numbers) * 1e6)
        rounds["sdk"].append(sdk_round() / len(numbers) * 1e6)
    return rounds


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=20_000, help="numbers a list (default 20,000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (median and range)")
    parser.add_argument("--apis", default="legacy,v3", help="legacy, v3 or both (comma-separated)")
    parser.add_argument(
        "--international", default="0,1", help="fractions of international mobiles, one list each (0,1)"
    )
    args = parser.parse_args(argv)
    apis = [a for a in args.apis.split(",") if a]
    if not apis or set(apis) - set(APIS):
        parser.error(f"--apis takes {', '.join(APIS)}")
    fractions = [float(f) for f in args.international.split(",") if f]
    started = time.perf_counter()
    columns: list[tuple[str, dict[str, list[float]]]] = []
    with _support.emulator_process(server="canned") as server:
        for api in apis:
            for fraction in fractions:
                print(
                    f"[{time.perf_counter() - started:5.0f} s] {api}, {fraction:g} international", flush=True
                )
                columns.append(
                    (f"{api}, {fraction:g} international", measure(api, fraction, args, server.url))
                )
    print()
    print(
        f"**A chunk's CPU, step by step** ({args.numbers:,} numbers a list in 200-number chunks, one at "
        f"a time, the canned server at 0 ms; thread CPU, µs a number, median (range) of {args.repeat} rounds)"
    )
    print()
    print("| step | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for step in (*STEPS, "all five"):
        print(f"| {step} | " + " | ".join(cell(rounds[step]) for _, rounds in columns) + " |")
    sdk_cells = [f"{cell(rounds['sdk'])} ({SDK_NAMES[name.split(',')[0]]})" for name, rounds in columns]
    print("| the SDK's whole call | " + " | ".join(sdk_cells) + " |")
    print()
    command = ["python bench/chunk_steps.py", f"--numbers {args.numbers}", f"--repeat {args.repeat}"]
    command += [f"--apis {args.apis}", f"--international {args.international}"]
    print(f"Command: `{' '.join(command)}` ({time.perf_counter() - started:.0f} s).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
