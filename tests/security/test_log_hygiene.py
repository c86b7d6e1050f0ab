"""A full run — sends, failures, pulls, callbacks, direct invokes — writes no secret and no unmasked
phone number into any log line, metric or error answer."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.emulator import Emulator
from local.emulator.catalogue import DEFAULT_APPKEY, DEFAULT_SECRET_KEY
from tests.conftest import API_KEY, CALLBACK_TOKEN, load_event
from tests.helpers import AwsContext, handler, run_python, set_body, set_header

PHONES = ["+8613800000000", "+8613800000001", "+8613811112222", "+14155552671"]
UNMASKED = re.compile(r"(?<![\d*])(\+?86)?1[3-9]\d{9}(?!\d)|\+1415555\d{4}")


def http(function: str, method: str, path: str, body: Any = None, **query: str) -> dict[str, Any]:
    event = load_event("aws-apigw-rest.json")
    event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = path
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    set_header(event, "X-Api-Key", API_KEY)
    set_header(event, "Idempotency-Key", None)
    if body is None:
        event["body"] = None
    else:
        set_body(event, body)
    return handler(function).handler(event, AwsContext())


def test_a_whole_run_leaks_nothing(
    store_env: dict[str, str],
    sms_emulator: Emulator,
    captured_logs: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.runtime import runtime

    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and the drivers too
    answers = []
    answers.append(http("send_single", "POST", "/sms/send", {"phone": PHONES[0], "params": ["1"]}))
    answers.append(
        http("send_single", "POST", "/sms/send", {"phone": PHONES[1], "template_id": "9999", "params": ["1"]})
    )  # Tencent refuses
    answers.append(http("send_multi", "POST", "/sms/send-multi", {"phones": PHONES[:3], "params": ["2"]}))
    answers.append(http("send_single", "POST", "/sms/send", {"phone": "13800000009x"}))  # invalid
    sms_emulator.set_faults(drop_count=1)
    answers.append(http("send_single", "POST", "/sms/send", {"phone": PHONES[2], "params": ["3"]}))  # unknown
    sms_emulator.clear_faults()
    answers.append(
        handler("send_single").main_handler(
            load_event("wx-cloud-function.json"), load_event("wx-cloud-function-context.json")
        )
    )
    sms_emulator.inject_reply(PHONES[0], "TD")
    answers.append(
        handler("pull_status").main_handler(load_event("scf-timer.json"), load_event("scf-context.json"))
    )
    answers.append(http("pull_status", "GET", f"/sms/status/{PHONES[0]}", kind="receipts"))
    receipt = [
        {
            "user_receive_time": "2026-11-27 13:40:00",
            "nationcode": "86",
            "mobile": PHONES[3][3:],
            "report_status": "FAIL",
            "errmsg": "MK:0001",
            "description": "x",
            "sid": "s1",
        },
        {"mobile": "1"},
    ]
    answers.append(http("status_callback", "POST", "/sms/callback/receipts", receipt, token=CALLBACK_TOKEN))
    answers.append(http("status_callback", "POST", "/sms/callback/receipts", receipt, token="wrong-token"))
    # a Tencent refusal of our credentials: the error and logs must not echo the key
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "a-wrong-secret-key-123456")
    runtime.reset()
    answers.append(http("send_single", "POST", "/sms/send", {"phone": PHONES[1], "params": ["4"]}))

    logs = captured_logs.getvalue() + capsys.readouterr().out + caplog.text
    assert '"sms sent"' in logs
    assert "dead-lettered" in logs
    secrets = [API_KEY, CALLBACK_TOKEN, DEFAULT_APPKEY, DEFAULT_SECRET_KEY, "a-wrong-secret-key-123456"]
    password = urlsplit(store_env["SMS_STORE_URL"]).password
    if password:
        secrets.append(password)
    for secret in secrets:
        assert secret not in logs, f"a secret leaked into the logs: {secret[:4]}…"
    leaked = [m.group(0) for m in UNMASKED.finditer(logs)]
    assert not leaked, f"unmasked numbers in logs: {[n[:6] for n in leaked]}"
    assert "+86138****0000" in logs
    for answer in answers:
        text = json.dumps(answer, ensure_ascii=False)
        for secret in secrets:
            assert secret not in text


@pytest.mark.usefixtures("store_env")
def test_numbers_glued_to_text_are_masked_in_a_dead_lettered_reply(
    captured_logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reply's text is whatever the recipient typed: a number written straight after Chinese
    (or any letter outside ASCII) is still a number, with `86` before it or not, and a `+` number
    is one after anything. A malformed reply (its time not a number) is dead-lettered and its
    text logged: masked."""
    texts = [
        "我的号码13800000000",
        "号码+8613811112222无效",
        "call+14155552671",
        "退订13800000001，谢谢",
        "号8613811112223",
        "1+8613800000002",
    ]
    replies = [{"nationcode": "86", "mobile": "13800000009", "text": t, "time": "soon"} for t in texts]
    answer = http("status_callback", "POST", "/sms/callback/replies", replies, token=CALLBACK_TOKEN)
    assert answer["statusCode"] == 200
    logs = captured_logs.getvalue() + capsys.readouterr().out
    assert "dead-lettered" in logs
    masked = ["我的号码138****0000", "号码+86138****2222无效", "call+141****2671", "退订138****0001，"]
    masked += ["号86138****2223", "1+86138****0002"]
    assert [text for text in masked if text not in logs] == []
    leaked = [m.group(0) for m in UNMASKED.finditer(logs)]
    assert not leaked, f"unmasked numbers in logs: {[n[:6] for n in leaked]}"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("c170f18f-0bd6-4512-bfc4-a13812345678", "a13812345678"),  # an id's ASCII hex: not a number
        ("key:0a13912345678b", "a13912345678b"),
        ("2019:2381050375000000051", "2381050375000000051"),  # digits on both sides
        ("+86138****0000", "+86138****0000"),  # masked already
        ("x8613812345678", "x8613812345678"),
    ],
)
def test_ids_are_left_as_they_are(text: str, kept: str) -> None:
    from shared.observability import mask_phones

    assert kept in mask_phones(text)


@pytest.mark.parametrize(
    "secret",
    ['pa"ss\\word', "tab\there-and-é", "p@ss/wörd+1", "pass%2Fword%40x"],
    ids=["quote-backslash", "control-non-ascii", "url-special", "percent-encoded"],
)
def test_a_secret_is_scrubbed_in_every_form_a_line_can_hold_it(secret: str) -> None:
    """A line is JSON: a secret with a quote, a backslash or a control character is escaped in it;
    one in a URL is percent-encoded, and a URL's password is configured encoded but may be logged
    decoded. None of those forms may survive."""
    from urllib.parse import quote, unquote

    from shared.observability import MaskingFormatter

    formatter = MaskingFormatter()
    formatter.set_secrets([secret])
    forms = {secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret), safe="")}
    escaped = {json.dumps(f, ensure_ascii=False)[1:-1] for f in forms} | forms
    for form in sorted(forms):
        record = logging.makeLogRecord({"msg": "failed", "levelname": "ERROR", "detail": f"at u:{form}@host"})
        line = formatter.format(record)
        assert [f for f in escaped if f in line] == [], line
        assert json.loads(line)["detail"] == "at u:****@host"


def test_an_exception_and_dict_keys_are_masked_too(captured_logs: Any) -> None:
    """powertools writes the exception object itself under `stack_trace.value`, turned into text
    only when the line is serialised; a dict's keys are text too. Neither may carry a number."""
    from shared.observability import logger

    try:
        raise ValueError("no route to 13800000000 (+8613811112222)")
    except ValueError:
        logger.exception("unexpected failure", extra={"by_phone": {"+8613800000001": 1, "13800000002": 2}})
    line = json.loads(captured_logs.getvalue().splitlines()[-1])
    assert line["stack_trace"]["value"] == "no route to 138****0000 (+86138****2222)"
    assert "138****0000" in line["exception"]
    assert line["by_phone"] == {"+86138****0001": 1, "138****0002": 2}
    leaked = [m.group(0) for m in UNMASKED.finditer(captured_logs.getvalue())]
    assert not leaked, f"unmasked numbers in logs: {[n[:6] for n in leaked]}"


def test_another_librarys_traceback_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A library's `logger.exception` goes to whatever handler the platform set up: the traceback
    it prints is masked as the message is, and neither holds a configured secret."""
    import io

    from shared.observability import formatter

    monkeypatch.setattr(formatter, "_secrets", ())
    formatter.set_secrets(["s3cr3t-value"])

    stream = io.StringIO()
    library = logging.getLogger("some.library")
    handler_ = logging.StreamHandler(stream)
    handler_.setFormatter(logging.Formatter("%(name)s %(message)s"))
    library.addHandler(handler_)
    try:
        raise ConnectionError("lost the line to +8613800000000 (password s3cr3t-value)")
    except ConnectionError:
        library.exception("request for 13800000001 failed (s3cr3t-value)")
    finally:
        library.removeHandler(handler_)
    text = stream.getvalue()
    assert "request for 138****0001 failed (****)" in text
    assert "ConnectionError: lost the line to +86138****0000 (password ****)" in text
    assert not UNMASKED.search(text)
    assert "s3cr3t" not in text


def test_the_record_masking_follows_the_module_run_again() -> None:
    """The record factory is installed once a process; should the module run again, the factory
    scrubs the secrets of the formatter now in use, not only the first one's."""
    script = (
        "import importlib, io, logging\n"
        "import shared.observability as o\n"
        "o = importlib.reload(o)\n"
        "o.formatter.set_secrets(['s3cr3t-value'])\n"
        "stream = io.StringIO(); h = logging.StreamHandler(stream); lib = logging.getLogger('lib')\n"
        "lib.addHandler(h); lib.warning('with s3cr3t-value and 13800000000')\n"
        "print(stream.getvalue().strip())\n"
    )
    assert run_python("-c", script).strip() == "with **** and 138****0000"
