"""DynamoDB store: every record on one table, shared by every container with no server to run.

`dynamodb://<table>?region=<region>[&endpoint=http://host:port][&create=true][&retention_days=90]
[&max_attempts=5][&timeout=5]`. boto3 is imported only here (the Lambda runtime ships it).

Single-table layout (`pk`/`sk` strings; sparse index `gsi1` on `gsi1pk`/`gsi1sk`; TTL on
`expires_at`); docs/dynamodb.md has the table of item types. The SQL stores' contracts hold:

- every read-then-write section (rate limits, receipts, codes) reads with strong consistency
  and writes with a condition on what it read; a conflicting writer makes it read and try again;
- several items change together in one `TransactWriteItems` (at most 100 items: rate-limit
  counters beyond that are written in several and given back if a later one is refused);
- bulk message rows go through `BatchWriteItem`, unprocessed items retried with backoff, never
  dropped silently (`StoreUnavailableError` if they stay unprocessed);
- TTL deletes expired items eventually (it may lag for days): every read that takes `now`
  checks `expires_at` itself.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, NoReturn, TypeVar
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import (
    ConfigurationError,
    PayloadTooLargeError,
    SmsError,
    StoreUnavailableError,
)
from shared.models import Receipt, Reply, SendResult
from shared.store import dynamodb_stats
from shared.store.base import (
    MESSAGE_STATUSES,
    ORPHAN_RECEIPT_TTL,
    RECEIPT_STATUSES,
    IdempotencyRecord,
    OtpAttempt,
    OtpRecord,
    RateCheck,
    RateDecision,
    Store,
    StoredMessage,
    StoredTemplate,
    Suppression,
    Unconfirmed,
)
from shared.store.common import (
    DEFAULT_IDEMPOTENCY_TTL,
    check_rates,
    check_source,
    hit_bucket,
    reply_key,
    retry_from_rows,
    stale_up_to,
)
from shared.store.stats import Stats

T = TypeVar("T")
Item = dict[str, dict[str, Any]]

DEFAULT_RETENTION_DAYS = 90
DEFAULT_MAX_ATTEMPTS = 5  # attempts in all (botocore standard retry mode: throttling, transient faults)
DEFAULT_TIMEOUT = 5.0
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
MAX_TRANSACTION_ITEMS = 100
BATCH_WRITE_ITEMS = 25
BATCH_GET_KEYS = 100
UNPROCESSED_RETRIES = 8  # batch leftovers: retried with exponential backoff, this often without progress
CONFLICT_RETRIES = 100  # optimistic sections: read again after a concurrent writer won
COMPRESS_FROM = 1024  # idempotency responses longer than this are stored zlib-compressed
SUBMITTED_SHARDS = 16  # `submitted` messages are listed in gsi1 under this many keys (no hot index partition)
ORPHAN_SHARDS = 4  # receipts of messages not recorded are listed in gsi1 under this many keys
PURGE_BATCH = 1000  # orphan receipts one purge deletes at most (the next scheduled run does the rest)
_WIDTH = 20  # zero-padded numbers in sort keys sort as numbers
_DEFINITIVE = 10**20  # a receipt's rank: definitive ones above every unknown one, then by time
_MOVE_ITEMS = 16  # rollup items one message's status change updates (8 rows out, 8 in)

_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
}


class _Conflict(Exception):
    """A conditional write lost to a concurrent writer: read again and retry."""


class _TooBig(Exception):
    """A group of receipts and its rollup moves is over the transaction limit: split it."""


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _num(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value else default


def _str(item: Mapping[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return str(value["S"]) if value else default


def _pad(number: int) -> str:
    return f"{int(number):0{_WIDTH}d}"


def _key(pk: str, sk: str) -> Item:
    return {"pk": _s(pk), "sk": _s(sk)}


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for an item (names + values; numbers ~ 1 byte per 2 digits + 1)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8", "surrogatepass"))
    if kind == "N":
        return (len(str(raw).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind == "BOOL" or kind == "NULL":
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in raw.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    return len(json.dumps(raw))


def _check_size(item: Item, what: str) -> None:
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise PayloadTooLargeError(
            f"{what} is {size:,} bytes, over DynamoDB's 400 KB item limit ({MAX_ITEM_BYTES:,} bytes):"
            " nothing was written",
            code="store_item_too_large",
        )


def parse_dynamodb_url(url: str) -> dict[str, Any]:
    """Table name and options of a `dynamodb://<table>?…` URL."""
    parts = urlsplit(url)
    table = parts.netloc or parts.path.strip("/")
    if not table:
        raise ConfigurationError("SMS_STORE_URL dynamodb://<table>?region=<region> needs a table name")
    options: dict[str, Any] = {
        "table": table,
        "region": None,
        "endpoint": None,
        "create": False,
        "retention_days": DEFAULT_RETENTION_DAYS,
        "max_attempts": DEFAULT_MAX_ATTEMPTS,
        "timeout": DEFAULT_TIMEOUT,
    }
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        try:
            if name in ("region", "endpoint"):
                options[name] = value or None
            elif name == "create":
                options["create"] = value.lower() in ("1", "true", "yes", "on")
            elif name in ("retention_days", "max_attempts"):
                options[name] = int(value)
                if options[name] < 0:
                    raise ValueError(value)
            elif name == "timeout":
                options["timeout"] = float(value)
            else:
                raise ConfigurationError(f"SMS_STORE_URL: unknown dynamodb option {name!r}")
        except ValueError:
            raise ConfigurationError(f"SMS_STORE_URL: bad value for {name}: {value!r}") from None
    return options


# -- item shapes --------------------------------------------------------------------------------
def _message_pk(message_id: str) -> str:
    return "M#" + message_id


def _shard(text: str, shards: int) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % shards


def _submitted_keys(message_id: str, created_at: int) -> Item:
    """gsi1 keys of a message while it is `submitted` (removed when its status moves)."""
    return {
        "gsi1pk": _s(f"U#{_shard(message_id, SUBMITTED_SHARDS)}"),
        "gsi1sk": _s(f"{_pad(created_at)}#{message_id}"),
    }


def _orphan_keys(pk: str, stored_at: int) -> Item:
    """gsi1 keys of a receipt stored while its message is not recorded (so purge finds it)."""
    return {"gsi1pk": _s(f"X#{_shard(pk, ORPHAN_SHARDS)}"), "gsi1sk": _s(_pad(stored_at))}


def _receipt_sk(r: Receipt) -> str:
    return f"R#{_pad(r.received_at)}#{r.status}#{r.carrier_code}"


def _rank(status: str, received_at: int) -> int:
    return (0 if status == "unknown" else _DEFINITIVE) + int(received_at)


def _decision_attrs(r: Receipt, seq: int) -> Item:
    """The deciding receipt as it is copied onto its message (one read serves get_message)."""
    return {
        "d_rank": _n(_rank(r.status, r.received_at)),
        "d_seq": _n(seq),
        "d_json": _s(json.dumps(r.to_dict(), ensure_ascii=False)),
    }


def _decision(item: Mapping[str, Any]) -> tuple[int, int] | None:
    return (_num(item, "d_rank"), _num(item, "d_seq")) if "d_rank" in item else None


def _decided_receipt(item: Mapping[str, Any]) -> Receipt | None:
    return Receipt(**json.loads(item["d_json"]["S"])) if "d_json" in item else None


def _receipt_from(item: Mapping[str, Any], message_id: str) -> Receipt:
    return Receipt(
        message_id=message_id,
        phone=_str(item, "phone"),
        status=_str(item, "st"),  # type: ignore[arg-type]
        carrier_code=_str(item, "cc"),
        description=_str(item, "desc"),
        received_at=_num(item, "at"),
        session_context=_str(item, "ctx"),
    )


def _stored_message(message_id: str, item: Mapping[str, Any]) -> StoredMessage:
    return StoredMessage(
        message_id=message_id,
        phone=_str(item, "phone"),
        template_id=_str(item, "tpl"),
        params=list(json.loads(_str(item, "params", "[]"))),
        sign=_str(item, "sign"),
        status=_str(item, "st"),  # type: ignore[arg-type]
        fee=_num(item, "fee"),
        code=_str(item, "code"),
        caller=_str(item, "caller"),
        created_at=_num(item, "ca"),
        updated_at=_num(item, "ua"),
        session_context=_str(item, "ctx"),
        status_reason=_str(item, "rsn"),
        latest_receipt=_decided_receipt(item),
    )


def _rate_pk(key: str) -> str:
    return "L#" + key


def _otp_item(r: OtpRecord) -> Item:
    return {
        **_key("O#" + r.id, "O"),
        "phone": _s(r.phone),
        "purpose": _s(r.purpose),
        "hash": _s(r.code_hash),
        "ca": _n(r.created_at),
        "expires_at": _n(r.expires_at),
        "caller": _s(r.caller),
        "att": _n(r.attempts),
        "max": _n(r.max_attempts),
        "st": _s(r.status),
        "ra": _n(r.resend_after),
        "gsi1pk": _s("O#" + json.dumps([r.phone, r.purpose], ensure_ascii=False)),
        "gsi1sk": _s(f"{_pad(r.created_at)}#{r.id}"),
    }


def _otp_from(item: Mapping[str, Any]) -> OtpRecord:
    return OtpRecord(
        id=item["pk"]["S"][2:],
        phone=_str(item, "phone"),
        purpose=_str(item, "purpose"),
        code_hash=_str(item, "hash"),
        created_at=_num(item, "ca"),
        expires_at=_num(item, "expires_at"),
        caller=_str(item, "caller"),
        attempts=_num(item, "att"),
        max_attempts=_num(item, "max"),
        status=_str(item, "st"),  # type: ignore[arg-type]
        resend_after=_num(item, "ra"),
    )


def _suppression_from(item: Mapping[str, Any]) -> Suppression:
    return Suppression(
        phone=item["pk"]["S"][2:],
        suppressed=bool(_num(item, "sup")),
        changed_at=_num(item, "ca"),
        sign=_str(item, "sign"),
        keyword=_str(item, "kw"),
        source=_str(item, "src"),
    )


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pause(attempt: int) -> None:
    """Exponential backoff with full jitter: up to 10 ms × 2^attempt, at most a second."""
    time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))  # jitter, not a secret


class _Seq:
    """Increasing numbers for receipts and replies stored in the same second: the order they
    were stored in (the SQL stores' row id), across processes as far as clocks agree."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1000)
            return self._last


class DynamoDbStore(Store):
    """The store on one DynamoDB table (low-level client, explicit attribute values)."""

    dialect = "dynamodb"
    expires_by_itself = True

    def __init__(self, url: str) -> None:
        self.url = url
        options = parse_dynamodb_url(url)
        self.table: str = options["table"]
        self._region: str | None = options["region"]
        self._endpoint: str | None = options["endpoint"]
        self._create: bool = options["create"]
        self._retention = int(options["retention_days"]) * 86400
        self._config = Config(
            retries={"mode": "standard", "total_max_attempts": max(1, int(options["max_attempts"]))},
            connect_timeout=float(options["timeout"]),
            read_timeout=float(options["timeout"]),
            max_pool_connections=32,
        )
        self._lock = threading.Lock()
        self._client_obj: Any = None
        self._ready = False
        self._seq = _Seq()

    # -- plumbing -----------------------------------------------------------------------------
    def boto_client(self) -> Any:
        """This store's boto3 client, made on first use (tests and benchmarks watch its events)."""
        with self._lock:
            if self._client_obj is None:
                session = boto3.session.Session()
                self._client_obj = session.client(
                    "dynamodb", region_name=self._region, endpoint_url=self._endpoint, config=self._config
                )
            client = self._client_obj
        if not self._ready:
            if self._create:
                self._ensure_table(client)
            self._ready = True
        return client

    def _ensure_table(self, client: Any) -> None:
        """Create the table (and TTL) when missing; local runs and tests only (`create=true`)."""
        try:
            client.describe_table(TableName=self.table)
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                self._fail(exc, "DescribeTable")
        except BotoCoreError as exc:
            self._fail(exc, "DescribeTable")
        string = [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")]
        try:
            client.create_table(
                TableName=self.table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=string,
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "gsi1",
                        "KeySchema": [
                            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
            client.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1})
            client.update_time_to_live(
                TableName=self.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ResourceInUseException", "ValidationException"):
                self._fail(exc, "CreateTable")
            client.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1})
        except BotoCoreError as exc:
            self._fail(exc, "CreateTable")

    def _fail(self, exc: Exception, operation: str) -> NoReturn:
        where = f"DynamoDB store {self.table}"
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code in _THROTTLED:
                failure: SmsError = StoreUnavailableError(
                    f"{where} unavailable: {operation} still throttled after retries ({code})"
                )
            elif code == "ResourceNotFoundException":
                failure = StoreUnavailableError(
                    f"{where} unavailable: the table does not exist (the stack creates it; for local runs"
                    " add &create=true to the URL)"
                )
            elif code in ("AccessDeniedException", "UnrecognizedClientException"):
                failure = StoreUnavailableError(
                    f"{where} unavailable: {operation} denied ({code}): {message}"
                )
            else:
                failure = SmsError(f"{where} rejected {operation}: {code}: {message}", code="store_error")
        else:
            failure = StoreUnavailableError(f"{where} unavailable: {operation}: {type(exc).__name__}: {exc}")
        raise failure from None

    def request(self, operation: str, **params: Any) -> dict[str, Any]:
        """One request; conditional failures come back as `ClientError`, the rest as store errors."""
        client = self.boto_client()
        try:
            result: dict[str, Any] = getattr(client, operation)(**params)
            return result
        except ClientError as exc:
            if exc.response["Error"]["Code"] in (
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
            ):
                raise
            self._fail(exc, operation)
        except BotoCoreError as exc:
            self._fail(exc, operation)

    def _put(self, item: Item, what: str, **condition: Any) -> Item | None:
        """Put `item` if its condition holds: None, else the item as it was (the condition failed)."""
        _check_size(item, what)
        try:
            self.request(
                "put_item",
                TableName=self.table,
                Item=item,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition,
            )
        except ClientError as exc:
            return dict(exc.response.get("Item") or {})
        return None

    def _transact(self, operations: Sequence[dict[str, Any]]) -> None:
        """All operations or none; `_Conflict` when a condition failed (someone wrote first)."""
        for op in operations:
            body = op.get("Put")
            if body is not None:
                _check_size(body["Item"], "a record")
        if len(operations) == 1:  # one item needs no transaction (which costs twice the units)
            ((kind, body),) = operations[0].items()
            params = {k: v for k, v in body.items() if k != "TableName"}
            if kind == "Put":
                item = params.pop("Item")
                if self._put(item, "a record", **params) is not None:
                    raise _Conflict
                return
            if kind == "Update":
                try:
                    self.request("update_item", TableName=self.table, **params)
                except ClientError:
                    raise _Conflict from None
                return
        try:
            self.request("transact_write_items", TransactItems=list(operations))
        except ClientError as exc:
            reasons = [r.get("Code", "") for r in exc.response.get("CancellationReasons", [])]
            if (
                any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in reasons)
                or not reasons
            ):
                raise _Conflict from None
            if any(code in ("ThrottlingError", "ProvisionedThroughputExceeded") for code in reasons):
                raise StoreUnavailableError(
                    f"DynamoDB store {self.table} unavailable: transaction throttled"
                ) from None
            self._fail(exc, "TransactWriteItems")

    def _optimistic(self, section: Callable[[], T], what: str) -> T:
        """Run a read-then-conditional-write section until no concurrent writer interferes."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                return section()
            except _Conflict:
                _pause(min(attempt, 6))
        raise StoreUnavailableError(f"DynamoDB store {self.table} unavailable: {what} kept conflicting")

    def _get_many(self, keys: Sequence[Item]) -> dict[tuple[str, str], Item]:
        """Items by (pk, sk), strongly consistent; BatchGetItem, unprocessed keys retried."""
        found: dict[tuple[str, str], Item] = {}
        unique = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
        if len(unique) == 1:  # GetItem: the same unit, a smaller request
            (pk, sk) = unique[0]["pk"]["S"], unique[0]["sk"]["S"]
            item = self._get(pk, sk)
            return {(pk, sk): item} if item is not None else {}
        for part in _chunks(unique, BATCH_GET_KEYS):
            pending: dict[str, Any] = {self.table: {"Keys": list(part), "ConsistentRead": True}}
            for attempt in range(UNPROCESSED_RETRIES + 1):
                answer = self.request("batch_get_item", RequestItems=pending)
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"], item["sk"]["S"]] = item
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
                if attempt == UNPROCESSED_RETRIES:
                    raise StoreUnavailableError(
                        f"DynamoDB store {self.table} unavailable: keys still unprocessed after retries"
                    )
                _pause(attempt)
        return found

    def _get(self, pk: str, sk: str) -> Item | None:
        answer = self.request("get_item", TableName=self.table, Key=_key(pk, sk), ConsistentRead=True)
        item = answer.get("Item")
        return dict(item) if item else None

    def _batch_write(self, requests: Sequence[dict[str, Any]]) -> None:
        """BatchWriteItem 25 at a time; unprocessed items retried with backoff, never dropped."""
        for part in _chunks(requests, BATCH_WRITE_ITEMS):
            pending: dict[str, Any] = {self.table: list(part)}
            left, idle = len(part), 0  # rounds in a row that stored nothing
            while pending:
                answer = self.request("batch_write_item", RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                before, left = left, len(pending.get(self.table, []))
                idle = 0 if left < before else idle + 1
                if pending and idle > UNPROCESSED_RETRIES:
                    raise StoreUnavailableError(
                        f"DynamoDB store {self.table} unavailable: {left} item(s) still unprocessed after"
                        f" {UNPROCESSED_RETRIES} retries (the rest of the batch was stored)"
                    )
                if pending:
                    _pause(idle)

    def _query(self, **params: Any) -> Iterator[Item]:
        return self._pages("query", params)

    def _scan(self, **params: Any) -> Iterator[Item]:
        return self._pages("scan", params)

    def _pages(self, operation: str, params: dict[str, Any]) -> Iterator[Item]:
        """Every item of a Query or Scan, page after page."""
        params.setdefault("TableName", self.table)
        while True:
            answer = self.request(operation, **params)
            yield from answer.get("Items", [])
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def _retained(self, now: int) -> Item:
        return {"expires_at": _n(now + self._retention)} if self._retention else {}

    # -- messages -------------------------------------------------------------------------------
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
        rows = list({r.message_id: r for r in reversed(results) if r.message_id}.values())[::-1]
        if not rows:
            return
        params_json = json.dumps(list(params), ensure_ascii=False)
        items = []
        for r in rows:
            status = r.status if r.status in MESSAGE_STATUSES else "unknown"
            item = {
                **_key(_message_pk(r.message_id), "M"),
                "phone": _s(r.phone),
                "tpl": _s(template_id),
                "params": _s(params_json),
                "sign": _s(sign),
                "st": _s(status),
                "fee": _n(int(r.fee)),
                "code": _s(r.code),
                "caller": _s(caller),
                "ca": _n(now),
                "ua": _n(now),
                "ctx": _s(r.session_context),
                **self._retained(now),
                **(_submitted_keys(r.message_id, now) if status == "submitted" else {}),
            }
            _check_size(item, f"message {r.message_id}")
            items.append(item)
        if len(items) == 1:  # a single send: one conditional put, a stored id stays as it is
            self._optimistic(partial(self._record_one, items[0], now), "recording a send")
        else:  # bulk: skip the ids already stored, write the rest 25 to a request
            stored = self._get_many([_key(i["pk"]["S"], "M") for i in items])
            fresh = [i for i in items if (i["pk"]["S"], "M") not in stored]
            self._count_sends(fresh, [r.message_id for r in rows], now)  # before: a retry finds it
            self._batch_write(  # phone entries first: a message stored is never left without one
                [{"PutRequest": {"Item": self._phone_entry(i, now)}} for i in fresh]
                + [{"PutRequest": {"Item": i}} for i in fresh]
            )
        # Receipts that came before their send left an `E` item with their decision. Read after
        # writing: a receipt saved concurrently either saw the message or left an `E` seen here.
        early = self._get_many([_key(i["pk"]["S"], "E") for i in items])
        for (pk, _), decision in sorted(early.items()):
            self._optimistic(partial(self._apply_early, pk, decision, now), "applying early receipts")

    def _record_one(self, item: Item, now: int) -> None:
        """One new message, its phone index entry and its rollup counts in one transaction."""
        if self._get(item["pk"]["S"], "M") is not None:
            return  # a stored id stays as it is
        put = {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        self._transact(
            [
                {"Put": put},
                {"Put": {"TableName": self.table, "Item": self._phone_entry(item, now)}},
                *dynamodb_stats.updates(self.table, [], [dynamodb_stats.row_of(item)]),
            ]
        )

    def _phone_entry(self, message: Item, now: int) -> Item:
        pk = message["pk"]["S"]
        return {
            **dynamodb_stats.phone_index(_str(message, "phone"), _num(message, "ca"), pk[2:]),
            **self._retained(now),
        }

    def _count_sends(self, fresh: Sequence[Item], message_ids: Sequence[str], now: int) -> None:
        """Add new messages of a bulk send to the rollup exactly once: each part of the counts goes
        in a transaction with a marker named by the send's ids, so a retried send (or a retried
        part) finds its marker and adds nothing."""
        rows = [dynamodb_stats.row_of(i) for i in fresh]
        operations = dynamodb_stats.updates(self.table, [], rows)
        for number, part in enumerate(_chunks(operations, MAX_TRANSACTION_ITEMS - 1)):
            marker = dynamodb_stats.marker_key(message_ids, number)
            item = {**marker, "expires_at": _n(now + dynamodb_stats.MARKER_TTL)}
            put = {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}

            def count(part: Sequence[dict[str, Any]] = part, marker: Item = marker, put: Any = put) -> None:
                try:
                    self._transact([{"Put": put}, *part])
                except _Conflict:
                    if self._get(marker["pk"]["S"], "SB") is None:
                        raise  # a concurrent writer of a rollup item: try again
                    # counted already (a retry of this send)

            self._optimistic(count, "counting sends")

    def _apply_early(self, pk: str, early: Item, now: int) -> None:
        """Give the message the decision its early receipts made, unless a later one decided."""
        message = self._get(pk, "M")
        if message is None:
            return
        ours, theirs = _decision(early), _decision(message)
        if ours is None or (theirs is not None and theirs >= ours):
            return
        self._move_status(message, early, now)

    def _move_status(self, message: Item, decision: Item, now: int) -> None:
        """Conditionally copy `decision`'s deciding receipt (and its status) onto `message`."""
        receipt = _decided_receipt(decision)
        assert receipt is not None
        after = dynamodb_stats.row_of(message, receipt.status, receipt)
        moves = dynamodb_stats.updates(self.table, [dynamodb_stats.row_of(message)], [after])
        self._transact([self._status_update(message, decision, now), *moves])

    def _status_update(self, message: Item, decision: Mapping[str, Any], now: int) -> dict[str, Any]:
        receipt = _decided_receipt(decision)
        assert receipt is not None
        names = {"#st": "st"}
        values: Item = {
            ":rank": decision["d_rank"],
            ":seq": decision["d_seq"],
            ":json": decision["d_json"],
        }
        sets = ["d_rank = :rank", "d_seq = :seq", "d_json = :json"]
        removes = ""
        if _str(message, "st") != receipt.status:  # no longer `submitted`, no longer given up
            sets += ["#st = :st", "ua = :now"]
            values.update({":st": _s(receipt.status), ":now": _n(now)})
            removes = " REMOVE gsi1pk, gsi1sk, rsn"
        if "d_rank" in message:
            condition = "d_rank = :old_rank AND d_seq = :old_seq"
            values.update({":old_rank": message["d_rank"], ":old_seq": message["d_seq"]})
        else:
            condition = "attribute_exists(pk) AND attribute_not_exists(d_rank)"
        return {
            "Update": {
                "TableName": self.table,
                "Key": _key(message["pk"]["S"], "M"),
                "UpdateExpression": "SET " + ", ".join(sets) + removes,
                "ConditionExpression": condition,
                **({"ExpressionAttributeNames": names} if removes else {}),  # `#st` only if set
                "ExpressionAttributeValues": values,
            }
        }

    def get_message(self, message_id: str) -> StoredMessage | None:
        if not message_id:
            return None
        item = self._get(_message_pk(message_id), "M")
        return _stored_message(message_id, item) if item is not None else None

    # -- reconciliation -------------------------------------------------------------------------
    def unconfirmed_messages(self, *, now: int, older_than: int, limit: int) -> list[Unconfirmed]:
        """A Query per gsi1 shard of `submitted` messages (in created order), merged; the index is
        eventually consistent, so a message whose receipt came a moment ago may still be listed."""
        limit = max(0, int(limit))
        if not limit:
            return []
        found: list[Unconfirmed] = []
        for shard in range(SUBMITTED_SHARDS):
            listed = self._query(
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :p AND gsi1sk < :t",
                FilterExpression="#st = :sub AND (attribute_not_exists(rc) OR rc <= :now)",
                ProjectionExpression="pk, phone, ca",
                ExpressionAttributeNames={"#st": "st"},
                ExpressionAttributeValues={
                    ":p": _s(f"U#{shard}"),
                    ":t": _s(_pad(now - older_than + 1)),
                    ":sub": _s("submitted"),
                    ":now": _n(now),
                },
                Limit=min(limit, 1000),
            )
            for count, item in enumerate(listed, 1):
                found.append(Unconfirmed(item["pk"]["S"][2:], _str(item, "phone"), _num(item, "ca")))
                if count >= limit:
                    break
        return sorted(found, key=lambda u: (u.created_at, u.message_id))[:limit]

    def defer_reconcile(self, due: Sequence[tuple[str, int]], *, now: int) -> None:  # noqa: ARG002 - the interface's
        for message_id, at in sorted((m, int(at)) for m, at in due):
            self._update_submitted(message_id, "SET rc = :at", {":at": _n(at)})

    def give_up_unconfirmed(self, message_ids: Sequence[str], *, reason: str, now: int) -> int:
        tried: set[str] = set()  # ids this call has sent a give-up transaction for
        return sum(
            self._optimistic(partial(self._give_up, message_id, reason, now, tried), "giving up a message")
            for message_id in sorted(set(message_ids))
        )

    def _give_up(self, message_id: str, reason: str, now: int, tried: set[str]) -> bool:
        """`submitted` → `unknown` with its rollup move, in one transaction; False if not submitted."""
        message = self._get(_message_pk(message_id), "M")
        if message is None or _str(message, "st") != "submitted":
            # a transaction that committed but whose answer was lost (botocore retried it, and the
            # retry's condition failed) left exactly this: it was this call's give-up
            mine = message is not None and (_str(message, "st"), _str(message, "rsn")) == ("unknown", reason)
            return mine and message is not None and _num(message, "ua") == now and message_id in tried
        tried.add(message_id)
        update = {
            "TableName": self.table,
            "Key": _key(_message_pk(message_id), "M"),
            "UpdateExpression": "SET #st = :unknown, rsn = :reason, ua = :now REMOVE gsi1pk, gsi1sk, rc",
            "ConditionExpression": "#st = :sub",
            "ExpressionAttributeNames": {"#st": "st"},
            "ExpressionAttributeValues": {
                ":unknown": _s("unknown"),
                ":reason": _s(reason),
                ":now": _n(now),
                ":sub": _s("submitted"),
            },
        }
        after = dynamodb_stats.row_of(message, "unknown")
        moves = dynamodb_stats.updates(self.table, [dynamodb_stats.row_of(message)], [after])
        self._transact([{"Update": update}, *moves])
        return True

    def _update_submitted(self, message_id: str, update: str, values: Item) -> bool:
        """One UpdateItem on a message that is still `submitted`; False when it is not (or missing)."""
        try:
            self.request(
                "update_item",
                TableName=self.table,
                Key=_key(_message_pk(message_id), "M"),
                UpdateExpression=update,
                ConditionExpression="#st = :sub",
                ExpressionAttributeNames={"#st": "st"},
                ExpressionAttributeValues={**values, ":sub": _s("submitted")},
            )
        except ClientError:
            return False
        return True

    # -- receipts and replies -------------------------------------------------------------------
    def save_receipts(self, receipts: Sequence[Receipt], *, source: str, now: int) -> int:
        check_source(source)
        for r in receipts:
            if r.status not in RECEIPT_STATUSES:
                raise ValueError(f"receipt status must be one of {RECEIPT_STATUSES}, got {r.status!r}")
        if not receipts:
            return 0
        ordered = sorted(receipts, key=lambda r: (r.message_id, r.status, r.carrier_code, r.received_at))
        unique: dict[tuple[str, str], Receipt] = {}
        for r in ordered:
            unique.setdefault((_message_pk(r.message_id), _receipt_sk(r)), r)
        by_message: dict[str, list[tuple[str, Receipt, int]]] = {}
        for (pk, sk), r in unique.items():
            by_message.setdefault(pk, []).append((sk, r, self._seq.next()))
        # Each message's receipts and its status change go in one transaction; several messages
        # share one as long as it holds at most 100 items (a message with more splits its own).
        groups: list[list[tuple[str, list[tuple[str, Receipt, int]]]]] = [[]]
        size = 0
        for pk, rows in by_message.items():
            for part in _chunks(rows, MAX_TRANSACTION_ITEMS - 2 - _MOVE_ITEMS):
                if size + len(part) + 2 > MAX_TRANSACTION_ITEMS:
                    groups.append([])
                    size = 0
                groups[-1].append((pk, list(part)))
                size += len(part) + 2
        saved = 0
        while groups:
            group = groups.pop()
            try:
                saved += self._optimistic(
                    partial(self._save_receipt_group, group, source, now), "saving receipts"
                )
            except _TooBig:  # their rollup moves do not fit beside them: half the messages each
                middle = len(group) // 2
                groups += [group[:middle], group[middle:]]
        return saved

    def _save_receipt_group(
        self, group: Sequence[tuple[str, Sequence[tuple[str, Receipt, int]]]], source: str, now: int
    ) -> int:
        keys = [_key(pk, sk) for pk, rows in group for sk, _, _ in rows] + [_key(pk, "M") for pk, _ in group]
        stored = self._get_many(keys)
        unsent = [_key(pk, "E") for pk, _ in group if (pk, "M") not in stored]
        if unsent:  # rare: receipts of messages not recorded (yet) keep their decision in `E` items
            stored.update(self._get_many(unsent))
        operations: list[dict[str, Any]] = []
        before: list[tuple[Any, ...]] = []
        after: list[tuple[Any, ...]] = []
        new = 0
        for pk, rows in group:
            fresh = [(sk, r, seq) for sk, r, seq in rows if (pk, sk) not in stored]
            if not fresh:
                continue
            for sk, r, seq in fresh:
                item = {
                    **_key(pk, sk),
                    "phone": _s(r.phone),
                    "st": _s(r.status),
                    "cc": _s(r.carrier_code),
                    "desc": _s(r.description),
                    "at": _n(r.received_at),
                    "ctx": _s(r.session_context),
                    "src": _s(source),
                    "sa": _n(now),
                    "seq": _n(seq),
                    **self._retained(now),
                    **(_orphan_keys(pk, now) if (pk, "M") not in stored else {}),
                }
                operations.append(
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
            new += len(fresh)
            _, best, best_seq = max(fresh, key=lambda row: (_rank(row[1].status, row[1].received_at), row[2]))
            candidate = _decision_attrs(best, best_seq)
            message = stored.get((pk, "M"))
            holder = message if message is not None else stored.get((pk, "E"))
            current = _decision(holder) if holder is not None else None
            if current is not None and current >= (_num(candidate, "d_rank"), best_seq):
                if message is None:  # still unknown: the `E` item must stay as read
                    operations.append(self._unchanged(pk, "E", holder))
                continue
            if message is not None:
                operations.append(self._status_update(message, candidate, now))
                before.append(dynamodb_stats.row_of(message))
                after.append(dynamodb_stats.row_of(message, best.status, best))
            else:  # not sent (yet): keep the decision where record_sends looks, and be sure it is not
                operations.append(
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _key(pk, "M"),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
                early = {**_key(pk, "E"), **candidate, **self._retained(now)}
                condition = (
                    {"ConditionExpression": "attribute_not_exists(pk)"}
                    if holder is None
                    else {
                        "ConditionExpression": "d_rank = :r AND d_seq = :q",
                        "ExpressionAttributeValues": {":r": holder["d_rank"], ":q": holder["d_seq"]},
                    }
                )
                operations.append({"Put": {"TableName": self.table, "Item": early, **condition}})
        operations += dynamodb_stats.updates(self.table, before, after)
        if len(operations) > MAX_TRANSACTION_ITEMS and len(group) > 1:
            raise _TooBig
        if operations:
            self._transact(operations)
        return new

    def _unchanged(self, pk: str, sk: str, item: Mapping[str, Any] | None) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": _key(pk, sk),
                "ConditionExpression": "d_rank = :r AND d_seq = :q",
                "ExpressionAttributeValues": {":r": (item or {})["d_rank"], ":q": (item or {})["d_seq"]},
            }
        }

    def receipts_for(self, message_id: str) -> list[Receipt]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
            ExpressionAttributeValues={":pk": _s(_message_pk(message_id)), ":r": _s("R#")},
            ConsistentRead=True,
        )
        ordered = sorted(items, key=lambda i: (_num(i, "at"), _num(i, "seq")))
        return [_receipt_from(i, message_id) for i in ordered]

    def save_replies(self, replies: Sequence[Reply], *, source: str, now: int) -> int:
        check_source(source)
        if not replies:
            return 0
        keyed = dict(sorted((reply_key(r), r) for r in replies))  # the SQL stores' insert order
        items = []
        for key, r in keyed.items():
            item = {
                **_key(f"P#{r.phone}", f"{_pad(r.replied_at)}#{key}"),
                "text": _s(r.text),
                "sign": _s(r.sign),
                "ext": _s(r.extend),
                "at": _n(r.replied_at),
                "src": _s(source),
                "sa": _n(now),
                "seq": _n(self._seq.next()),
                **self._retained(now),
            }
            _check_size(item, "a reply")
            items.append(item)

        def save() -> int:
            stored = self._get_many([_key(i["pk"]["S"], i["sk"]["S"]) for i in items])
            fresh = [i for i in items if (i["pk"]["S"], i["sk"]["S"]) not in stored]
            for part in _chunks(fresh, MAX_TRANSACTION_ITEMS):
                self._transact(
                    [
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": i,
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        }
                        for i in part
                    ]
                )
            return len(fresh)

        return self._optimistic(save, "saving replies")

    def replies_for(self, phone: str, since: int = 0) -> list[Reply]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk >= :since",
            ExpressionAttributeValues={":pk": _s(f"P#{phone}"), ":since": _s(_pad(max(0, since)))},
            ConsistentRead=True,
        )
        ordered = sorted(items, key=lambda i: (_num(i, "at"), _num(i, "seq")))
        return [
            Reply(
                phone=phone,
                text=_str(i, "text"),
                sign=_str(i, "sign"),
                extend=_str(i, "ext"),
                replied_at=_num(i, "at"),
            )
            for i in ordered
            if _num(i, "at") >= since
        ]

    # -- idempotency ----------------------------------------------------------------------------
    def idempotency_begin(
        self, key: str, *, fingerprint: str, now: int, in_progress_ttl: int, ttl: int
    ) -> IdempotencyRecord | None:
        item = {
            **_key("I#" + key, "I"),
            "fp": _s(fingerprint),
            "st": _s("in_progress"),
            "ttl_s": _n(ttl),
            "ca": _n(now),
            "expires_at": _n(now + in_progress_ttl),
        }
        old = self._put(
            item,
            "an idempotency key",
            ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
            ExpressionAttributeValues={":now": _n(now)},
        )
        if old is None:
            return None  # claimed (a new key, or one whose record had expired)
        return IdempotencyRecord(
            key=key,
            fingerprint=_str(old, "fp"),
            status=_str(old, "st"),  # type: ignore[arg-type]
            response=_response(old),
            created_at=_num(old, "ca"),
            expires_at=_num(old, "expires_at"),
        )

    def idempotency_complete(
        self, key: str, response: dict[str, Any], *, now: int, ttl: int | None = None
    ) -> None:
        body = json.dumps(response, ensure_ascii=False).encode("utf-8", "surrogatepass")
        stored = (
            {":z": {"B": zlib.compress(body, 6)}}
            if len(body) > COMPRESS_FROM
            else {":z": _s(body.decode("utf-8", "surrogatepass"))}
        )
        keep = ttl if ttl is not None else DEFAULT_IDEMPOTENCY_TTL
        values: Item = {
            **stored,
            ":st": _s("completed"),
            ":now": _n(now),
            ":empty": _s(""),
            ":keep": _n(keep),
        }
        expires = (
            "expires_at = :now + :ttl"
            if ttl is not None
            else "expires_at = :now + if_not_exists(ttl_s, :keep)"
        )
        if ttl is not None:
            values[":ttl"] = _n(ttl)
        size = item_size({**_key("I#" + key, "I"), "resp": values[":z"], "fp": _s("x" * 64)}) + 64
        if size > MAX_ITEM_BYTES:
            raise PayloadTooLargeError(
                f"the stored answer of idempotency key is {size:,} bytes compressed, over DynamoDB's"
                f" 400 KB item limit: nothing was written",
                code="store_item_too_large",
            )
        self.request(
            "update_item",
            TableName=self.table,
            Key=_key("I#" + key, "I"),
            UpdateExpression=(
                "SET #st = :st, resp = :z, fp = if_not_exists(fp, :empty), ca = if_not_exists(ca, :now),"
                " ttl_s = if_not_exists(ttl_s, :keep), " + expires
            ),
            ExpressionAttributeNames={"#st": "st"},
            ExpressionAttributeValues=values,
        )

    def idempotency_release(self, key: str) -> None:
        self.request("delete_item", TableName=self.table, Key=_key("I#" + key, "I"))

    # -- rate limits ----------------------------------------------------------------------------
    def hit_rate_limits(self, checks: Sequence[RateCheck], *, now: int) -> RateDecision:
        check_rates(checks)
        if not checks:
            return RateDecision(allowed=True)
        return self._optimistic(lambda: self._hit(checks, now), "rate limits")

    def _hit(self, checks: Sequence[RateCheck], now: int) -> RateDecision:
        pks = [_rate_pk(c.key) for c in checks]
        stored = self._get_many([_key(pk, "L") for pk in dict.fromkeys(pks)])
        items = {pk: _RateItem(stored.get((pk, "L"))) for pk in pks}
        for check, pk in zip(checks, pks, strict=True):
            counter = items[pk].rule(check.name)
            count = counter.live(check, now)
            if count >= check.limit:
                return RateDecision(
                    allowed=False, check=check, retry_after=counter.retry_after(check, count, now)
                )
        stale: dict[tuple[str, str], int] = {}
        for check, pk in zip(checks, pks, strict=True):
            up_to = stale_up_to(check, now)
            stale[pk, check.name] = min(up_to, stale.get((pk, check.name), up_to))
        for (pk, name), up_to in stale.items():
            items[pk].rule(name).drop_up_to(up_to)
        for check, pk in zip(checks, pks, strict=True):
            items[pk].rule(check.name).add(check, now, 1)
        self._write_counters(items)
        return RateDecision(allowed=True)

    def hit_rate_limits_each(self, groups: Sequence[Sequence[RateCheck]], *, now: int) -> list[RateDecision]:
        counters: dict[tuple[str, str], RateCheck] = {}
        for group in groups:
            for check in group:
                counters.setdefault((check.name, check.key), check)
        if not counters:
            return [RateDecision(allowed=True)] * len(groups)
        check_rates(counters.values())
        return self._optimistic(lambda: self._hit_each(groups, counters, now), "rate limits")

    def _hit_each(
        self, groups: Sequence[Sequence[RateCheck]], counters: Mapping[tuple[str, str], RateCheck], now: int
    ) -> list[RateDecision]:
        """Read every counter item once (BatchGetItem), decide the groups in order, write the items
        that took hits on the condition that nobody wrote them since."""
        pks = sorted({_rate_pk(key) for _, key in counters})
        stored = self._get_many([_key(pk, "L") for pk in pks])
        items = {pk: _RateItem(stored.get((pk, "L"))) for pk in pks}
        rules = {ck: items[_rate_pk(ck[1])].rule(ck[0]) for ck in counters}
        count: dict[tuple[str, str], int] = {}
        for ck, check in counters.items():
            rules[ck].drop_up_to(stale_up_to(check, now))
            count[ck] = rules[ck].live(check, now)
        added: dict[tuple[str, str], int] = {}
        decisions: list[RateDecision] = []
        for group in groups:
            need: dict[tuple[str, str], int] = {}
            blocked: RateCheck | None = None
            for check in group:
                ck = (check.name, check.key)
                n = need[ck] = need.get(ck, 0) + 1
                if count[ck] + n > check.limit:
                    blocked = check
                    break
            if blocked is None:
                for ck, n in need.items():
                    count[ck] += n
                    added[ck] = added.get(ck, 0) + n
                decisions.append(RateDecision(allowed=True))
            else:
                ck = (blocked.name, blocked.key)
                must_leave = count[ck] + need[ck] - blocked.limit
                retry = rules[ck].retry_after_leaving(blocked, must_leave, now, extra=added.get(ck, 0))
                decisions.append(RateDecision(allowed=False, check=blocked, retry_after=retry))
        named: dict[str, int] = {}  # how many groups took a hit on each item: the contended go first
        for ck, n in added.items():
            rules[ck].add(counters[ck], now, n)
            named[_rate_pk(ck[1])] = named.get(_rate_pk(ck[1]), 0) + n
        if named:
            order = sorted(named, key=lambda pk: (-named[pk], pk))
            self._write_counters({pk: items[pk] for pk in order}, order)
        return decisions

    def peek_rate_limits(self, checks: Sequence[RateCheck], *, now: int) -> RateDecision:
        check_rates(checks)
        if not checks:
            return RateDecision(allowed=True)
        pks = [_rate_pk(c.key) for c in checks]
        stored = self._get_many([_key(pk, "L") for pk in dict.fromkeys(pks)])
        for check, pk in zip(checks, pks, strict=True):
            counter = _RateItem(stored.get((pk, "L"))).rule(check.name)
            count = counter.live(check, now)
            if count >= check.limit:
                return RateDecision(
                    allowed=False, check=check, retry_after=counter.retry_after(check, count, now)
                )
        return RateDecision(allowed=True)

    def _write_counters(self, counters: Mapping[str, _RateItem], order: Sequence[str] | None = None) -> None:
        """All counters or none: one transaction per 100, earlier ones given back if a later fails."""
        parts = list(_chunks(list(order) if order is not None else sorted(counters), MAX_TRANSACTION_ITEMS))
        done: list[Sequence[str]] = []
        for part in parts:
            try:
                self._transact([counters[pk].put(self.table, pk) for pk in part])
            except BaseException:
                for written in done:  # give back what the earlier transactions recorded
                    self._restore([(pk, counters[pk]) for pk in written])
                raise
            done.append(part)

    def _restore(self, written: Sequence[tuple[str, _RateItem]]) -> None:
        """Take back the hits earlier transactions of a failed multi-transaction hit recorded."""
        for pk, counter in written:

            def give_back(pk: str = pk, added: Mapping[str, Mapping[int, int]] = counter.added()) -> None:
                current = _RateItem(self._get(pk, "L"))
                for name, hits in added.items():
                    current.rule(name).subtract(hits)
                self._transact([current.put(self.table, pk)])

            self._optimistic(give_back, "giving back rate-limit hits")

    def undo_rate_hits(self, checks: Sequence[RateCheck], now: int) -> None:
        if not checks:
            return

        def undo() -> None:
            pks = [_rate_pk(c.key) for c in checks]
            stored = self._get_many([_key(pk, "L") for pk in dict.fromkeys(pks)])
            changed: dict[str, _RateItem] = {}
            for check, pk in zip(checks, pks, strict=True):
                if (pk, "L") not in stored:
                    continue
                item = changed.setdefault(pk, _RateItem(stored[pk, "L"]))
                item.rule(check.name).take_back(hit_bucket(check, now)[0])
            for pk, item in changed.items():
                if any(item.added().values()):
                    self._transact([item.put(self.table, pk)])

        self._optimistic(undo, "undoing rate-limit hits")

    # -- suppressions ---------------------------------------------------------------------------
    def set_suppressions(self, changes: Sequence[Suppression], *, now: int, force: bool = False) -> int:
        """Read the numbers' states, decide as the SQL stores do, write each changed one on the
        condition that it is still what was read (a concurrent change makes it read again)."""
        if not changes:
            return 0
        ordered = sorted(changes, key=lambda c: (int(c.changed_at), c.suppressed))

        def write() -> int:
            phones = sorted({c.phone for c in ordered})
            stored = self._get_many([_key("S#" + p, "S") for p in phones])
            held = {p: _suppression_from(stored[key]) for p in phones if (key := ("S#" + p, "S")) in stored}
            changed: dict[str, Suppression] = {}
            for change in ordered:
                current = changed.get(change.phone) or held.get(change.phone)
                if current is not None:
                    if force:
                        change = change._replace(changed_at=max(int(change.changed_at), current.changed_at))
                    elif (change.changed_at, change.suppressed) < (current.changed_at, current.suppressed):
                        continue
                    if change == current:
                        continue
                changed[change.phone] = change
            operations = []
            for phone, c in sorted(changed.items()):
                item: Item = {
                    **_key("S#" + phone, "S"),
                    "sup": _n(int(c.suppressed)),
                    "ca": _n(int(c.changed_at)),
                    "sign": _s(c.sign),
                    "kw": _s(c.keyword),
                    "src": _s(c.source),
                    "sa": _n(now),
                    **({"gsi1pk": _s("S"), "gsi1sk": _s(phone)} if c.suppressed else {}),
                }
                old = stored.get(("S#" + phone, "S"))
                condition: dict[str, Any] = (
                    {"ConditionExpression": "attribute_not_exists(pk)"}
                    if old is None
                    else {
                        "ConditionExpression": "ca = :ca AND sup = :sup AND sa = :sa",
                        "ExpressionAttributeValues": {":ca": old["ca"], ":sup": old["sup"], ":sa": old["sa"]},
                    }
                )
                operations.append({"Put": {"TableName": self.table, "Item": item, **condition}})
            for part in _chunks(operations, MAX_TRANSACTION_ITEMS):
                self._transact(part)
            return len(changed)

        return self._optimistic(write, "changing suppressions")

    def get_suppression(self, phone: str) -> Suppression | None:
        item = self._get("S#" + phone, "S")
        return _suppression_from(item) if item is not None else None

    def list_suppressions(self, *, after: str = "", limit: int = 100) -> list[Suppression]:
        """A Query of gsi1 (`S`, by phone): only suppressed numbers carry its keys."""
        limit = max(0, int(limit))
        found: list[Suppression] = []
        if not limit:
            return found
        values: Item = {":s": _s("S"), ":one": _n(1)}
        if after:  # DynamoDB refuses an empty string in a key condition
            values[":after"] = _s(after)
        listed = self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :s" + (" AND gsi1sk > :after" if after else ""),
            FilterExpression="sup = :one",
            ExpressionAttributeValues=values,
            Limit=min(limit, 1000),
        )
        for item in listed:
            found.append(_suppression_from(item))
            if len(found) >= limit:
                break
        return found

    def suppressed(self, phones: Sequence[str]) -> set[str]:
        unique = sorted(set(phones))
        stored = self._get_many([_key("S#" + p, "S") for p in unique])
        return {pk[2:] for (pk, _), item in stored.items() if _num(item, "sup")}

    # -- statistics -----------------------------------------------------------------------------
    def stats(self, frm: int, to: int, group_by: str) -> Stats:
        """Rollup items of the window: a Query per partition (docs/dynamodb.md), never a Scan."""
        return dynamodb_stats.query(self, frm, to, group_by)

    def messages_for_phone(self, phone: str, limit: int = 50) -> list[StoredMessage]:
        """A Query of the phone's index entries (newest first) and a BatchGetItem of the messages."""
        ids = dynamodb_stats.phone_entries(self, phone, max(0, int(limit)))
        found = self._get_many([_key(_message_pk(m), "M") for m in ids]) if ids else {}
        items = [(m, found.get((_message_pk(m), "M"))) for m in ids]
        return [_stored_message(m, item) for m, item in items if item is not None]

    # -- short-lived answers --------------------------------------------------------------------
    def cache_get(self, key: str, *, now: int) -> dict[str, Any] | None:
        """One eventually consistent GetItem (half a read unit): a cache may be a moment behind."""
        answer = self.request("get_item", TableName=self.table, Key=_key("C#" + key, "C"))
        item = answer.get("Item")
        if not item or _num(item, "expires_at") <= now:  # TTL deletes late: expiry is checked here
            return None
        value = json.loads(_str(item, "val", "null"))
        return value if isinstance(value, dict) else None

    def cache_put(self, key: str, value: dict[str, Any], *, now: int, ttl: int) -> None:
        item = {
            **_key("C#" + key, "C"),
            "val": _s(json.dumps(value, ensure_ascii=False, separators=(",", ":"))),
            "expires_at": _n(now + ttl),
        }
        _check_size(item, "a cached answer")
        self.request("put_item", TableName=self.table, Item=item)

    # -- template catalogue ---------------------------------------------------------------------
    def save_templates(self, templates: Sequence[StoredTemplate], *, now: int) -> int:
        """The whole catalogue is one item (compressed JSON): replaced by one PutItem, read by one
        GetItem, and never half old, half new."""
        unique = {t.template_id: t._replace(synced_at=now) for t in templates}
        body = json.dumps([list(t) for t in unique.values()], ensure_ascii=False)
        item = {
            **_key("T", "T"),
            "cat": {"B": zlib.compress(body.encode("utf-8", "surrogatepass"), 6)},
            "n": _n(len(unique)),
            "sa": _n(now),
        }
        _check_size(item, "the template catalogue")
        self.request("put_item", TableName=self.table, Item=item)
        return len(unique)

    def templates(self) -> list[StoredTemplate]:
        item = self._get("T", "T")
        if item is None:
            return []
        data = item["cat"]["B"]
        data = base64.b64decode(data) if isinstance(data, str) else data
        rows = json.loads(zlib.decompress(data).decode("utf-8", "surrogatepass"))
        found = [StoredTemplate(*row) for row in rows]
        return sorted(found, key=lambda t: (len(t.template_id), t.template_id))

    # -- one-time codes -------------------------------------------------------------------------
    def otp_create(self, record: OtpRecord, *, supersede_active: bool) -> int:
        item = _otp_item(record)
        _check_size(item, "a one-time code")

        def create() -> int:
            active = self._active_codes(record.phone, record.purpose) if supersede_active else []
            operations: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
            for other in active[: MAX_TRANSACTION_ITEMS - 1]:
                operations.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(other["pk"]["S"], "O"),
                            "UpdateExpression": "SET #st = :sup",
                            "ConditionExpression": "#st = :active",
                            "ExpressionAttributeNames": {"#st": "st"},
                            "ExpressionAttributeValues": {":sup": _s("superseded"), ":active": _s("active")},
                        }
                    }
                )
            if len(operations) == 1:
                old = self._put(item, "a one-time code", ConditionExpression="attribute_not_exists(pk)")
                if old is not None:
                    raise SmsError(f"one-time code {record.id} already exists", code="store_error")
            else:
                self._transact(operations)
            return len(operations) - 1

        return self._optimistic(create, "creating a code")

    def _active_codes(self, phone: str, purpose: str, now: int | None = None) -> list[Item]:
        """Active codes of phone+purpose, newest first (index: eventually consistent, re-read)."""
        index = self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            FilterExpression="#st = :active",
            ExpressionAttributeNames={"#st": "st"},
            ExpressionAttributeValues={
                ":p": _s("O#" + json.dumps([phone, purpose], ensure_ascii=False)),
                ":active": _s("active"),
            },
            ScanIndexForward=False,
        )
        listed = [i for i in index if now is None or _num(i, "expires_at") > now]
        if not listed:
            return []
        fresh = self._get_many([_key(i["pk"]["S"], "O") for i in listed])
        codes = [fresh[i["pk"]["S"], "O"] for i in listed if (i["pk"]["S"], "O") in fresh]
        return [
            c for c in codes if _str(c, "st") == "active" and (now is None or _num(c, "expires_at") > now)
        ]

    def otp_get(self, otp_id: str) -> OtpRecord | None:
        item = self._get("O#" + otp_id, "O")
        return _otp_from(item) if item else None

    def otp_latest_active(self, phone: str, purpose: str, *, now: int | None = None) -> OtpRecord | None:
        codes = self._active_codes(phone, purpose, now)
        if not codes:
            return None
        return _otp_from(max(codes, key=lambda c: (_num(c, "ca"), c["pk"]["S"])))

    def otp_attempt(self, otp_id: str, *, matched: bool, now: int) -> OtpAttempt:
        key = _key("O#" + otp_id, "O")
        values: Item = {":active": _s("active"), ":now": _n(now)}
        if matched:
            update = "SET #st = :used"
            values[":used"] = _s("used")
        else:
            update = "SET att = att + :one, #st = :state"
            values[":one"] = _n(1)
        condition = "#st = :active AND expires_at > :now"

        def attempt() -> OtpAttempt:
            item = self._get("O#" + otp_id, "O")
            if item is None:
                return OtpAttempt("not_found", 0)
            status, attempts = _str(item, "st"), _num(item, "att")
            if status != "active":
                return OtpAttempt(status, attempts)  # type: ignore[arg-type]
            if _num(item, "expires_at") <= now:
                return OtpAttempt("expired", attempts)
            params = dict(values)
            if not matched:
                params[":state"] = _s("locked" if attempts + 1 >= _num(item, "max") else "active")
                params[":seen"] = _n(attempts)
            try:
                self.request(
                    "update_item",
                    TableName=self.table,
                    Key=key,
                    UpdateExpression=update,
                    ConditionExpression=condition + ("" if matched else " AND att = :seen"),
                    ExpressionAttributeNames={"#st": "st"},
                    ExpressionAttributeValues=params,
                )
            except ClientError:
                raise _Conflict from None
            if matched:
                return OtpAttempt("verified", attempts)
            return OtpAttempt(params[":state"]["S"], attempts + 1)

        return self._optimistic(attempt, "a code attempt")

    def otp_purge_expired(self, now: int) -> int:  # noqa: ARG002 - TTL does it
        """Nothing to do: TTL deletes expired codes, and every read checks `expires_at` itself."""
        return 0

    # -- housekeeping ---------------------------------------------------------------------------
    def purge_expired(self, now: int, *, orphan_receipt_ttl: int = ORPHAN_RECEIPT_TTL) -> int:
        """Delete receipts of messages never recorded, stored `orphan_receipt_ttl` ago or more (at most
        `PURGE_BATCH` a run); return how many. Everything else that expires (rate-limit counters,
        idempotency records, codes, cached answers) carries `expires_at` and is DynamoDB's TTL's to
        delete, for free: a Scan of the table on every scheduled run would cost more than it saves.

        Orphan receipts are listed in gsi1 (`X#<shard>`, stored time), so this is a Query per shard
        plus a read and a transaction per message: nothing when there are none."""
        stored_before = now - orphan_receipt_ttl
        pks: dict[str, None] = {}
        for shard in range(ORPHAN_SHARDS):
            listed = self._query(
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :p AND gsi1sk <= :t",
                ExpressionAttributeValues={":p": _s(f"X#{shard}"), ":t": _s(_pad(stored_before))},
                ProjectionExpression="pk",
            )
            for item in listed:
                pks[item["pk"]["S"]] = None
                if len(pks) >= PURGE_BATCH:
                    break
        return sum(
            self._optimistic(partial(self._purge_orphans, pk, stored_before), "purging receipts")
            for pk in sorted(pks)
        )

    def _purge_orphans(self, pk: str, stored_before: int) -> int:
        """Delete one message's receipts stored at or before `stored_before` if it is still not
        recorded, and keep its early decision true to the receipts that remain."""
        rows = {i["sk"]["S"]: i for i in self._query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": _s(pk)}, ConsistentRead=True
        )}  # fmt: skip
        receipts = [i for sk, i in rows.items() if sk.startswith("R#")]
        if "M" in rows:  # recorded since: its receipts are no longer orphans, only unlist them
            for item in receipts:
                if "gsi1pk" in item:
                    self.request(
                        "update_item",
                        TableName=self.table,
                        Key=_key(pk, item["sk"]["S"]),
                        UpdateExpression="REMOVE gsi1pk, gsi1sk",
                    )
            return 0
        old = [i for i in receipts if _num(i, "sa") <= stored_before]
        keep = [i for i in receipts if _num(i, "sa") > stored_before]
        early = rows.get("E")
        final: list[dict[str, Any]] = []
        condition: dict[str, Any] = (
            {
                "ConditionExpression": "d_rank = :r AND d_seq = :q",
                "ExpressionAttributeValues": {":r": early["d_rank"], ":q": early["d_seq"]},
            }
            if early is not None and "d_rank" in early
            else {"ConditionExpression": "attribute_not_exists(pk)"}
        )
        if keep:
            best = max(keep, key=lambda i: (_rank(_str(i, "st"), _num(i, "at")), _num(i, "seq")))
            decided = _decision_attrs(_receipt_from(best, pk[2:]), _num(best, "seq"))
            if early is None or _decision(early) != _decision(decided):
                item = {**_key(pk, "E"), **decided, **{k: v for k, v in best.items() if k == "expires_at"}}
                final.append({"Put": {"TableName": self.table, "Item": item, **condition}})
        elif early is not None:
            final.append({"Delete": {"TableName": self.table, "Key": _key(pk, "E"), **condition}})
        missing = {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": _key(pk, "M"),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        deletes = [{"Delete": {"TableName": self.table, "Key": _key(pk, i["sk"]["S"])}} for i in old]
        parts = list(_chunks(deletes, MAX_TRANSACTION_ITEMS - 2)) or [[]]
        for number, part in enumerate(parts, 1):
            operations = [missing, *part, *(final if number == len(parts) else [])]
            if len(operations) > 1:
                self._transact(operations)
        return len(old)

    def ping(self) -> None:
        self.request("get_item", TableName=self.table, Key=_key("ping", "ping"))

    def close(self) -> None:
        with self._lock:
            client, self._client_obj = self._client_obj, None
            self._ready = False
        if client is not None:
            client.close()


def _response(item: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = item.get("resp")
    if raw is None:
        return None
    if "B" in raw:
        data = raw["B"]
        data = base64.b64decode(data) if isinstance(data, str) else data
        loaded: dict[str, Any] = json.loads(zlib.decompress(data).decode("utf-8", "surrogatepass"))
        return loaded
    return dict(json.loads(raw["S"]))


class _RateItem:
    """Every rule's counters of one rate-limit key (a phone's three limits share an item: one
    read and one write instead of three), guarded by a version number so a concurrent writer's
    hits are never overwritten. `c` maps a rule name to its buckets, one string of
    `start:hits:lasts` (the bucket leaves the window `lasts` seconds after its start): a third
    the bytes of a map of numbers, so fewer units."""

    def __init__(self, item: Mapping[str, Any] | None) -> None:
        self.version = _num(item, "v") if item else 0
        self.exists = item is not None
        raw = item.get("c", {}).get("M", {}) if item else {}
        self.rules = {name: _Counter(value["S"]) for name, value in raw.items()}

    def rule(self, name: str) -> _Counter:
        return self.rules.setdefault(name, _Counter(""))

    def added(self) -> dict[str, dict[int, int]]:
        return {name: dict(c.added) for name, c in self.rules.items() if c.added}

    def drop_expired(self, now: int) -> int:
        return sum(c.drop_expired(now) for c in self.rules.values())

    def put(self, table: str, pk: str) -> dict[str, Any]:
        """The conditional put that writes this item if nobody wrote since it was read."""
        rules = {name: c for name, c in self.rules.items() if c.hits}
        item: Item = {
            **_key(pk, "L"),
            "v": _n(self.version + 1),
            "c": {"M": {name: _s(c.encode()) for name, c in rules.items()}},
            "expires_at": _n(max((max(c.expiry.values(), default=0) for c in rules.values()), default=0)),
        }
        condition: dict[str, Any] = (
            {"ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": _n(self.version)}}
            if self.exists
            else {"ConditionExpression": "attribute_not_exists(pk)"}
        )
        return {"Put": {"TableName": table, "Item": item, **condition}}


class _Counter:
    """One rule's hits per bucket start, with when each bucket leaves the window."""

    def __init__(self, encoded: str) -> None:
        self.hits: dict[int, int] = {}
        self.expiry: dict[int, int] = {}
        for bucket in encoded.split():
            start, hits, lasts = (int(part) for part in bucket.split(":"))
            self.hits[start], self.expiry[start] = hits, start + lasts
        self.added: dict[int, int] = {}

    def encode(self) -> str:
        return " ".join(f"{s}:{h}:{self.expiry.get(s, s) - s}" for s, h in sorted(self.hits.items()))

    def live(self, check: RateCheck, now: int) -> int:
        up_to = stale_up_to(check, now)
        return sum(h for start, h in self.hits.items() if start > up_to)

    def retry_after(self, check: RateCheck, count: int, now: int) -> int:
        """Same arithmetic as the SQL stores: when enough hits leave for one more to fit."""
        return self.retry_after_leaving(check, count - check.limit + 1, now)

    def retry_after_leaving(self, check: RateCheck, must_leave: int, now: int, extra: int = 0) -> int:
        """When `must_leave` of the live hits (and `extra` more at `now`, not yet added) have left."""
        if check.limit == 0:
            return check.window_seconds
        up_to = stale_up_to(check, now)
        live = {s: h for s, h in self.hits.items() if s > up_to}
        if extra:
            start = hit_bucket(check, now)[0]
            live[start] = live.get(start, 0) + extra
        return retry_from_rows(check, sorted(live.items()), must_leave, now)

    def drop_up_to(self, up_to: int) -> None:
        for start in [s for s in self.hits if s <= up_to]:
            del self.hits[start]
            self.expiry.pop(start, None)

    def drop_expired(self, now: int) -> int:
        gone = [s for s, expires in self.expiry.items() if expires <= now]
        for start in gone:
            self.hits.pop(start, None)
            del self.expiry[start]
        return len(gone)

    def add(self, check: RateCheck, now: int, hits: int) -> None:
        start, expires = hit_bucket(check, now)
        self.hits[start] = self.hits.get(start, 0) + hits
        self.expiry.setdefault(start, expires)
        self.added[start] = self.added.get(start, 0) + hits

    def take_back(self, start: int) -> None:
        if self.hits.get(start, 0) > 0:
            self.hits[start] -= 1
            self.added[start] = self.added.get(start, 0) - 1

    def subtract(self, added: Mapping[int, int]) -> None:
        for start, hits in added.items():
            if start in self.hits:
                self.hits[start] = max(0, self.hits[start] - hits)


def iter_items(store: DynamoDbStore, prefix: str) -> Iterable[Item]:
    """Every item whose pk starts with `prefix` (tests and figures; a Scan)."""
    return store._scan(
        FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": _s(prefix)}, Limit=1000
    )
