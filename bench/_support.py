"""What the benchmarks share: the number pool, the emulator in its own process, the function env.

Not a benchmark itself; `bench/*.py` scripts import it (their own folder is first on `sys.path`).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_NUMBERS = 100_000
POOL_PREFIX = "138"  # +86 138xxxxxxxx: valid China Mobile numbers, 10^8 of them
MAX_POOL = 10**8


def national(index: int) -> str:
    """The national (11-digit) number of pool entry `index`."""
    return f"{POOL_PREFIX}{index:08d}"


def pool(count: int, start: int = 0) -> list[str]:
    """`count` distinct mainland numbers in E.164, from pool entry `start` on."""
    if start + count > MAX_POOL:
        raise ValueError("the number pool has 10^8 entries")
    return [f"+86{POOL_PREFIX}{i:08d}" for i in range(start, start + count)]


def spread_pool(count: int, seed: int = 1) -> list[str]:
    """`count` distinct mainland numbers drawn at random from the whole pool, in random order: a
    list as customers' lists come, spread over the number space and unsorted."""
    return [f"+86{POOL_PREFIX}{i:08d}" for i in random.Random(seed).sample(range(MAX_POOL), count)]


def python() -> str:
    """The interpreter to run children with: the project's venv when it exists."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


BYTECODE_CACHE = Path(tempfile.gettempdir()) / "sms-functions-bench-pycache"


def with_bytecode(env: dict[str, str]) -> dict[str, str]:
    """`env` for a cold-start child that reads (and on its first run writes) compiled bytecode, as a
    deployed package ships it (`scripts/build.py`): a machine-wide PYTHONDONTWRITEBYTECODE would
    otherwise make every child compile the project's own modules again, while the SDKs'
    site-packages keep theirs: the comparison would measure compiling, not starting. One cache
    for every client, outside the repo."""
    env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(BYTECODE_CACHE)
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class EmulatorProcess:
    """The Tencent SMS emulator in a separate process (its CPU is not the client's)."""

    def __init__(self, url: str, pid: int) -> None:
        self.url = url
        self.pid = pid

    def _call(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        if not self.url.startswith("http://127.0.0.1:"):
            raise ValueError(f"not the local emulator: {self.url}")
        request = urllib.request.Request(  # noqa: S310 - the loopback emulator, checked above
            f"{self.url}/_emulator/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())

    def stats(self) -> dict[str, int]:
        """`{"accepted", "requests", "connections", "rejected"}` since the last reset."""
        return dict(self._call("GET", "stats"))

    def reset(self) -> None:
        """Forget messages and counters (also the per-number frequency history)."""
        self._call("POST", "reset", {})

    def set_latency(self, latency_ms: float) -> None:
        self._call("POST", "faults", {"latency_ms": latency_ms})

    def cpu(self) -> float:
        return cpu_seconds(self.pid)


SERVERS = ("emulator", "plain", "canned")


@contextmanager
def emulator_process(latency_ms: float = 0.0, server: str = "emulator") -> Iterator[EmulatorProcess]:
    """Start a Tencent stand-in in its own process on a free port, and stop it afterwards:
    `emulator` the project's emulator as is (`python -m local.emulator`; `plain` is the same, the
    name from when `emulator` meant a benchmark-patched copy), `canned` `bench/canned_server.py`."""
    if server in ("emulator", "plain"):
        command = [python(), "-m", "local.emulator", "--port", "0"]
    elif server == "canned":
        command = [python(), str(ROOT / "bench" / "canned_server.py"), "--port", "0"]
    else:
        raise ValueError(f"server must be one of {SERVERS}")
    if latency_ms:
        command += ["--latency-ms", str(latency_ms)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in list(env):
        if name.startswith(("TENCENT", "SMS_")):
            del env[name]  # the emulator's built-in default credentials
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the emulator exited before it was ready")
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        if not url:
            raise RuntimeError("the emulator did not start")
        yield EmulatorProcess(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def function_env(url: str, store_dir: str, **extra: str) -> dict[str, str]:
    """The environment of a deployed function pointing at the emulator, a SQLite store in
    `store_dir`, and rate limits that do not stand in a benchmark's way: the caller's and the
    global caps lifted; every number under the default per-number limits, as deployed (a
    benchmark list names a number once; one sent earlier in a prefilled day is far under them)."""
    from local.emulator.catalogue import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    env = {
        "TENCENT_SMS_API": "v3",
        "TENCENT_SMS_ENDPOINT": url,
        "TENCENTCLOUD_SECRETID": DEFAULT_SECRET_ID,
        "TENCENTCLOUD_SECRETKEY": DEFAULT_SECRET_KEY,
        "TENCENT_SMS_SDKAPPID": DEFAULT_APPID,
        "TENCENT_SMS_SIGN": "腾讯云",
        "TENCENT_SMS_TEMPLATE_ID": "7839",
        "SMS_STORE_URL": f"sqlite:///{Path(store_dir) / 'store.db'}",
        "SMS_LIMIT_PER_CALLER": "off",
        "SMS_LIMIT_GLOBAL_DAILY": "1000000000",
        "SMS_LIMIT_MULTI_PER_CALLER": "1000000000/1d",
        # the whole list in one invocation, as the benchmark asks (deployed, such a list is queued)
        "SMS_MAX_INLINE_NUMBERS": "1000000",
        "POWERTOOLS_METRICS_NAMESPACE": "SmsBench",
    }
    env.update(extra)
    return env


BENCH_DATABASE_PREFIX = "sms_bench_"


def fresh_postgres_database(server_url: str) -> str:
    """The URL of a new, empty database on the PostgreSQL server at `server_url` (its user needs
    CREATEDB): one per benchmark process, so no run sees another's rows or rate-limit hits."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = BENCH_DATABASE_PREFIX + secrets.token_hex(6)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def drop_bench_databases(server_url: str) -> None:
    """Drop every database `fresh_postgres_database` made on that server."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (BENCH_DATABASE_PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def apply_env(env: dict[str, str]) -> None:
    """Replace this process's Tencent/SMS settings with `env`."""
    for name in list(os.environ):
        if name.startswith(("TENCENT", "SMS_")):
            del os.environ[name]
    os.environ.update(env)


INTERNATIONAL_REGIONS = ("US", "GB", "SG", "JP", "DE", "FR", "AU", "IN", "BR", "KR")


def international_mobiles(count: int, regions: tuple[str, ...] = INTERNATIONAL_REGIONS) -> list[str]:
    """`count` distinct valid mobile numbers (E.164) of `regions`, round-robin: each region's
    example mobile from phonenumbers' metadata with its last five digits varied, every one kept
    only when phonenumbers itself types it MOBILE (or FIXED_LINE_OR_MOBILE, as in the US)."""
    import phonenumbers

    receiving = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
    stems = []
    for region in regions:
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None, region
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        stems.append(e164[:-5])
    numbers: list[str] = []
    for tail in range(10**5):
        for stem in stems:
            number = f"{stem}{tail:05d}"
            if phonenumbers.number_type(phonenumbers.parse(number, None)) in receiving:
                numbers.append(number)
                if len(numbers) == count:
                    return numbers
    raise ValueError(f"fewer than {count} mobiles to be made for {regions}")


def mixed_list(
    count: int, fraction: float, start: int = 0, *, spread: bool = False
) -> tuple[list[str], set[str]]:
    """`count` distinct numbers of which `fraction` are international mobiles, spread evenly
    through the list; the rest mainland pool entries from `start` on (`spread`: drawn at random
    from the whole pool, and the list in random order). Also the regions used."""
    international = round(count * fraction)
    abroad_numbers = international_mobiles(international) if international else []
    if spread:
        random.Random(2).shuffle(abroad_numbers)
    abroad = iter(abroad_numbers)
    mainland = iter(spread_pool(count - international) if spread else pool(count - international, start))
    numbers = []
    for index in range(count):
        take_abroad = int((index + 1) * fraction) > int(index * fraction)
        numbers.append(next(abroad) if take_abroad else next(mainland))
    return numbers, {"CN"} | (set(INTERNATIONAL_REGIONS) if international else set())
