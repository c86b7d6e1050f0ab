"""Injected faults, set from Python and over HTTP."""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import urlsplit

import httpx
import pytest

from local.emulator import Emulator
from shared.errors import UnknownOutcomeError
from shared.models import Message
from shared.outbound import OutboundRequest
from shared.payloads import build_legacy_pull, build_legacy_send, build_v3_send, decode_json
from tests.emulator.wire import MOBILE, SIGN, Wire

APP = "1400009099"
CODE = Message(template_id="7839", params=("5678",), sign=SIGN)


def test_fail_answers_the_status_without_processing(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(fail_status=502, fail_count=2)
    request = wire.v3_request(build_v3_send([MOBILE], CODE, APP))

    failed = [wire.post(request) for _ in range(2)]
    recovered = wire.post(request)

    assert [r.status_code for r in failed] == [502, 502]
    assert failed[0].headers["content-type"].startswith("text/html")
    assert b"502 Bad Gateway" in failed[0].content
    assert recovered.status_code == 200
    assert emulator.accepted_count == 1
    assert emulator.stats()["requests"] == 3


def test_fail_count_without_status_means_503(wire: Wire, emulator: Emulator) -> None:
    assert emulator.set_faults(fail_count=1).fail_status == 503
    assert wire.post(wire.legacy_request(build_legacy_pull("receipts", 10))).status_code == 503


def test_drop_after_processing_records_the_message_but_never_answers(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(drop_count=1)
    request = wire.legacy_request(build_legacy_send([MOBILE], CODE))

    with pytest.raises(httpx.RemoteProtocolError):
        wire.post(request)
    assert emulator.accepted_count == 1
    assert wire.post(request).json()["result"] == 0  # the next one is answered (on a new connection)
    assert emulator.accepted_count == 2


def test_drop_before_processing_sends_nothing(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(drop_count=1, drop_after_processing=False)

    with pytest.raises(httpx.RemoteProtocolError):
        wire.post(wire.v3_request(build_v3_send([MOBILE], CODE, APP)))
    assert emulator.accepted_count == 0
    assert emulator.stats()["requests"] == 1


def test_malformed_answer_is_processed_but_not_json(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(malformed_count=1)
    call = build_v3_send([MOBILE], CODE, APP)

    response = wire.post(wire.v3_request(call))

    assert response.status_code == 200
    with pytest.raises(UnknownOutcomeError):  # what the client makes of it: the send may have happened
        decode_json(response.content, call)
    assert emulator.accepted_count == 1
    assert wire.post(wire.v3_request(call)).json()["Response"]["SendStatusSet"][0]["Code"] == "Ok"


def test_stall_hands_pulled_items_out_then_answers_too_late(wire: Wire, emulator: Emulator) -> None:
    wire.post(wire.legacy_request(build_legacy_send([MOBILE], CODE)))
    emulator.set_faults(stall_count=1, stall_ms=1500, operations=["pullstatus"])
    request = wire.legacy_request(build_legacy_pull("receipts", 10))

    with pytest.raises(httpx.ReadTimeout):  # the client gives up before the answer comes
        wire.http.post(request.url, headers=request.headers, content=request.content, timeout=0.3)
    after = wire.post(wire.legacy_request(build_legacy_pull("receipts", 10))).json()

    assert after["result"] == 0
    assert after["data"] == []
    assert emulator.faults.stall_count == 0


@pytest.mark.parametrize("body", [{"stall_count": -1}, {"stall_ms": -5}, {"stall_ms": True}])
def test_bad_stall_faults_are_refused(wire: Wire, emulator: Emulator, body: dict[str, object]) -> None:
    assert wire.http.post(emulator.url + "/_emulator/faults", json=body).status_code == 400


def test_operations_limit_which_requests_are_faulted(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(fail_status=503, fail_count=1, operations=["pullstatus", "PullSmsSendStatus"])
    send = wire.post(wire.legacy_request(build_legacy_send([MOBILE], CODE)))
    pull = wire.post(wire.legacy_request(build_legacy_pull("receipts", 10)))
    pull_again = wire.post(wire.legacy_request(build_legacy_pull("receipts", 10)))

    assert [send.status_code, pull.status_code, pull_again.status_code] == [200, 503, 200]


def test_latency_is_added(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(latency_ms=50)
    started = time.monotonic()
    response = wire.post(wire.legacy_request(build_legacy_pull("receipts", 10)))
    elapsed = time.monotonic() - started
    assert response.json()["result"] == 0
    assert elapsed >= 0.05  # a lower bound only: sleeping never takes less


def test_clear_faults(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(fail_count=5, latency_ms=10)
    emulator.clear_faults()
    assert wire.post(wire.legacy_request(build_legacy_pull("receipts", 10))).status_code == 200
    assert emulator.faults.fail_count == 0


def test_faults_over_http(wire: Wire, emulator: Emulator) -> None:
    url = emulator.url + "/_emulator/faults"
    set_answer = wire.http.post(url, json={"fail_status": 502, "fail_count": 1, "operations": ["SendSms"]})
    current = wire.http.get(url).json()["faults"]
    failed = wire.post(wire.v3_request(build_v3_send([MOBILE], CODE, APP)))
    wire.http.post(url, json={"fail_count": 3})
    cleared = wire.http.delete(url).json()["faults"]

    assert set_answer.status_code == 200
    assert current == {
        "latency_ms": 0.0,
        "fail_status": 502,
        "fail_count": 1,
        "drop_count": 0,
        "drop_after_processing": True,
        "malformed_count": 0,
        "operations": ["SendSms"],
        "stall_count": 0,
        "stall_ms": 0.0,
    }
    assert failed.status_code == 502
    assert cleared["fail_count"] == 0
    assert wire.post(wire.v3_request(build_v3_send([MOBILE], CODE, APP))).status_code == 200


@pytest.mark.parametrize("body", [{"explode": True}, {"fail_count": -1}, {"operations": "SendSms"}, [1]])
def test_bad_faults_over_http_are_400(wire: Wire, emulator: Emulator, body: object) -> None:
    response = wire.http.post(emulator.url + "/_emulator/faults", json=body)
    assert response.status_code == 400
    assert "error" in response.json()


def test_inspection_routes_are_never_faulted(wire: Wire, emulator: Emulator) -> None:
    emulator.set_faults(fail_count=1)
    assert wire.http.get(emulator.url + "/_emulator/stats").status_code == 200
    assert emulator.faults.fail_count == 1


def _hang_up(emulator: Emulator, data: bytes) -> None:
    """Send `data` on a connection of its own, then drop it with a reset (no orderly close), as a
    client that gave up does; return once the emulator has finished with the connection."""
    with socket.create_connection((emulator.host, emulator.port)) as sock:
        sock.sendall(data)
        time.sleep(0.05)  # the emulator is reading it, or already waiting out its fault
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server = emulator._server
    assert server is not None
    deadline = time.monotonic() + 10
    while server._open and time.monotonic() < deadline:  # the handler's thread lets go of it
        time.sleep(0.01)
    assert not server._open


def _raw(request: OutboundRequest) -> bytes:
    split = urlsplit(request.url)
    head = [f"POST {split.path}{'?' + split.query if split.query else ''} HTTP/1.1", f"Host: {split.netloc}"]
    head += [f"{name}: {value}" for name, value in request.headers.items()]
    head.append(f"Content-Length: {len(request.content)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + request.content


@pytest.mark.parametrize("when", ["before the answer", "in the middle of the request"])
def test_a_client_hanging_up_is_no_failure_of_the_emulator(
    wire: Wire, emulator: Emulator, capfd: pytest.CaptureFixture[str], when: str
) -> None:
    """A client that resets its connection, while its answer is held back or while it is still
    sending the request, leaves nothing on the emulator's stderr (which reports the emulator's own
    failures) and the emulator goes on serving."""
    request = _raw(wire.legacy_request(build_legacy_pull("receipts", 10)))
    if when == "before the answer":
        emulator.set_faults(stall_count=1, stall_ms=300, operations=["pullstatus"])
        _hang_up(emulator, request)
    else:
        _hang_up(emulator, request[: len(request) // 3])

    assert "Traceback" not in capfd.readouterr().err
    assert wire.post(wire.legacy_request(build_legacy_pull("receipts", 10))).json()["result"] == 0
