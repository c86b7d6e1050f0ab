"""The protocol-neutral heart of the emulator: sending rules, records, receipt and reply queues.

The protocol adapters (`legacy`, `v3`) parse and verify wire requests into `SendSpec`s and pull
calls, and format what comes back. All state lives here, behind one lock.
"""

from __future__ import annotations

import random
import re
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from local.emulator import codes
from local.emulator.catalogue import Catalogue, FrequencyLimits, Template
from local.emulator.codes import Rejected, Rejection
from local.emulator.numbers import Destination
from shared import phone as phones
from shared.payloads import (
    MAX_NUMBERS_PER_REQUEST,
    render_template,
    segment_count,
    signed_text,
)

Protocol = Literal["legacy", "v3"]
ReportStatus = Literal["SUCCESS", "FAIL"]

_URL = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*://|www\.|\b[a-z0-9-]+\.(?:com|cn|net|org|io|cc|me|top|xyz|info|biz|co)\b)"
)
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
class Outcome:
    """What happened to one number of a send: a message, or a rejection."""

    destination: Destination
    message: SentMessage | None = None
    rejection: Rejection | None = None


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
        self._messages: list[SentMessage] = []
        self._messages_by_phone: defaultdict[str, list[SentMessage]] = defaultdict(list)
        self._receipts: dict[str, Receipt] = {}
        self._receipt_queue: defaultdict[str, deque[Receipt]] = defaultdict(deque)
        self._receipts_by_phone: defaultdict[tuple[str, str], list[Receipt]] = defaultdict(list)
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

    def send(self, spec: SendSpec) -> list[Outcome]:
        """Apply the sending rules; raise `Rejected` for the request, else one outcome per number."""
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
        for param in spec.params:
            if len(param) > catalogue.max_param_length:
                raise Rejected(
                    codes.PARAM_TOO_LONG,
                    f"template parameter {param!r} is longer than {catalogue.max_param_length} characters",
                )
            if _URL.search(param):
                raise Rejected(codes.URL_IN_PARAM, f"template parameter {param!r} contains a URL")
        text = signed_text(spec.sign, render_template(template.text, spec.params))
        fee = segment_count(text, international=not mainland)
        outcomes: list[Outcome] = []
        with self.lock:
            now = self.clock()
            for destination in spec.destinations:
                rejection = self._number_rejection(destination, template, spec, now)
                if rejection is not None:
                    outcomes.append(Outcome(destination, rejection=rejection))
                    continue
                message = self._record(spec, destination, text, fee, now)
                outcomes.append(Outcome(destination, message=message))
            self.counters.rejected += sum(1 for o in outcomes if o.rejection is not None)
        return outcomes

    def _number_rejection(
        self, destination: Destination, template: Template, spec: SendSpec, now: float
    ) -> Rejection | None:
        if destination.e164 is None:
            return codes.BAD_NUMBER
        if destination.mainland and template.international:
            return codes.GLOBAL_TEMPLATE_TO_MAINLAND
        if not destination.mainland and not template.international:
            return codes.MAINLAND_TEMPLATE_TO_GLOBAL
        if len(spec.params) != template.param_count:
            return codes.PARAM_COUNT
        limits = self.catalogue.frequency_limits
        if limits.enabled:
            return self._frequency_rejection(destination.e164, limits, now)
        return None

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

    def _record(
        self, spec: SendSpec, destination: Destination, text: str, fee: int, now: float
    ) -> SentMessage:
        assert destination.e164 is not None
        self._sequence += 1
        message = SentMessage(
            message_id=f"2019:{self._id_rng.randrange(10**9, 10**10)}{self._sequence:09d}",
            app_id=spec.app_id,
            phone=destination.e164,
            nationcode=destination.nationcode,
            mobile=destination.mobile,
            sign=spec.sign,
            template_id=spec.template_id,
            params=spec.params,
            text=text,
            fee=fee,
            protocol=spec.protocol,
            operation=spec.operation,
            session_context=spec.session_context,
            extend=spec.extend,
            submitted_at=now,
        )
        self._messages.append(message)
        self._messages_by_phone[message.phone].append(message)
        if self.catalogue.frequency_limits.enabled:
            self._send_times[message.phone].append(now)
        failed = self._outcome_rng.random() < self.failure_rate
        due = now + self.receipt_delay
        receipt = Receipt(
            message=message,
            due_at=due,
            received_at=int(due),
            status="FAIL" if failed else "SUCCESS",
            carrier_code="MK:0001" if failed else "DELIVRD",
            description="用户号码状态异常" if failed else "用户短信送达成功",
        )
        self._receipts[message.message_id] = receipt
        self._receipt_queue[spec.app_id].append(receipt)
        self._receipts_by_phone[(spec.app_id, message.phone)].append(receipt)
        self.counters.accepted += 1
        return message

    # ------------------------------------------------------------------ pulls

    def pull_receipts(self, app_id: str, limit: int) -> list[Receipt]:
        """Due receipts not handed out before, oldest first; each is handed out once."""
        with self.lock:
            queue, now = self._receipt_queue[app_id], self.clock()
            out: list[Receipt] = []
            while queue and len(out) < limit and queue[0].due_at <= now:  # due order = submission order
                out.append(queue.popleft())
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
            items = self._receipts_by_phone.get((app_id, e164), [])
            found = [r for r in items if r.due_at <= now and begin <= r.received_at <= end]
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
        """Queue an inbound SMS from `phone` (any form `shared.phone.normalize` accepts)."""
        e164 = phones.normalize(phone)
        code, number = phones.split(e164)
        with self.lock:
            when = int(self.clock() if at is None else at)
            reply = InboundReply(
                app_id or self.catalogue.default_app_id, e164, code, number, text, sign, extend, when
            )
            self._reply_queue[reply.app_id].append(reply)
            self._replies_by_phone[(reply.app_id, e164)].append(reply)
        return reply

    # ------------------------------------------------------------------ inspection

    def messages(self, phone: str | None = None) -> list[SentMessage]:
        """Accepted messages, newest first, optionally for one E.164 number."""
        with self.lock:
            items = list(self._messages if phone is None else self._messages_by_phone.get(phone, ()))
        items.reverse()
        return items

    def receipt(self, message_id: str) -> Receipt | None:
        """The receipt of a message once it is due, else None."""
        with self.lock:
            receipt = self._receipts.get(message_id)
            now = self.clock()
        return receipt if receipt is not None and receipt.due_at <= now else None

    def stats(self) -> dict[str, int]:
        with self.lock:
            return asdict(self.counters)
