"""`PoolSet`: several small httpcore pools behind one `handle_request`."""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor

import httpcore
import pytest

from local.emulator import Emulator
from shared.transport import PoolSet, _no_trust_context, _tls_context


def call(pools: PoolSet, method: str, url: str, content: bytes = b"") -> int:
    """One request through the pool set, its body read and closed; the HTTP status."""
    target = httpcore.URL(url)
    host = b"%b:%d" % (target.host, target.port or 80)
    headers = [(b"Host", host), (b"Content-Length", b"%d" % len(content))]
    response = pools.handle_request(httpcore.Request(method, target, headers=headers, content=content))
    try:
        response.read()
    finally:
        response.close()
    return response.status


def get(pools: PoolSet, url: str) -> int:
    return call(pools, "GET", f"{url}/_emulator/stats")


def test_sequential_requests_stay_on_one_connection_of_the_first_pool(sms_emulator: Emulator) -> None:
    pools = PoolSet(max_connections=8, pool_size=2)
    before = sms_emulator.connections
    assert [get(pools, sms_emulator.url) for _ in range(5)] == [200] * 5
    assert sms_emulator.connections - before == 1
    assert pools.slots(b"http") == [(True, 0), (False, 0), (False, 0), (False, 0)]
    pools.close()


def test_concurrent_requests_spread_over_pools_and_are_released(sms_emulator: Emulator) -> None:
    pools = PoolSet(max_connections=6, pool_size=2)
    assert pools.pool_count == 3

    sms_emulator.set_faults(latency_ms=200)
    before = sms_emulator.connections
    with ThreadPoolExecutor(6) as workers:
        statuses = list(workers.map(lambda _: call(pools, "POST", f"{sms_emulator.url}/", b"{}"), range(6)))
    assert statuses == [200] * 6
    assert sms_emulator.connections - before == 6
    assert pools.slots(b"http") == [(True, 0)] * 3
    pools.close()


def test_a_failed_request_gives_its_slot_back() -> None:
    pools = PoolSet(max_connections=2, pool_size=1)
    with pytest.raises(httpcore.ConnectError):
        get(pools, "http://127.0.0.1:9")
    assert [busy for _, busy in pools.slots(b"http")] == [0, 0]


def test_tls_contexts() -> None:
    plain = _no_trust_context()  # for http pools: verifies, and trusts nothing
    assert plain.verify_mode == ssl.CERT_REQUIRED
    assert plain.check_hostname
    assert plain.get_ca_certs() == []
    verifying = _tls_context()  # for https pools: the CA bundle, made once
    assert verifying is _tls_context()
    assert verifying.verify_mode == ssl.CERT_REQUIRED
    assert verifying.check_hostname
    assert verifying.cert_store_stats()["x509_ca"] > 0


def test_a_closed_pool_set_refuses_requests(sms_emulator: Emulator) -> None:
    pools = PoolSet(max_connections=2, pool_size=2)
    assert get(pools, sms_emulator.url) == 200
    pools.close()
    with pytest.raises(RuntimeError):
        get(pools, sms_emulator.url)
