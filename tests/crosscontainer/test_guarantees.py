"""Every guarantee that lives in the store, held across containers: each function runs in its own
OS processes with its own temp dir, and the processes share nothing but the store's URL (and the
deployment's settings and the emulator, as deployed containers share Tencent)."""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

import pytest

from local.emulator import Emulator
from shared.store import open_store
from tests.crosscontainer.conftest import StartContainer
from tests.crosscontainer.events import http_event, receipt_callback_event, scheduled_pull_event, send_event
from tests.helpers import push_of
from tests.otp.helpers import answer_of, code_in, wrong


def answers(futures: list[Future[Any]]) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
    return [answer_of(f.result(timeout=120)) for f in futures]


def test_twenty_concurrent_sends_to_one_number_over_two_containers_send_one_sms(
    shared_store_url: str, start_container: StartContainer, sms_emulator: Emulator
) -> None:
    """The per-number limit (default 1 per 30 s) holds however the sends are spread."""
    phone = "+8613800000001"
    first = start_container("send_single", shared_store_url, concurrency=10)
    second = start_container("send_single", shared_store_url, concurrency=10)
    first.invoke(http_event("GET", "/openapi.json"))  # both warm (imported, store open) before the race
    second.invoke(http_event("GET", "/openapi.json"))
    futures = [(first if i % 2 else second).submit(send_event(phone)) for i in range(20)]
    results = answers(futures)
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] + [429] * 19, [(s, b) for s, b, _ in results if s != 429]
    assert {b["error"]["code"] for s, b, _ in results if s == 429} == {"rate_limited"}
    assert len(sms_emulator.messages(phone)) == 1


def test_one_idempotency_key_in_two_containers_sends_once(
    shared_store_url: str, start_container: StartContainer, sms_emulator: Emulator
) -> None:
    phone = "+8613800000002"
    containers = [start_container("send_single", shared_store_url, concurrency=4) for _ in range(2)]
    for container in containers:
        container.invoke(http_event("GET", "/openapi.json"))
    event = send_event(phone, idempotency_key="order-20261127-0002")
    results = answers([containers[i % 2].submit(event) for i in range(8)])
    sent = [
        body for status, body, headers in results if status == 200 and "idempotent-replayed" not in headers
    ]
    assert len(sent) == 1, results
    for status, body, _ in results:
        if status == 200:  # the replay answers exactly what the send answered
            assert body == sent[0]
        else:
            assert status == 409, (status, body)
            assert body["error"]["code"] == "idempotency_in_progress", (status, body)
    assert len(sms_emulator.messages(phone)) == 1
    # once settled, a retry in either container is a replay of that one send
    for container in containers:
        status, body, headers = answer_of(container.invoke(event))
        assert (status, body, headers.get("idempotent-replayed")) == (200, sent[0], "true")
    assert len(sms_emulator.messages(phone)) == 1


def test_a_code_sent_by_one_otp_container_is_verified_by_another_and_locks_across_both(
    shared_store_url: str, start_container: StartContainer, sms_emulator: Emulator
) -> None:
    sender = start_container("otp", shared_store_url)
    verifier = start_container("otp", shared_store_url)

    phone = "+8613800000003"
    status, sent, _ = answer_of(
        sender.invoke(http_event("POST", "/otp/send", {"phone": phone, "purpose": "login"}))
    )
    assert status == 200, sent
    code = code_in(sms_emulator.messages(phone)[0].text)
    request = {"phone": phone, "code": code, "purpose": "login"}
    status, verified, _ = answer_of(verifier.invoke(http_event("POST", "/otp/verify", request)))
    assert (status, verified) == (200, {"verified": True, "id": sent["id"], "phone": phone})
    status, again, _ = answer_of(
        sender.invoke(http_event("POST", "/otp/verify", {**request, "id": sent["id"]}))
    )
    assert (status, again["error"]["code"]) == (409, "otp_used")  # used once, in any container

    phone = "+8613800000004"
    status, sent, _ = answer_of(sender.invoke(http_event("POST", "/otp/send", {"phone": phone})))
    assert status == 200, sent
    code = code_in(sms_emulator.messages(phone)[0].text)
    bad = http_event("POST", "/otp/verify", {"phone": phone, "code": wrong(code), "id": sent["id"]})
    tries = [answer_of((sender, verifier)[i % 2].invoke(bad)) for i in range(5)]  # alternating
    assert [status for status, _, _ in tries] == [400, 400, 400, 400, 423]
    assert [body["error"]["attempts_left"] for _, body, _ in tries] == [4, 3, 2, 1, 0]
    right = http_event("POST", "/otp/verify", {"phone": phone, "code": code, "id": sent["id"]})
    for container in (sender, verifier):
        status, body, _ = answer_of(container.invoke(right))
        assert (status, body["error"]["code"]) == (423, "otp_locked")


@pytest.mark.usefixtures("sms_emulator")
def test_a_message_reads_delivered_on_pull_status_after_another_containers_scheduled_pull(
    shared_store_url: str, start_container: StartContainer
) -> None:
    sender = start_container("send_single", shared_store_url)
    reader = start_container("pull_status", shared_store_url)
    scheduled = start_container("pull_status", shared_store_url)

    status, sent, _ = answer_of(sender.invoke(send_event("+8613800000005")))
    assert status == 200, sent
    message_id = sent["message_id"]
    status_request = http_event("GET", f"/sms/messages/{message_id}")
    status, before, _ = answer_of(reader.invoke(status_request))
    assert (status, before["status"]) == (200, "submitted")  # the sender's row, seen from elsewhere

    summary = scheduled.invoke(scheduled_pull_event())
    assert "receipts" in json.dumps(summary), summary
    status, after, _ = answer_of(reader.invoke(status_request))
    assert (status, after["status"]) == (200, "delivered"), after


def test_a_receipt_pushed_to_one_container_and_pulled_by_another_is_stored_once(
    shared_store_url: str, start_container: StartContainer, sms_emulator: Emulator
) -> None:
    sender = start_container("send_single", shared_store_url)
    callbacks = start_container("status_callback", shared_store_url, concurrency=2)
    puller = start_container("pull_status", shared_store_url)
    status, sent, _ = answer_of(sender.invoke(send_event("+8613800000006")))
    assert status == 200, sent
    message_id = sent["message_id"]
    push = push_of(sms_emulator, message_id)
    # the push (twice: Tencent retries) and the scheduled pull race each other
    pushed = [callbacks.submit(receipt_callback_event(push)) for _ in range(2)]
    pulled = puller.submit(scheduled_pull_event())
    for status, body, _ in answers(pushed):
        assert (status, body) == (200, {"result": 0, "errmsg": "OK"})
    pulled.result(timeout=120)

    store = open_store(shared_store_url)
    try:
        assert len(store.receipts_for(message_id)) == 1
        stored = store.get_message(message_id)
        assert stored is not None
        assert stored.status == "delivered"
    finally:
        store.close()
