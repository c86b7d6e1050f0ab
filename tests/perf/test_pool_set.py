"""`PoolSet`: several small httpcore pools behind one httpx client."""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from local.emulator import Emulator
from shared.transport import PoolSet, _no_trust_context, _tls_context


def get(client: httpx.Client, url: str) -> int:
    return client.get(f"{url}/_emulator/stats").status_code


def test_sequential_requests_stay_on_one_connection_of_the_first_pool(sms_emulator: Emulator) -> None:
    pools = PoolSet(max_connections=8, pool_size=2)
    with httpx.Client(transport=pools) as client:
        before = sms_emulator.connections
        assert [get(client, sms_emulator.url) for _ in range(5)] == [200] * 5
        assert sms_emulator.connections - before == 1
        assert [p is not None for p in pools._pools["http"]] == [True, False, False, False]
        assert pools._busy["http"] == [0, 0, 0, 0]


def test_concurrent_requests_spread_over_pools_and_are_released(sms_emulator: Emulator) -> None:
    pools = PoolSet(max_connections=6, pool_size=2)
    assert pools.pool_count == 3

    sms_emulator.set_faults(latency_ms=200)
    with httpx.Client(transport=pools) as client:
        before = sms_emulator.connections
        request = httpx.Request("POST", f"{sms_emulator.url}/", content=b"{}")
        with ThreadPoolExecutor(6) as workers:
            statuses = list(workers.map(lambda _: client.send(request).status_code, range(6)))
        assert statuses == [200] * 6
        assert sms_emulator.connections - before == 6
        assert all(p is not None for p in pools._pools["http"])
        assert pools._busy["http"] == [0, 0, 0]


def test_a_failed_request_gives_its_slot_back() -> None:
    pools = PoolSet(max_connections=2, pool_size=1)
    with httpx.Client(transport=pools) as client, pytest.raises(httpx.ConnectError):
        client.get("http://127.0.0.1:9/")
    assert pools._busy["http"] == [0, 0]


def test_tls_contexts() -> None:
    plain = _no_trust_context()  # for http pools: verifies, and trusts nothing
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.get_ca_certs() == []
    verifying = _tls_context()  # for https pools: the CA bundle, made once
    assert verifying is _tls_context()
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    assert verifying.cert_store_stats()["x509_ca"] > 0


def test_a_closed_pool_set_refuses_requests(sms_emulator: Emulator) -> None:
    pools = PoolSet(max_connections=2, pool_size=2)
    client = httpx.Client(transport=pools)
    assert get(client, sms_emulator.url) == 200
    client.close()
    with pytest.raises(RuntimeError):
        pools.handle_request(httpx.Request("GET", sms_emulator.url))
