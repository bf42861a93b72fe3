"""The emulator's TransactWriteItems backs up only the items a transaction names, and a cancelled
transaction still leaves every one of them as it was (moto in process, the library LocalStack
serves DynamoDB from)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import moto.dynamodb.models as models
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from fraudops_emulator import ddb_transactions

REGION = "us-east-1"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto DynamoDB with the patch installed for this test only."""
    monkeypatch.setattr(models, "copy", models.copy)
    monkeypatch.setattr(
        models.DynamoDBBackend, "transact_write_items", models.DynamoDBBackend.transact_write_items
    )
    ddb_transactions.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        kinds: list[Any] = ["HASH", "RANGE"]
        for name, keys in (("ledger", ["pk", "sk"]), ("plain", ["pk"])):
            client.create_table(
                TableName=name,
                KeySchema=[
                    {"AttributeName": k, "KeyType": t} for k, t in zip(keys, kinds, strict=False)
                ],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        yield client


def backend() -> Any:
    return models.dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def item(client: Any, table: str, **key: str) -> dict[str, Any] | None:
    got = client.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()})
    return got.get("Item")


def test_a_cancelled_transaction_leaves_every_item_it_named_as_it_was(ddb: Any) -> None:
    # Given a counter, an item about to be deleted, and a marker that already exists
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "A"}, "sk": {"S": "n"}, "v": {"N": "5"}})
    ddb.put_item(TableName="plain", Item={"pk": {"S": "gone"}, "v": {"S": "kept"}})
    ddb.put_item(TableName="plain", Item={"pk": {"S": "marker"}})

    # When a transaction updates, puts, deletes, then fails on the existing marker
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": "ledger", "Key": {"pk": {"S": "A"}, "sk": {"S": "n"}},
                            "UpdateExpression": "SET v = v + :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"Put": {"TableName": "ledger",
                         "Item": {"pk": {"S": "B"}, "sk": {"S": "new"}}}},
                {"Delete": {"TableName": "plain", "Key": {"pk": {"S": "gone"}}}},
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "marker"}},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )  # fmt: skip

    # Then only the failing condition is the reason, and nothing it wrote remains
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert item(ddb, "ledger", pk="A", sk="n") == {
        "pk": {"S": "A"}, "sk": {"S": "n"}, "v": {"N": "5"}
    }  # fmt: skip
    assert item(ddb, "ledger", pk="B", sk="new") is None
    assert ddb.query(TableName="ledger", KeyConditionExpression="pk = :b",
                     ExpressionAttributeValues={":b": {"S": "B"}})["Count"] == 0  # fmt: skip
    assert item(ddb, "plain", pk="gone") == {"pk": {"S": "gone"}, "v": {"S": "kept"}}
    assert ddb.scan(TableName="plain", Select="COUNT")["Count"] == 2


def test_a_committed_transaction_writes_all_of_its_items(ddb: Any) -> None:
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "ledger", "Item": {"pk": {"S": "A"}, "sk": {"S": str(i)}}}}
            for i in range(3)
        ]
        + [{"Put": {"TableName": "plain", "Item": {"pk": {"S": "x"}}}}]
    )
    assert ddb.scan(TableName="ledger", Select="COUNT")["Count"] == 3
    assert item(ddb, "plain", pk="x") == {"pk": {"S": "x"}}


def test_the_backup_copies_the_named_items_not_the_table(ddb: Any) -> None:
    # Given a table of 1,000 items
    for start in range(0, 1000, 25):
        ddb.batch_write_item(RequestItems={"plain": [
            {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(start, start + 25)
        ]})  # fmt: skip
    table = backend().tables["plain"]
    untouched = table.items[models.DynamoType({"S": "k999"})]

    # When a two-item transaction is cancelled
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "k1"}, "v": {"S": "new"}}}},
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "k2"}},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )  # fmt: skip

    # Then the table and the items it did not name are the same objects (no copy was swapped
    # in), and the backup held exactly the two named items
    assert backend().tables["plain"] is table
    assert table.items[models.DynamoType({"S": "k999"})] is untouched
    assert item(ddb, "plain", pk="k1") == {"pk": {"S": "k1"}}
    saved = ddb_transactions.saved_items(backend(), [
        {"Put": {"TableName": "plain", "Item": {"pk": {"S": "k1"}}}},
        {"Delete": {"TableName": "plain", "Key": {"pk": {"S": "k1"}}}},
        {"Put": {"TableName": "nowhere", "Item": {"pk": {"S": "k1"}}}},
        {"Update": {"TableName": "plain", "Key": {"wrong": {"S": "k2"}}}},
    ])  # fmt: skip
    assert [(t.name, h.value, i is not None) for t, h, _, i in saved] == [("plain", "k1", True)]


def test_installing_twice_wraps_once(ddb: Any) -> None:
    patched = models.DynamoDBBackend.transact_write_items
    ddb_transactions.install()
    assert models.DynamoDBBackend.transact_write_items is patched
