"""The dashboard as a person uses it, in a real headless Chromium (Debian's `chromium`, driven by
Playwright; no browser is ever downloaded): against a local gateway with a seeded store.

No browser: the tests skip with the reason in the summary, except under CI (env `CI` set), where
they fail. The screenshot goes to `test-artifacts/` (ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from local.emulator import Emulator
from local.gateway import Gateway
from tests.conftest import API_KEY
from tests.helpers import free_port
from tests.local_run import ROOT
from tests.store.helpers import raw_rows

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONES = [f"+86138000000{i:02d}" for i in range(8)]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    reason = ""
    if found is None:
        reason = "no chromium executable (apt-get install chromium; .ci/run does)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (requirements-dev.txt)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"BROWSER TEST CANNOT RUN UNDER CI: {reason}")
        warnings.warn(f"dashboard browser tests SKIPPED: {reason}", stacklevel=2)
        pytest.skip(f"DASHBOARD BROWSER TESTS SKIPPED: {reason}")
    assert found is not None
    return found


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def gateway(function_env: dict[str, str]) -> Iterator[str]:  # noqa: ARG001 - a fixture this one needs for its side effect
    server = Gateway(port=free_port(), pull_interval=0).start()
    try:
        yield server.url
    finally:
        server.stop()


def seed(gateway: str, sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Traffic through the gateway: a multi-send where the emulator fails about half the
    deliveries, a single send, the receipts pulled, a reply."""
    from shared.runtime import runtime

    monkeypatch.setattr(sms_emulator, "failure_rate", 0.5)
    monkeypatch.setenv("SMS_LIMIT_PER_PHONE", "off")  # a number gets two messages: its history
    runtime.reset()
    headers = {"X-Api-Key": API_KEY}
    with httpx.Client(timeout=10, headers=headers) as http:
        multi = http.post(
            f"{gateway}/sms/send-multi",
            json={"phones": PHONES, "template_id": "7839", "params": ["1"]},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert multi.status_code == 200, multi.text
        single = http.post(
            f"{gateway}/sms/send", json={"phone": PHONES[0], "template_id": "7839", "params": ["2"]}
        )
        assert single.status_code == 200, single.text
        assert http.post(f"{gateway}/sms/pull", json={"kind": "receipts"}).status_code == 200
        sms_emulator.inject_reply(PHONES[0], "好的")
        sms_emulator.inject_reply(PHONES[1], "R")  # an opt-out: the suppression list gets a number
        assert http.post(f"{gateway}/sms/pull", json={"kind": "replies"}).status_code == 200
        assert http.post(f"{gateway}/sms/templates/sync").status_code == 200
    return [r["message_id"] for r in multi.json()["results"]] + [single.json()["message_id"]]


class Watch:
    """Every request the page makes (anything not to 127.0.0.1 is aborted and kept), console errors."""

    def __init__(self, page: Any) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.left: list[str] = []
        self.errors: list[str] = []
        self.statuses: list[tuple[str, int]] = []
        page.route("**/*", self._route)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", lambda r: self.statuses.append((r.url, r.status)))

    def _route(self, route: Any) -> None:
        request = route.request
        self.requests.append((request.method, request.url, dict(request.headers)))
        host = urlsplit(request.url).hostname
        if request.url.startswith("data:") or host == "127.0.0.1":
            route.continue_()
        else:
            self.left.append(request.url)
            route.abort()

    def data_calls(self) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if urlsplit(r[1]).path.startswith("/sms/")]


def number(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def test_a_person_reads_the_dashboard(
    browser: Any,
    gateway: str,
    function_env: dict[str, str],
    sms_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = seed(gateway, sms_emulator, monkeypatch)
    url = function_env["SMS_STORE_URL"]
    counts: dict[str, int] = dict(raw_rows(url, "SELECT status, COUNT(*) FROM messages GROUP BY status"))
    (fee,) = raw_rows(url, "SELECT SUM(fee) FROM messages")[0]
    assert counts.get("failed")
    assert counts.get("delivered")

    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{gateway}/dashboard")
    assert page.locator("#data").is_hidden()
    assert watch.data_calls() == []
    page.fill("#key", API_KEY)
    page.click("#key-form button")
    page.wait_for_function("() => document.getElementById('as-of').textContent.startsWith('data as of')")

    assert number(page, "#total-sent") == str(sum(counts.values()))
    assert number(page, "#total-delivered") == str(counts.get("delivered", 0))
    assert number(page, "#total-failed") == str(counts.get("failed", 0))
    assert number(page, "#total-pending") == str(counts.get("submitted", 0))
    assert number(page, "#total-fee") == str(fee)
    assert page.locator("#chart-volume polyline[data-series=failed]").count() == 1
    assert page.locator("#failures tbody tr").count() >= 1
    assert "MK:0001" in page.locator("#failures").inner_text()
    assert "CN" in page.locator("#countries").inner_text()

    suppressed = page.locator("#suppressions tbody").inner_text()
    assert "+86138****0001" in suppressed
    assert PHONES[1] not in suppressed
    assert "r" in suppressed
    rows = page.locator("#templates tbody tr").all_inner_texts()
    catalogue = {r.split("\t")[0]: r.split("\t") for r in rows}
    assert catalogue["7841"][1:3] == ["international", "approved and live"]
    assert catalogue["7842"][2] == "in review"

    page.select_option("#group-by", "status")
    page.wait_for_function("() => document.getElementById('group-title').textContent === 'status'")
    rows = page.locator("#groups tbody tr").all_inner_texts()
    shown = {r.split("\t")[0]: int(r.split("\t")[1]) for r in rows}
    assert shown == counts
    page.click("#groups th:nth-child(2)")  # sort by sent, largest first
    assert page.locator("#groups th:nth-child(2)").get_attribute("aria-sort") == "descending"
    first = page.locator("#groups tbody tr").first.inner_text().split("\t")
    assert int(first[1]) == max(counts.values())

    page.fill("#search", ids[0])
    page.click("#search-form button")
    item = page.locator(f"#search-result li[data-message-id='{ids[0]}']")
    item.wait_for()
    assert "+86138****0000" in item.inner_text()
    assert PHONES[0] not in page.content()
    assert "receipt" in item.inner_text()
    page.fill("#search", PHONES[0])
    page.check("#reveal")
    page.click("#search-form button")
    page.wait_for_function(
        "(phone) => document.getElementById('search-result').textContent.includes(phone)", arg=PHONES[0]
    )
    history = page.locator("#search-result").inner_text()
    assert ids[-1] in history
    assert "好的" in history

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    assert page.evaluate("() => sessionStorage.getItem('sms-dashboard-key')") == API_KEY
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => document.cookie") == ""
    calls = watch.data_calls()
    assert calls
    assert all(headers.get("x-api-key") == API_KEY for _, _, headers in calls)
    assert not any(API_KEY in request_url for _, request_url, _ in watch.requests)
    assert watch.left == [], watch.left
    assert watch.errors == [], watch.errors
    context.close()


def test_without_a_key_the_page_shows_nothing_and_every_data_call_is_refused(
    browser: Any, gateway: str, sms_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(gateway, sms_emulator, monkeypatch)
    context = browser.new_context()
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{gateway}/dashboard")
    assert page.locator("#key-form").is_visible()
    assert page.locator("#data").is_hidden()
    assert number(page, "#as-of") == "no data loaded"
    assert watch.data_calls() == []
    for path in (
        "sms/stats",
        "sms/stats?group_by=country",
        "sms/stats/tencent",
        "sms/messages?phone=%2B8613800000000",
        "sms/suppressions",
        "sms/templates",
    ):
        status = page.evaluate("(path) => fetch('/' + path).then((r) => r.status)", path)
        assert status == 401, path
    page.fill("#key", "not-the-key")
    page.click("#key-form button")
    page.locator("#error").filter(has_text=re.compile("not accepted")).wait_for()
    assert page.locator("#data").is_hidden()
    assert number(page, "#total-sent") == "–"
    assert page.evaluate("() => sessionStorage.getItem('sms-dashboard-key')") is None
    data = [(u, s) for u, s in watch.statuses if urlsplit(u).path.startswith("/sms/")]
    assert data, data
    assert all(status == 401 for _, status in data), data
    assert watch.left == []
    context.close()
