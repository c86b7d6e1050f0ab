"""A private, throw-away PostgreSQL server for tests.

    server = PostgresServer()
    server.start()            # initdb into a temp dir, pg_ctl start on 127.0.0.1:<free port>
    server.url                # postgresql://postgres:<password>@127.0.0.1:<port>/sms_test
    server.stop()             # pg_ctl stop; start() again brings the same cluster back
    server.cleanup()          # stop and delete the temp dir

Binaries are found through `pg_config --bindir`, `/usr/lib/postgresql/*/bin` (newest first) or
PATH. As root, initdb refuses to run, so the cluster belongs to the `postgres` OS user and every
server command runs through `runuser -u postgres --` (or `su postgres -c`).

`python -m tests.pg_server` starts one and prints its URL (Ctrl-C stops it), for CI or by hand.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

_NEEDED = ("initdb", "pg_ctl", "createdb")

#: a server someone else runs (CI service, developer's own); tests then start none of their own
POSTGRES_URL_ENV = "SMS_TEST_POSTGRES_URL"
#: `1` skips the PostgreSQL half of the tests instead of failing when no server can be had
SKIP_POSTGRES_ENV = "SMS_TEST_SKIP_POSTGRES"


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL server binaries on this machine."""


def find_bindir() -> Path | None:
    """The directory holding initdb/pg_ctl, or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=_version_key, reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    for candidate in candidates:
        if all((candidate / name).is_file() for name in _NEEDED):
            return candidate
    return None


def postgres_disabled() -> bool:
    """Whether `SMS_TEST_SKIP_POSTGRES` asks to skip PostgreSQL tests."""
    return os.environ.get(SKIP_POSTGRES_ENV, "").strip().lower() in ("1", "true", "yes")


def server_for_tests() -> PostgresServer:
    """A (not yet started) server for a test: skipped if disabled, a clear failure if impossible."""
    import pytest

    if postgres_disabled():
        pytest.skip(f"PostgreSQL tests disabled by {SKIP_POSTGRES_ENV}=1")
    try:
        return PostgresServer()
    except PostgresUnavailable as exc:
        pytest.fail(f"{exc}. Set {SKIP_POSTGRES_ENV}=1 to skip the PostgreSQL tests.", pytrace=False)


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One private cluster in a temp dir, listening on 127.0.0.1 and a private unix socket."""

    def __init__(
        self,
        *,
        dbname: str = "sms_test",
        user: str = "postgres",
        password: str | None = None,
        bindir: str | Path | None = None,
        port: int | None = None,
    ) -> None:
        self.dbname = dbname
        self.user = user
        self.password = password or "pw-" + secrets.token_hex(8)
        self.port = port or 0
        found = Path(bindir) if bindir else find_bindir()
        if found is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config, "
                "/usr/lib/postgresql/*/bin or PATH; install them (Debian: apt-get install postgresql) "
                "or point SMS_TEST_POSTGRES_URL at a server"
            )
        self.bindir = found
        self.base: Path | None = None
        self._initialised = False
        self._running = False
        self._as_postgres = os.geteuid() == 0

    # -- paths --------------------------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        assert self.base is not None, "start() first"
        return self.base / "data"

    @property
    def sockdir(self) -> Path:
        assert self.base is not None, "start() first"
        return self.base / "sock"

    @property
    def logfile(self) -> Path:
        assert self.base is not None, "start() first"
        return self.base / "server.log"

    @property
    def url(self) -> str:
        """The TCP URL of the test database (with the superuser's password)."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"

    def url_for(self, dbname: str) -> str:
        """The URL of another database on this server."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def running(self) -> bool:
        return self._running

    # -- commands -----------------------------------------------------------------------------
    def _cmd(self, args: Sequence[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a server binary, as the `postgres` OS user when we are root."""
        argv = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            if shutil.which("runuser"):
                argv = ["runuser", "-u", "postgres", "--", *argv]
            else:
                argv = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if result.returncode != 0:
            log = ""
            if self.base is not None and self.logfile.exists():
                log = "\n--- server log ---\n" + self.logfile.read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}{log}"
            )
        return result

    def _prepare(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="sms-pg-"))  # under /tmp: short socket paths
        self.sockdir.mkdir()
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and initdb refuses root: a `postgres` OS user is needed"
                ) from None
            for path in (self.base, self.sockdir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._cmd(
            [
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )
        pwfile.unlink()
        self._initialised = True

    def start(self) -> str:
        """Initialise (first time), start, create the database; return the URL."""
        if self._running:
            return self.url
        if not self._initialised:
            self._prepare()
        fixed_port = bool(self.port)
        for attempt in range(3):
            if not fixed_port:
                self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                self._cmd(
                    ["pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60",
                     "-o", options, "start"]
                )  # fmt: skip
                break
            except RuntimeError:
                if fixed_port or attempt == 2:
                    raise
        self._running = True
        self._ensure_database(self.dbname)
        return self.url

    def _ensure_database(self, dbname: str) -> None:
        try:
            self.create_database(dbname)
        except RuntimeError as exc:
            if "already exists" not in str(exc):
                raise

    def create_database(self, dbname: str) -> str:
        """Create a database (over the private socket, as the superuser); return its URL."""
        self._cmd(["createdb", "-h", str(self.sockdir), "-p", str(self.port), "-U", self.user, dbname])
        return self.url_for(dbname)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`, or `immediate` to simulate a crash); the cluster is kept."""
        if not self._running:
            return
        self._cmd(["pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop"])
        self._running = False

    def cleanup(self) -> None:
        """Stop the server and delete its files."""
        try:
            self.stop()
        finally:
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)
                self.base = None
                self._initialised = False

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


if __name__ == "__main__":  # pragma: no cover - manual / CI helper
    import signal

    def _interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    with PostgresServer() as server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
