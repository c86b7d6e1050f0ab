"""`python -m local` (what `make run` starts) shows where the dashboard is, and the dashboard's
data is the run's own traffic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import wait_for
from tests.local_run import LocalRun, local_run


@pytest.fixture
def run(tmp_path: Path) -> Iterator[LocalRun]:
    with local_run(tmp_path) as started:
        yield started


def test_the_banner_names_the_dashboard_and_it_shows_the_runs_traffic(run: LocalRun) -> None:
    assert f"{run.gateway}/dashboard" in run.log.read_text(encoding="utf-8")
    with httpx.Client(timeout=10) as http:
        page = http.get(f"{run.gateway}/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        sent = http.post(
            f"{run.gateway}/sms/send",
            headers=run.headers,
            json={"phone": "+8613800000000", "template_id": "7839", "params": ["5678"]},
        )
        assert sent.status_code == 200, sent.text

        def delivered() -> dict[str, Any] | None:
            totals = http.get(f"{run.gateway}/sms/stats", headers=run.headers).json()["totals"]
            return totals if totals["delivered"] == 1 else None

        totals = wait_for(delivered, timeout=20, interval=0.3)  # the scheduled pull stored the receipt
        assert totals["sent"] == 1
        assert totals["latency_p50_s"] is not None
        assert http.get(f"{run.gateway}/sms/stats").status_code == 401
