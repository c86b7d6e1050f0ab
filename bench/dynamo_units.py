"""Requests and DynamoDB capacity units a store operation costs, counted at the client.

A local DynamoDB-API server (moto) reports placeholder units (1.0 or 0.5 whatever the item), so
the units here are computed from item sizes by AWS's rules for on-demand tables:

- read: ceil(size / 4 KB) per item, strongly consistent (what the store asks for); a Query or
  Scan rounds the sum of the items it read once; an item that is not there costs one unit;
- write: ceil(size / 1 KB) of the larger of the item before and after; a write whose condition
  fails still costs it; every write of an item holding `gsi1pk` writes the index as well;
- a transaction costs twice its items (ConditionCheck included).

Sizes of items the requests do not carry (an update's result, an item a transaction updated) are
read afterwards over a second client, which is not counted.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from shared.store.dynamodb import DynamoDbStore, item_size

KB = 1024


def _reads(size: int) -> int:
    return max(1, math.ceil(size / (4 * KB)))


def _writes(size: int) -> int:
    return max(1, math.ceil(size / KB))


class Meter:
    """Counts requests, read units and write units of one store's client."""

    def __init__(self, store: DynamoDbStore) -> None:
        self.store = store
        self.requests: Counter[str] = Counter()
        self.rru = 0.0
        self.wru = 0.0
        self.active = True
        client = store.boto_client()
        # sizes items; never counted (abstract: the DynamoDB store is being finished on another branch)
        self._side = DynamoDbStore(store.url)
        client.meta.events.register("after-call.dynamodb", self._after)
        client.meta.events.register("provide-client-params.dynamodb", self._remember)
        client.meta.events.register("provide-client-params.dynamodb.PutItem", self._old_values)
        self._params: dict[str, Any] = {}

    def reset(self) -> None:
        self.requests.clear()
        self.rru = self.wru = 0.0

    def snapshot(self) -> tuple[int, float, float]:
        return sum(self.requests.values()), self.rru, self.wru

    def _remember(self, params: dict[str, Any], **_: Any) -> None:
        self._params = params  # the bench calls from one thread

    @staticmethod
    def _old_values(params: dict[str, Any], **_: Any) -> None:
        params.setdefault("ReturnValues", "ALL_OLD")  # the old item's size decides a put's units

    def _size_of(self, key: dict[str, Any]) -> int:
        item = self._side._get(key["pk"]["S"], key["sk"]["S"])
        return item_size(item) if item else 0

    def _gsi(self, item: dict[str, Any] | None) -> int:
        return _writes(item_size(item)) if item and "gsi1pk" in item else 0

    def _after(self, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if not self.active:
            return
        operation = model.name
        self.requests[operation] += 1
        params = self._params
        self.active = False
        try:
            self._count(operation, params, parsed)
        finally:
            self.active = True

    def _count(self, op: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if op == "GetItem":
            self.rru += _reads(item_size(parsed["Item"])) if parsed.get("Item") else 1
        elif op == "BatchGetItem":
            for table, request in params.get("RequestItems", {}).items():
                found = parsed.get("Responses", {}).get(table, [])
                self.rru += sum(_reads(item_size(i)) for i in found) + (len(request["Keys"]) - len(found))
        elif op in ("Query", "Scan"):
            size = sum(item_size(i) for i in parsed.get("Items", []))
            self.rru += max(1, math.ceil(size / (4 * KB)))
        elif op == "PutItem":
            new, old = params.get("Item", {}), parsed.get("Attributes") or parsed.get("Item")
            self.wru += _writes(max(item_size(new), item_size(old) if old else 0)) + self._gsi(new)
        elif op in ("UpdateItem", "DeleteItem"):
            key = params["Key"]
            size = self._size_of(key)
            self.wru += _writes(size) + (
                self._gsi(self._side._get(key["pk"]["S"], key["sk"]["S"])) if size else 0
            )
        elif op == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    item = request.get("PutRequest", {}).get("Item")
                    self.wru += _writes(item_size(item)) + self._gsi(item) if item else 1
        elif op == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                ((kind, body),) = entry.items()
                if kind == "Put":
                    self.wru += 2 * _writes(item_size(body["Item"])) + self._gsi(body["Item"])
                else:
                    self.wru += 2 * _writes(self._size_of(body["Key"]))
