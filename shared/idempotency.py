"""Idempotent sends over the project's store.

A client `Idempotency-Key` (or `idempotency_key` in a direct invoke) makes a retried request return
the first answer without sending again, for `SMS_IDEMPOTENCY_TTL` seconds (24 h). Without a client
key, the platform's request id stands in, so a platform retry of the same asynchronous invocation
is recognised too. Two concurrent requests with one key: exactly one sends; the other waits for its
answer, or gets 409 if it is still running when the wait ends.

powertools' idempotency utility was not used: its package imports the DynamoDB layer, which
imports boto3 — absent on SCF and CloudBase, and 35 MB / ~160 ms to bundle — while the state must
live in the store the functions already have (SQLite or PostgreSQL) anyway.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.errors import ConflictError, SmsError
from shared.observability import logger
from shared.runtime import runtime

IN_PROGRESS_TTL = 120  # longer than any function timeout we configure; a crashed claim frees itself
WAIT_INTERVAL = 0.1

Answer = tuple[int, dict[str, Any]]


def fingerprint(request: Mapping[str, Any]) -> str:
    """A stable hash of the request body (key order does not matter)."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def scoped_key(scope: str, caller: str, key: str) -> str:
    """Keys are per caller and per operation: one client's key never answers another's request."""
    return hashlib.sha256(f"{scope}\n{caller}\n{key}".encode()).hexdigest()


def run_once(
    key: str,
    request: Mapping[str, Any],
    action: Callable[[], Answer],
    *,
    deadline: float | None,
    keep: Callable[[Answer], bool] = lambda answer: answer[0] < 500 or answer[0] == 504,
    kept: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body,
) -> tuple[int, dict[str, Any], bool]:
    """Run `action` once per key: (status, body, replayed).

    The answer is kept when `keep` says so (by default: everything but a 5xx that proves nothing
    was sent — those may be retried with the same key), as `kept(body)`, which a replay returns.
    An exception releases the key.
    """
    settings, store = runtime.settings, runtime.store
    print_ = fingerprint(request)
    wait_until = time.monotonic() + 10.0 if deadline is None else min(deadline - 1.0, time.monotonic() + 10.0)
    while True:
        existing = store.idempotency_begin(
            key,
            fingerprint=print_,
            now=int(time.time()),
            in_progress_ttl=IN_PROGRESS_TTL,
            ttl=settings.idempotency_ttl,
        )
        if existing is None:
            break  # this invocation owns the key
        if existing.fingerprint != print_:
            raise ConflictError(
                "this idempotency key was used with a different request",
                code="idempotency_key_reused",
                status=422,
            )
        if existing.status != "in_progress":
            response = existing.response or {}
            logger.info("idempotent replay", extra={"status": response.get("status")})
            return int(response["status"]), dict(response["body"]), True
        if time.monotonic() >= wait_until:
            raise ConflictError(
                "a request with this idempotency key is still being processed",
                code="idempotency_in_progress",
                retry_after=1,
            )
        time.sleep(WAIT_INTERVAL)
    try:
        status, body = action()
    except SmsError as error:
        if error.status == 504:  # it may have gone out: a retry must not send again
            store.idempotency_complete(
                key,
                {"status": error.status, "body": error.to_body()},
                now=int(time.time()),
                ttl=settings.idempotency_ttl,
            )
        else:
            store.idempotency_release(key)
        raise
    except BaseException:
        store.idempotency_release(key)
        raise
    if keep((status, body)):
        store.idempotency_complete(
            key, {"status": status, "body": kept(body)}, now=int(time.time()), ttl=settings.idempotency_ttl
        )
    else:
        store.idempotency_release(key)
    return status, body, False
