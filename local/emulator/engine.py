"""The protocol-neutral heart of the emulator: sending rules, records, receipt and reply queues.

The protocol adapters (`legacy`, `v3`) parse and verify wire requests into `SendSpec`s and pull
calls, and format what comes back. All state lives here, behind one lock.
"""

from __future__ import annotations

import random
import re
import threading
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from local.emulator import codes, templates_api
from local.emulator.catalogue import Catalogue, FrequencyLimits
from local.emulator.codes import Rejected, Rejection
from local.emulator.numbers import Destination, normalize
from local.emulator.text import billed_parts, render, with_signature

Protocol = Literal["legacy", "v3"]
ReportStatus = Literal["SUCCESS", "FAIL"]

_URL = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*://|www\.|\b[a-z0-9-]+\.(?:com|cn|net|org|io|cc|me|top|xyz|info|biz|co)\b)"
)
MAX_NUMBERS_PER_REQUEST = 200
_DAY = 86_400
_BEIJING_OFFSET = 8 * 3600


@dataclass(frozen=True)
class SendSpec:
    """A send request after parsing and authentication, before the sending rules."""

    protocol: Protocol
    operation: str
    app_id: str
    destinations: tuple[Destination, ...]
    template_id: str
    params: tuple[str, ...]
    sign: str
    extend: str = ""
    session_context: str = ""


@dataclass(frozen=True)
class SentMessage:
    """A message the emulator accepted: what the handset would show, and who sent it how."""

    message_id: str
    app_id: str
    phone: str
    nationcode: str
    mobile: str
    sign: str
    template_id: str
    params: tuple[str, ...]
    text: str
    fee: int
    protocol: Protocol
    operation: str
    session_context: str
    extend: str
    submitted_at: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["params"] = list(self.params)
        return data


@dataclass(frozen=True)
class Receipt:
    """The delivery report of one message; it becomes pullable at `due_at`."""

    message: SentMessage
    due_at: float
    received_at: int
    status: ReportStatus
    carrier_code: str  # e.g. DELIVRD
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message.message_id,
            "phone": self.message.phone,
            "report_status": self.status,
            "carrier_code": self.carrier_code,
            "description": self.description,
            "received_at": self.received_at,
        }


@dataclass(frozen=True)
class InboundReply:
    """An SMS a handset sent back; pullable from its `time` on."""

    app_id: str
    phone: str
    nationcode: str
    mobile: str
    text: str
    sign: str
    extend: str
    time: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcomes:
    """What became of each number of a send, in request order: its message id, or why it was refused."""

    results: list[str | Rejection]
    fee: int  # parts billed for each accepted number


_ID_PREFIX = "2019:"
_ID_RANDOM_DIGITS = 10


def _message_id(prefix: str, sequence: int) -> str:
    """`2019:` and random digits (one draw per send), then the engine's sequence number."""
    return f"{prefix}{sequence:09d}"


@dataclass(eq=False)
class _Batch:
    """The numbers one send was accepted for: what they share once, and one entry per number.

    Messages and receipts are built from it when asked for; a send only stores this.
    """

    spec: SendSpec
    text: str
    fee: int
    submitted_at: float
    due_at: float
    id_prefix: str  # `2019:` and random digits, shared by the batch
    first: int  # the sequence number of numbers[0]; the others follow on
    numbers: list[Destination]  # the accepted ones, in request order
    failed: frozenset[int]  # indexes of the numbers whose delivery fails

    def message_id(self, index: int) -> str:
        return _message_id(self.id_prefix, self.first + index)

    def message(self, index: int) -> SentMessage:
        spec, number = self.spec, self.numbers[index]
        return SentMessage(
            message_id=self.message_id(index),
            app_id=spec.app_id,
            phone=number.e164 or "",
            nationcode=number.nationcode,
            mobile=number.mobile,
            sign=spec.sign,
            template_id=spec.template_id,
            params=spec.params,
            text=self.text,
            fee=self.fee,
            protocol=spec.protocol,
            operation=spec.operation,
            session_context=spec.session_context,
            extend=spec.extend,
            submitted_at=self.submitted_at,
        )

    def receipt(self, index: int) -> Receipt:
        failed = index in self.failed
        return Receipt(
            message=self.message(index),
            due_at=self.due_at,
            received_at=int(self.due_at),
            status="FAIL" if failed else "SUCCESS",
            carrier_code="MK:0001" if failed else "DELIVRD",
            description="用户号码状态异常" if failed else "用户短信送达成功",
        )


@dataclass(eq=False)
class _Pending:
    """A batch in an app's receipt queue and how many of its receipts were handed out."""

    batch: _Batch
    taken: int = 0


@dataclass
class Counters:
    accepted: int = 0
    requests: int = 0
    connections: int = 0
    rejected: int = 0


class Engine:
    """Sending rules and all emulator state. Every public method is thread-safe."""

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        clock: Callable[[], float],
        receipt_delay: float = 0.0,
        failure_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if receipt_delay < 0:
            raise ValueError("receipt_delay must not be negative")
        self.catalogue = catalogue
        self.clock = clock
        self.receipt_delay = receipt_delay
        self.failure_rate = failure_rate
        self.seed = seed
        self.lock = threading.Lock()
        self.counters = Counters()
        # Message ids stay unique across resets and runs (a store may outlive the emulator), so
        # they are not seeded; the delivery outcomes are.
        self._id_rng = random.Random()
        self._sequence = 0
        self._reset_state()

    def _reset_state(self) -> None:
        self._outcome_rng = random.Random(self.seed)
        self._batches: list[_Batch] = []
        self._firsts: list[int] = []  # each batch's first sequence number, for look-ups by id
        self._receipt_queue: defaultdict[str, deque[_Pending]] = defaultdict(deque)
        self._by_phone: defaultdict[str, list[tuple[_Batch, int]]] = defaultdict(list)
        self._indexed = 0  # batches in _by_phone so far: it is brought up to date when read
        self._reply_queue: defaultdict[str, deque[InboundReply]] = defaultdict(deque)
        self._replies_by_phone: defaultdict[tuple[str, str], list[InboundReply]] = defaultdict(list)
        self._send_times: defaultdict[str, deque[float]] = defaultdict(deque)

    def reset(self) -> None:
        """Forget messages, receipts, replies and counters (the catalogue and faults stay)."""
        with self.lock:
            self._reset_state()
            self.counters = Counters()

    def count(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self.counters, name, getattr(self.counters, name) + amount)

    # ------------------------------------------------------------------ sending

    @staticmethod
    def check_numbers(destinations: Sequence[Destination]) -> None:
        """Request-level number rules: 1–200 numbers, no valid mainland and international ones mixed."""
        if not destinations:
            raise Rejected(codes.EMPTY_NUMBERS)
        if len(destinations) > MAX_NUMBERS_PER_REQUEST:
            raise Rejected(codes.TOO_MANY_NUMBERS)
        if len({d.mainland for d in destinations if d.e164 is not None}) > 1:
            raise Rejected(codes.MIXED_NUMBERS)

    @staticmethod
    def is_mainland(destinations: Sequence[Destination]) -> bool:
        """The region class of a request: its valid numbers', else a guess from the first number."""
        return next((d.mainland for d in destinations if d.e164 is not None), destinations[0].mainland)

    def send(self, spec: SendSpec) -> Outcomes:
        """Apply the sending rules; raise `Rejected` for the request, else one result per number."""
        catalogue = self.catalogue
        self.check_numbers(spec.destinations)
        mainland = self.is_mainland(spec.destinations)
        if spec.sign and spec.sign not in catalogue.signs:
            raise Rejected(codes.SIGN, f"the signature {spec.sign!r} is not approved")
        if not spec.sign and mainland:
            raise Rejected(codes.SIGN, "a Chinese-mainland message needs an approved signature")
        template = catalogue.templates.get(spec.template_id)
        if template is None:
            raise Rejected(codes.TEMPLATE, f"template {spec.template_id!r} is not approved")
        templates_api.check_live(template)
        for param in spec.params:
            if len(param) > catalogue.max_param_length:
                raise Rejected(
                    codes.PARAM_TOO_LONG,
                    f"template parameter {param!r} is longer than {catalogue.max_param_length} characters",
                )
            if _URL.search(param):
                raise Rejected(codes.URL_IN_PARAM, f"template parameter {param!r} contains a URL")
        text = with_signature(spec.sign, render(template.text, spec.params))
        fee = billed_parts(text, international=not mainland)
        international = template.international
        wrong_region = (
            codes.GLOBAL_TEMPLATE_TO_MAINLAND if international else codes.MAINLAND_TEMPLATE_TO_GLOBAL
        )
        params_fit = len(spec.params) == template.param_count
        limits = catalogue.frequency_limits
        limited = limits.enabled
        results: list[str | Rejection] = []
        accepted: list[Destination] = []
        with self.lock:
            now = self.clock()
            prefix = _ID_PREFIX + str(
                self._id_rng.randrange(10 ** (_ID_RANDOM_DIGITS - 1), 10**_ID_RANDOM_DIGITS)
            )
            sequence = first = self._sequence + 1
            for destination in spec.destinations:
                e164 = destination.e164
                if e164 is None:
                    results.append(codes.BAD_NUMBER)
                elif not template.serves(mainland=destination.mainland):
                    results.append(wrong_region)
                elif not params_fit:
                    results.append(codes.PARAM_COUNT)
                elif limited and (refused := self._frequency_rejection(e164, limits, now)) is not None:
                    results.append(refused)
                else:
                    if limited:
                        self._send_times[e164].append(now)
                    results.append(_message_id(prefix, sequence))
                    accepted.append(destination)
                    sequence += 1
            if accepted:
                self._store(spec, text, fee, now, prefix, first, accepted)
            self.counters.rejected += len(results) - len(accepted)
        return Outcomes(results, fee)

    def _store(
        self,
        spec: SendSpec,
        text: str,
        fee: int,
        now: float,
        prefix: str,
        first: int,
        numbers: list[Destination],
    ) -> None:
        """Keep one batch for the accepted numbers and queue its receipts (under the lock)."""
        draw, rate = self._outcome_rng.random, self.failure_rate
        failed = frozenset(index for index in range(len(numbers)) if draw() < rate)
        batch = _Batch(spec, text, fee, now, now + self.receipt_delay, prefix, first, numbers, failed)
        self._sequence = first + len(numbers) - 1
        self._batches.append(batch)
        self._firsts.append(first)
        self._receipt_queue[spec.app_id].append(_Pending(batch))
        self.counters.accepted += len(numbers)

    def _frequency_rejection(self, e164: str, limits: FrequencyLimits, now: float) -> Rejection | None:
        times = self._send_times[e164]
        while times and times[0] <= now - _DAY:
            times.popleft()
        day_start = now - (now + _BEIJING_OFFSET) % _DAY  # the natural day in Beijing time
        checks = (
            (limits.thirty_seconds, sum(1 for t in times if now - t < 30), codes.THIRTY_SECOND_LIMIT),
            (limits.one_hour, sum(1 for t in times if now - t < 3600), codes.ONE_HOUR_LIMIT),
            (limits.one_day, sum(1 for t in times if t >= day_start), codes.DAILY_LIMIT),
        )
        for cap, sent, rejection in checks:
            if cap is not None and sent >= cap:
                return rejection
        return None

    # ------------------------------------------------------------------ pulls

    def pull_receipts(self, app_id: str, limit: int) -> list[Receipt]:
        """Due receipts not handed out before, oldest first; each is handed out once."""
        with self.lock:
            queue, now = self._receipt_queue[app_id], self.clock()
            out: list[Receipt] = []
            while queue and len(out) < limit and queue[0].batch.due_at <= now:  # due order = submission order
                pending = queue[0]
                batch, start = pending.batch, pending.taken
                pending.taken = min(len(batch.numbers), start + limit - len(out))
                out.extend(batch.receipt(index) for index in range(start, pending.taken))
                if pending.taken == len(batch.numbers):
                    queue.popleft()
        return out

    def pull_replies(self, app_id: str, limit: int) -> list[InboundReply]:
        """Replies whose time has come, not handed out before; each is handed out once."""
        with self.lock:
            now = self.clock()
            queue = self._reply_queue[app_id]
            out = [r for r in queue if r.time <= now][:limit]
            if out:
                taken = {id(r) for r in out}
                self._reply_queue[app_id] = deque(r for r in queue if id(r) not in taken)
        return out

    def receipts_for(self, app_id: str, e164: str, begin: int, end: int, limit: int) -> list[Receipt]:
        """One number's due receipts received within [begin, end], as often as asked."""
        with self.lock:
            now = self.clock()
            found = [
                batch.receipt(index)
                for batch, index in self._phone_index().get(e164, ())
                if batch.spec.app_id == app_id and batch.due_at <= now and begin <= int(batch.due_at) <= end
            ]
        return found[:limit]

    def replies_for(self, app_id: str, e164: str, begin: int, end: int, limit: int) -> list[InboundReply]:
        with self.lock:
            now = self.clock()
            items = self._replies_by_phone.get((app_id, e164), [])
            found = [r for r in items if r.time <= now and begin <= r.time <= end]
        return found[:limit]

    def inject_reply(
        self,
        phone: str,
        text: str,
        *,
        sign: str,
        extend: str = "",
        at: float | None = None,
        app_id: str | None = None,
    ) -> InboundReply:
        """Queue an inbound SMS from `phone` (E.164, or a mainland form API 3.0 accepts); a
        number that is not valid raises ValueError."""
        e164, code, national = normalize(phone)
        with self.lock:
            when = int(self.clock() if at is None else at)
            reply = InboundReply(
                app_id or self.catalogue.default_app_id, e164, code, national, text, sign, extend, when
            )
            self._reply_queue[reply.app_id].append(reply)
            self._replies_by_phone[(reply.app_id, e164)].append(reply)
        return reply

    # ------------------------------------------------------------------ inspection

    def messages(self, phone: str | None = None) -> list[SentMessage]:
        """Accepted messages, newest first, optionally for one E.164 number."""
        with self.lock:
            if phone is None:
                entries = [(batch, index) for batch in self._batches for index in range(len(batch.numbers))]
            else:
                entries = list(self._phone_index().get(phone, ()))
            return [batch.message(index) for batch, index in reversed(entries)]

    def receipt(self, message_id: str) -> Receipt | None:
        """The receipt of a message once it is due, else None."""
        with self.lock:
            found = self._find(message_id)
            now = self.clock()
            if found is None or found[0].due_at > now:
                return None
            return found[0].receipt(found[1])

    def _find(self, message_id: str) -> tuple[_Batch, int] | None:
        """The batch and index of a message id (under the lock); ids end in the sequence number."""
        sequence = message_id[len(_ID_PREFIX) + _ID_RANDOM_DIGITS :]
        if not (sequence.isascii() and sequence.isdigit()):
            return None
        position = bisect_right(self._firsts, int(sequence)) - 1
        if position < 0:
            return None
        batch = self._batches[position]
        index = int(sequence) - batch.first
        if index >= len(batch.numbers) or batch.message_id(index) != message_id:
            return None
        return batch, index

    def _phone_index(self) -> defaultdict[str, list[tuple[_Batch, int]]]:
        """Accepted messages by E.164 number (under the lock), indexed when first asked for: a
        send does not pay for it."""
        for batch in self._batches[self._indexed :]:
            for index, number in enumerate(batch.numbers):
                self._by_phone[number.e164 or ""].append((batch, index))
        self._indexed = len(self._batches)
        return self._by_phone

    def stats(self) -> dict[str, int]:
        with self.lock:
            return asdict(self.counters)
