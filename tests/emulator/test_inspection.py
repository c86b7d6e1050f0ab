"""Inspection routes and the Python inspection API; connection reuse; concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from local.emulator import Catalogue, Emulator
from shared.models import Message
from shared.payloads import build_legacy_send, build_v3_pull, build_v3_send
from tests.emulator.wire import MOBILE, MOBILE_2, SIGN, Wire, v3_send_call

APP = "1400009099"
CODE = Message(template_id="7839", params=("5678",), sign=SIGN)


def test_messages_newest_first_with_rendered_text(wire: Wire, emulator: Emulator) -> None:
    wire.legacy(build_legacy_send([MOBILE], CODE))
    wire.v3(build_v3_send([MOBILE_2], CODE, APP))
    wire.v3(v3_send_call([MOBILE], template_id="7840", params=("4321", "10")))

    messages = wire.http.get(emulator.url + "/_emulator/messages").json()["messages"]

    assert [(m["phone"], m["protocol"]) for m in messages] == [
        (MOBILE, "v3"),
        (MOBILE_2, "v3"),
        (MOBILE, "legacy"),
    ]
    assert messages[0]["text"] == "【腾讯云】您的验证码是4321，10分钟内有效。"
    assert messages[0]["receipt"]["report_status"] == "SUCCESS"
    assert [m.phone for m in emulator.messages()] == [m["phone"] for m in messages]


@pytest.mark.parametrize("query", ["phone=+8613800138000", "phone=%2B8613800138000", "phone=13800138000"])
def test_messages_filter_by_phone(wire: Wire, emulator: Emulator, query: str) -> None:
    wire.v3(build_v3_send([MOBILE, MOBILE_2], CODE, APP))
    messages = wire.http.get(f"{emulator.url}/_emulator/messages?{query}").json()["messages"]
    assert [m["phone"] for m in messages] == [MOBILE]


def test_messages_filter_by_phone_from_python(wire: Wire, emulator: Emulator) -> None:
    wire.v3(build_v3_send([MOBILE, MOBILE_2], CODE, APP))
    assert [m.phone for m in emulator.messages(MOBILE_2)] == [MOBILE_2]
    assert [m.phone for m in emulator.messages("13800138001")] == [MOBILE_2]
    assert emulator.messages("+8613900000000") == []


def test_pending_receipt_is_null(catalogue: Catalogue, http: httpx.Client) -> None:
    with Emulator(catalogue, receipt_delay=3600) as emulator:
        Wire(emulator, http).v3(build_v3_send([MOBILE], CODE, APP))
        [message] = http.get(emulator.url + "/_emulator/messages").json()["messages"]
        assert emulator.receipt_of(message["message_id"]) is None
    assert message["receipt"] is None


def test_stats(wire: Wire, emulator: Emulator) -> None:
    wire.v3(build_v3_send([MOBILE, MOBILE_2], CODE, APP))
    wire.v3(build_v3_send([MOBILE], CODE, APP), secret_key="wrong")
    wire.v3(v3_send_call([MOBILE, "+86123"]))

    stats = wire.http.get(emulator.url + "/_emulator/stats").json()

    assert stats == {"accepted": 3, "requests": 3, "connections": 1, "rejected": 2}
    assert emulator.stats() == stats


def test_replies_over_http(wire: Wire, emulator: Emulator) -> None:
    answer = wire.http.post(
        emulator.url + "/_emulator/replies", json={"phone": MOBILE, "text": "TD", "extend": "5"}
    )
    pulled = wire.v3(build_v3_pull("replies", 10, APP))["PullSmsReplyStatusSet"]

    assert answer.status_code == 200
    assert answer.json()["reply"]["phone"] == MOBILE
    assert [(r["ReplyContent"], r["SignName"], r["ExtendCode"]) for r in pulled] == [("TD", SIGN, "5")]


@pytest.mark.parametrize("body", [{"phone": "+86123", "text": "x"}, {"phone": MOBILE}, {}])
def test_bad_replies_are_400(wire: Wire, emulator: Emulator, body: dict[str, str]) -> None:
    assert wire.http.post(emulator.url + "/_emulator/replies", json=body).status_code == 400


def test_reset_forgets_everything(wire: Wire, emulator: Emulator) -> None:
    wire.v3(build_v3_send([MOBILE], CODE, APP))
    emulator.inject_reply(MOBILE, "hi")

    assert wire.http.post(emulator.url + "/_emulator/reset").json() == {"reset": True}
    assert emulator.messages() == []
    assert emulator.requests == []
    assert wire.v3(build_v3_pull("receipts", 10, APP))["PullSmsSendStatusSet"] == []
    assert wire.v3(build_v3_pull("replies", 10, APP))["PullSmsReplyStatusSet"] == []
    assert emulator.stats() == {"accepted": 0, "requests": 2, "connections": 0, "rejected": 0}


def test_message_ids_stay_unique_across_resets_and_instances(wire: Wire, emulator: Emulator) -> None:
    first = wire.v3(build_v3_send([MOBILE], CODE, APP))["SendStatusSet"][0]["SerialNo"]
    emulator.reset()
    second = wire.v3(build_v3_send([MOBILE], CODE, APP))["SendStatusSet"][0]["SerialNo"]
    with Emulator(emulator.catalogue) as other:
        third = Wire(other, wire.http).v3(build_v3_send([MOBILE], CODE, APP))["SendStatusSet"][0]["SerialNo"]
    assert len({first, second, third}) == 3


def test_requests_are_recorded(wire: Wire, emulator: Emulator) -> None:
    wire.legacy(build_legacy_send([MOBILE], CODE))
    wire.v3(build_v3_send([MOBILE], CODE, APP))

    legacy, v3 = emulator.requests
    assert (legacy.protocol, legacy.operation, legacy.method) == ("legacy", "sendsms", "POST")
    assert legacy.path.startswith("/v5/tlssmssvr/sendsms?sdkappid=1400009099&random=")
    assert (v3.protocol, v3.operation) == ("v3", "SendSms")
    assert v3.headers["x-tc-action"] == "SendSms"
    assert v3.headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=")
    assert b'"PhoneNumberSet"' in v3.body


def test_keep_alive_reuses_one_connection(emulator: Emulator) -> None:
    with httpx.Client(trust_env=False) as client:
        wire = Wire(emulator, client)
        for _ in range(10):
            wire.v3(build_v3_send([MOBILE], CODE, APP))
    assert emulator.connections == 1
    assert emulator.accepted_count == 10


def test_connection_close_is_honoured(wire: Wire, emulator: Emulator) -> None:
    for _ in range(3):
        request = wire.v3_request(build_v3_pull("receipts", 10, APP))
        response = wire.http.post(
            request.url, headers={**request.headers, "Connection": "close"}, content=request.content
        )
        assert response.headers["connection"] == "close"
    assert emulator.connections == 3


def test_concurrent_sends_are_all_recorded_with_unique_ids(emulator: Emulator) -> None:
    def send(index: int) -> list[str]:
        with httpx.Client(trust_env=False) as client:
            wire = Wire(emulator, client)
            numbers = [f"+86138{index:02d}{i:06d}" for i in range(25)]
            return [s["SerialNo"] for s in wire.v3(v3_send_call(numbers))["SendStatusSet"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        serials = [s for batch in pool.map(send, range(8)) for s in batch]

    assert len(set(serials)) == 200
    assert emulator.accepted_count == 200
    assert emulator.connections == 8


def test_unknown_routes(wire: Wire, emulator: Emulator) -> None:
    assert wire.http.get(emulator.url + "/nope").status_code == 404
    assert wire.http.get(emulator.url + "/_emulator/nope").status_code == 404
    assert wire.http.get(emulator.url + "/v5/tlssmssvr/sendsms").status_code == 405
    assert wire.http.get(emulator.url + "/").json()["service"] == "Tencent Cloud SMS emulator"


def test_stop_closes_idle_keep_alive_connections(catalogue: Catalogue) -> None:
    emulator = Emulator(catalogue).start()
    with httpx.Client(trust_env=False) as client:
        assert client.get(emulator.url + "/_emulator/stats").status_code == 200
        emulator.stop()
        with pytest.raises(httpx.TransportError):
            client.get(emulator.url + "/_emulator/stats")


def test_start_twice_is_refused(emulator: Emulator) -> None:
    with pytest.raises(RuntimeError):
        emulator.start()
