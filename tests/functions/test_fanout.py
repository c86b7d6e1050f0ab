"""Fan-out beyond one invocation: big lists are queued in chunks that trigger send_multi again, and
a chunk is sent once however often it is delivered or re-queued."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from local.emulator import Emulator
from local.gateway import Gateway
from shared import signing
from tests.conftest import API_KEY, load_event
from tests.helpers import AwsContext, answer_body, handler, reconfigure, set_body, set_header, wait_for

NUMBERS = [f"+86139{i:08d}" for i in range(1000)]


@pytest.fixture
def local_queue(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:  # noqa: ARG001 - a fixture this one needs for its side effect
    gateway = Gateway(port=0)
    reconfigure(monkeypatch, SMS_FANOUT_QUEUE_URL=gateway.queue_url, SMS_FANOUT_THRESHOLD="300")
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def test_a_big_list_is_queued_and_every_number_sent_once(
    local_queue: Gateway, sms_emulator: Emulator
) -> None:
    headers = {"X-Api-Key": API_KEY, "Idempotency-Key": "campaign-7"}
    body = {"phones": [*NUMBERS, NUMBERS[0]], "template_id": "7839", "params": ["1"]}
    answer = httpx.post(f"{local_queue.url}/sms/send-multi", json=body, headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert (queued["queued"], queued["chunks"], queued["duplicates_removed"]) == (1000, 5, [NUMBERS[0]])
    wait_for(lambda: sms_emulator.accepted_count == 1000 and local_queue.queue_idle())
    assert sorted(m.phone for m in sms_emulator.messages()) == sorted(NUMBERS)
    again = httpx.post(f"{local_queue.url}/sms/send-multi", json=body, headers=headers, timeout=30)
    assert again.status_code == 202
    assert again.json() == queued
    assert again.headers["Idempotent-Replayed"] == "true"
    # a chunk the replay queued would be in the queue before its answer came (the handler posts to
    # the queue and waits): once the queue has worked off everything, nothing more was sent
    wait_for(local_queue.queue_idle)
    assert sms_emulator.accepted_count == 1000
    assert not local_queue.dead_letters


@pytest.mark.usefixtures("function_env")
def test_a_redelivered_chunk_is_sent_once(sms_emulator: Emulator) -> None:
    chunk = {
        "phones": NUMBERS[:3],
        "template_id": "7839",
        "params": ["1"],
        "sign": "腾讯云",
        "batch_id": "batch-abc",
        "chunk": 4,
    }
    event = load_event("aws-sqs.json")
    event["Records"] = event["Records"][:1]
    for message_id in ("first-delivery", "second-delivery"):
        event["Records"][0]["messageId"] = message_id
        event["Records"][0]["body"] = json.dumps(chunk)
        assert handler("send_multi").handler(event, AwsContext()) == {"batchItemFailures": []}
    assert sms_emulator.accepted_count == 3


@pytest.mark.usefixtures("function_env")
def test_chunk_fields_are_refused_over_http(sms_emulator: Emulator) -> None:
    event = load_event("aws-http-api.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/sms/send-multi"
    set_header(event, "x-api-key", API_KEY)
    set_body(event, {"phones": NUMBERS[:2], "params": ["1"], "batch_id": "x", "chunk": 0})
    answer = handler("send_multi").handler(event, AwsContext())
    assert answer["statusCode"] == 400
    assert answer_body(answer)["error"]["field"] == "batch_id"
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("function_env")
def test_sqs_backend_sends_batches_of_ten(monkeypatch: pytest.MonkeyPatch, sms_emulator: Emulator) -> None:
    """SQS itself cannot run here: botocore's Stubber stands in for it and checks every call."""
    import boto3
    from botocore.stub import ANY, Stubber

    queue_url = "https://sqs.ap-southeast-1.amazonaws.com/123456789012/sms-functions-dev-batch"
    reconfigure(
        monkeypatch,
        SMS_FANOUT_QUEUE_URL=queue_url,
        SMS_FANOUT_THRESHOLD="100",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    client = boto3.client("sqs", region_name="ap-southeast-1")
    stubber = Stubber(client)
    bodies: list[dict[str, Any]] = []
    phones = [f"+86138{i:08d}" for i in range(2200)]  # 11 chunks: two SendMessageBatch calls
    for _ in range(2):
        stubber.add_response(
            "send_message_batch", {"Successful": [], "Failed": []}, {"QueueUrl": queue_url, "Entries": ANY}
        )
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    real = client.send_message_batch

    def recording(**kwargs: Any) -> Any:
        bodies.extend(json.loads(e["MessageBody"]) for e in kwargs["Entries"])
        assert len(kwargs["Entries"]) <= 10
        return real(**kwargs)

    monkeypatch.setattr(client, "send_message_batch", recording)
    with stubber:
        answer = handler("send_multi").handler({"phones": phones, "params": ["1"]}, AwsContext())
    stubber.assert_no_pending_responses()
    assert answer["chunks"] == 11
    assert len(bodies) == 11
    assert [b["chunk"] for b in bodies] == list(range(11))
    assert sorted(p for b in bodies for p in b["phones"]) == sorted(phones)
    assert {b["template_id"] for b in bodies} == {"7839"}
    assert sms_emulator.accepted_count == 0


@pytest.mark.usefixtures("function_env")
def test_failed_enqueue_is_reported_and_a_retry_sends_each_chunk_once(
    monkeypatch: pytest.MonkeyPatch, sms_emulator: Emulator
) -> None:
    from shared import fanout

    delivered: list[dict[str, Any]] = []
    attempts = []

    def flaky(_services: Any, _url: str, chunks: Any) -> list[int]:
        attempts.append(len(chunks))
        delivered.extend(c.body for c in chunks if not (len(attempts) == 1 and c.index == 1))
        return [1] if len(attempts) == 1 else []

    monkeypatch.setattr(fanout, "_enqueue_local", flaky)
    reconfigure(
        monkeypatch, SMS_FANOUT_QUEUE_URL="local+http://127.0.0.1:9/_local/queue", SMS_FANOUT_THRESHOLD="200"
    )
    body = {"phones": NUMBERS[:450], "params": ["1"], "idempotency_key": "job-1"}
    first = handler("send_multi").handler(body, AwsContext())
    assert first["error"]["code"] == "fanout_incomplete"
    assert first["error"]["failed_chunks"] == [1]
    second = handler("send_multi").handler(body, AwsContext())
    assert second["chunks"] == 3
    assert second["batch_id"] == first["error"]["batch_id"]
    for chunk in delivered:  # the queue delivers everything it got, the first attempt's chunks twice
        handler("send_multi").handler(chunk, AwsContext())
    assert sms_emulator.accepted_count == 450


class FakeScf(BaseHTTPRequestHandler):
    """Tencent's Invoke API cannot be reached: this loopback stand-in checks the TC3 signature (service
    `scf`) and runs the function asynchronously with the event, as SCF does for InvocationType=Event."""

    invoked: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        auth = signing.parse_tc3_authorization(self.headers["Authorization"])
        assert auth is not None
        assert auth.service == "scf"
        expected = signing.sign_tc3(
            secret_id=auth.secret_id,
            secret_key=self.server.secret_key,  # type: ignore[attr-defined]
            service="scf",
            timestamp=int(self.headers["X-TC-Timestamp"]),
            payload=body,
            signed_headers={"Content-Type": self.headers["Content-Type"], "Host": self.headers["Host"]},
        )
        ok = expected.signature == auth.signature and self.headers["X-TC-Action"] == "Invoke"
        request = json.loads(body)
        if ok:
            FakeScf.invoked.append(request)
            threading.Thread(
                target=handler("send_multi").main_handler,
                args=(json.loads(request["ClientContext"]), load_event("scf-context.json")),
            ).start()
            answer = {"Response": {"Result": {"FunctionRequestId": "x"}, "RequestId": "r"}}
        else:
            answer = {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


def test_scf_backend_invokes_the_function_asynchronously(
    function_env: dict[str, str], sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeScf)
    server.secret_key = function_env["TENCENTCLOUD_SECRETKEY"]  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeScf.invoked = []
    reconfigure(
        monkeypatch,
        TENCENT_SCF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}",
        SMS_FANOUT_QUEUE_URL="scf://sms-send_multi-prod?region=ap-guangzhou&namespace=sms",
        SMS_FANOUT_THRESHOLD="250",
    )
    try:
        answer = handler("send_multi").main_handler(
            {"phones": NUMBERS[:600], "params": ["1"]}, load_event("scf-context.json")
        )
        assert answer["chunks"] == 3, answer
        assert {r["FunctionName"] for r in FakeScf.invoked} == {"sms-send_multi-prod"}
        assert {r["Namespace"] for r in FakeScf.invoked} == {"sms"}
        assert {r["InvocationType"] for r in FakeScf.invoked} == {"Event"}
        wait_for(lambda: sms_emulator.accepted_count == 600)
    finally:
        server.shutdown()


@pytest.mark.usefixtures("function_env")
def test_a_list_too_big_to_answer_needs_the_queue(
    sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, SMS_MAX_INLINE_NUMBERS="500")
    answer = handler("send_multi").handler({"phones": NUMBERS[:501], "params": ["1"]}, AwsContext())
    assert answer["error"]["code"] == "too_many_numbers"
    assert "SMS_FANOUT_QUEUE_URL" in answer["error"]["message"]
    assert sms_emulator.accepted_count == 0
