"""A pulling process to kill: runs the scheduled pull (receipts) in this process; when the run is
about to store its second batch it prints `holding` and blocks there, with Tencent's batch only in
its memory, so a test can `kill -9` it at that point (instrumentation of the store call only)."""

from __future__ import annotations

import json
import threading
from typing import Any

from shared.runtime import runtime
from tests.conftest import load_event
from tests.helpers import handler


def main() -> None:
    store = runtime.services.store
    save = store.save_receipts
    calls = []

    def save_or_hold(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            print("holding", flush=True)
            threading.Event().wait()  # until killed
        return save(*args, **kwargs)

    store.save_receipts = save_or_hold  # type: ignore[method-assign]
    event = load_event("scf-timer.json")
    event["Message"] = json.dumps({"kind": "receipts", "max": 100})
    handler("pull_status").main_handler(event, load_event("scf-context.json"))
    print("finished", flush=True)


if __name__ == "__main__":
    main()
