"""SmsClient against the emulator over real loopback HTTP: every operation, both protocols,
domestic and international numbers, chunking, and every injected fault."""

from __future__ import annotations

import http.server
import threading
import time
from typing import Any

import httpcore
import pytest

from local.emulator import Emulator
from shared.client import SmsClient
from shared.config import Settings, load_settings
from shared.errors import (
    DeadlineExceededError,
    TencentError,
    TencentUnavailableError,
    UnknownOutcomeError,
    ValidationError,
)
from shared.models import Message, MultiSendResult
from shared.outbound import OutboundRequest
from shared.plan import plan_multi_send
from shared.transport import Transport, TransportOptions
from tests.conftest import emulator_env
from tests.helpers import free_port

CODE = Message(template_id="7839", params=("5678",), sign="腾讯云")
INTERNATIONAL = Message(template_id="7841", params=("5678",))


def make_client(settings: Settings, **options: Any) -> SmsClient:
    """A client with its own transport, so a test's faults and timeouts stay its own."""
    opts = TransportOptions(
        connect_timeout=1.0, read_timeout=options.pop("read_timeout", 2.0), backoff=0.01, **options
    )
    return SmsClient(settings, Transport(opts))


def send_multi(client: SmsClient, phones: list[str], message: Message) -> MultiSendResult:
    """What send_multi's handler does around the client: plan the list, then send the plan."""
    return client.send_plan(plan_multi_send(phones), message)


def test_send_single_domestic(settings: Settings, sms_emulator: Emulator) -> None:
    result = make_client(settings).send_single("+8613800000000", CODE)
    assert result.status == "submitted"
    assert result.code == "Ok"
    assert result.fee == 1
    [sent] = sms_emulator.messages("+8613800000000")
    assert sent.message_id == result.message_id
    assert sent.text == "【腾讯云】5678为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。"


def test_send_single_international(settings: Settings, sms_emulator: Emulator) -> None:
    result = make_client(settings).send_single("+14155552671", INTERNATIONAL)
    assert result.status == "submitted"
    assert sms_emulator.messages("+14155552671")[0].message_id == result.message_id


@pytest.mark.usefixtures("sms_emulator")
def test_send_single_accepts_legacy_forms(settings: Settings) -> None:
    result = make_client(settings).send_single("13800000001", CODE)
    assert result.phone == "+8613800000001"
    assert result.ok


def test_plain_content_send_on_legacy_only(settings: Settings, sms_emulator: Emulator) -> None:
    client = make_client(settings)
    content = Message(content="【腾讯云】1234为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。")
    if settings.api == "legacy":
        assert client.send_single("+8613800000000", content).ok
        assert sms_emulator.accepted_count == 1
    else:
        with pytest.raises(ValidationError):
            client.send_single("+8613800000000", content)
        assert sms_emulator.accepted_count == 0


def test_per_number_failure_is_a_result_not_an_exception(settings: Settings, sms_emulator: Emulator) -> None:
    wrong_count = Message(template_id="7839", params=("5678", "extra"), sign="腾讯云")
    client = make_client(settings)
    if settings.api == "v3":
        result = client.send_single("+8613800000000", wrong_count)
        assert result.status == "failed"
        assert result.message_id == ""
        assert result.code == "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    else:  # the legacy API refuses the whole single send
        result = client.send_single("+8613800000000", wrong_count)
        assert result.status == "failed"
        assert result.code == "1014"
    assert sms_emulator.accepted_count == 0


def test_multi_send_450_numbers_is_three_requests(settings: Settings, sms_emulator: Emulator) -> None:
    phones = [f"+86138{i:08d}" for i in range(450)]
    before = len(sms_emulator.requests)
    outcome = send_multi(make_client(settings._replace(send_concurrency=3)), phones, CODE)
    assert outcome.requests == 3
    assert len(sms_emulator.requests) - before == 3
    assert [r.phone for r in outcome.results] == phones
    assert outcome.submitted == 450
    assert sms_emulator.accepted_count == 450
    assert len({r.message_id for r in outcome.results}) == 450


def test_multi_send_splits_mainland_and_international(settings: Settings, sms_emulator: Emulator) -> None:
    phones = ["+8613800000000", "+14155552671", "13800000001", "+8613800000000"]
    message = Message(template_id="7839", params=("5678",), sign="腾讯云")
    outcome = send_multi(make_client(settings), phones, message)
    assert outcome.requests == 2
    assert outcome.duplicates == ("+8613800000000",)
    # in the list's order, though the mainland chunk went first
    assert [r.phone for r in outcome.results] == ["+8613800000000", "+14155552671", "+8613800000001"]
    by_phone = {r.phone: r for r in outcome.results}
    assert by_phone["+8613800000000"].ok
    assert by_phone["+8613800000001"].ok
    # 7839 is a mainland template: Tencent refuses it for the US number, per number
    assert by_phone["+14155552671"].status == "failed"
    assert sms_emulator.accepted_count == 2


def test_pulls_and_per_number_pulls(settings: Settings, sms_emulator: Emulator) -> None:
    client = make_client(settings)
    sent = send_multi(client, ["+8613800000000", "+8613800000001"], CODE)
    sms_emulator.inject_reply("+8613800000000", "TD")
    receipts = client.pull("receipts", 100)
    assert {r.message_id for r in receipts.receipts} == {r.message_id for r in sent.results}
    assert all(r.status == "delivered" for r in receipts.receipts)
    assert client.pull("receipts", 100).count == 0  # each is handed out once
    replies = client.pull("replies", 10)
    assert [(r.phone, r.text) for r in replies.replies] == [("+8613800000000", "TD")]
    now = int(time.time())
    for _ in range(2):  # per-number pulls return the same items any number of times
        one = client.pull_for_phone("receipts", "+8613800000001", now - 3600, now + 60)
        assert [r.phone for r in one.receipts] == ["+8613800000001"]
    assert client.pull_for_phone("replies", "+8613800000000", now - 3600, now + 60).replies[0].text == "TD"


def test_wrong_key_is_an_account_error(sms_emulator: Emulator, protocol: str) -> None:
    env = emulator_env(sms_emulator.url, protocol)
    env["TENCENT_SMS_APPKEY" if protocol == "legacy" else "TENCENTCLOUD_SECRETKEY"] = "wrong-key-000000"
    with pytest.raises(TencentError) as err:
        make_client(load_settings(env)).send_single("+8613800000000", CODE)
    expected = "1001" if protocol == "legacy" else "AuthFailure.SignatureFailure"
    assert err.value.tencent_code == expected
    assert err.value.status == 502
    assert sms_emulator.accepted_count == 0


def test_session_token_is_sent(sms_emulator: Emulator) -> None:
    settings = load_settings({**emulator_env(sms_emulator.url), "TENCENTCLOUD_SESSIONTOKEN": "role-token-1"})
    with pytest.raises(TencentError) as err:  # the emulator has no token configured: a token is refused
        make_client(settings).pull("receipts", 10)
    assert err.value.tencent_code == "AuthFailure.TokenFailure"
    assert sms_emulator.requests[-1].headers["x-tc-token"] == "role-token-1"


def test_clock_skew_is_reported(sms_emulator: Emulator, protocol: str) -> None:
    settings = load_settings(emulator_env(sms_emulator.url, protocol))
    client = SmsClient(
        settings, Transport(TransportOptions(read_timeout=2)), clock=lambda: time.time() - 3600
    )
    with pytest.raises(TencentError) as err:
        client.send_single("+8613800000000", CODE)
    assert err.value.tencent_code == ("1021" if protocol == "legacy" else "AuthFailure.SignatureExpire")


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_error_on_send_is_unknown_outcome_and_never_resent(
    settings: Settings, sms_emulator: Emulator, status: int
) -> None:
    sms_emulator.set_faults(fail_status=status, fail_count=1)
    with pytest.raises(UnknownOutcomeError) as err:
        make_client(settings).send_single("+8613800000000", CODE)
    assert err.value.phones == ("+8613800000000",)
    assert err.value.status == 504
    assert len(sms_emulator.requests) == 1  # not retried


def test_http_error_on_pull_is_tencent_unavailable(settings: Settings, sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(fail_status=503, fail_count=1)
    with pytest.raises(TencentUnavailableError):
        make_client(settings).pull("receipts", 10)


def test_dropped_connection_after_processing_is_unknown_with_one_send(
    settings: Settings, sms_emulator: Emulator
) -> None:
    sms_emulator.set_faults(drop_count=1, drop_after_processing=True)
    with pytest.raises(UnknownOutcomeError) as err:
        make_client(settings).send_single("+8613800000000", CODE)
    assert err.value.phones == ("+8613800000000",)
    sms_emulator.set_faults(drop_count=1, drop_after_processing=True)
    outcome = send_multi(make_client(settings), ["+8613800000000", "+8613800000001"], CODE)
    assert [(r.status, r.code) for r in outcome.results] == [("unknown", "outcome_unknown")] * 2
    assert sms_emulator.accepted_count == 3  # each went through, once
    assert len(sms_emulator.requests) == 2


def test_multi_send_reports_an_unknown_chunk_without_resending(
    settings: Settings, sms_emulator: Emulator
) -> None:
    sms_emulator.set_faults(drop_count=1, drop_after_processing=True)
    phones = [f"+86138{i:08d}" for i in range(250)]
    outcome = send_multi(make_client(settings._replace(send_concurrency=1)), phones, CODE)
    assert outcome.unknown == 200
    assert outcome.submitted == 50
    assert sms_emulator.accepted_count == 250
    assert len(sms_emulator.requests) == 2


def test_malformed_answer_to_a_send_is_unknown_outcome(settings: Settings, sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(malformed_count=1)
    with pytest.raises(UnknownOutcomeError):
        make_client(settings).send_single("+8613800000000", CODE)
    assert sms_emulator.accepted_count == 1
    assert len(sms_emulator.requests) == 1


def test_read_timeout_after_sending_is_unknown_outcome(settings: Settings, sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(latency_ms=800)
    with pytest.raises(UnknownOutcomeError):
        make_client(settings, read_timeout=0.3).send_single("+8613800000000", CODE)
    assert len(sms_emulator.requests) == 1
    wait_until_accepted(sms_emulator, 1)  # it did go through, once, after the client gave up


def test_deadline_bounds_the_call(settings: Settings, sms_emulator: Emulator) -> None:
    sms_emulator.set_faults(latency_ms=1500)
    client = make_client(settings, read_timeout=10.0)
    with pytest.raises(
        UnknownOutcomeError, match="time ran out"
    ):  # the deadline ended it, not the 10 s timeout
        client.send_single("+8613800000000", CODE, deadline=time.monotonic() + 0.9)
    with pytest.raises(DeadlineExceededError):
        client.send_single("+8613800000000", CODE, deadline=time.monotonic() + 0.1)
    assert len(sms_emulator.requests) == 1  # the second call never left
    wait_until_accepted(sms_emulator, 1)


def wait_until_accepted(emulator: Emulator, count: int, timeout: float = 10.0) -> None:
    """Wait (bounded) for a slow request to land, so it cannot spill into the next test."""
    end = time.monotonic() + timeout
    while emulator.accepted_count < count and time.monotonic() < end:
        time.sleep(0.05)
    assert emulator.accepted_count == count


def test_connection_refused_is_retried_then_unavailable(protocol: str) -> None:
    settings = load_settings(emulator_env(f"http://127.0.0.1:{free_port()}", protocol))
    attempts = []

    class Counting(httpcore.ConnectionPool):
        def handle_request(self, request: httpcore.Request) -> httpcore.Response:
            attempts.append(request)
            return super().handle_request(request)

    transport = Transport(
        TransportOptions(connect_timeout=0.5, backoff=0.01, attempts=3), http_transport=Counting()
    )
    with pytest.raises(TencentUnavailableError, match="nothing was sent"):
        SmsClient(settings, transport).send_single("+8613800000000", CODE)
    assert len(attempts) == 3


def test_warm_client_reuses_one_connection(settings: Settings, sms_emulator: Emulator) -> None:
    client = make_client(settings)
    before = sms_emulator.connections
    for i in range(5):
        client.send_single(f"+86138000000{i:02d}", CODE)
    client.pull("receipts", 10)
    assert sms_emulator.connections - before == 1


def test_requests_go_through_the_configured_proxy() -> None:
    """TENCENT_SMS_PROXY: the request is sent to the proxy (a loopback stand-in that answers
    itself, so nothing leaves this machine) with the absolute Tencent URL as its target."""
    seen: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.requestline)
            body = b'{"Response": {"RequestId": "proxied"}}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = load_settings(
            {
                "TENCENTCLOUD_SECRETID": "a",
                "TENCENTCLOUD_SECRETKEY": "b",
                "TENCENT_SMS_APPID": "1",
                "TENCENT_SMS_PROXY": f"http://127.0.0.1:{server.server_port}",
            }
        )
        from shared.client import transport_options

        transport = Transport(transport_options(settings))
        request = OutboundRequest(
            "http://sms.tencentcloudapi.com/", {"Content-Type": "application/json"}, b"{}"
        )
        assert transport.post(request, is_send=False) == b'{"Response": {"RequestId": "proxied"}}'
        transport.close()
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["POST http://sms.tencentcloudapi.com/ HTTP/1.1"]
