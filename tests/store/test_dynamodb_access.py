"""deploy/aws/dynamodb-access.yml is true to the code: every DynamoDB action a store method really
calls (recorded from boto3 while the method runs against moto's server) is listed for that method,
so no deployed role is denied an action its function uses. Items of a `TransactWriteItems` count as
the actions IAM authorizes them by (PutItem, UpdateItem, DeleteItem, ConditionCheckItem)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.models import Receipt, Reply, SendResult
from shared.store import OtpRecord, RateCheck, open_store
from shared.store.base import StoredTemplate, Suppression
from shared.store.dynamodb import DynamoDbStore
from tests.deploy.helpers import load_yaml
from tests.helpers import ROOT

pytestmark = pytest.mark.dynamodb

ACCESS = load_yaml(ROOT / "deploy" / "aws" / "dynamodb-access.yml")
PHONE = "+8613800000000"
_IN_TRANSACTION = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


class Recorder:
    """The DynamoDB actions the store's client calls, per store method being run."""

    def __init__(self, store: DynamoDbStore) -> None:
        self.method = ""
        self.seen: dict[str, set[str]] = {}
        store.boto_client().meta.events.register("provide-client-params.dynamodb", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        actions = {model.name}
        if model.name == "TransactWriteItems":
            actions = {_IN_TRANSACTION[kind] for op in params["TransactItems"] for kind in op}
        self.seen.setdefault(self.method, set()).update(actions)

    def run(self, method: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        self.method = method
        try:
            return call(*args, **kwargs)
        finally:
            self.method = ""


@pytest.fixture
def dynamo(fresh_dynamodb_url: str) -> Iterator[DynamoDbStore]:
    store = open_store(fresh_dynamodb_url)
    assert isinstance(store, DynamoDbStore)
    store.ping()  # the table exists before recording starts
    yield store
    store.close()


def sent(message_id: str, phone: str = PHONE) -> SendResult:
    return SendResult(phone, message_id, "submitted", fee=1, code="Ok", message="send success")


def test_every_action_a_method_calls_is_in_the_access_file(dynamo: DynamoDbStore) -> None:
    rec = Recorder(dynamo)
    send = {"template_id": "7839", "params": ["1"], "sign": "s", "caller": "app:1"}
    check = RateCheck("sms:phone:1/30s", PHONE, 1, 30)
    many = [RateCheck("sms:phone:5/30s", f"+86138000001{i:02d}", 5, 30) for i in range(3)]
    code = OtpRecord("o1", PHONE, "login", "h", 100, 400)
    delivered = Receipt("early", PHONE, "delivered", "DELIVRD", "ok", 950)

    rec.run("save_receipts", dynamo.save_receipts, [delivered], source="callback", now=950)  # no message yet
    rec.run("record_sends", dynamo.record_sends, [sent("m1")], now=1000, **send)
    rec.run("record_sends", dynamo.record_sends, [sent("m2"), sent("m3"), sent("early")], now=1000, **send)
    rec.run(
        "save_receipts", dynamo.save_receipts, [delivered._replace(message_id="m1")], source="pull", now=1001
    )
    rec.run(
        "save_receipts", dynamo.save_receipts, [delivered._replace(message_id="m1")], source="pull", now=1002
    )
    rec.run("get_message", dynamo.get_message, "m1")
    rec.run("receipts_for", dynamo.receipts_for, "m1")
    reply = Reply(PHONE, "TD", "s", "", 1000)
    rec.run("save_replies", dynamo.save_replies, [reply], source="pull", now=1000)
    rec.run("save_replies", dynamo.save_replies, [reply, reply._replace(text="b")], source="pull", now=1000)
    rec.run("replies_for", dynamo.replies_for, PHONE)
    rec.run("unconfirmed_messages", dynamo.unconfirmed_messages, now=9000, older_than=60, limit=10)
    rec.run("defer_reconcile", dynamo.defer_reconcile, [("m2", 9999)], now=9000)
    rec.run("give_up_unconfirmed", dynamo.give_up_unconfirmed, ["m3"], reason="x", now=9000)
    rec.run(
        "idempotency_begin", dynamo.idempotency_begin, "k", fingerprint="f", now=1, in_progress_ttl=30, ttl=60
    )
    rec.run(
        "idempotency_begin", dynamo.idempotency_begin, "k", fingerprint="f", now=2, in_progress_ttl=30, ttl=60
    )
    rec.run("idempotency_complete", dynamo.idempotency_complete, "k", {"ok": True}, now=3)
    rec.run("idempotency_release", dynamo.idempotency_release, "k")
    rec.run("hit_rate_limits", dynamo.hit_rate_limits, [check], now=10)
    rec.run("hit_rate_limits", dynamo.hit_rate_limits, many, now=10)
    rec.run("hit_rate_limits_each", dynamo.hit_rate_limits_each, [[c] for c in many], now=11)
    rec.run("hit_rate_limits_each", dynamo.hit_rate_limits_each, [[check]], now=11)
    rec.run("undo_rate_hits", dynamo.undo_rate_hits, many, now=11)
    rec.run("undo_rate_hits", dynamo.undo_rate_hits, [check], now=10)
    rec.run("peek_rate_limits", dynamo.peek_rate_limits, many, now=12)
    rec.run("peek_rate_limits", dynamo.peek_rate_limits, [check], now=12)
    rec.run("cache_put", dynamo.cache_put, "c", {"v": 1}, now=1, ttl=5)
    rec.run("cache_get", dynamo.cache_get, "c", now=2)
    rec.run("otp_create", dynamo.otp_create, code, supersede_active=True)
    rec.run("otp_create", dynamo.otp_create, code._replace(id="o2", created_at=101), supersede_active=True)
    rec.run("otp_get", dynamo.otp_get, "o2")
    rec.run("otp_latest_active", dynamo.otp_latest_active, PHONE, "login", now=200)
    rec.run("otp_attempt", dynamo.otp_attempt, "o2", matched=False, now=200)
    rec.run("otp_attempt", dynamo.otp_attempt, "o2", matched=True, now=200)
    rec.run("save_templates", dynamo.save_templates, [StoredTemplate("1", 0, 0, "n", "{1}")], now=5)
    rec.run("templates", dynamo.templates)
    opt_out = Suppression(PHONE, True, 100, "s", "TD", "pull")
    rec.run("set_suppressions", dynamo.set_suppressions, [opt_out], now=100)
    rec.run("set_suppressions", dynamo.set_suppressions, [opt_out._replace(changed_at=101)], now=101)
    rec.run("get_suppression", dynamo.get_suppression, PHONE)
    rec.run("list_suppressions", dynamo.list_suppressions)
    rec.run("suppressed", dynamo.suppressed, [PHONE])
    rec.run("suppressed", dynamo.suppressed, [PHONE, "+8613800000009"])
    rec.run("stats", dynamo.stats, 0, 2 * 86400, "day")
    rec.run("stats", dynamo.stats, 0, 3600, "hour")
    rec.run("messages_for_phone", dynamo.messages_for_phone, PHONE)
    stray = [delivered._replace(message_id="stray")]
    rec.run("save_receipts", dynamo.save_receipts, stray, source="callback", now=1000)
    rec.run("purge_expired", dynamo.purge_expired, 10**9)

    assert "" not in rec.seen, "a request outside the methods under test"
    for method, actions in sorted(rec.seen.items()):
        listed = set(ACCESS["methods"][method])
        assert actions <= listed, f"{method} calls {sorted(actions - listed)}, not in dynamodb-access.yml"
    assert "Scan" not in set().union(*rec.seen.values())  # purge relies on TTL and gsi1
    assert dynamo.receipts_for("stray") == []  # the orphan receipt was purged (by gsi1, not a Scan)
    used = {m for ms in ACCESS["functions"].values() for m in ms}
    assert used <= set(rec.seen), f"not exercised here: {sorted(used - set(rec.seen))}"
