"""Sending, as the functions need it: validate, send through Tencent, record in the store, count.

Plain functions of a request body and the caller; no event shapes, no HTTP.
"""

from __future__ import annotations

import gc
import operator
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from shared import catalogue, idempotency, limits, suppressions, templates, validation
from shared.errors import RateLimitedError, SmsError, ValidationError, status_for_code
from shared.models import Message, MultiSendResult, SendResult, status_counts
from shared.observability import logger, metrics
from shared.phone import is_mainland, mask
from shared.plan import SendPlan, without
from shared.services import Services

Answer = tuple[int, dict[str, Any]]


def send_single(
    services: Services,
    body: Mapping[str, Any],
    *,
    caller: str,
    deadline: float | None,
    idempotency_key: str = "",
    request_id: str = "",
) -> tuple[int, dict[str, Any], bool]:
    """Validate and send one SMS: (HTTP status, answer, replayed). A failed send carries the error too.

    With an idempotency key (or, for direct invokes, the platform's request id) a retry answers the
    first result without sending again.
    """
    command = validation.parse_single_send(body, services.settings)
    catalogue.check_send(services, command.message, [catalogue.Target(command.phones[0], "phone")])
    client_key = command.idempotency_key or idempotency_key
    claim = idempotency.claim(
        services, _key("send_single", caller, client_key, request_id), _fingerprinted(body), deadline=deadline
    )
    if claim.replay is not None:
        return (*claim.replay, True)
    try:
        answer = _send_one(services, command, caller=caller, deadline=deadline)
    except BaseException as error:
        claim.abandon(error)
        raise
    claim.complete(answer)
    return (*answer, False)


def _send_one(
    services: Services, command: validation.SendCommand, *, caller: str, deadline: float | None
) -> Answer:
    """Check the opt-out and the limits, send, record and count one SMS."""
    phone, message = command.phones[0], command.message
    suppressions.check_single(services, phone, message)  # opted out: 409, nothing sent
    reservation = limits.reserve(
        services, limits.checks_for(services.settings, caller=caller, phones=[phone])
    )
    try:
        result = services.client.send_single(phone, message, deadline=deadline)
    except SmsError as error:
        if error.status != 504:  # provably not sent: the number's quota is given back
            reservation.release()
        raise
    if result.status == "failed":
        reservation.release()
    _record(services, [result], message, caller)
    _count([result])
    logger.info(
        "sms sent" if result.ok else "sms not sent",
        extra={
            "phone": mask(result.phone),
            "status": result.status,
            "code": result.code,
            "message_id": result.message_id,
            "caller": caller,
        },
    )
    answer = result.to_dict()
    if result.ok:
        return 200, answer
    failure = {"code": _error_code(result), "message": result.message, "tencent_code": result.code}
    return status_for(result), {**answer, "error": failure}


_paused = 0  # sends running with the cyclic collector held off (one process may run several)
_pause_lock = threading.Lock()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while a multi send runs. Its full collections
    walk every live object, and a big send keeps hundreds of thousands alive (results, answer,
    rows) without making cycles: each walk finds nothing. Reference counting still frees memory;
    the collector resumes when the last send ends (left alone if something else turned it off)."""
    global _paused
    with _pause_lock:
        ours = _paused > 0 or gc.isenabled()
        if ours:
            _paused += 1
            gc.disable()
    try:
        yield
    finally:
        if ours:
            with _pause_lock:
                _paused -= 1
                if _paused == 0:
                    gc.enable()


@_collector_paused()  # 100,000 numbers' objects, all alive till the answer: nothing to collect
def send_multi(
    services: Services,
    body: Mapping[str, Any],
    *,
    caller: str,
    deadline: float | None,
    idempotency_key: str = "",
    request_id: str = "",
    internal: bool = False,
) -> tuple[int, dict[str, Any], bool]:
    """Validate and send one message to many numbers (chunked, concurrent); per-number results.

    A list above `SMS_FANOUT_THRESHOLD` numbers is queued in chunks when `SMS_FANOUT_QUEUE_URL` is
    set (202, `batch_id`). `internal` marks a queued chunk or a platform invoke: only those may carry
    `batch_id`/`chunk`, and a chunk is keyed on them (sent once however often it is delivered).
    """
    settings = services.settings
    command = validation.parse_multi_send(body, settings, internal=internal)
    plan = command.plan
    assert plan is not None
    catalogue.check_send(services, command.message, _first_of_each_region(plan))
    client_key = command.idempotency_key or idempotency_key
    queued = bool(settings.fanout_queue_url) and len(plan.numbers) > settings.fanout_threshold
    if not command.chunk_key and not queued and len(plan.numbers) > settings.max_inline_numbers:
        raise ValidationError(
            f"{len(plan.numbers)} numbers are more than one invocation sends and answers "
            f"(SMS_MAX_INLINE_NUMBERS={settings.max_inline_numbers}); set SMS_FANOUT_QUEUE_URL to queue "
            "them in chunks, or split the list",
            field="phones",
            code="too_many_numbers",
        )
    if command.chunk_key:  # a queued chunk: sent once however often the queue delivers it
        key = _key("send_multi_chunk", "batch", command.chunk_key, "")
    else:
        key = _key("send_multi", caller, client_key, request_id)
    claim = idempotency.claim(services, key, _fingerprinted(body), deadline=deadline)
    if claim.replay is not None:
        return (*claim.replay, True)
    try:
        if queued and not command.chunk_key:
            answer = _queue_chunks(services, command, caller=caller, client_key=client_key)
        else:
            answer = _send_many(services, command, caller=caller, deadline=deadline)
    except BaseException as error:
        claim.abandon(error)
        raise
    claim.complete(answer, kept=_for_platform_retry if not command.chunk_key and not client_key else _as_is)
    return (*answer, False)


def _first_of_each_region(plan: SendPlan) -> list[catalogue.Target]:
    """The first mainland and the first international number of a list, in the caller's order:
    what `catalogue.check_send` checks (each region's template, once)."""
    firsts = {is_mainland(chunk[0]): chunk[0] for chunk in reversed(plan.chunks)}
    at = sorted((plan.numbers.index(n), n) for n in firsts.values())
    return [catalogue.Target(n, f"phones[{plan.positions[i]}]") for i, n in at]


def _send_many(
    services: Services, command: validation.SendCommand, *, caller: str, deadline: float | None
) -> Answer:
    """Opt-outs and limits for every number before any SMS leaves, then the chunks, recorded as
    they come; per-number results in the caller's order."""
    settings, plan, message = services.settings, command.plan, command.message
    assert plan is not None
    request_hit = None
    if not command.chunk_key:  # the enqueuing request already counted for a chunk's caller
        request_hit = limits.reserve(
            services, limits.checks_for(settings, caller=caller, phones=(), scope="multi", global_cap=False)
        )
    held = {
        n: suppressions.suppressed_result(n) for n in suppressions.blocked(services, plan.numbers, message)
    }
    if held:
        logger.info("sms suppressed", extra={"numbers": len(held), "phones": sorted(mask(n) for n in held)})
    # a chunk's caller allowance was counted when its list was queued
    budget = limits.reserve_numbers(
        services, without(plan, held).numbers, caller="" if command.chunk_key else caller
    )
    if budget.refused and not budget.reserved and not command.chunk_key:
        if request_hit is not None:
            request_hit.release()  # nothing goes out: the request is not counted either
        raise _all_refused(budget)
    held.update((n, limits.limited_result(n, decision)) for n, decision in budget.refused.items())
    try:
        with ChunkRecorder(services, message, caller) as recorder:
            outcome = services.client.send_plan(
                without(plan, held), message, deadline=deadline, on_chunk=recorder.add
            )
    finally:
        services.store.settle()  # the budget's hits may commit while the first chunks go out
    budget.release(r.phone for r in outcome.results if r.status == "failed")  # provably not sent
    outcome = _in_plan_order(plan, outcome, held)
    _count(outcome.results)
    counts = outcome.counts()
    logger.info(
        "multi send done",
        extra={
            "numbers": len(outcome.results),
            "submitted": counts["submitted"],
            "failed": counts["failed"],
            "unknown": counts["unknown"],
            "rate_limited": counts["rate_limited"],
            "suppressed": counts["suppressed"],
            "requests": outcome.requests,
            "caller": caller,
            "chunk": command.chunk_key,
        },
    )
    return multi_status(outcome), outcome.to_dict()


def _queue_chunks(
    services: Services, command: validation.SendCommand, *, caller: str, client_key: str
) -> Answer:
    """A list too long for one invocation: its chunks go on the queue (202 with the `batch_id`)."""
    from shared import fanout  # only lists above the fan-out threshold need it

    settings, plan = services.settings, command.plan
    assert plan is not None
    # the request, and the caller's allowance for every number of the list, all or nothing: a
    # queued number held back by the allowance would have nobody to tell
    limits.reserve_all(
        services,
        limits.checks_for(settings, caller=caller, phones=(), scope="multi", global_cap=False)
        + limits.allowance_checks(settings, caller) * len(plan.numbers),
    )
    batch_id = fanout.new_batch_id(f"{caller}\n{client_key}" if client_key else "")
    chunks = fanout.chunks_for(
        batch_id, plan, validation.message_fields(services.client.with_defaults(command.message))
    )
    fanout.enqueue(services, chunks)
    metrics.add_metric(name="ChunksQueued", unit="Count", value=len(chunks))
    logger.info(
        "multi send queued",
        extra={"numbers": len(plan.numbers), "chunks": len(chunks), "batch_id": batch_id, "caller": caller},
    )
    answer: dict[str, Any] = {"batch_id": batch_id, "queued": len(plan.numbers), "chunks": len(chunks)}
    if plan.duplicates:
        answer["duplicates_removed"] = list(plan.duplicates)
    return 202, answer


def _key(scope: str, caller: str, client_key: str, request_id: str) -> str:
    """The idempotency key of a send: the client's key, else the platform's request id, else none."""
    key = client_key or (f"request:{request_id}" if request_id else "")
    return idempotency.scoped_key(scope, caller, key) if key else ""


def _fingerprinted(body: Mapping[str, Any]) -> dict[str, Any]:
    """What must match for a key's replay: the request without the key itself."""
    return {k: v for k, v in body.items() if k != "idempotency_key"}


def _as_is(answer: dict[str, Any]) -> dict[str, Any]:
    return answer


def _for_platform_retry(answer: dict[str, Any]) -> dict[str, Any]:
    """What a platform request id keeps of an answer. Only an asynchronous invocation is retried
    with its request id, and nobody reads its answer: the counts are enough, not 100,000
    per-number results (megabytes to encode and store). A client's Idempotency-Key keeps everything."""
    if "results" not in answer:
        return answer
    kept = {name: value for name, value in answer.items() if name != "results"}
    return {**kept, "results_kept": False}


def multi_status(outcome: MultiSendResult) -> int:
    """200 when anything went out; otherwise the status of the first failure (429 when every
    number was held back by a limit)."""
    if outcome.submitted or not outcome.results:
        return 200
    failure = next((r for r in outcome.results if r.status not in ("rate_limited", "suppressed")), None)
    if failure is not None:
        return status_for(failure)
    if any(r.status == "rate_limited" for r in outcome.results):
        return 429
    return status_for(outcome.results[0])  # every number opted out


def _in_plan_order(
    plan: SendPlan, outcome: MultiSendResult, held: Mapping[str, SendResult]
) -> MultiSendResult:
    """Every number's result in the caller's order: those sent, and those held back (opted out or
    over a limit) with the result that says why."""
    if not held:
        return outcome
    sent = {r.phone: r for r in outcome.results}
    return outcome._replace(results=tuple(held[n] if n in held else sent[n] for n in plan.numbers))


def _all_refused(budget: limits.NumberBudget) -> RateLimitedError:
    """The 429 of a multi send none of whose numbers may go: the soonest any could, and its limit."""
    decision = min(budget.refused.values(), key=lambda d: d.retry_after)
    check = decision.check
    assert check is not None
    error = limits.limited_error(
        decision,
        f"every number is over a rate limit (first to have room: {check.name}, in "
        f"{max(1, decision.retry_after)} s); nothing was sent",
    )
    error.details["rate_limited"] = len(budget.refused)
    return error


def status_for(result: SendResult) -> int:
    if result.status == "suppressed":
        return 409
    return 504 if result.status == "unknown" else status_for_code(result.code)


def _error_code(result: SendResult) -> str:
    if result.status == "unknown":
        return "outcome_unknown"
    return result.code if result.code.islower() else "send_failed"


def _record(services: Services, results: Sequence[SendResult], message: Message, caller: str) -> None:
    """Keep a row per accepted message. Nothing here may turn a sent SMS into an error, not even
    a bug: a failure is logged with the messages (phones masked) and the send goes on."""
    accepted = [r for r in results if r.message_id]
    if not accepted:
        return
    try:
        for template_id, group in templates.by_template(accepted, message):
            services.store.record_sends(
                group,
                template_id=template_id,
                params=list(message.params),
                sign=message.sign,
                caller=caller,
                now=services.now(),
            )
    except Exception as error:  # raising now would make a retry send these messages again
        logger.error(
            "sent but not recorded",
            extra={
                "error_code": error.code if isinstance(error, SmsError) else "internal_error",
                "messages": [{"message_id": r.message_id, "phone": mask(r.phone)} for r in accepted],
            },
            exc_info=not isinstance(error, SmsError),  # a bug: keep its traceback
        )


class ChunkRecorder:
    """Stores a multi send's chunk results as they come, from one writer thread that takes every
    chunk waiting at once (up to `max_rows`) into one transaction: the send workers never wait for
    the store, and 100,000 numbers take a few commits rather than one per chunk. In a store holding
    many messages each new row lands on its own page of the phone index: the more rows a commit
    holds, the more of them share a page written once. Leaving the `with` block waits until
    everything handed over is written (or logged as not recorded)."""

    def __init__(self, services: Services, message: Message, caller: str, *, max_rows: int = 50000) -> None:
        import queue

        self._services, self._message, self._caller, self._max_rows = services, message, caller, max_rows
        self._queue: queue.SimpleQueue[list[SendResult] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_all, name="sms-recorder", daemon=True)

    def __enter__(self) -> ChunkRecorder:
        self._writer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._writer.join()

    def add(self, results: list[SendResult]) -> None:
        """Hand over one chunk's results (called from the send workers; never blocks on the store)."""
        self._queue.put(results)

    def _write_all(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = list(first)  # a new list: the worker keeps its own
            while len(batch) < self._max_rows and not self._queue.empty():
                more = self._queue.get()
                if more is None:
                    self._queue.put(None)  # the end: after this batch
                    break
                batch.extend(more)
            _record(self._services, batch, self._message, self._caller)  # never raises


def _count(results: Sequence[SendResult]) -> None:
    statuses = status_counts(results)
    fee = sum(map(operator.attrgetter("fee"), results))
    submitted, limited, suppressed = statuses["submitted"], statuses["rate_limited"], statuses["suppressed"]
    failed = len(results) - submitted - limited - suppressed
    if limited:
        metrics.add_metric(name="MessagesRateLimited", unit="Count", value=limited)
    if suppressed:
        metrics.add_metric(name="MessagesSuppressed", unit="Count", value=suppressed)
    if submitted:
        metrics.add_metric(name="MessagesSubmitted", unit="Count", value=submitted)
        metrics.add_metric(name="Fee", unit="Count", value=fee)
    if failed:
        metrics.add_metric(name="MessagesFailed", unit="Count", value=failed)


class RetryChunkError(SmsError):
    """A queued chunk of which nothing was sent, for a reason that may pass: let the queue retry it."""

    status, code = 503, "chunk_retry"


def send_queued_chunk(services: Services, body_text: str, *, record_id: str, deadline: float | None) -> None:
    """One queue record: a chunk of a list too long for one invocation (see `shared.fanout`).

    Raises `RetryChunkError` only when nothing of it went out and the failure may pass (Tencent
    unreachable, time running out), and `ValidationError` when it is invalid (the queue's
    dead-letter queue then keeps it). A chunk with any submitted or unknown-outcome number is never
    retried: that would resend.
    """
    import json

    try:
        body = json.loads(body_text)
    except ValueError:
        raise ValidationError("queue record body is not JSON", field="body") from None
    status, answer, _ = send_multi(
        services, body, caller="queue", deadline=deadline, request_id=f"sqs:{record_id}", internal=True
    )
    if status == 202:
        return  # a big list put on the queue again: its chunks come back as records
    if answer["submitted"] == 0 and not answer.get("unknown") and status in (503,):
        raise RetryChunkError("nothing of this chunk was sent; the queue will retry it")
    if answer["failed"] or answer.get("unknown"):
        logger.error(
            "queued chunk partly failed; not retried to avoid duplicates",
            extra={"record": record_id, "failed": answer["failed"], "unknown": answer.get("unknown", 0)},
        )
    if answer.get("rate_limited"):  # a retry would send what the limits held back
        limited = Counter(r["limit"] for r in answer.get("results", ()) if r["status"] == "rate_limited")
        logger.warning(
            "queued chunk: numbers held back by rate limits; not retried",
            extra={"record": record_id, "rate_limited": answer["rate_limited"], "limits": dict(limited)},
        )
