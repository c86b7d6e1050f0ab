"""SmsClient: send and pull over the configured Tencent protocol (legacy v5 or API 3.0)."""

from __future__ import annotations

import operator
import secrets
import time
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any

from shared import payloads, templates
from shared import phone as phones
from shared.config import Settings
from shared.errors import SmsError, UnknownOutcomeError, ValidationError
from shared.models import Message, MultiSendResult, PullKind, PullResult, SendResult, SendStatus
from shared.outbound import OutboundRequest
from shared.payloads import ApiCall
from shared.plan import SendPlan
from shared.transport import Transport, TransportOptions, shared_transport

_PHONE = operator.attrgetter("phone")


def _legacy_random() -> int:
    return 100000 + secrets.randbelow(4_294_967_295 - 100000)


class SmsClient:
    """Tencent SMS operations; one instance per container is enough (it is thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport | None = None,
        *,
        clock: Callable[[], float] = time.time,
        random_source: Callable[[], int] = _legacy_random,
    ) -> None:
        settings.require_credentials()
        self.settings = settings
        self.transport = transport or shared_transport(transport_options(settings))
        self._clock = clock
        self._random = random_source

    # ------------------------------------------------------------------ sends

    def send_single(self, phone: str, message: Message, *, deadline: float | None = None) -> SendResult:
        """Send to one E.164 number. Request-level failures raise; a per-number failure is a result."""
        message = self.with_defaults(message)
        return self._send_chunk((phones.normalize(phone),), message, deadline)[0]

    def send_plan(
        self,
        plan: SendPlan,
        message: Message,
        *,
        deadline: float | None = None,
        on_chunk: Callable[[list[SendResult]], None] | None = None,
    ) -> MultiSendResult:
        """Send a pre-flighted plan (see `plan.plan_multi_send`): at most `SMS_SEND_CONCURRENCY` API
        calls in flight, one worker thread each, over the shared pools.
        `on_chunk` gets each chunk's results in its worker as soon as they are known (e.g. to store
        them while other chunks are still in flight); it must not raise."""
        message = self.with_defaults(message)
        workers = max(1, min(self.settings.send_concurrency, len(plan.chunks)))

        def run(chunk: tuple[str, ...]) -> list[SendResult]:
            try:
                results = self._send_chunk(chunk, message, deadline)
            except SmsError as error:
                results = [_failed_result(p, error) for p in chunk]
            if on_chunk is not None:
                on_chunk(results)
            return results

        if workers == 1:
            chunk_results = [run(chunk) for chunk in plan.chunks]
        else:
            from concurrent.futures import ThreadPoolExecutor  # not needed by single sends' cold start

            with ThreadPoolExecutor(max_workers=workers) as pool:
                chunk_results = list(pool.map(run, plan.chunks))
        results = tuple(chain.from_iterable(chunk_results))
        if list(map(_PHONE, results)) != list(plan.numbers):  # chunks of both regions: not in list order
            results = in_list_order(results, plan.numbers)
        return MultiSendResult(results, plan.duplicates, len(plan.chunks))

    def with_defaults(self, message: Message) -> Message:
        """Fill the sign and template from the settings when the request gives none."""
        if not message.is_content and not message.template_id and not message.template_id_international:
            s = self.settings
            pair = templates.defaults(s.default_template_id, s.default_template_id_international, s)
            if not any(pair):
                raise ValidationError(
                    "template_id is required (no TENCENT_SMS_TEMPLATE_ID default is set)", field="template_id"
                )
            message = templates.with_templates(message, *pair)
        if not message.sign and self.settings.default_sign:
            message = message._replace(sign=self.settings.default_sign)
        if message.is_content and self.settings.api != "legacy":
            raise ValidationError(
                "plain-content sends need the legacy API (TENCENT_SMS_API=legacy)", field="content"
            )
        return message

    def _send_chunk(
        self, chunk: tuple[str, ...], message: Message, deadline: float | None
    ) -> list[SendResult]:
        message = message.for_region(international=not phones.is_mainland(chunk[0]))  # one region a chunk
        if not message.is_content and not message.template_id:
            raise ValidationError(
                f"no template for {phones.region_of(chunk[0])} numbers", field="template_id"
            )
        if self.settings.api == "legacy":
            call = payloads.build_legacy_send(chunk, message)
            answer = self._call(call, deadline)
            return payloads.parse_legacy_send(answer, call)
        call = payloads.build_v3_send(chunk, message, self.settings.sdk_app_id)
        answer = self._call(call, deadline)
        return payloads.parse_v3_send(answer, call)

    # ------------------------------------------------------------------ pulls

    def pull(
        self,
        kind: PullKind,
        limit: int = payloads.MAX_PULL,
        *,
        deadline: float | None = None,
        keep_raw: Callable[[str, bytes], object] | None = None,
    ) -> PullResult:
        """Drain up to `limit` items from Tencent's receipt or reply queue (each is handed out once).

        An answer that arrived but cannot be parsed goes to `keep_raw(operation, bytes)` before the
        error is raised: the items it held are gone from Tencent's queue."""
        if self.settings.api == "legacy":
            call = payloads.build_legacy_pull(kind, limit)
            parse = payloads.parse_legacy_pull
        else:
            call = payloads.build_v3_pull(kind, limit, self.settings.sdk_app_id)
            parse = payloads.parse_v3_pull
        content = self._post(call, deadline)
        try:
            return parse(payloads.decode_json(content, call), call, kind)
        except SmsError as error:
            if keep_raw is not None and error.code == payloads.BAD_ANSWER_CODE:
                keep_raw(call.operation, content)
            raise
        except Exception:  # a shape no parser foresaw: still malformed, still kept
            if keep_raw is not None:
                keep_raw(call.operation, content)
            raise payloads.malformed(call) from None

    def pull_for_phone(
        self,
        kind: PullKind,
        phone: str,
        begin: int,
        end: int,
        limit: int = payloads.MAX_PULL,
        *,
        deadline: float | None = None,
    ) -> PullResult:
        """One number's receipts or replies between `begin` and `end` (unix seconds)."""
        if end < begin:
            raise ValidationError("end must not be before begin", field="end")
        if self.settings.api == "legacy":
            call = payloads.build_legacy_pull_for_phone(kind, phone, begin, end, limit)
            return payloads.parse_legacy_pull(self._call(call, deadline), call, kind)
        call = payloads.build_v3_pull_for_phone(kind, phone, begin, end, limit, self.settings.sdk_app_id)
        return payloads.parse_v3_pull(self._call(call, deadline), call, kind)

    # ------------------------------------------------------------------ statistics

    def statistics(
        self, kind: payloads.StatisticsKind, first_hour: int, last_hour: int, *, deadline: float | None = None
    ) -> dict[str, Any]:
        """Tencent's own send or receipt statistics for the hours holding `first_hour` … `last_hour`."""
        if self.settings.api == "legacy":
            call = payloads.build_legacy_statistics(kind, first_hour, last_hour)
        else:
            call = payloads.build_v3_statistics(kind, first_hour, last_hour, self.settings.sdk_app_id)
        return payloads.parse_statistics(self._call(call, deadline), call)

    # ------------------------------------------------------------------ wire

    def call(self, call: ApiCall, *, deadline: float | None = None) -> Any:
        """Sign and send any built `ApiCall` (e.g. `catalogue.build_describe_templates`); its JSON answer."""
        return self._call(call, deadline)

    def sign(self, call: ApiCall) -> OutboundRequest:
        """The exact signed request for `call` at the current time."""
        s = self.settings
        timestamp = int(self._clock())
        if s.api == "legacy":
            return payloads.sign_legacy(
                call,
                base_url=s.base_url,
                appid=s.legacy_appid,
                appkey=s.legacy_appkey.reveal(),
                timestamp=timestamp,
                random=self._random(),
            )
        return payloads.sign_v3(
            call,
            base_url=s.base_url,
            secret_id=s.secret_id,
            secret_key=s.secret_key.reveal(),
            session_token=s.session_token.reveal(),
            region=s.region,
            timestamp=timestamp,
        )

    def _call(self, call: ApiCall, deadline: float | None) -> Any:
        return payloads.decode_json(self._post(call, deadline), call)

    def _post(self, call: ApiCall, deadline: float | None) -> bytes:
        request = self.sign(call)
        return self.transport.post(request, is_send=call.is_send, phones=call.phones, deadline=deadline)


def in_list_order(results: tuple[SendResult, ...], numbers: tuple[str, ...]) -> tuple[SendResult, ...]:
    """The results of `numbers`, whose mainland chunks went first, in the list's order: the two
    runs merged back as the numbers' regions say, in C, and checked; any other order by lookup."""
    mainland = list(map(str.startswith, numbers, repeat(phones.MAINLAND_PREFIX)))
    first = mainland.count(True)
    runs = (iter(results[first:]), iter(results[:first]))  # indexed by "is mainland"
    merged = tuple(map(next, map(runs.__getitem__, mainland)))
    if list(map(_PHONE, merged)) == list(numbers):
        return merged
    by_phone = {r.phone: r for r in results}
    return tuple(by_phone[p] for p in numbers)


def _failed_result(phone: str, error: SmsError) -> SendResult:
    status: SendStatus = "unknown" if isinstance(error, UnknownOutcomeError) else "failed"
    return SendResult(
        phone=phone,
        message_id="",
        status=status,
        fee=0,
        code=error.tencent_code or error.code,
        message=error.message,
    )


def transport_options(settings: Settings) -> TransportOptions:
    """Each of a multi send's `send_concurrency` workers holds one connection at a time; twice as
    many (opened only when needed) leave room for a second invocation sharing the process. The
    pools' layout (`TransportOptions.pool_size`) was chosen with `bench/tune_concurrency.py`."""
    return TransportOptions(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        proxy=settings.proxy,
        max_connections=max(8, settings.send_concurrency * 2),
    )
