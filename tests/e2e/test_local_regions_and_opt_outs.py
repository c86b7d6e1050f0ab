"""`python -m local` out of the box: a mixed mainland/international send and a code abroad go out
with each region's template, and a reply `R` keeps the next marketing send from that number."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_for
from tests.local_run import LocalRun, local_run

CN, CN2, US = "+8613800000000", "+8613800000001", "+14155552671"


@pytest.fixture
def run(tmp_path: Path) -> Iterator[LocalRun]:
    with local_run(tmp_path, {"SMS_LIMIT_PER_PHONE": "off"}) as started:
        yield started


def test_regions_and_opt_outs_on_the_local_run(run: LocalRun) -> None:
    gateway, headers = run.gateway, run.headers
    with httpx.Client(timeout=10) as http:
        sent = http.post(
            f"{gateway}/sms/send-multi", headers=headers, json={"phones": [CN, US], "params": ["5678"]}
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["submitted"] == 2, sent.text
        assert [m["template_id"] for m in run.inbox(http, US)] == ["7841"]
        assert [m["template_id"] for m in run.inbox(http, CN)] == ["7839"]
        code = http.post(f"{gateway}/otp/send", headers=headers, json={"phone": "+447911123456"})
        assert code.status_code == 200, code.text
        assert run.inbox(http, "+447911123456")[0]["template_id"] == "7841"

        reply = http.post(f"{run.emulator}/_emulator/replies", json={"phone": CN2, "text": "R"})
        assert reply.status_code < 300, reply.text

        def suppressed() -> bool:
            return http.get(f"{gateway}/sms/suppressions/{CN2}", headers=headers).status_code == 200

        wait_for(suppressed, timeout=20, interval=0.3)  # the scheduled pull took the reply
        marketing = {"phones": [CN, CN2], "template_id": "7850", "params": ["6.18"]}
        sent = http.post(f"{gateway}/sms/send-multi", headers=headers, json=marketing)
        assert [r["status"] for r in sent.json()["results"]] == ["submitted", "suppressed"], sent.text
        assert run.inbox(http, CN2) == []
