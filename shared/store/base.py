"""The `Store` interface and the records it reads and writes.

Every timestamp is unix seconds (int). Methods that depend on the time take `now` so callers
(and tests) own the clock. Every failure to reach or write the database is a
`StoreUnavailableError`; nothing here imports a database driver.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from shared.models import Receipt, Reply, SendResult

if TYPE_CHECKING:
    from shared.store.stats import Stats

MessageStatus = Literal["submitted", "delivered", "failed", "unknown"]
ReceiptSource = Literal["pull", "callback", "phone_pull"]
IdempotencyStatus = Literal["in_progress", "completed"]
OtpStatus = Literal["active", "used", "locked", "superseded"]
OtpAttemptStatus = Literal["verified", "active", "locked", "used", "superseded", "expired", "not_found"]

MESSAGE_STATUSES: tuple[str, ...] = ("submitted", "delivered", "failed", "unknown")
RECEIPT_STATUSES: tuple[str, ...] = ("delivered", "failed", "unknown")
SOURCES: tuple[str, ...] = ("pull", "callback", "phone_pull")
#: how long a receipt for a message this store never recorded is kept (a send recorded late finds it)
ORPHAN_RECEIPT_TTL = 7 * 86400
GROUP_BYS: tuple[str, ...] = ("hour", "day", "template", "country", "status", "caller")
#: upper edges (seconds) of the submit-to-delivered latency histogram; a last bucket holds the rest
LATENCY_BOUNDS: tuple[int, ...] = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600)


class StoredMessage(NamedTuple):
    """One sent message as the store knows it, with the delivery report that decides its status.

    That report is the newest definitive one (delivered/failed); an `unknown` report counts
    only while there is no definitive one.
    """

    message_id: str
    phone: str
    template_id: str
    params: list[str]
    sign: str
    status: MessageStatus
    fee: int
    code: str
    caller: str
    created_at: int
    updated_at: int
    latest_receipt: Receipt | None = None
    session_context: str = ""
    status_reason: str = ""  # why the status is what it is when no receipt says (see `give_up_unconfirmed`)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `GET /sms/messages/{message_id}`."""
        body = self._asdict()
        body["latest_receipt"] = self.latest_receipt.to_dict() if self.latest_receipt else None
        return body


class Unconfirmed(NamedTuple):
    """A message still `submitted` (no receipt yet) that is due for reconciliation."""

    message_id: str
    phone: str
    created_at: int


class IdempotencyRecord(NamedTuple):
    """Someone else's claim on an idempotency key (in progress, or completed with its response)."""

    key: str
    fingerprint: str
    status: IdempotencyStatus
    response: dict[str, Any] | None
    created_at: int
    expires_at: int


class RateCheck(NamedTuple):
    """At most `limit` hits per `window_seconds` (sliding; by the second up to 100 hits, above in
    steps of 1/100 of the window, at least a second) for one `key` under rule `name`.

    Checks of one `series` (a number's `1/30s`, `5/1h` and `10/1d`) count the same hits in
    windows of their own: they are hit and given back together, never one alone. A store may keep
    such a series' one-second rows once for all its checks instead of once per check.
    """

    name: str
    key: str
    limit: int
    window_seconds: int
    series: str = ""


class RateRule(NamedTuple):
    """A limit applied to many keys alike (every number of a multi send): a `RateCheck` without
    its key."""

    name: str
    limit: int
    window_seconds: int
    series: str = ""

    def on(self, key: str) -> RateCheck:
        return RateCheck(self.name, key, self.limit, self.window_seconds, self.series)


class RateDecision(NamedTuple):
    """Whether a hit was allowed; when not, the first check that blocked it and when to retry."""

    allowed: bool
    check: RateCheck | None = None
    retry_after: int = 0


ALLOWED = RateDecision(allowed=True)  # what every allowed hit is (equal to it, if not it)


class OtpRecord(NamedTuple):
    """One issued verification code (only its hash is kept)."""

    id: str
    phone: str
    purpose: str
    code_hash: str
    created_at: int
    expires_at: int
    caller: str = ""
    attempts: int = 0
    max_attempts: int = 5
    status: OtpStatus = "active"
    resend_after: int = 0


class OtpAttempt(NamedTuple):
    """What one verification attempt did.

    `status` is `verified` only for the one call that flipped an active code to used; otherwise
    `active` (wrong code, attempts left), `locked` (wrong code and no attempts left, or locked
    before), `used`, `superseded`, `expired` (nothing changed) or `not_found`.
    """

    status: OtpAttemptStatus
    attempts: int


class StoredTemplate(NamedTuple):
    """One template of Tencent's catalogue (`DescribeSmsTemplateList`) as last synced."""

    template_id: str
    international: int  # 0 mainland China, 1 international/HK/Macau/Taiwan, 3 both
    status: int  # StatusCode: 0 approved and live, 1 in review, 2 approved not yet live, -1 rejected
    name: str
    text: str
    review_reply: str = ""
    created_at: int = 0  # when it was created at Tencent (unix s)
    synced_at: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Suppression(NamedTuple):
    """A number's place on the suppression list (opt-outs): on it (`suppressed`) or taken off, as of
    `changed_at`, when the recipient replied (or an operator acted). A row taken off is kept, so an
    older opt-out processed later cannot put the number back."""

    phone: str
    suppressed: bool
    changed_at: int
    sign: str = ""  # the signature the recipient replied to
    keyword: str = ""  # the reply that did it ("" when an operator did)
    source: str = ""  # pull | callback | phone_pull (a reply) or api (an operator)

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Store(abc.ABC):
    """Messages, receipts, replies, idempotency keys, rate-limit hits and one-time codes."""

    #: the URL the store was opened with, password masked
    url: str = ""
    #: `sqlite` or `postgresql`
    dialect: str = ""
    #: the database deletes expired records itself (DynamoDB's TTL): `purge_expired` and
    #: `otp_purge_expired` leave rate-limit hits, idempotency records, codes and cached answers to
    #: it (and do not count them); reads ignore expired records either way
    expires_by_itself: bool = False

    # -- messages ---------------------------------------------------------------------------
    @abc.abstractmethod
    def record_sends(
        self,
        results: Sequence[SendResult],
        *,
        template_id: str,
        params: Sequence[str],
        sign: str,
        caller: str,
        now: int,
    ) -> None:
        """Store one row per result that has a message_id (status from the result, normally
        `submitted`); a message_id already stored is left as it is."""

    @abc.abstractmethod
    def get_message(self, message_id: str) -> StoredMessage | None:
        """The stored message with its latest receipt, or None."""

    # -- receipts and replies ---------------------------------------------------------------
    @abc.abstractmethod
    def save_receipts(self, receipts: Sequence[Receipt], *, source: str, now: int) -> int:
        """Store receipts in one transaction; return how many were new.

        The same receipt (message_id, status, carrier_code, received_at) is stored once however
        often it arrives (pull and push overlap). Known messages take the status of their newest
        definitive receipt (an `unknown` one only while there is none).
        """

    @abc.abstractmethod
    def receipts_for(self, message_id: str) -> list[Receipt]:
        """Every stored receipt of a message, oldest first."""

    @abc.abstractmethod
    def save_replies(self, replies: Sequence[Reply], *, source: str, now: int) -> int:
        """Store replies in one transaction; return how many were new (idempotent on
        phone + replied_at + text + sign + extend)."""

    @abc.abstractmethod
    def replies_for(self, phone: str, since: int = 0) -> list[Reply]:
        """Replies from `phone` with replied_at >= since, oldest first."""

    # -- reconciliation ---------------------------------------------------------------------
    @abc.abstractmethod
    def unconfirmed_messages(self, *, now: int, older_than: int, limit: int) -> list[Unconfirmed]:
        """At most `limit` messages still `submitted` that were created at or before
        `now - older_than` and are due: never deferred, or deferred until at or before `now` (see
        `defer_reconcile`). Oldest first (created_at, then message_id). Must not scan every
        message: SQL stores keep an index of the `submitted` ones."""

    @abc.abstractmethod
    def defer_reconcile(self, due: Sequence[tuple[str, int]], *, now: int) -> None:
        """For each (message_id, due_at): a message still `submitted` is not returned by
        `unconfirmed_messages` again before `due_at`. Others are left alone."""

    @abc.abstractmethod
    def give_up_unconfirmed(self, message_ids: Sequence[str], *, reason: str, now: int) -> int:
        """Mark those of `message_ids` still `submitted` `unknown`, with `status_reason = reason`
        and `updated_at = now`; return how many. A receipt stored later still sets the status
        (and clears the reason), as for any message."""

    # -- statistics -------------------------------------------------------------------------
    @abc.abstractmethod
    def stats(self, frm: int, to: int, group_by: str) -> Stats:
        """Delivery statistics of the messages *sent* in [frm, to), widened to whole UTC hours,
        grouped by `group_by` (one of GROUP_BYS; `day` is the UTC day), as `shared.store.stats.Stats`.

        Each group: sent, delivered, failed, pending (submitted), unknown, delivery_rate
        (delivered / (delivered + failed), None without any), fee, latency_p50_s/p95_s (from a
        histogram over LATENCY_BOUNDS: the upper edge of the bucket holding the quantile) and the
        top failure codes with their descriptions. Messages count with their current status. The
        answer must not scan messages: a backend keeps a rollup up to date with every write.
        """

    @abc.abstractmethod
    def messages_for_phone(self, phone: str, limit: int = 50) -> list[StoredMessage]:
        """The newest `limit` messages sent to `phone` (E.164), newest first, with latest receipts."""

    # -- idempotency ------------------------------------------------------------------------
    @abc.abstractmethod
    def idempotency_begin(
        self, key: str, *, fingerprint: str, now: int, in_progress_ttl: int, ttl: int
    ) -> IdempotencyRecord | None:
        """Claim `key` atomically: None when this caller now owns it, else the live record.

        A claim lasts `in_progress_ttl` seconds unless completed; an expired record is replaced
        (and claimed). `ttl` is how long a completed response is kept when `idempotency_complete`
        is not given its own.
        """

    @abc.abstractmethod
    def idempotency_complete(
        self, key: str, response: dict[str, Any], *, now: int, ttl: int | None = None
    ) -> None:
        """Mark the key completed with its JSON response, kept for `ttl` seconds."""

    @abc.abstractmethod
    def idempotency_release(self, key: str) -> None:
        """Forget the key (the claimed work failed and may be retried)."""

    # -- rate limits ------------------------------------------------------------------------
    @abc.abstractmethod
    def hit_rate_limits(self, checks: Sequence[RateCheck], *, now: int) -> RateDecision:
        """Atomically record one hit per check if all are under their limits, else nothing."""

    @abc.abstractmethod
    def hit_rate_limits_each(self, groups: Sequence[Sequence[RateCheck]], *, now: int) -> list[RateDecision]:
        """Many sends' limits in one transaction, with partial allow: one decision per group, in order.

        A group (e.g. one number of a multi send: its per-number checks, the caller's allowance,
        the global daily cap) is allowed when every one of its checks is under its limit counting
        the hits this call already recorded for earlier groups, and then records one hit per check;
        otherwise it records nothing and its decision names the first check (in the group's order)
        that blocked it. A counter (name + key) named by several groups is shared: a caller's
        allowance of 5 lets 5 groups through. A counter named k times in one group needs k free hits.
        Backends must not make a round trip per group or per check (20,000 groups is usual).
        """

    def hit_rate_limits_per_key(
        self, keys: Sequence[str], rules: Sequence[RateRule], shared: Sequence[RateCheck], *, now: int
    ) -> list[RateDecision]:
        """`hit_rate_limits_each` of one group per key: every rule on that key, then `shared` (a
        multi send's numbers under the per-number rules, then the caller's allowance and the global
        cap). The same decisions and hits; a backend may reach them without a check per key."""
        groups = [(*(rule.on(key) for rule in rules), *shared) for key in keys]
        return self.hit_rate_limits_each(groups, now=now)

    @abc.abstractmethod
    def undo_rate_hits(self, checks: Sequence[RateCheck], now: int) -> None:
        """Give back the hit each check recorded at `now` (the send failed before Tencent); a check
        named k times gives back k hits."""

    # -- short-lived answers ------------------------------------------------------------------
    @abc.abstractmethod
    def cache_get(self, key: str, *, now: int) -> dict[str, Any] | None:
        """The JSON object last put under `key`, or None when there is none or it expired at `now`.

        A key-value with expiry, shared by every container (e.g. a per-number status answer reused
        for a few seconds). A DynamoDB backend: one item per key with a TTL attribute, and a read
        that ignores items whose `expires_at <= now` (DynamoDB deletes expired items late).
        """

    @abc.abstractmethod
    def cache_put(self, key: str, value: dict[str, Any], *, now: int, ttl: int) -> None:
        """Store (or replace) `value` under `key` until `now + ttl`."""

    # -- one-time codes ---------------------------------------------------------------------
    @abc.abstractmethod
    def otp_create(self, record: OtpRecord, *, supersede_active: bool) -> int:
        """Insert a code; with `supersede_active`, mark the phone+purpose's active codes
        superseded first. Returns how many were superseded."""

    @abc.abstractmethod
    def otp_get(self, otp_id: str) -> OtpRecord | None:
        """The code record by id, or None."""

    @abc.abstractmethod
    def otp_latest_active(self, phone: str, purpose: str, *, now: int | None = None) -> OtpRecord | None:
        """The newest active code for phone+purpose (unexpired at `now` when given)."""

    @abc.abstractmethod
    def otp_attempt(self, otp_id: str, *, matched: bool, now: int) -> OtpAttempt:
        """Apply one verification attempt atomically (see `OtpAttempt`)."""

    @abc.abstractmethod
    def otp_purge_expired(self, now: int) -> int:
        """Delete codes expired at `now`; return how many."""

    # -- template catalogue -----------------------------------------------------------------
    @abc.abstractmethod
    def save_templates(self, templates: Sequence[StoredTemplate], *, now: int) -> int:
        """Replace the whole stored catalogue with `templates` (stamped `synced_at = now`), in one
        transaction: a template Tencent no longer lists is gone. Returns how many are stored."""

    @abc.abstractmethod
    def templates(self) -> list[StoredTemplate]:
        """The stored catalogue, by template id (numerically); empty when never synced."""

    @abc.abstractmethod
    def peek_rate_limits(self, checks: Sequence[RateCheck], *, now: int) -> RateDecision:
        """What `hit_rate_limits` would decide at `now`, recording and deleting nothing."""

    # -- housekeeping -----------------------------------------------------------------------
    @abc.abstractmethod
    def purge_expired(self, now: int, *, orphan_receipt_ttl: int = ORPHAN_RECEIPT_TTL) -> int:
        """Delete expired rate-limit hits, idempotency records, codes and cached answers, and receipts
        of messages the store has no record of that were stored `orphan_receipt_ttl` seconds ago or
        more; return how many."""

    # -- suppressions (opt-outs; see shared/suppressions.py) ------------------------------------
    @abc.abstractmethod
    def set_suppressions(self, changes: Sequence[Suppression], *, now: int, force: bool = False) -> int:
        """Apply changes in order of `changed_at`, whatever order they come in: a change older than
        what the store holds for the number is ignored (at the same second an opt-out wins), so a
        later opt-in beats an earlier opt-out however late either is processed. `force` (an
        operator's PUT/DELETE) always applies, at no earlier time than the number's last change.
        Returns how many numbers changed."""

    @abc.abstractmethod
    def get_suppression(self, phone: str) -> Suppression | None:
        """The number's latest state (on the list or taken off), or None if it never opted out or in."""

    @abc.abstractmethod
    def list_suppressions(self, *, after: str = "", limit: int = 100) -> list[Suppression]:
        """Suppressed numbers in phone order, those after `after` (the previous page's last phone)."""

    @abc.abstractmethod
    def suppressed(self, phones: Sequence[str]) -> set[str]:
        """Those of `phones` on the suppression list (one query per few hundred numbers)."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Check that the database answers (connecting and migrating if needed)."""

    def settle(self) -> None:
        """Return once the writes this store lets finish after answering (see
        `SqliteStore._decide_then_write`) have ended: committed, or failed and logged. Every other
        store writes before it answers."""
        return

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; a later call opens a new one."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def url_secrets(url: str) -> list[str]:
    """The passwords a URL carries (netloc and `password=` query), raw and decoded."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return found
    if password:
        found += [password, unquote(password)]
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if name == "password" and value:
            found += [value, unquote(value)]
    return sorted({s for s in found if s}, key=len, reverse=True)


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable store url>"
    if password is None and "password=" not in parts.query:
        return url
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{host}"
    query = "&".join(
        f"{n}=***" if n == "password" else pair
        for pair in parts.query.split("&")
        if pair
        for n in [pair.partition("=")[0]]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
