"""Fixtures: a running emulator on loopback (default catalogue, credentials not from the
environment) and an httpx client that never uses a proxy."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.emulator import Catalogue, Emulator
from tests.emulator.wire import FakeClock, Wire


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue.default(env={})


@pytest.fixture
def emulator(catalogue: Catalogue) -> Iterator[Emulator]:
    with Emulator(catalogue) as running:
        yield running


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One client for the session (creating one costs ~0.1 s); it never reads proxy settings."""
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        yield client


@pytest.fixture
def wire(emulator: Emulator, http: httpx.Client) -> Wire:
    return Wire(emulator, http)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed(catalogue: Catalogue, clock: FakeClock, http: httpx.Client) -> Iterator[Wire]:
    """An emulator on a fake clock whose receipts come due 60 s after sending."""
    with Emulator(catalogue, clock=clock, receipt_delay=60) as running:
        yield Wire(running, http)
