"""Bulk throughput, warm single-send CPU, cold start and package size: sms-functions next to
Tencent's two Python SDKs and a raw asyncio client, in one run, against the project's emulator.

    python bench/throughput.py                       # 100,000 numbers, the full run (~2 min)
    python bench/throughput.py --numbers 20000 --repeat 1 --cold-runs 3   # a quick look

Bulk: `--numbers` distinct mainland numbers go to the emulator (its own process, `--latency-ms`
per request) by
  (a) `functions/send_multi/handler.handler`, invoked in-process with a direct-invoke event
      `{"phones": [...], "template_id": "7839", "params": ["1"]}`: validation, the store (SQLite in
      a temp dir), idempotency, per-number results, all as deployed; every number's budget under
      the default per-number limits (`DEFAULT_LIMIT_PER_PHONE`: no number repeats or is held back),
      the caller's and the global caps out of the way;
  (a′) `SmsClient.send_plan` alone, the same concurrency: our HTTP and concurrency part of (a);
  (b) qcloudsms_py 0.1.4 `SmsMultiSender.send_with_param`, 200 numbers a call, `--threads` threads;
  (c) tencentcloud-sdk-python `SmsClient.SendSms`, 200 numbers a call, `--threads` threads, one
      client per thread;
  (d) `bench/raw_client.py`: asyncio streams over keep-alive connections, as many requests in
      flight as (a), TC3-signed requests from `shared.payloads` — the ceiling of one process.
`--api legacy` runs (a) on the legacy API (sendmultisms2), to be compared with (b); the default
API 3.0 compares with (c). `--international FRACTION` makes that fraction of the list valid mobiles
of ten other countries (`_support.international_mobiles`: phonenumbers' example mobiles varied, each
typed MOBILE by phonenumbers itself), spread through the mainland ones, with the allow-list set
to match; every client sends the same list (the SDK loops one nationcode, or mainland and
international apart, per request, as Tencent wants). For (a) the report gives CPU µs per number
stage by stage: validation, the per-number budget (with its hits that SQLite writes in a thread of
their own while the first chunks go out), sending and parsing, storing (the writer thread's own
CPU), the answer, the rest; and its timeline: when each step ended, in wall seconds from the
handler's start (validation, the budget's decisions and its commit, the sending, the first and last
message rows stored, the answer), which shows the step the others waited for.
What-ifs (`--phases a_no_store,a_async,a_async_no_store,a_no_budget`, not in the default run):
(a) with its message rows not stored, with its chunks sent over (d)'s asyncio connections
(`raw_client.send_plan`: no timeouts, no error handling), and both — how far (a) is from (d)
because of the store, and because of the thread-pooled httpcore client; and (a) with no rate
limits configured, so no number's counters are read or written (what the per-number budget costs).
`--spread` draws the mainland numbers at random from the whole pool and shuffles the list (as
customers' lists come: consecutive numbers in order fall on a few pages of every index), and
`--prefill N` starts (a) on a SQLite store that already holds N other numbers sent earlier that day,
their counters and message rows (made once by `child_prefill` through the functions' own limits and
store, copied for each process): a store some hours into a busy day rather than an empty one.
Numbers/s is what the EMULATOR accepted divided by the wall time of the send, median of `--repeat`
runs, each in a fresh child process after a warm-up (connections open, code paths primed); ⚠ marks
a run in which the emulator accepted fewer numbers than were sent.

Single sends (emulator latency 0): CPU time (`time.process_time`) per warm invocation of
`functions/send_single/handler.handler` (direct invoke, store and rate limits included), next to
each SDK's CPU per request. Cold start: a fresh interpreter (reading compiled bytecode, as deploy
packages carry it) imports each handler and serves its first invocation — one SMS for the senders,
a scheduled pull, a pushed delivery report, a one-time code — (median of `--cold-runs`), next to
`bench/sdk_handler.py` on the official SDK. Sizes: the zips in
`build/<cloud>/` when `scripts/build.py` has made them.

The functions store in SQLite (a temporary folder per process) unless `--postgres URL` names a
PostgreSQL server: then each process gets a fresh database of its own there, as a deployment
whose `SMS_STORE_URL` is `postgresql://…` would store; the databases are dropped at the end.

The emulator runs as `python -m local.emulator`, unpatched: it spends ~5 µs of CPU per number on
its one core (`bench/emulator_cpu.py`), a ceiling near 200,000 numbers/s, well above what the
clients reach. `--server canned` swaps in `bench/canned_server.py`, which checks nothing and
answers thousands of requests a second: then the clients alone are measured (the report prints
the server's share of a core in each run and flags any above 10 %). (`--server plain`
is the same as the default, the name from when the default was a benchmark-patched emulator.)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _support

ROOT = _support.ROOT
BULK = ["a", "client", "b", "c", "d"]
WHAT_IF = ["a_no_store", "a_async", "a_async_no_store", "a_no_budget"]  # not the product: see `--phases`
DEFAULT_PHASES = "a,client,b,c,d,single,cold,size"
SINGLE = ["single_ours", "single_client", "single_sdk", "single_qcloud"]
COLD = {  # each handler's first invocation: what it is for
    "send_single": ("functions.send_single.handler", "single"),
    "send_single (HTTP)": ("functions.send_single.handler", "single_http"),
    "send_multi": ("functions.send_multi.handler", "multi"),
    "pull_status": ("functions.pull_status.handler", "pull"),
    "status_callback": ("functions.status_callback.handler", "callback"),
    "otp": ("functions.otp.handler", "otp"),
    "sdk_handler": ("sdk_handler", "single"),
}
COLD_TOKEN, COLD_OTP_SECRET = "bench-callback-token", "bench-otp-secret-0123456789abcdef"
COLD_API_KEY = "bench-api-key"
LABELS = {
    "a": "(a) sms-functions `send_multi` handler",
    "client": "(a′) its `SmsClient.send_plan` alone",
    "b": "(b) qcloudsms_py 0.1.4 `SmsMultiSender`",
    "c": "(c) tencentcloud-sdk-python `SendSms`",
    "d": "(d) raw asyncio HTTP/1.1 (ceiling)",
    "a_no_store": "what-if: (a) storing no message rows",
    "a_async": "what-if: (a) over (d)'s asyncio connections",
    "a_async_no_store": "what-if: (a) over (d)'s connections, storing no rows",
    "a_no_budget": "what-if: (a) without per-number rate limits (only the global cap counted)",
    "single_ours": "sms-functions `send_single` handler (direct invoke, store, limits)",
    "single_client": "its `SmsClient.send_single` alone",
    "single_sdk": "tencentcloud-sdk-python `SendSms`, 1 number",
    "single_qcloud": "qcloudsms_py `SmsSingleSender.send_with_param`",
}
TEMPLATE, PARAMS, SIGN = "7839", ["1"], "腾讯云"
SERVER_NAMES = {
    "emulator": "the project's emulator (`python -m local.emulator`)",
    "plain": "the project's emulator (`python -m local.emulator`)",
    "canned": "the canned stand-in (`bench/canned_server.py`)",
}
STORES = {
    False: "SQLite in a temporary folder",
    True: "PostgreSQL on the same machine (`--postgres`), a fresh database for each process",
}
# (a)'s stages, clocked in CPU: parse_multi_send (every number checked, the plan), the per-number
# budget until its decisions, the budget's hits written after them (SQLite: their thread's own CPU,
# while the first chunks go out), send_plan (requests out, answers parsed; the store's writer runs
# meanwhile), the wait for its last rows, the writer's own CPU, the per-number answer
STAGES = ("validation", "planning", "budget_writes", "sending", "tail", "store", "answer")
SERVER_CPU_CAP = 0.10  # of one core: above it, the server rather than the client may decide
# pool layout: [0, numbers) the bulk send; then warm-up numbers; then single sends; then cold starts
WARM_SPAN = 200 * 64


# --------------------------------------------------------------------------- children


class Child:
    """Runs in the child process: the emulator handle, the pool offsets, the result."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.emulator = _support.EmulatorProcess(args.url, args.emulator_pid)
        self.emulator_pid = args.emulator_pid
        self.result: dict[str, Any] = {}

        self.numbers: list[str] = json.loads(Path(args.list).read_text()) if args.list else []

    def bulk_numbers(self) -> list[str]:
        """The list every bulk client sends (`--international` of it abroad)."""
        return self.numbers[: self.args.numbers]

    def warm_numbers(self, count: int) -> list[str]:
        """Numbers of the same mix for the warm-up, none of them in the bulk list."""
        return self.numbers[self.args.numbers : self.args.numbers + min(count, WARM_SPAN)]

    def single_numbers(self, count: int) -> list[str]:
        return _support.pool(count, self.args.numbers + WARM_SPAN)

    def timed(self, send: Callable[[], Any]) -> Any:
        """Reset the emulator, run `send`, record wall, CPU, emulator CPU and accepted count."""
        import gc

        self.emulator.reset()
        gc.collect()
        emulator_cpu = _support.cpu_seconds(self.emulator_pid)
        cpu, wall = time.process_time(), time.perf_counter()
        answer = send()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stats = self.emulator.stats()
        self.result.update(
            wall=wall,
            cpu=cpu,
            emulator_cpu=_support.cpu_seconds(self.emulator_pid) - emulator_cpu,
            accepted=stats["accepted"],
            requests=stats["requests"],
            connections=stats["connections"],
            rejected=stats["rejected"],
        )
        return answer


def function_env(child: Child, *, store: bool = True, budget: bool = True) -> None:
    """The deployed functions' environment; `store=False` for a child that never touches the store
    (no PostgreSQL database is made for it)."""
    extra = store_env(child.args) if store else {}
    extra["SMS_ALLOWED_COUNTRIES"] = ",".join(sorted(child_regions(child.numbers)))
    if not budget:  # the what-if: no number's counters read or written
        extra.update(SMS_LIMIT_PER_PHONE="off", SMS_LIMIT_MULTI_PER_CALLER="off")  # the global cap stays
    if child.args.api == "legacy":
        from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY

        extra.update(
            TENCENT_SMS_API="legacy", TENCENT_SMS_APPID=DEFAULT_APPID, TENCENT_SMS_APPKEY=DEFAULT_APPKEY
        )
    if child.args.concurrency:
        extra["SMS_SEND_CONCURRENCY"] = str(child.args.concurrency)
    store_dir = tempfile.mkdtemp(prefix="sms-bench-")
    if child.args.prefilled and store:  # a copy of the day so far (SQLite only: see main)
        shutil.copyfile(Path(child.args.prefilled) / "store.db", Path(store_dir) / "store.db")
    _support.apply_env(_support.function_env(child.args.url, store_dir, **extra))


PREFILL_BLOCK = 10_000


def child_prefill(child: Child) -> None:
    """The store as a busy day has left it by the time of the send: `--prefill` other numbers
    (spread over the pool, as `--spread` draws) sent in blocks over the past ten hours, each with
    its counters and its message row, written through the functions' own limits and store, the
    expired counters purged as the scheduled pull purges them."""
    _support.apply_env(_support.function_env(child.args.url, child.args.prefilled))
    import secrets

    from shared import limits
    from shared.models import SendResult
    from shared.runtime import runtime
    from shared.services import Services

    numbers = _support.spread_pool(child.args.prefill, seed=3)
    started = int(time.time()) - 36_000
    step = 36_000 // max(1, -(-len(numbers) // PREFILL_BLOCK))
    for block, first in enumerate(range(0, len(numbers), PREFILL_BLOCK)):
        at = started + block * step
        services = Services(runtime.services.settings, clock=functools.partial(float, at))
        part = numbers[first : first + PREFILL_BLOCK]
        budget = limits.reserve_numbers(services, part, caller="direct")
        sent = [
            SendResult(p, f"{block}:{secrets.randbits(64):020d}", "submitted", 1, "Ok", "send success")
            for p in part
            if p in budget.reserved
        ]
        services.store.record_sends(
            sent, template_id=TEMPLATE, params=PARAMS, sign=SIGN, caller="direct", now=at
        )
        services.store.purge_expired(at)  # as the scheduled pull does every few minutes
    store = runtime.services.store
    store.purge_expired(int(time.time()))
    child.result["messages"] = store.stats(started, int(time.time()) + 1, "status").totals["sent"]
    store.close()


def child_regions(numbers: list[str]) -> set[str]:
    """The regions of a bulk list (its allow-list): CN, and the international ones when any."""
    if all(number.startswith("+86") for number in numbers):
        return {"CN"}
    return {"CN", *_support.INTERNATIONAL_REGIONS}


def store_env(args: argparse.Namespace) -> dict[str, str]:
    """`SMS_STORE_URL` of a fresh PostgreSQL database with `--postgres`, its schema in place as a
    deployment's would be (a cold start measures no migration); else nothing (SQLite)."""
    if not args.postgres:
        return {}
    from shared.store import open_store

    url = _support.fresh_postgres_database(args.postgres)
    store = open_store(url)
    store.ping()  # connects, which migrates
    store.close()
    return {"SMS_STORE_URL": url}


def store_in_use() -> str:
    """The dialect of the store this process's functions wrote to (`sqlite`, `postgresql`)."""
    from shared.runtime import runtime

    return str(runtime.services.store.dialect)


def concurrency_in_use() -> int:
    from shared.config import load_settings

    return load_settings().send_concurrency


def clock(
    spent: dict[str, float],
    name: str,
    owner: Any,
    attribute: str,
    timer: Callable[[], float] = time.perf_counter,
) -> None:
    """Replace `owner.attribute` (a function or method) with one that adds its time to `spent[name]`."""
    function = getattr(owner, attribute)

    def clocked(*args: Any, **kwargs: Any) -> Any:
        started = timer()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += timer() - started

    setattr(owner, attribute, clocked)


class Timeline:
    """Wall-clock spans of (a)'s steps, in seconds from the handler's start (`begin`): when each
    step ran, and so which one the others waited for."""

    def __init__(self) -> None:
        self.started = 0.0
        self.spans: dict[str, list[tuple[float, float]]] = {}

    def begin(self) -> None:
        self.started = time.perf_counter()
        self.spans.clear()

    def add(self, name: str, started: float) -> None:
        now = time.perf_counter()
        if self.started:
            self.spans.setdefault(name, []).append((started - self.started, now - self.started))

    def wrap(self, name: str, owner: Any, attribute: str) -> None:
        """Replace `owner.attribute` with one that records its spans under `name`."""
        function = getattr(owner, attribute)

        def spanned(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, started)

        setattr(owner, attribute, spanned)

    def milestones(self, answered: float) -> dict[str, float]:
        """The moments the report gives (absent steps left out)."""
        spans, found = self.spans, {"answered": answered}
        for name, key, edge in (
            ("validation", "validated", 1),
            ("budget", "budget decided", 1),
            ("budget_commit", "budget committed", 1),
            ("sending", "sending from", 0),
            ("sending", "sending to", 1),
        ):
            if spans.get(name):
                found[key] = spans[name][-1][edge]
        rows = spans.get("rows", [])
        if rows:
            found.update({"first rows stored": rows[0][1], "last rows stored": rows[-1][1]})
            found["row batches"] = float(len(rows))
        return found


def clock_budget_thread(spent: dict[str, float], timeline: Timeline | None = None) -> None:
    """The CPU of a budget's hits written after its decisions in their own thread
    (`SqliteStore._decide_then_write`: from its first counter write to its commit), in
    `spent["budget_writes"]`: that thread's own, so it counts under the budget, not under the
    sending it overlaps. Its reads ran while the caller waited: they are in "planning" already."""
    import threading

    from shared.store.sqlite import BUDGET_THREAD, SqliteStore

    transaction, add_key_hits = SqliteStore.transaction, SqliteStore._add_key_hits
    writing_since: dict[int, float] = {}

    def first_write(self: SqliteStore, *args: Any) -> None:
        if threading.current_thread().name == BUDGET_THREAD:
            writing_since.setdefault(threading.get_ident(), time.thread_time())
        add_key_hits(self, *args)

    def clocked(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return transaction(self, *args, **kwargs)
        finally:
            since = writing_since.pop(threading.get_ident(), None)
            if since is not None:
                spent["budget_writes"] += time.thread_time() - since
                if timeline is not None:
                    timeline.add("budget_commit", started)

    SqliteStore.transaction = clocked  # type: ignore[method-assign]
    SqliteStore._add_key_hits = first_write  # type: ignore[method-assign,assignment]


def child_a(child: Child, *, store: bool = True, over_raw_client: bool = False, budget: bool = True) -> None:
    """(a); the what-ifs switch off the message rows (`store=False`) or send the chunks over
    `bench/raw_client.py`'s connections (`over_raw_client`) — in this child process only."""
    function_env(child, budget=budget)
    import functions.send_multi.handler as handler
    from shared import sending, validation
    from shared.client import SmsClient
    from shared.models import MultiSendResult

    in_flight = concurrency_in_use()
    if not store:  # the same container, its store told to keep no message rows
        from shared.runtime import runtime
        from shared.services import Services

        real = runtime.services.store

        class WithoutRows:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def record_sends(self, *args: Any, **kwargs: Any) -> None:
                return None

        runtime.install(Services(runtime.services.settings, store=WithoutRows()))  # type: ignore[arg-type]
    if over_raw_client:
        import raw_client

        def send_plan(self: SmsClient, plan: Any, message: Any, **options: Any) -> MultiSendResult:
            on_chunk = options.get("on_chunk")
            return raw_client.send_plan(self, plan, message, in_flight=in_flight, on_chunk=on_chunk)

        SmsClient.send_plan = send_plan  # type: ignore[method-assign]
    from shared import limits

    warm_event = {"phones": child.warm_numbers(200 * in_flight), "template_id": TEMPLATE, "params": PARAMS}
    warm = handler.handler(warm_event, None)
    assert warm.get("submitted"), str(warm)[:500]
    # CPU of each stage (the process's CPU while it runs; the store's is its writer thread's own)
    spent: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    cpu = time.process_time
    clock(spent, "validation", validation, "parse_multi_send", cpu)
    clock(spent, "planning", limits, "reserve_numbers", cpu)
    clock(spent, "sending", SmsClient, "send_plan", cpu)
    clock(spent, "store", sending, "_record", time.thread_time)
    timeline = Timeline()  # and when each step ran
    clock_budget_thread(spent, timeline)
    clock(spent, "tail", sending.ChunkRecorder, "__exit__", cpu)
    clock(spent, "answer", MultiSendResult, "to_dict", cpu)
    for name, owner, attribute in (
        ("validation", validation, "parse_multi_send"),
        ("budget", limits, "reserve_numbers"),
        ("sending", SmsClient, "send_plan"),
        ("rows", sending, "_record"),
    ):
        timeline.wrap(name, owner, attribute)
    event = {"phones": child.bulk_numbers(), "template_id": TEMPLATE, "params": PARAMS}

    def send() -> Any:
        timeline.begin()
        try:
            return handler.handler(event, None)
        finally:
            child.result["timeline"] = timeline.milestones(time.perf_counter() - timeline.started)

    answer = child.timed(send)
    child.result.update(
        spent, in_flight=in_flight, reported=answer.get("submitted"), error=answer.get("error")
    )
    child.result["store_dialect"] = store_in_use()


def child_client(child: Child) -> None:
    function_env(child, store=False)
    from shared.models import Message
    from shared.plan import plan_multi_send
    from shared.runtime import runtime

    in_flight = concurrency_in_use()
    message = Message(template_id=TEMPLATE, params=tuple(PARAMS), sign=SIGN)
    client = runtime.services.client
    client.send_plan(plan_multi_send(child.warm_numbers(200 * in_flight)), message)
    plan = plan_multi_send(child.bulk_numbers())
    outcome = child.timed(lambda: client.send_plan(plan, message))
    child.result.update(in_flight=in_flight, reported=outcome.submitted)


def child_b(child: Child) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from qcloudsms_py import SmsMultiSender

    from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY

    qcloudsms_answers_parsed()
    url = f"{child.args.url}/v5/tlssmssvr/sendmultisms2"
    local = threading.local()
    errors: list[str] = []

    def send(numbers: list[str]) -> int:
        sender = getattr(local, "sender", None)
        if sender is None:
            sender = local.sender = SmsMultiSender(int(DEFAULT_APPID), DEFAULT_APPKEY)
        code = split[numbers[0]][0]
        try:
            answer = sender.send_with_param(
                int(code), [split[n][1] for n in numbers], int(TEMPLATE), PARAMS, sign=SIGN, url=url
            )
        except Exception as exc:  # counted: the emulator's count is what matters
            errors.append(type(exc).__name__)
            return 0
        return sum(1 for d in answer.get("detail", ()) if d.get("result") == 0)

    def run(numbers: list[str]) -> int:
        with ThreadPoolExecutor(child.args.threads) as pool:
            return sum(pool.map(send, sdk_chunks(numbers, by=lambda n: split[n][0])))

    # a caller of the legacy SDK holds its numbers as (nationcode, national number) already
    split = _split_numbers(child.numbers)
    run(child.warm_numbers(200 * child.args.threads))
    reported = child.timed(lambda: run(child.bulk_numbers()))
    child.result.update(in_flight=child.args.threads, reported=reported, sdk_errors=len(errors))


def _split_numbers(numbers: list[str]) -> dict[str, tuple[str, str]]:
    import phonenumbers

    split = {}
    for number in numbers:
        if number.startswith("+86"):
            split[number] = ("86", number[3:])
        else:
            parsed = phonenumbers.parse(number, None)
            split[number] = (str(parsed.country_code), phonenumbers.national_significant_number(parsed))
    return split


def sdk_chunks(numbers: list[str], by: Callable[[str], str]) -> list[list[str]]:
    """An SDK caller's requests: 200 numbers each, one group (`by`) per request, as Tencent wants
    (API 3.0: mainland and international apart; legacy: one nationcode a request)."""
    groups: dict[str, list[str]] = {}
    for number in numbers:
        groups.setdefault(by(number), []).append(number)
    return [group[i : i + 200] for group in groups.values() for i in range(0, len(group), 200)]


def qcloudsms_answers_parsed() -> None:
    """qcloudsms_py 0.1.4 parses every answer with json.loads(..., encoding=), which Python 3.9+
    rejects (TypeError) after the message was accepted: parse as it meant to."""
    from qcloudsms_py import httpclient

    httpclient.HTTPResponse.json = lambda self: json.loads(self.body)


def _sdk_client(url: str) -> Any:
    from urllib.parse import urlsplit

    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import sms_client

    from local.emulator.catalogue import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    profile = ClientProfile(httpProfile=HttpProfile(endpoint=urlsplit(url).netloc, protocol="http"))
    return sms_client.SmsClient(
        credential.Credential(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY), "ap-guangzhou", profile
    )


def _sdk_request(numbers: list[str]) -> Any:
    from tencentcloud.sms.v20210111 import models

    from local.emulator.catalogue import DEFAULT_APPID

    request = models.SendSmsRequest()
    request.PhoneNumberSet = numbers
    request.SmsSdkAppId = DEFAULT_APPID
    request.TemplateId = TEMPLATE
    request.SignName = SIGN
    request.TemplateParamSet = PARAMS
    return request


def child_c(child: Child) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()
    errors: list[str] = []

    def send(numbers: list[str]) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = _sdk_client(child.args.url)
        try:
            answer = client.SendSms(_sdk_request(numbers))
        except Exception as exc:
            errors.append(type(exc).__name__)
            return 0
        return sum(1 for s in answer.SendStatusSet if s.Code == "Ok")

    def run(numbers: list[str]) -> int:
        chunks = sdk_chunks(numbers, by=lambda n: str(n.startswith("+86")))
        with ThreadPoolExecutor(child.args.threads) as pool:
            return sum(pool.map(send, chunks))

    run(child.warm_numbers(200 * child.args.threads))
    reported = child.timed(lambda: run(child.bulk_numbers()))
    child.result.update(in_flight=child.args.threads, reported=reported, sdk_errors=len(errors))


def child_d(child: Child) -> None:
    function_env(child, store=False)
    import raw_client

    from shared.models import Message
    from shared.plan import plan_multi_send

    in_flight = concurrency_in_use()
    message = Message(template_id=TEMPLATE, params=tuple(PARAMS), sign=SIGN)
    credentials = raw_client.credentials_from_env()
    warm = plan_multi_send(child.warm_numbers(200 * in_flight))
    raw_client.run(child.args.url, warm.chunks, message, credentials, in_flight)
    chunks = plan_multi_send(child.bulk_numbers()).chunks
    reported = child.timed(lambda: raw_client.run(child.args.url, chunks, message, credentials, in_flight))
    child.result.update(in_flight=in_flight, reported=reported)


def _per_call(child: Child, send: Callable[[str], Any]) -> None:
    """Warm up, then `--single-runs` calls with distinct numbers: CPU and wall per call."""
    numbers = child.single_numbers(child.args.single_runs + 20)
    for number in numbers[:20]:
        send(number)
    child.emulator.reset()
    calls = numbers[20:]
    cpu, wall = time.process_time(), time.perf_counter()
    for number in calls:
        send(number)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    child.result.update(
        cpu_ms=cpu / len(calls) * 1000,
        wall_ms=wall / len(calls) * 1000,
        calls=len(calls),
        accepted=child.emulator.stats()["accepted"],
    )


def child_single_ours(child: Child) -> None:
    function_env(child)
    import functions.send_single.handler as handler

    def send(number: str) -> None:
        answer = handler.handler({"phone": number, "params": PARAMS}, None)
        assert answer.get("status") == "submitted", str(answer)[:500]

    _per_call(child, send)
    child.result["parts"] = _single_parts(child, send)
    child.result["store_dialect"] = store_in_use()


def _single_parts(child: Child, send: Callable[[str], Any]) -> dict[str, float]:
    """CPU ms per call of the handler's parts, from a second pass with them clocked (the clocks
    cost CPU too: the table's total comes from the unclocked pass)."""
    from shared import validation
    from shared.observability import logger
    from shared.runtime import runtime

    spent: dict[str, float] = {"client": 0.0, "store": 0.0, "log": 0.0, "validation": 0.0}
    store = runtime.services.store
    for method in ("idempotency_begin", "hit_rate_limits", "record_sends", "idempotency_complete"):
        clock(spent, "store", store, method, time.process_time)
    clock(spent, "client", runtime.services.client, "send_single", time.process_time)
    clock(spent, "log", logger, "info", time.process_time)
    clock(spent, "validation", validation, "parse_single_send", time.process_time)
    far = child.args.numbers + WARM_SPAN + 10 * (child.args.single_runs + 1000)  # numbers no pass used
    numbers = _support.pool(child.args.single_runs, far)
    cpu = time.process_time()
    for number in numbers:
        send(number)
    cpu = time.process_time() - cpu
    parts = {name: seconds / len(numbers) * 1000 for name, seconds in spent.items()}
    return {**parts, "total": cpu / len(numbers) * 1000}


def child_single_client(child: Child) -> None:
    function_env(child, store=False)
    from shared.models import Message
    from shared.runtime import runtime

    message = Message(template_id=TEMPLATE, params=tuple(PARAMS), sign=SIGN)
    client = runtime.services.client
    _per_call(child, lambda number: client.send_single(number, message))


def child_single_sdk(child: Child) -> None:
    client = _sdk_client(child.args.url)
    _per_call(child, lambda number: client.SendSms(_sdk_request([number])))


def child_single_qcloud(child: Child) -> None:
    from qcloudsms_py import SmsSingleSender

    from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_APPKEY

    qcloudsms_answers_parsed()
    sender = SmsSingleSender(int(DEFAULT_APPID), DEFAULT_APPKEY)
    url = f"{child.args.url}/v5/tlssmssvr/sendsms"
    _per_call(
        child,
        lambda number: sender.send_with_param(86, number[3:], int(TEMPLATE), PARAMS, sign=SIGN, url=url),
    )


CHILDREN: dict[str, Callable[[Child], None]] = {
    "a": child_a,
    "prefill": child_prefill,
    "client": child_client,
    "b": child_b,
    "c": child_c,
    "d": child_d,
    "a_no_store": lambda child: child_a(child, store=False),
    "a_async": lambda child: child_a(child, over_raw_client=True),
    "a_async_no_store": lambda child: child_a(child, store=False, over_raw_client=True),
    "a_no_budget": lambda child: child_a(child, budget=False),
    "single_ours": child_single_ours,
    "single_client": child_single_client,
    "single_sdk": child_single_sdk,
    "single_qcloud": child_single_qcloud,
}

COLD_CODE = """\
import time
started = time.perf_counter()
import {module} as function
imported = time.perf_counter()
answer = function.handler({event!r}, None)
done = time.perf_counter()
import json
with open({out!r}, "w") as out:
    json.dump({{"import": imported - started, "first": done - imported, "answer": answer}}, out, default=str)
"""


# --------------------------------------------------------------------------- parent


def run_child(args: argparse.Namespace, emulator: _support.EmulatorProcess, worker: str) -> dict[str, Any]:
    run = _run_child(args, emulator, worker)
    expected = "postgresql" if args.postgres else "sqlite"
    if run.get("store_dialect", expected) != expected:
        raise RuntimeError(f"{worker} ran on the {run['store_dialect']} store, not {expected}")
    return run


def _run_child(args: argparse.Namespace, emulator: _support.EmulatorProcess, worker: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    command = [
        _support.python(),
        str(Path(__file__).resolve()),
        "--worker",
        worker,
        "--url",
        emulator.url,
        "--emulator-pid",
        str(emulator.pid),
        "--out",
        out,
        "--numbers",
        str(args.numbers),
        "--threads",
        str(args.threads),
        "--single-runs",
        str(args.single_runs),
        "--api",
        args.api,
        "--list",
        args.list,
    ]
    if args.prefilled:
        command += ["--prefilled", args.prefilled, "--prefill", str(args.prefill)]
    if args.concurrency:
        command += ["--concurrency", str(args.concurrency)]
    if args.postgres:
        command += ["--postgres", args.postgres]
    try:
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=600)
        return dict(json.loads(Path(out).read_text()))
    finally:
        Path(out).unlink(missing_ok=True)


def run_cold(
    args: argparse.Namespace, emulator: _support.EmulatorProcess, name: str, index: int
) -> dict[str, Any]:
    module, kind = COLD[name]
    number = _support.pool(1, args.numbers + WARM_SPAN + args.single_runs + 100 + index)[0]
    event = cold_event(kind, number)
    with (
        tempfile.TemporaryDirectory(prefix="sms-cold-") as store,
        tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle,
    ):
        out = handle.name
        env = _support.with_bytecode(
            {
                **os.environ,
                **_support.function_env(
                    emulator.url,
                    store,
                    SMS_CALLBACK_TOKEN=COLD_TOKEN,
                    SMS_OTP_SECRET=COLD_OTP_SECRET,
                    SMS_API_KEYS=COLD_API_KEY,
                    **store_env(args),
                ),
            }
        )
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "bench")])
        code = COLD_CODE.format(module=module, event=event, out=out)
        subprocess.run(
            [_support.python(), "-c", code], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
        )
        result = dict(json.loads(Path(out).read_text()))
        Path(out).unlink(missing_ok=True)
    answer = result["answer"]
    ok = {
        "single": lambda: answer.get("status") == "submitted" or answer.get("code") == "Ok",
        "single_http": lambda: (
            answer.get("statusCode") == 200 and json.loads(answer["body"])["status"] == "submitted"
        ),
        "multi": lambda: answer.get("submitted") == 1,
        "pull": lambda: all("error" not in run for run in answer.get("runs", [{"error": "none"}])),
        "callback": lambda: answer.get("statusCode") == 200 and json.loads(answer["body"])["result"] == 0,
        "otp": lambda: bool(answer.get("id")),
    }[kind]()
    if not ok:
        raise RuntimeError(f"the cold start of {name} did not do its job: {answer}")
    return result


def cold_event(kind: str, number: str) -> dict[str, Any]:
    """The first invocation of a function in the cold-start phase."""
    if kind == "single":
        return {"phone": number, "params": PARAMS}
    if kind == "multi":
        return {"phones": [number], "template_id": TEMPLATE, "params": PARAMS}
    if kind == "pull":  # what the schedule passes
        return {"kind": "receipts"}
    if kind == "otp":  # a mini-program or backend asking for a code
        return {"action": "send", "phone": number}
    if kind == "single_http":  # a backend calling the send route through an AWS HTTP API
        return http_api_event("POST", "/sms/send", json.dumps({"phone": number, "params": PARAMS}), "")
    path = "/sms/callback/receipts"  # Tencent pushing a delivery report (AWS HTTP API event)
    report = [{"user_receive_time": "2026-11-27 10:00:00", "nationcode": "86", "mobile": number[3:],
               "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "user received",
               "sid": "2019:0000000000000000001"}]  # fmt: skip
    return http_api_event("POST", path, json.dumps(report), f"token={COLD_TOKEN}")


def http_api_event(method: str, path: str, body: str, query: str) -> dict[str, Any]:
    """An AWS HTTP API (payload 2.0) event, as API Gateway passes it, with the bench's API key."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
        "headers": {
            "content-type": "application/json",
            "user-agent": "Tencent-SMS-Callback" if "callback" in path else "bench",
            "x-api-key": COLD_API_KEY,
        },
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
            "requestId": "cold-" + path.rsplit("/", 1)[-1],
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def mix_text(fraction: float) -> str:
    if not fraction:
        return "mainland mobiles only"
    regions = ", ".join(_support.INTERNATIONAL_REGIONS)
    return f"{fraction:.0%} international mobiles ({regions}), spread through mainland ones"


def order_text(args: argparse.Namespace) -> str:
    if args.spread:
        return "the mainland ones drawn at random from the whole pool, in random order (`--spread`)"
    return "consecutive pool numbers in order"


def prefill_text(args: argparse.Namespace) -> str:
    if not args.prefill:
        return "empty"
    return (
        f"{args.prefill:,} other numbers sent earlier that day (`--prefill`: their counters and message rows)"
    )


def emit_stages(emit: Callable[[str], None], runs: list[dict[str, Any]]) -> None:
    """(a)'s CPU µs per number, stage by stage (median over the rounds)."""

    def per_number(run: dict[str, Any], stage: str) -> float:
        accepted = max(1, run["accepted"])
        if stage == "sending and parsing":  # the send's CPU but the threads' that ran meanwhile
            seconds = run["sending"] + run["tail"] - run["store"] - run.get("budget_writes", 0.0)
        elif stage == "planning":  # to its decisions, and its hits written in their own thread
            seconds = run["planning"] + run.get("budget_writes", 0.0)
        elif stage == "the rest":
            clocked = sum(run[k] for k in ("validation", "planning", "sending", "tail", "answer"))
            seconds = run["cpu"] - clocked
        elif stage == "total":
            seconds = run["cpu"]
        else:
            seconds = run[stage]
        return seconds / accepted * 1e6

    names = {
        "validation": "validation (every number, the plan)",
        "planning": "per-number budget",
        "sending and parsing": "sending and parsing",
        "store": "storing (writer thread)",
        "answer": "the answer",
        "the rest": "the rest (idempotency, log, metrics)",
        "total": "total",
    }
    emit(
        "(a)'s CPU per number, by stage (µs; CPU time of the process while the stage ran; the store's"
        " writer and the budget's writes after its decisions: their threads' own; median of rounds)"
    )
    emit("")
    emit("| stage | CPU µs/number |")
    emit("|---|---:|")
    for stage, label in names.items():
        emit(f"| {label} | {statistics.median(per_number(r, stage) for r in runs):.2f} |")
    emit("")


def emit_timeline(emit: Callable[[str], None], runs: list[dict[str, Any]]) -> None:
    """When (a)'s steps ended, in wall seconds from the handler's start (median over the rounds)."""
    moments = [run["timeline"] for run in runs if run.get("timeline")]
    if not moments:
        return

    def at(name: str) -> str:
        return f"{statistics.median(m[name] for m in moments):.2f}"

    have = set.intersection(*(set(m) for m in moments))
    parts = [f"validated {at('validated')}"] if "validated" in have else []
    if "budget decided" in have:
        committed = f", committed {at('budget committed')}" if "budget committed" in have else ""
        parts.append(f"budget decided {at('budget decided')}{committed}")
    if "sending from" in have:
        parts.append(f"sending {at('sending from')}–{at('sending to')}")
    if "first rows stored" in have:
        batches = statistics.median(m["row batches"] for m in moments)
        parts.append(
            f"message rows stored {at('first rows stored')} (first batch)–{at('last rows stored')} "
            f"({batches:.0f} batches)"
        )
    parts.append(f"answered {at('answered')}")
    emit(
        "(a)'s timeline (wall seconds from the handler's start to the end of each step, median of "
        "rounds; the budget's commit is its own thread's, SQLite): " + "; ".join(parts) + "."
    )
    emit("")


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def parent(args: argparse.Namespace) -> None:
    phases = set(args.phases.split(","))
    started = time.perf_counter()
    bulk: dict[str, list[dict[str, Any]]] = {}
    single: dict[str, list[dict[str, Any]]] = {}
    cold: dict[str, list[dict[str, Any]]] = {}

    def note(text: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {text}", file=sys.stderr, flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    numbers, _ = _support.mixed_list(args.numbers + WARM_SPAN, args.international, spread=args.spread)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(numbers, handle)
    args.list = handle.name
    try:
        with _support.emulator_process(args.latency_ms, server=args.server) as emulator:
            if args.prefill:  # made once, copied into each (a) process's folder
                args.prefilled = tempfile.mkdtemp(prefix="sms-bench-day-")
                started_fill = time.perf_counter()
                stored = run_child(args, emulator, "prefill")["messages"]
                if stored != args.prefill:
                    raise RuntimeError(f"the prefilled store holds {stored} messages, not {args.prefill}")
                note(f"store prefilled: {args.prefill:,} numbers, {time.perf_counter() - started_fill:.0f} s")
            # rounds interleave the clients, so that a busy moment of the machine hits them all alike
            for attempt in range(args.repeat):
                for phase in BULK + WHAT_IF:
                    if phase in phases:
                        run = run_child(args, emulator, phase)
                        bulk.setdefault(phase, []).append(run)
                        rate = run["accepted"] / run["wall"]
                        note(f"round {attempt + 1}/{args.repeat}, {phase}: {rate:,.0f} numbers/s")
            emulator.set_latency(0)
            for attempt in range(args.repeat if "single" in phases else 0):
                for phase in SINGLE:
                    run = run_child(args, emulator, phase)
                    single.setdefault(phase, []).append(run)
                    note(f"round {attempt + 1}/{args.repeat}, {phase}: {run['cpu_ms']:.2f} ms CPU per call")
            if "cold" in phases:
                for name in COLD:
                    run_cold(args, emulator, name, 0)  # byte-code and file cache, as on a warm host
                    cold[name] = [run_cold(args, emulator, name, i + 1) for i in range(args.cold_runs)]
                    note(f"cold start {name}: {median_of(cold[name], 'import') * 1000:.0f} ms import")
    finally:
        Path(args.list).unlink(missing_ok=True)
        if args.prefilled:
            shutil.rmtree(args.prefilled, ignore_errors=True)
        if args.postgres:
            _support.drop_bench_databases(args.postgres)
    report(args, bulk, single, cold, load, time.perf_counter() - started)


def report(
    args: argparse.Namespace,
    bulk: dict[str, list[dict[str, Any]]],
    single: dict[str, list[dict[str, Any]]],
    cold: dict[str, list[dict[str, Any]]],
    load: float,
    seconds: float,
) -> None:
    out: list[str] = []
    emit = out.append
    emit(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.2f} at start; "
        f"server: {SERVER_NAMES[args.server]} in its own process, "
        f"{args.latency_ms:g} ms latency per request for bulk sends, 0 ms for single sends; "
        f"the functions' store: {STORES[bool(args.postgres)]}; "
        f"API: {'legacy (sendmultisms2)' if args.api == 'legacy' else '3.0 (TC3)'}; "
        f"the list: {mix_text(args.international)}, {order_text(args)}; "
        f"the store before the send: {prefill_text(args)}."
    )
    emit("")
    if bulk:
        rates = report_bulk(emit, args, bulk)
        if "a" in rates:
            report_ratios(emit, args, rates)
            emit_stages(emit, bulk["a"])
            emit_timeline(emit, bulk["a"])
    if single:
        report_single(emit, args, single)
    if cold:
        report_cold(emit, args, cold)
    report_sizes(emit, args)
    emit(f"Command: `{' '.join(command_of(args))}` ({seconds:.0f} s).")
    text = "\n".join(out)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")


def report_bulk(
    emit: Callable[[str], None], args: argparse.Namespace, bulk: dict[str, list[dict[str, Any]]]
) -> dict[str, float]:
    """The bulk table and the server-CPU verdict; returns the median numbers/s of each client."""
    rates: dict[str, float] = {}
    emit(
        f"**Bulk: {args.numbers:,} numbers** (numbers/s = accepted by the server ÷ wall time; "
        f"median and range of {args.repeat} interleaved rounds)"
    )
    emit("")
    emit(
        "| client | in flight | numbers/s | (range) | client CPU µs/number | server CPU s "
        "| server % of a core |"
    )
    emit("|---|---:|---:|---:|---:|---:|---:|")
    for phase in BULK + WHAT_IF:
        runs = bulk.get(phase)
        if not runs:
            continue
        each = [r["accepted"] / r["wall"] for r in runs]
        rate = statistics.median(each)
        rates[phase] = rate
        cpu = statistics.median(r["cpu"] / max(1, r["accepted"]) * 1e6 for r in runs)
        lost = min(r["accepted"] for r in runs) < args.numbers
        emit(
            f"| {LABELS[phase]} | {runs[0]['in_flight']} | {rate:,.0f}{' ⚠' if lost else ''} | "
            f"{min(each) / 1000:,.1f}k–{max(each) / 1000:,.1f}k | {cpu:.1f} | "
            f"{median_of(runs, 'emulator_cpu'):.1f} | "
            f"{max(r['emulator_cpu'] / r['wall'] for r in runs) * 100:.1f} |"
        )
    emit("")
    busiest = max(r["emulator_cpu"] / r["wall"] for runs in bulk.values() for r in runs)
    verdict = (
        "the clients' own CPU decides" if busiest < SERVER_CPU_CAP else "⚠ the server may limit the clients"
    )
    emit(
        f"Server CPU: at most {busiest * 100:.1f} % of a core in any run (the cap for a fair "
        f"client comparison is {SERVER_CPU_CAP * 100:.0f} %): {verdict}."
    )
    emit("")
    return rates


def report_ratios(emit: Callable[[str], None], args: argparse.Namespace, rates: dict[str, float]) -> None:
    """(a) over the other clients, the what-ifs over (d), and (a) without per-number budgets."""
    parts = []
    sdk = "b" if args.api == "legacy" else "c"  # the SDK of the same API
    for other in ("b", "c", "d"):
        if other in rates:
            ratio = rates["a"] / rates[other]
            goal = ""
            if other == sdk:
                must, aim = ratio >= 1.0, ratio >= 1.5
                goal = (
                    f" (same API: must ≥ 1.0 {'met' if must else 'NOT met'}, "
                    f"goal ≥ 1.5 {'met' if aim else 'not met'})"
                )
            parts.append(f"a/{other} = {ratio:.2f}{goal}")
    if "client" in rates and "d" in rates:
        parts.append(f"a′/d = {rates['client'] / rates['d']:.2f}")
    if parts:
        emit("Ratios: " + "; ".join(parts) + ".")
    what_ifs = [phase for phase in WHAT_IF if phase in rates]
    if what_ifs and "d" in rates:
        ratios = [f"{LABELS[w].removeprefix('what-if: ')} {rates[w] / rates['d']:.2f}" for w in what_ifs]
        emit("What-ifs, over (d): " + "; ".join(ratios) + ".")
    if "a_no_budget" in rates and sdk in rates:
        free = rates["a_no_budget"]
        emit(
            f"Without per-number rate limits (the what-if), (a) is {free / rates[sdk]:.2f}"
            f" of ({sdk}) and {free / rates['a']:.2f}× (a) as configured."
        )
    emit("")


def report_single(
    emit: Callable[[str], None], args: argparse.Namespace, single: dict[str, list[dict[str, Any]]]
) -> None:
    """The warm single-send table and where the handler's CPU goes."""
    emit(
        f"**Single send, warm** (CPU of the calling process per call over {args.single_runs} calls; "
        f"median of {args.repeat} interleaved rounds)"
    )
    emit("")
    emit("| client | CPU ms per call | wall ms per call |")
    emit("|---|---:|---:|")
    for phase in SINGLE:
        if phase in single:
            runs = single[phase]
            lost = " ⚠" if any(r["accepted"] < r["calls"] for r in runs) else ""
            emit(
                f"| {LABELS[phase]} | {median_of(runs, 'cpu_ms'):.2f}{lost} | "
                f"{median_of(runs, 'wall_ms'):.2f} |"
            )
    if "single_ours" in single:
        split = {
            k: statistics.median(r["parts"][k] for r in single["single_ours"])
            for k in ("client", "store", "log", "validation", "total")
        }
        rest = split["total"] - split["client"] - split["store"] - split["log"] - split["validation"]
        emit("")
        emit(
            f"Where the handler's CPU goes (a second pass with its parts clocked, {split['total']:.2f} "
            f"ms a call with the clocks): the SMS client {split['client']:.2f} ms; the store "
            f"{split['store']:.2f} ms (four transactions: the idempotency key claimed and completed, "
            f"the rate-limit hits, the message row); the log line {split['log']:.2f} ms; validation "
            f"{split['validation']:.2f} ms; the rest (entry, answer, metrics) {rest:.2f} ms."
        )
    emit("")


def report_cold(
    emit: Callable[[str], None], args: argparse.Namespace, cold: dict[str, list[dict[str, Any]]]
) -> None:
    """The cold-start table."""
    emit(
        f"**Cold start** (fresh interpreter: import + first invocation — a send (direct invoke, or "
        f"through an AWS HTTP API event); for pull_status a scheduled pull, status_callback a pushed "
        f"report, otp a code sent; median of {args.cold_runs})"
    )
    emit("")
    emit("| function | import ms | first invocation ms | total ms |")
    emit("|---|---:|---:|---:|")
    for name, runs in cold.items():
        label = "official SDK minimal handler (`bench/sdk_handler.py`)" if name == "sdk_handler" else name
        imp, first = median_of(runs, "import") * 1000, median_of(runs, "first") * 1000
        emit(f"| {label} | {imp:.0f} | {first:.0f} | {imp + first:.0f} |")
    emit("")


def report_sizes(emit: Callable[[str], None], args: argparse.Namespace) -> None:
    """The deploy packages' sizes, beside the official SDK's installed size."""
    zips = sorted((ROOT / "build").glob("*/*.zip"))
    if zips and "size" in args.phases.split(","):
        emit("**Deploy packages** (`build/<cloud>/<function>.zip`)")
        emit("")
        emit("| package | size KiB |")
        emit("|---|---:|")
        for path in zips:
            emit(f"| {path.parent.name}/{path.name} | {path.stat().st_size // 1024:,} |")
        sys.path.insert(0, str(ROOT / "bench"))
        import cold_start

        emit(
            f"| for comparison: tencentcloud-sdk-python-sms + -common + requests, installed | "
            f"{cold_start.installed_kb(cold_start.SDK_STACK):,} |"
        )
        emit("")


def command_of(args: argparse.Namespace) -> list[str]:
    """The command line that reproduces this run."""
    command = ["python", "bench/throughput.py", "--numbers", str(args.numbers)]
    if args.repeat != 3:
        command += ["--repeat", str(args.repeat)]
    if args.server != "emulator":
        command += ["--server", args.server]
    if args.phases != DEFAULT_PHASES:
        command += ["--phases", args.phases]
    if args.postgres:
        command += ["--postgres", "postgresql://…"]
    if args.concurrency:
        command += ["--concurrency", str(args.concurrency)]
    if args.api != "v3":
        command += ["--api", args.api]
    if args.international:
        command += ["--international", f"{args.international:g}"]
    if args.spread:
        command += ["--spread"]
    if args.prefill:
        command += ["--prefill", str(args.prefill)]
    return command


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=_support.DEFAULT_NUMBERS, help="bulk size (100,000)")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="emulator latency for bulk sends")
    parser.add_argument("--threads", type=int, default=16, help="threads of the SDK clients (b) and (c)")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="SMS_SEND_CONCURRENCY for (a); default: the project's"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of bulk and single sends (median)")
    parser.add_argument("--single-runs", type=int, default=1000, help="warm single sends measured")
    parser.add_argument("--cold-runs", type=int, default=7, help="fresh interpreters per function")
    parser.add_argument(
        "--phases",
        default=DEFAULT_PHASES,
        help=f"what to run (default: all but the what-ifs {', '.join(WHAT_IF)})",
    )
    parser.add_argument(
        "--server",
        choices=_support.SERVERS,
        default="emulator",
        help="emulator (default: python -m local.emulator; plain is the same) or canned "
        "(bench/canned_server.py: no checks, capacity to spare; measures the clients alone)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the functions on the PostgreSQL store: a fresh database on this server for each "
        "process (its user needs CREATEDB), all dropped at the end; default: SQLite in a temp dir",
    )
    parser.add_argument(
        "--api",
        choices=("v3", "legacy"),
        default="v3",
        help="the functions' Tencent API: v3 (API 3.0, compare with (c)) or legacy (compare with (b))",
    )
    parser.add_argument(
        "--international",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="this fraction of the list is valid mobiles of other countries (0: mainland only)",
    )
    parser.add_argument(
        "--spread",
        action="store_true",
        help="mainland numbers drawn at random from the whole pool, the list in random order "
        "(default: consecutive pool numbers, in order)",
    )
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        metavar="N",
        help="(a)'s SQLite store already holds N other numbers sent earlier that day: their "
        "counters and message rows (default: an empty store)",
    )
    parser.add_argument("--markdown", help="also write the report to this file")
    parser.add_argument("--prefilled", help=argparse.SUPPRESS)
    parser.add_argument("--list", help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 <= args.international <= 1:
        parser.error("--international is a fraction of the list, 0 to 1")
    if args.prefill and args.postgres:
        parser.error("--prefill fills the SQLite store only")
    if args.worker:
        child = Child(args)
        CHILDREN[args.worker](child)
        Path(args.out).write_text(json.dumps(child.result, default=str))
        return
    parent(args)


if __name__ == "__main__":
    main()
