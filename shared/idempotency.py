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
from typing import Any, NamedTuple

from shared.errors import ConflictError, SmsError
from shared.observability import logger
from shared.services import Services

IN_PROGRESS_TTL = 120  # longer than any function timeout we configure; a crashed claim frees itself
WAIT_INTERVAL = 0.1

Answer = tuple[int, dict[str, Any]]


def _as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


def fingerprint(request: Mapping[str, Any]) -> str:
    """A stable hash of the request body (key order does not matter)."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def scoped_key(scope: str, caller: str, key: str) -> str:
    """Keys are per caller and per operation: one client's key never answers another's request."""
    return hashlib.sha256(f"{scope}\n{caller}\n{key}".encode()).hexdigest()


class Claim(NamedTuple):
    """This invocation's hold on an idempotency key, or the first answer to replay.

    An empty key holds nothing: every method is then a no-op, so a send without a key runs the same
    sequence. After the action, exactly one of `complete` and `abandon` is called."""

    services: Services
    key: str
    replay: Answer | None = None

    def complete(self, answer: Answer, *, kept: Callable[[dict[str, Any]], dict[str, Any]] = _as_is) -> None:
        """Keep the answer for replays (as `kept(body)`), except a 5xx other than 504: that proves
        nothing was sent, so a retry with the same key may try again."""
        if not self.key:
            return
        status, body = answer
        store, settings = self.services.store, self.services.settings
        if status < 500 or status == 504:
            store.idempotency_complete(
                self.key,
                {"status": status, "body": kept(body)},
                now=self.services.now(),
                ttl=settings.idempotency_ttl,
            )
        else:
            store.idempotency_release(self.key)

    def abandon(self, error: BaseException) -> None:
        """The action raised: a 504 may have sent, so it is kept as the answer; anything else frees
        the key for a retry."""
        if not self.key:
            return
        if isinstance(error, SmsError) and error.status == 504:
            self.complete((error.status, error.to_body()))
        else:
            self.services.store.idempotency_release(self.key)


def claim(services: Services, key: str, request: Mapping[str, Any], *, deadline: float | None) -> Claim:
    """Own `key` for this request, or get the answer of the first request that used it.

    While another invocation holds the key this waits (up to 10 s, within the deadline) for its
    answer; a key used with a different request is a 422."""
    if not key:
        return Claim(services, "")
    store, settings = services.store, services.settings
    print_ = fingerprint(request)
    wait_until = time.monotonic() + 10.0 if deadline is None else min(deadline - 1.0, time.monotonic() + 10.0)
    while True:
        existing = store.idempotency_begin(
            key,
            fingerprint=print_,
            now=services.now(),
            in_progress_ttl=IN_PROGRESS_TTL,
            ttl=settings.idempotency_ttl,
        )
        if existing is None:
            return Claim(services, key)  # this invocation owns the key
        if existing.fingerprint != print_:
            raise ConflictError(
                "this idempotency key was used with a different request",
                code="idempotency_key_reused",
                status=422,
            )
        if existing.status != "in_progress":
            response = existing.response or {}
            logger.info("idempotent replay", extra={"status": response.get("status")})
            return Claim(services, key, (int(response["status"]), dict(response["body"])))
        if time.monotonic() >= wait_until:
            raise ConflictError(
                "a request with this idempotency key is still being processed",
                code="idempotency_in_progress",
                retry_after=1,
            )
        time.sleep(WAIT_INTERVAL)
