"""The local gateway's HTTP, spoken to over raw loopback sockets: framing tricks, lying or malformed
`Content-Length`, stalled clients, the `Server` header and the local queue route."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.emulator import Emulator
from local.gateway import QUEUE_PATH, SERVER_NAME, Gateway
from tests.conftest import API_KEY
from tests.helpers import wait_for

PHONE = "+8613800000000"
SEND_BODY = json.dumps({"phone": PHONE, "template_id": "7839", "params": ["5678"]})


@pytest.fixture
def gateway(function_env: dict[str, str]) -> Iterator[Gateway]:  # noqa: ARG001 - a fixture this one needs for its side effect
    started = Gateway(port=0).start()
    try:
        yield started
    finally:
        started.stop()


def connect(gateway: Gateway, timeout: float = 20) -> socket.socket:
    host, port = gateway.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def exchange(gateway: Gateway, raw: bytes) -> bytes:
    """Send `raw`, read until the server closes the connection."""
    with connect(gateway) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def responses(raw: bytes) -> list[tuple[int, dict[str, str], Any]]:
    """The HTTP/1.1 responses in `raw` (each with a Content-Length), parsed."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        body, raw = rest[:length], rest[length:]
        found.append((int(lines[0].split()[1]), headers, json.loads(body) if body else None))
    return found


def request(method: str, path: str, body: str = "", *, extra: str = "", close: bool = False) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {API_KEY}\r\n"
    head += "Content-Type: application/json\r\n" + extra
    head += "Connection: close\r\n" if close else ""
    return (head + f"Content-Length: {len(body.encode())}\r\n\r\n" + body).encode()


def smuggled_send() -> bytes:
    return request("POST", "/sms/send", SEND_BODY)


def test_a_chunked_body_is_a_body_not_a_second_request(gateway: Gateway, sms_emulator: Emulator) -> None:
    inner = smuggled_send()
    chunked = (
        b"POST /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(inner):x}\r\n".encode()
        + inner
        + b"\r\n0\r\n\r\n"
    )
    answers = responses(exchange(gateway, chunked + request("GET", "/openapi.json", close=True)))
    assert [status for status, _, _ in answers] == [404, 200]  # POST /openapi.json has no route
    assert answers[0][2]["error"]["code"] == "no_route"
    assert sms_emulator.accepted_count == 0


def test_a_request_disguised_as_a_chunked_body_is_refused(gateway: Gateway, sms_emulator: Emulator) -> None:
    raw = b"POST /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    [(status, headers, body)] = responses(exchange(gateway, raw + smuggled_send()))
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body["error"]["code"] == "malformed_request"
    assert sms_emulator.accepted_count == 0


@pytest.mark.parametrize("length", ["13800000000x", "-1", "1e3", " 12 ab"])
def test_a_bad_content_length_is_a_400_that_quotes_nothing(
    gateway: Gateway, sms_emulator: Emulator, capfd: pytest.CaptureFixture[str], length: str
) -> None:
    raw = f"POST /sms/send HTTP/1.1\r\nHost: x\r\nX-Api-Key: {API_KEY}\r\nContent-Length: {length}\r\n\r\n"
    [(status, _headers, body)] = responses(exchange(gateway, raw.encode() + SEND_BODY.encode()))
    assert status == 400
    assert body["error"]["code"] == "malformed_request"
    assert set(body["error"]) == {"code", "message"}
    assert length.strip() not in body["error"]["message"]
    out, err = capfd.readouterr()
    assert "13800000000" not in out + err
    assert "Traceback" not in err
    assert sms_emulator.accepted_count == 0
    assert httpx.get(f"{gateway.url}/openapi.json").status_code == 200


def test_malformed_request_lines_and_headers_get_the_error_shape(gateway: Gateway) -> None:
    for raw in (
        b"GARBAGE\r\n\r\n",
        b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nBroken header +8613800000000\r\n\r\n",
        b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    ):
        [(status, headers, body)] = responses(exchange(gateway, raw))
        assert 400 <= status < 500
        assert headers["content-type"] == "application/json"
        assert "13800000000" not in json.dumps(body)
        assert body["error"]["code"]


@pytest.mark.usefixtures("function_env")
def test_stalled_clients_hold_no_thread_and_are_closed() -> None:
    gateway = Gateway(port=0, channel_timeout=2, connection_limit=40).start()
    try:
        threads_before = threading.active_count()
        stalled = []
        for _ in range(60):  # a body shorter than its Content-Length, sent by more clients than allowed
            sock = connect(gateway)
            sock.sendall(b"POST /sms/send HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
            stalled.append(sock)
        assert httpx.get(f"{gateway.url}/openapi.json", timeout=30).status_code == 200  # still serving
        assert gateway.connections <= 40
        assert threading.active_count() <= threads_before + 8  # the fixed pool of worker threads at most

        def all_closed() -> bool:
            for sock in stalled:
                sock.settimeout(0.05)
                try:
                    if sock.recv(65536) != b"":
                        return False  # an answer would be wrong: the body never came
                except TimeoutError:
                    return False
                except OSError:
                    pass  # reset: closed as well
            return True

        wait_for(all_closed, timeout=60, interval=0.2)
    finally:
        for sock in stalled:
            sock.close()
        gateway.stop()


def test_the_server_header_names_no_version(gateway: Gateway) -> None:
    answer = httpx.get(f"{gateway.url}/openapi.json")
    assert answer.headers["server"] == SERVER_NAME
    assert "python" not in answer.headers["server"].lower()


def test_a_well_formed_request_is_answered_as_before(gateway: Gateway, sms_emulator: Emulator) -> None:
    sent = httpx.post(f"{gateway.url}/sms/send", content=SEND_BODY, headers={"X-Api-Key": API_KEY})
    assert sent.status_code == 200
    assert sent.headers["content-type"] == "application/json"
    message_id = sent.json()["message_id"]
    status = httpx.get(
        f"{gateway.url}/sms/messages/{message_id.replace(':', '%3A')}", headers={"X-Api-Key": API_KEY}
    )
    assert status.status_code == 200
    assert status.json()["message_id"] == message_id
    assert httpx.get(f"{gateway.url}/nowhere").json()["error"]["code"] == "no_route"
    assert sms_emulator.accepted_count == 1


def queue_body(phone: str = PHONE) -> dict[str, Any]:
    chunk = {"phones": [phone], "template_id": "7839", "params": ["1"], "batch_id": "b1", "chunk": 0}
    return {"records": [{"messageId": "b1-0", "body": json.dumps(chunk)}]}


def test_the_queue_needs_an_api_key(gateway: Gateway, sms_emulator: Emulator) -> None:
    for headers in ({}, {"X-Api-Key": "wrong"}):
        answer = httpx.post(f"{gateway.url}{QUEUE_PATH}", json=queue_body(), headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
    forged = httpx.post(f"{gateway.url}{QUEUE_PATH}?token=guess", json=queue_body())
    assert forged.status_code == 401
    assert gateway.queue_idle()
    assert sms_emulator.accepted_count == 0
    good = httpx.post(f"{gateway.url}{QUEUE_PATH}", json=queue_body(), headers={"X-Api-Key": API_KEY})
    assert good.status_code == 200
    assert good.json() == {"queued": 1}
    wait_for(lambda: sms_emulator.accepted_count == 1 and gateway.queue_idle())


@pytest.mark.usefixtures("function_env", "sms_emulator")
def test_the_queue_goes_through_the_send_multi_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("SMS_LIMIT_PER_CALLER", "2/1h")
    runtime.reset()
    gateway = Gateway(port=0).start()
    try:
        url, key = f"{gateway.url}{QUEUE_PATH}", {"X-Api-Key": API_KEY}
        assert [httpx.post(url, json=queue_body(), headers=key).status_code for _ in range(2)] == [200, 200]
        refused = httpx.post(url, json=queue_body(), headers=key)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert "multi:caller" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"]
        multi = httpx.post(
            f"{gateway.url}/sms/send-multi", json={"phones": [PHONE], "template_id": "7839", "params": ["1"]},
            headers=key,
        )  # fmt: skip
        assert multi.status_code == 429  # one budget for both ways in
    finally:
        gateway.stop()


def test_a_malformed_queue_body_is_a_400_without_traceback(
    gateway: Gateway, capfd: pytest.CaptureFixture[str]
) -> None:
    url, key = f"{gateway.url}{QUEUE_PATH}", {"X-Api-Key": API_KEY}
    for body in (b"not json +8613800000000", b"{}", b'{"records": [{"messageId": 1}]}', b"[1]", b"\xff"):
        answer = httpx.post(url, content=body, headers=key)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] in ("invalid_json", "invalid_body")
    assert httpx.get(url, headers=key).status_code == 400
    _, err = capfd.readouterr()
    assert "Traceback" not in err
    assert "13800000000" not in err
    assert gateway.queue_idle()


def test_the_gateways_own_fan_out_reaches_the_queue(gateway: Gateway, sms_emulator: Emulator) -> None:
    answer = httpx.post(gateway.queue_url.removeprefix("local+"), json=queue_body())
    assert answer.status_code == 200
    wait_for(lambda: sms_emulator.accepted_count == 1 and gateway.queue_idle())


def test_stopping_while_the_serve_loop_meets_a_closed_socket_is_quiet(
    function_env: dict[str, str],  # noqa: ARG001 - a fixture this test needs for its side effect
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`stop` closes the sockets under waitress's `select`, which may then raise EBADF: once
    stopping, that ends the serve thread quietly; before, it is the thread's failure."""
    import errno
    import select
    import types

    from waitress import wasyncore

    def closed_under_it(*args: Any) -> Any:
        raise OSError(errno.EBADF, "Bad file descriptor")

    failures: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    for stopping in (True, False):
        gateway = Gateway(port=0).start()
        serve = next(t for t in gateway._threads if t.name == "gateway")
        if stopping:
            gateway._stop.set()  # what `stop` does first
        with monkeypatch.context() as patch:  # the race: a descriptor closed as `select` is called
            shim = types.SimpleNamespace(select=closed_under_it, error=select.error)
            patch.setattr(wasyncore, "select", shim)
            serve.join(timeout=10)
        assert not serve.is_alive()
        gateway.stop()
        assert [type(error) for error in failures] == ([] if stopping else [OSError])
