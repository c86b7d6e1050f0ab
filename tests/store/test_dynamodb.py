"""What only the DynamoDB store has: its table, item limits, throttling, unprocessed batch items,
conditional writes that lose to another writer, TTL attributes and the lazy boto3 import.

Every test talks over HTTP to moto's DynamoDB server (tests/dynamo_server.py); faults moto cannot
make (throttling, unprocessed items) come from `FaultProxy` in front of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from shared.errors import ConfigurationError, PayloadTooLargeError, StoreUnavailableError
from shared.models import Receipt, SendResult
from shared.store import RateCheck, open_store
from shared.store.dynamodb import DynamoDbStore, iter_items, parse_dynamodb_url
from shared.store.stats import country_of
from tests.dynamo_server import REGION, DynamoServer, FaultProxy
from tests.helpers import ROOT
from tests.store.helpers import count_items

pytestmark = pytest.mark.dynamodb

PHONE = "+8613800000000"


def sent(message_id: str, phone: str = PHONE) -> SendResult:
    return SendResult(phone, message_id, "submitted", fee=1, code="Ok", message="send success")


def record(
    store: DynamoDbStore, *results: SendResult, params: list[str] | None = None, now: int = 900
) -> None:
    store.record_sends(
        results, template_id="7839", params=params or ["1234"], sign="s", caller="app:1", now=now
    )


@pytest.fixture
def dynamo(fresh_dynamodb_url: str) -> Iterator[DynamoDbStore]:
    store = open_store(fresh_dynamodb_url)
    assert isinstance(store, DynamoDbStore)
    yield store
    store.close()


@pytest.fixture
def proxy(dynamodb_server: DynamoServer) -> Iterator[FaultProxy]:
    fault = FaultProxy(dynamodb_server.port)
    yield fault
    fault.close()


def through(proxy: FaultProxy, dynamodb_server: DynamoServer, **options: str) -> DynamoDbStore:
    store = open_store(dynamodb_server.url(**options).replace(dynamodb_server.endpoint, proxy.endpoint))
    assert isinstance(store, DynamoDbStore)
    return store


def raw_client(server: DynamoServer) -> Any:
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=server.endpoint)


# -- the table ---------------------------------------------------------------------------------
def test_create_true_makes_the_agreed_table_with_ttl(
    dynamo: DynamoDbStore, dynamodb_server: DynamoServer
) -> None:
    dynamo.ping()
    client = raw_client(dynamodb_server)
    table = client.describe_table(TableName=dynamo.table)["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "gsi1"
    assert index["Projection"]["ProjectionType"] == "ALL"
    assert {k["AttributeName"] for k in index["KeySchema"]} == {"gsi1pk", "gsi1sk"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = client.describe_time_to_live(TableName=dynamo.table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert ttl["AttributeName"] == "expires_at"


def test_without_create_a_missing_table_is_a_clear_error(dynamodb_server: DynamoServer) -> None:
    store = open_store(dynamodb_server.url(create="false"))
    with pytest.raises(StoreUnavailableError, match="does not exist") as info:
        store.ping()
    assert info.value.status == 503
    client = raw_client(dynamodb_server)
    assert store.table not in client.list_tables()["TableNames"]  # type: ignore[attr-defined]  # only create=true creates


def test_racing_stores_create_the_table_once(dynamodb_server: DynamoServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = dynamodb_server.url()
    stores = [open_store(url) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        claims = list(pool.map(lambda s: s.idempotency_begin("k", fingerprint="f", now=1, in_progress_ttl=9,
                                                             ttl=9), stores))  # fmt: skip
    assert sum(c is None for c in claims) == 1


def test_url_options() -> None:
    options = parse_dynamodb_url(
        "dynamodb://sms?region=eu-west-1&retention_days=0&max_attempts=2&timeout=1.5"
    )
    assert (options["table"], options["region"], options["retention_days"]) == ("sms", "eu-west-1", 0)
    assert (options["max_attempts"], options["timeout"], options["create"]) == (2, 1.5, False)
    for bad in ("dynamodb://?region=x", "dynamodb://t?retention_days=-1", "dynamodb://t?colour=blue"):
        with pytest.raises(ConfigurationError):
            open_store(bad)


def test_boto3_is_imported_only_for_a_dynamodb_store() -> None:
    code = (
        "import sys, shared.store as s; s.open_store('sqlite:///:memory:').ping();"
        " s.open_store('postgresql://u:p@127.0.0.1:1/x');"
        " print('boto3' in sys.modules, 'botocore' in sys.modules);"
        " s.open_store('dynamodb://t?region=us-east-1'); print('boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False", "True"]


# -- expiry ------------------------------------------------------------------------------------
def test_items_carry_ttl_and_reads_do_not_wait_for_it(dynamo: DynamoDbStore) -> None:
    record(dynamo, sent("m1"), now=1000)
    (message,) = iter_items(dynamo, "M#")
    assert int(message["expires_at"]["N"]) == 1000 + 90 * 86400  # default retention
    assert dynamo.idempotency_begin("k", fingerprint="f", now=100, in_progress_ttl=30, ttl=60) is None
    (claim,) = iter_items(dynamo, "I#")
    assert int(claim["expires_at"]["N"]) == 130
    # TTL has not deleted it (it may lag for days): the read itself sees it expired
    assert dynamo.idempotency_begin("k", fingerprint="g", now=130, in_progress_ttl=30, ttl=60) is None


def test_retention_days_zero_keeps_messages(dynamodb_server: DynamoServer) -> None:
    with open_store(dynamodb_server.url(retention_days="0")) as store:
        assert isinstance(store, DynamoDbStore)
        record(store, sent("m1"))
        (message,) = iter_items(store, "M#")
        assert "expires_at" not in message


# -- bad input and faults ----------------------------------------------------------------------
def test_an_item_over_400_kb_is_refused_before_anything_is_written(dynamo: DynamoDbStore) -> None:
    with pytest.raises(PayloadTooLargeError, match="400") as info:
        record(dynamo, sent("big"), sent("small"), params=["x" * 420_000])
    assert info.value.code == "store_item_too_large"
    assert dynamo.get_message("big") is None
    assert dynamo.get_message("small") is None
    huge = Receipt("m1", PHONE, "delivered", "DELIVRD", "d" * 420_000, 1000)
    ok = Receipt("m1", PHONE, "delivered", "DELIVRD", "fine", 1001)
    with pytest.raises(PayloadTooLargeError):
        dynamo.save_receipts([ok, huge], source="pull", now=1)
    assert dynamo.receipts_for("m1") == []


def test_a_large_idempotent_answer_is_compressed_and_an_incompressible_one_refused(
    dynamo: DynamoDbStore,
) -> None:
    response = {"results": [{"phone": f"+86138{i:08d}", "message_id": f"2019:{i:019d}", "code": "Ok"}
                            for i in range(20_000)]}  # fmt: skip
    assert dynamo.idempotency_begin("big", fingerprint="f", now=1, in_progress_ttl=30, ttl=60) is None
    dynamo.idempotency_complete("big", response, now=2)
    record_ = dynamo.idempotency_begin("big", fingerprint="f", now=3, in_progress_ttl=30, ttl=60)
    assert record_ is not None
    assert record_.response == response
    noise = {"blob": os.urandom(450_000).hex()}
    assert dynamo.idempotency_begin("noise", fingerprint="f", now=1, in_progress_ttl=30, ttl=60) is None
    with pytest.raises(PayloadTooLargeError):
        dynamo.idempotency_complete("noise", noise, now=2)
    claim = dynamo.idempotency_begin("noise", fingerprint="f", now=3, in_progress_ttl=30, ttl=60)
    assert claim is not None
    assert claim.status == "in_progress"


def test_throttled_requests_are_retried(proxy: FaultProxy, dynamodb_server: DynamoServer) -> None:
    store = through(proxy, dynamodb_server)
    store.ping()
    proxy.requests.clear()
    proxy.throttle_next = 2
    assert store.hit_rate_limits([RateCheck("phone", PHONE, 1, 60)], now=1).allowed
    assert proxy.requests[:3] == ["GetItem"] * 3  # two throttled, the third answered
    assert not store.hit_rate_limits([RateCheck("phone", PHONE, 1, 60)], now=2).allowed
    store.close()


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttled_beyond_the_retries_is_unavailable_and_writes_nothing(
    proxy: FaultProxy, dynamodb_server: DynamoServer, code: str
) -> None:
    store = through(proxy, dynamodb_server, max_attempts="3")
    store.ping()
    proxy.throttle_code, proxy.throttle_next = code, 3
    with pytest.raises(StoreUnavailableError, match="throttled") as info:
        store.save_receipts([Receipt("m1", PHONE, "delivered", "DELIVRD", "", 1)], source="pull", now=1)
    assert info.value.status == 503
    assert code in str(info.value)
    assert store.receipts_for("m1") == []
    store.close()


def test_unprocessed_batch_items_are_retried_until_stored(
    proxy: FaultProxy, dynamodb_server: DynamoServer
) -> None:
    store = through(proxy, dynamodb_server)
    store.ping()
    proxy.unprocessed_rounds = 30  # each BatchWriteItem stores only its first item, 30 times over
    record(store, *[sent(f"m{i:02d}", f"+86138{i:08d}") for i in range(60)])
    assert count_items(store, "M#", sk="M") == 60
    assert proxy.requests.count("BatchWriteItem") > 30
    store.close()


def test_items_left_unprocessed_fail_loudly(proxy: FaultProxy, dynamodb_server: DynamoServer) -> None:
    store = through(proxy, dynamodb_server)
    store.ping()
    proxy.unprocessed_rounds, proxy.processed = 10**6, 0  # nothing is ever processed
    with pytest.raises(StoreUnavailableError, match="unprocessed"):
        record(store, *[sent(f"m{i:02d}", f"+86138{i:08d}") for i in range(10)])
    store.close()


def test_a_write_that_loses_to_another_writer_reads_again(
    dynamo: DynamoDbStore, fresh_dynamodb_url: str
) -> None:
    """Between this store's read and its conditional write another container takes the last
    hit: the write's condition fails, the store reads again and refuses."""
    other = open_store(fresh_dynamodb_url)
    check = RateCheck("phone", PHONE, 1, 60)
    original = dynamo._get_many
    interfered: list[Any] = []

    def read_then_interfere(keys: Any) -> Any:
        found = original(keys)
        if not interfered:
            interfered.append(other.hit_rate_limits([check], now=10))
        return found

    dynamo._get_many = read_then_interfere  # type: ignore[method-assign]
    decision = dynamo.hit_rate_limits([check], now=11)
    assert interfered[0].allowed
    assert not decision.allowed
    assert decision.retry_after == 59
    other.close()


def test_more_counters_than_one_transaction_are_all_or_nothing(dynamo: DynamoDbStore) -> None:
    checks = [RateCheck("phone", f"+86138{i:08d}", 1, 60) for i in range(150)]
    assert dynamo.hit_rate_limits(checks, now=0).allowed  # two transactions
    assert not dynamo.hit_rate_limits([checks[149]], now=1).allowed
    fresh = [RateCheck("phone", f"+86139{i:08d}", 1, 60) for i in range(150)]
    blocked = dynamo.hit_rate_limits([*fresh, checks[0]], now=2)
    assert not blocked.allowed
    assert blocked.check == checks[0]
    assert all(dynamo.hit_rate_limits([c], now=3).allowed for c in fresh[::50])  # nothing recorded


# -- bulk ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_send_multi_of_20000_numbers_stores_20000_items(dynamo: DynamoDbStore) -> None:
    batch = [sent(f"2019:{i:019d}", f"+86138{i:08d}") for i in range(20_000)]
    for start in range(0, len(batch), 2000):  # send_multi's writer: 2,000 rows a call
        record(dynamo, *batch[start : start + 2000])
    assert count_items(dynamo, "M#", sk="M") == 20_000


# -- statistics rollup -----------------------------------------------------------------------------
def by_status(store: DynamoDbStore, frm: int = 0, to: int = 2 * 86400) -> dict[str, int]:
    return {g["group"]: g["sent"] for g in store.stats(frm, to, "status").groups}


def test_a_bulk_send_retried_after_a_fault_is_counted_once(dynamo: DynamoDbStore) -> None:
    """The first attempt stores 25 of 60 messages and fails; the caller's retry stores the rest.
    The rollup (written with its marker before the messages) counts each message once."""
    batch = [sent(f"m{i:02d}", f"+86138{i:08d}") for i in range(60)]
    original = dynamo._batch_write

    def half_then_fail(requests: Any) -> None:
        original(requests[: 60 + 25])  # the 60 history entries, then 25 of the messages
        raise StoreUnavailableError("injected: the connection dropped mid-batch")

    dynamo._batch_write = half_then_fail  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailableError):
        record(dynamo, *batch)
    dynamo._batch_write = original  # type: ignore[method-assign]
    assert count_items(dynamo, "M#", sk="M") == 25
    record(dynamo, *batch)
    assert count_items(dynamo, "M#", sk="M") == 60
    assert by_status(dynamo) == {"submitted": 60}
    assert all([m.message_id for m in dynamo.messages_for_phone(r.phone)] == [r.message_id] for r in batch)
    record(dynamo, *batch[:30], sent("m99", "+8613900000000"))  # stored ids again, one new
    totals = dynamo.stats(0, 2 * 86400, "day").totals
    assert (totals["sent"], totals["fee"]) == (61, 61)


def test_a_status_change_moves_the_message_between_rollup_rows(dynamo: DynamoDbStore) -> None:
    record(dynamo, sent("a"), now=1000)
    record(dynamo, sent("b"), sent("c", "+447911123456"), now=1000)
    assert by_status(dynamo) == {"submitted": 3}
    dynamo.save_receipts([Receipt("a", PHONE, "delivered", "DELIVRD", "ok", 1004)], source="pull", now=1004)
    assert by_status(dynamo) == {"submitted": 2, "delivered": 1}
    later = Receipt("a", PHONE, "failed", "MK:0001", "空号", 1010)  # a later definitive report decides
    dynamo.save_receipts([later], source="callback", now=1010)
    assert by_status(dynamo) == {"submitted": 2, "failed": 1}
    dynamo.give_up_unconfirmed(["b"], reason="no receipt", now=9000)
    assert by_status(dynamo) == {"submitted": 1, "failed": 1, "unknown": 1}
    answer = dynamo.stats(0, 2 * 86400, "country").to_dict()
    assert {g["group"]: (g["sent"], g["failed"], g["pending"]) for g in answer["groups"]} == {
        "CN": (2, 1, 0),
        country_of("+447911123456"): (1, 0, 1),
    }
    assert answer["totals"]["top_failures"] == [{"code": "MK:0001", "description": "空号", "count": 1}]
    rows = [i for i in iter_items(dynamo, "ST#") if '"submitted"' in i["sk"]["S"]]
    assert rows
    assert {int(i["n"]["N"]) for i in rows} <= {0, 1}


def test_receipts_whose_rollup_moves_overflow_one_transaction_are_split(dynamo: DynamoDbStore) -> None:
    """60 messages in 60 different hours: their moves touch 960 rollup rows, far over 100 items."""
    for i in range(60):
        record(dynamo, sent(f"h{i}"), now=i * 3600)
    receipts = [Receipt(f"h{i}", PHONE, "delivered", "DELIVRD", "ok", i * 3600 + 3) for i in range(60)]
    assert dynamo.save_receipts(receipts, source="pull", now=60 * 3600) == 60
    answer = dynamo.stats(0, 60 * 3600, "hour").to_dict()
    assert answer["totals"]["delivered"] == 60
    assert answer["totals"]["pending"] == 0
    assert answer["totals"]["latency_p50_s"] == 5  # 3 s: the 3-5 s bucket


def test_history_by_phone_is_a_query_not_a_scan(dynamo: DynamoDbStore) -> None:
    for i in range(5):
        record(dynamo, sent(f"p{i}"), sent(f"q{i}", "+8613900000000"), now=1000 + i)
    record(dynamo, sent("single"), now=2000)
    seen: list[str] = []
    dynamo.boto_client().meta.events.register(
        "provide-client-params.dynamodb", lambda model, **_: seen.append(model.name)
    )
    found = dynamo.messages_for_phone(PHONE, limit=3)
    assert [m.message_id for m in found] == ["single", "p4", "p3"]
    assert dynamo.messages_for_phone("+8613000000000") == []
    dynamo.stats(0, 40 * 86400, "template")
    assert "Scan" not in seen
    assert "Query" in seen
