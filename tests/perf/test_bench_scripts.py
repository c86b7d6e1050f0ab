"""The benchmark scripts still run: each at a tiny size, in its own process, against its own
emulator. What they print is not checked (timings belong in docs/performance.md, not in tests),
only that they finish and measure what they say: a clean exit and the table's heading."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT, run_python

pytestmark = pytest.mark.slow

RUNS = [
    (["throughput.py", "--numbers", "2000", "--repeat", "1", "--single-runs", "20", "--cold-runs", "1",
      "--phases", "a,client,b,c,d,single,cold"], "**Bulk: 2,000 numbers**"),
    (["throughput.py", "--numbers", "2000", "--repeat", "1", "--phases", "a,b", "--api", "legacy",
      "--international", "0.5", "--server", "canned"], "a/b = "),
    (["tune_concurrency.py", "--numbers", "2000", "--repeat", "1", "--concurrency", "4", "--latency-ms", "0"],
     "pools of 4, nodelay"),
    (["emulator_cpu.py", "--numbers", "1000", "--repeat", "1"], "legacy: 1,000 numbers, server CPU"),
    (["chunk_steps.py", "--numbers", "1000", "--repeat", "1", "--international", "0,0.5"],
     "| the SDK's whole call | "),
    (["store_ops.py", "--hits", "200", "--block", "100", "--budget", "500", "--rows", "400"],
     "multi send budget: 500 numbers, the same again"),
    (["store_ops.py", "--hits", "200", "--block", "100", "--budget", "0", "--rows", "400"],
     "receipts: 400 in batches of 100"),
    (["cold_start.py", "--runs", "1"], "shared.client"),
    (["stats.py", "--rows", "3000", "--days", "3", "--repeat", "1"], "| window | hour | day | template |"),
]  # fmt: skip


@pytest.mark.parametrize("command", RUNS, ids=[c[0][0] for c in RUNS])
def test_bench_script_runs(command: tuple[list[str], str]) -> None:
    args, expected = command
    out = run_python(str(ROOT / "bench" / args[0]), *args[1:])
    assert expected in out, out[-3000:]


def test_throughput_what_ifs_send_every_number() -> None:
    """The what-ifs (a) without rows, over the raw asyncio client, and without per-number limits
    still send the whole list: no ⚠ (the emulator accepted fewer numbers than were sent) on their rows."""
    phases = "a,c,d,a_no_store,a_async,a_async_no_store,a_no_budget"
    out = run_python(
        str(ROOT / "bench" / "throughput.py"), "--numbers", "2000", "--repeat", "1", "--phases", phases
    )
    rows = [line for line in out.splitlines() if line.startswith("| what-if: ")]
    assert len(rows) == 4, out[-3000:]
    assert not [row for row in rows if "⚠" in row], rows
    assert "What-ifs, over (d): (a) storing no message rows" in out
    assert "Without per-number rate limits (the what-if), (a) is " in out


@pytest.mark.postgres
def test_throughput_runs_the_functions_on_postgres(postgres_url: str) -> None:
    """`--postgres`: (a), single sends and a cold start store in PostgreSQL, each process in a
    database of its own (a child on any other store fails the run), and none of those databases
    is left behind."""
    out = run_python(
        str(ROOT / "bench" / "throughput.py"),
        *("--numbers", "2000", "--repeat", "1", "--single-runs", "20", "--cold-runs", "1"),
        *("--phases", "a,single,cold", "--postgres", postgres_url),
    )
    assert "the functions' store: PostgreSQL" in out, out[-3000:]
    assert "| (a) sms-functions `send_multi` handler | 32 | " in out, out[-3000:]
    # a warning, except the server's CPU share (it depends on what else the machine is doing)
    warnings = [line for line in out.splitlines() if "⚠" in line and "server may limit" not in line]
    assert not warnings, out[-3000:]
    assert "--postgres postgresql://…" in out
    assert postgres_url not in out
    assert bench_databases(postgres_url) == []


@pytest.mark.postgres
def test_store_ops_measures_postgres_in_a_database_of_its_own(postgres_url: str) -> None:
    args = ("--hits", "200", "--block", "100", "--budget", "300", "--rows", "400", "--url", postgres_url)
    out = run_python(str(ROOT / "bench" / "store_ops.py"), *args)
    assert "store: postgresql" in out, out[-3000:]
    assert "receipts: 400 in batches of 100" in out, out[-3000:]
    assert "multi send budget: 300 numbers, the same again" in out, out[-3000:]
    assert bench_databases(postgres_url) == []


def bench_databases(server_url: str) -> list[str]:
    """The databases the benchmarks made on that server and have not dropped."""
    import psycopg

    with psycopg.connect(server_url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sms_bench_%'").fetchall()
    return [name for (name,) in rows]


def assert_every_number_accepted(out: str, *, clients: int) -> None:
    """The bulk table has a row for each client and none with ⚠ (the server accepted fewer
    numbers than were sent)."""
    rows = [line for line in out.splitlines() if line.startswith("| (")]
    assert len(rows) == clients, out[-3000:]
    assert not [row for row in rows if "⚠" in row], out[-3000:]


def test_throughput_international_legacy_sends_every_number_and_reports_stages() -> None:
    """`--api legacy --international 0.5` on the canned server: half the list abroad, every number
    accepted by each client (no ⚠), the same-API ratio against qcloudsms_py, the server's share of
    a core, and (a)'s CPU per number stage by stage."""
    out = run_python(
        str(ROOT / "bench" / "throughput.py"),
        *("--numbers", "2000", "--repeat", "1", "--phases", "a,b,c"),
        *("--api", "legacy", "--international", "0.5", "--server", "canned"),
    )
    assert "API: legacy" in out, out[-3000:]
    assert "50% international mobiles" in out, out[-3000:]
    assert_every_number_accepted(out, clients=3)
    assert "a/b = " in out, out[-3000:]
    assert "(same API: must ≥ 1.0" in out.split("a/b = ")[1].split(";")[0], out[-3000:]
    assert "Server CPU: at most " in out, out[-3000:]
    for stage in ("| validation (every number, the plan) |", "| storing (writer thread) |", "| the answer |"):
        assert stage in out, out[-3000:]
    assert "--api legacy --international 0.5" in out


def test_throughput_realistic_list_into_a_prefilled_store() -> None:
    """`--spread --prefill N`: a shuffled list drawn from the whole pool, sent by (a) onto a store
    that already holds N other numbers' counters and rows; every number still accepted, the run
    says what its list and store were, and the command repeats both options."""
    out = run_python(
        str(ROOT / "bench" / "throughput.py"),
        *("--numbers", "2000", "--repeat", "1", "--phases", "a,c", "--server", "canned"),
        *("--spread", "--prefill", "3000"),
    )
    assert "drawn at random from the whole pool, in random order (`--spread`)" in out, out[-3000:]
    assert "the store before the send: 3,000 other numbers sent earlier that day" in out, out[-3000:]
    assert_every_number_accepted(out, clients=2)
    assert "--spread --prefill 3000`" in out
    assert_timeline_in_order(out)


def assert_timeline_in_order(out: str) -> None:
    """(a)'s timeline names every step, and its moments come in the order the steps must take: the
    budget decided after validation and committed after its decisions (its own thread), sending
    after the decisions, the rows stored after the budget's commit (one write lock), all before
    the answer."""
    line = next((x for x in out.splitlines() if x.startswith("(a)'s timeline")), "")
    pattern = (
        r"validated (?P<validated>[\d.]+); budget decided (?P<decided>[\d.]+), "
        r"committed (?P<committed>[\d.]+); "
        r"sending (?P<sent_from>[\d.]+)–(?P<sent_to>[\d.]+); message rows stored (?P<rows_from>[\d.]+) "
        r"\(first batch\)–(?P<rows_to>[\d.]+) \((?P<batches>\d+) batches\); answered (?P<answered>[\d.]+)\."
    )
    match = re.search(pattern, line)
    assert match, out[-3000:]
    at = {name: float(value) for name, value in match.groupdict().items()}
    assert at["validated"] <= at["decided"] <= at["committed"] <= at["rows_from"], line
    assert at["decided"] <= at["sent_from"] <= at["sent_to"] <= at["answered"], line
    assert at["rows_from"] <= at["rows_to"] <= at["answered"], line
    assert at["batches"] >= 1, line
