"""Fixtures of the otp suite: a function environment with an OTP secret, an injectable clock, a
store on SQLite or PostgreSQL, and a leak guard that fails any test whose logs or stdout carry a
code or an unmasked phone number."""

from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.emulator import Emulator
from tests.otp.helpers import code_in

OTP_SECRET = "test-otp-secret-5b2e8c1f9a7d4e60"
_numbers = itertools.count(random.randrange(10_000_000, 80_000_000))


class Leaks:
    """The codes and numbers a test used; none may appear in what it logged or printed."""

    def __init__(self) -> None:
        self.codes: set[str] = set()
        self.phones: set[str] = set()
        self.files: list[Path] = []

    def new_phone(self) -> str:
        """A mainland number no other test of this session uses."""
        phone = f"+86139{next(_numbers):08d}"
        self.phones.add(phone)
        return phone

    def code_from(self, emulator: Emulator, phone: str) -> str:
        """The code in the newest SMS the emulator accepted for `phone`, as its owner would read it."""
        messages = emulator.messages(phone)
        assert messages, f"no SMS for {phone}"
        return self.remember(code_in(messages[0].text))

    def remember(self, code: str) -> str:
        self.codes.add(code)
        return code

    def find(self, text: str) -> list[str]:
        """Codes (as standalone numbers) and unmasked numbers found in `text`."""
        found = [code for code in self.codes if re.search(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])", text)]
        for phone in self.phones:
            national = phone[3:]
            found += [form for form in (phone.lstrip("+"), national) if form in text]
        return found


@pytest.fixture(autouse=True)
def leaks(captured_logs: Any, capsys: pytest.CaptureFixture[str]) -> Iterator[Leaks]:
    """Every log line and all stdout/stderr of the test, checked for codes and numbers afterwards."""
    guard = Leaks()
    yield guard
    out, err = capsys.readouterr()
    texts = {"logs": captured_logs.getvalue(), "stdout": out, "stderr": err}
    texts.update({str(path): path.read_text(encoding="utf-8") for path in guard.files if path.exists()})
    for where, text in texts.items():
        leaked = guard.find(text)
        assert not leaked, f"{where} leaks {leaked}"


@pytest.fixture
def otp_env(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A function environment (emulator, SQLite store, API key) with an OTP secret."""
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_OTP_SECRET", OTP_SECRET)
    runtime.reset()
    return {**function_env, "SMS_OTP_SECRET": OTP_SECRET}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_env(
    request: pytest.FixtureRequest, otp_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """`otp_env` on each store: SQLite, and a fresh PostgreSQL database (`SMS_STORE_URL`)."""
    from shared.runtime import runtime

    url = otp_env["SMS_STORE_URL"]
    if request.param == "postgres":
        url = request.getfixturevalue("fresh_postgres_url")
        monkeypatch.setenv("SMS_STORE_URL", url)
        runtime.reset()
    return {**otp_env, "SMS_STORE_URL": url}


class Clock:
    """A settable wall clock for the container's `Services`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The container's `Services` read their time from this clock (starting at the real time)."""
    import time

    from shared.runtime import runtime

    fake = Clock(float(int(time.time())))
    monkeypatch.setattr(runtime, "clock", fake)
    runtime.reset()
    return fake


class ContainerStores:
    """One store connection per thread: each thread acts as its own warm container."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def _store(self) -> Any:
        store = getattr(self._local, "store", None)
        if store is None:
            from shared.store import open_store

            store = self._local.store = open_store(self._url)
            with self._lock:
                self._opened.append(store)
        return store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store(), name)

    def close(self) -> None:
        for store in self._opened:
            store.close()


@pytest.fixture
def containers(backend_env: dict[str, str]) -> Iterator[None]:
    """Make the container's store a connection per thread, as many containers sharing one database."""
    from shared.runtime import runtime
    from shared.services import Services

    stores = ContainerStores(backend_env["SMS_STORE_URL"])
    runtime.install(Services(runtime.services.settings, store=stores, clock=runtime.clock))  # type: ignore[arg-type]
    yield
    runtime.reset()
    stores.close()
