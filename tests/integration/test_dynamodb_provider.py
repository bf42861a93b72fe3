"""The moto-backed DynamoDB provider, through the public DynamoDB and CloudFormation APIs.

Each test names the DynamoDB behaviour an application relies on. Tables are created per test
with unique names and deleted afterwards, so tests are independent of each other's data.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

TTL_DEADLINE_S = 20.0  # the sweeper runs every 5 s by default
POLL_S = 0.5


@pytest.fixture(scope="module")
def ddb(aws: Callable[..., Any]) -> Any:
    return aws("dynamodb")


@pytest.fixture
def table(ddb: Any) -> Iterator[Callable[..., str]]:
    """Create on-demand tables keyed on pk (+ sk) with an optional GSI on g; delete them after."""
    created: list[str] = []

    def create(*, sort_key: bool = False, gsi: bool = False) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
        if sort_key:
            keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
            attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        extra: dict[str, Any] = {}
        if gsi:
            attrs.append({"AttributeName": "g", "AttributeType": "S"})
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": "byG",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ]
        ddb.create_table(
            TableName=name,
            KeySchema=keys,
            AttributeDefinitions=attrs,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        created.append(name)
        return name

    yield create
    for name in created:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)


def wait_until(predicate: Callable[[], bool], deadline_s: float = TTL_DEADLINE_S) -> bool:
    """Poll predicate until true or the deadline passes; return its last value."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(POLL_S)
    return predicate()


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_table_lifecycle_create_describe_list_delete(ddb: Any, table: Callable[..., str]) -> None:
    # Given a new on-demand table
    name = table(sort_key=True)

    # When it is described and listed
    desc = ddb.describe_table(TableName=name)["Table"]
    names = ddb.list_tables()["TableNames"]

    # Then it is active, keyed as created, and listed
    assert desc["TableStatus"] == "ACTIVE"
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in desc["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert name in names

    # When it is deleted
    ddb.delete_table(TableName=name)

    # Then describing it fails with ResourceNotFoundException
    with pytest.raises(ClientError) as exc:
        ddb.describe_table(TableName=name)
    assert error_code(exc) == "ResourceNotFoundException"


def test_creating_an_existing_table_is_refused(ddb: Any, table: Callable[..., str]) -> None:
    # Given a table
    name = table()

    # When a table of the same name is created
    with pytest.raises(ClientError) as exc:
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    # Then DynamoDB says it is in use
    assert error_code(exc) == "ResourceInUseException"


def test_item_crud(ddb: Any, table: Callable[..., str]) -> None:
    # Given a table with an item
    name = table()
    key = {"pk": {"S": "case-1"}}
    ddb.put_item(TableName=name, Item={**key, "status": {"S": "open"}, "score": {"N": "10"}})

    # When the item is read
    item = ddb.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]

    # Then it is returned as written
    assert item == {**key, "status": {"S": "open"}, "score": {"N": "10"}}

    # When it is updated with an expression
    updated = ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET #s = :s ADD score :inc",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "closed"}, ":inc": {"N": "5"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]

    # Then the new values are returned
    assert updated["status"] == {"S": "closed"}
    assert updated["score"] == {"N": "15"}

    # When it is deleted, returning the old item
    old = ddb.delete_item(TableName=name, Key=key, ReturnValues="ALL_OLD")["Attributes"]

    # Then the old item comes back and the item is gone
    assert old["status"] == {"S": "closed"}
    assert "Item" not in ddb.get_item(TableName=name, Key=key)


def test_query_by_key_condition_and_gsi(ddb: Any, table: Callable[..., str]) -> None:
    # Given events of two accounts, each tagged with a merchant in a GSI attribute
    name = table(sort_key=True, gsi=True)
    for account, ts, merchant in [
        ("acct-a", 1, "m1"),
        ("acct-a", 2, "m2"),
        ("acct-a", 3, "m1"),
        ("acct-b", 1, "m1"),
    ]:
        ddb.put_item(
            TableName=name,
            Item={"pk": {"S": account}, "sk": {"N": str(ts)}, "g": {"S": merchant}},
        )

    # When one account is queried for sort keys >= 2, newest first
    resp = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :pk AND sk >= :from",
        ExpressionAttributeValues={":pk": {"S": "acct-a"}, ":from": {"N": "2"}},
        ScanIndexForward=False,
    )

    # Then only its matching events come back, in descending order
    assert [i["sk"]["N"] for i in resp["Items"]] == ["3", "2"]

    # When the GSI is queried for merchant m1
    by_merchant = ddb.query(
        TableName=name,
        IndexName="byG",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "m1"}},
    )["Items"]

    # Then events of both accounts with that merchant come back
    assert sorted((i["pk"]["S"], i["sk"]["N"]) for i in by_merchant) == [
        ("acct-a", "1"),
        ("acct-a", "3"),
        ("acct-b", "1"),
    ]

    # When the table is scanned with a filter
    scanned = ddb.scan(
        TableName=name,
        FilterExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "m2"}},
    )

    # Then the filter applies after reading every item
    assert scanned["Count"] == 1
    assert scanned["ScannedCount"] == 4


def test_query_paginates_with_limit(ddb: Any, table: Callable[..., str]) -> None:
    # Given five items under one partition key
    name = table(sort_key=True)
    for ts in range(5):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(ts)}})

    # When it is queried two items at a time
    pages: list[list[str]] = []
    kwargs: dict[str, Any] = {}
    while True:
        resp = ddb.query(
            TableName=name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "p"}},
            Limit=2,
            **kwargs,
        )
        pages.append([i["sk"]["N"] for i in resp["Items"]])
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # Then every item comes back once, in order
    assert [sk for page in pages for sk in page] == ["0", "1", "2", "3", "4"]
    assert all(len(page) <= 2 for page in pages)


def test_conditional_put_fails_with_conditional_check_failed(
    ddb: Any, table: Callable[..., str]
) -> None:
    # Given an item
    name = table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "idem-1"}, "v": {"N": "1"}})

    # When it is written again only if absent, asking for the existing item on failure
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as exc:
        ddb.put_item(
            TableName=name,
            Item={"pk": {"S": "idem-1"}, "v": {"N": "2"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    # Then boto3 raises the modelled exception with the code and the existing item
    assert exc.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert exc.value.response["Item"] == {"pk": {"S": "idem-1"}, "v": {"N": "1"}}
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "idem-1"}})["Item"]["v"] == {"N": "1"}


def test_conditional_update_and_delete(ddb: Any, table: Callable[..., str]) -> None:
    # Given an item at version 1
    name = table()
    key = {"pk": {"S": "doc"}}
    ddb.put_item(TableName=name, Item={**key, "ver": {"N": "1"}})

    # When it is updated expecting version 1
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET ver = :new",
        ConditionExpression="ver = :old",
        ExpressionAttributeValues={":old": {"N": "1"}, ":new": {"N": "2"}},
    )

    # Then a second update expecting version 1 fails
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=name,
            Key=key,
            UpdateExpression="SET ver = :new",
            ConditionExpression="ver = :old",
            ExpressionAttributeValues={":old": {"N": "1"}, ":new": {"N": "3"}},
        )
    assert error_code(exc) == "ConditionalCheckFailedException"

    # And a delete conditioned on a wrong version fails and keeps the item
    with pytest.raises(ClientError) as exc:
        ddb.delete_item(
            TableName=name,
            Key=key,
            ConditionExpression="ver = :v",
            ExpressionAttributeValues={":v": {"N": "1"}},
        )
    assert error_code(exc) == "ConditionalCheckFailedException"
    assert ddb.get_item(TableName=name, Key=key)["Item"]["ver"] == {"N": "2"}


def test_concurrent_conditional_writes_have_one_winner(ddb: Any, table: Callable[..., str]) -> None:
    # Given a table and 16 writers racing to claim the same idempotency key
    name = table()

    def claim(writer: int) -> bool:
        try:
            ddb.put_item(
                TableName=name,
                Item={"pk": {"S": "claim"}, "writer": {"N": str(writer)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # When they all write at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(claim, range(16)))

    # Then exactly one wins, as in DynamoDB
    assert results.count(True) == 1


def test_concurrent_atomic_counter_loses_no_increment(ddb: Any, table: Callable[..., str]) -> None:
    # Given a counter item
    name = table()
    key = {"pk": {"S": "counter"}}

    # When 8 threads each add 1 to it 10 times
    def bump(_: int) -> None:
        for _ in range(10):
            ddb.update_item(
                TableName=name,
                Key=key,
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(bump, range(8)))

    # Then every increment counted
    assert ddb.get_item(TableName=name, Key=key)["Item"]["n"] == {"N": "80"}


def test_batch_write_25_items_and_batch_get(ddb: Any, table: Callable[..., str]) -> None:
    # Given a table
    name = table()

    # When 25 items (the BatchWriteItem maximum) are written in one call
    resp = ddb.batch_write_item(
        RequestItems={
            name: [
                {"PutRequest": {"Item": {"pk": {"S": f"item-{i:02d}"}, "n": {"N": str(i)}}}}
                for i in range(25)
            ]
        }
    )

    # Then nothing is left unprocessed and all 25 are stored
    assert not resp.get("UnprocessedItems")
    assert ddb.scan(TableName=name, Select="COUNT")["Count"] == 25

    # When some of them, plus one that does not exist, are read in one BatchGetItem
    wanted = [f"item-{i:02d}" for i in (0, 7, 24)] + ["missing"]
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [{"pk": {"S": k}} for k in wanted]}})

    # Then the existing ones come back and the missing one is simply absent
    assert sorted(i["pk"]["S"] for i in got["Responses"][name]) == [
        "item-00",
        "item-07",
        "item-24",
    ]
    assert not got.get("UnprocessedKeys")

    # When a batch deletes some of them
    ddb.batch_write_item(
        RequestItems={name: [{"DeleteRequest": {"Key": {"pk": {"S": "item-00"}}}}]}
    )

    # Then they are gone
    assert ddb.scan(TableName=name, Select="COUNT")["Count"] == 24


@pytest.mark.parametrize("split", [(26,), (13, 13)], ids=["one-table", "two-tables"])
def test_batch_write_over_25_items_is_refused(
    ddb: Any, table: Callable[..., str], split: tuple[int, ...]
) -> None:
    # Given one or two tables
    names = [table() for _ in split]

    # When 26 writes are sent in one batch
    with pytest.raises(ClientError) as exc:
        ddb.batch_write_item(
            RequestItems={
                name: [{"PutRequest": {"Item": {"pk": {"S": f"i{i}"}}}} for i in range(count)]
                for name, count in zip(names, split, strict=True)
            }
        )

    # Then the request is refused as invalid, as AWS does, and nothing is written
    assert error_code(exc) == "ValidationException"
    assert all(ddb.scan(TableName=n, Select="COUNT")["Count"] == 0 for n in names)


def test_transact_write_commits_all_or_nothing(ddb: Any, table: Callable[..., str]) -> None:
    # Given an account with a balance of 100 and a second table for an audit log
    accounts, audit = table(), table()
    ddb.put_item(TableName=accounts, Item={"pk": {"S": "acct"}, "bal": {"N": "100"}})

    def debit(amount: int, ref: str) -> None:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": accounts,
                        "Key": {"pk": {"S": "acct"}},
                        "UpdateExpression": "SET bal = bal - :a",
                        "ConditionExpression": "bal >= :a",
                        "ExpressionAttributeValues": {":a": {"N": str(amount)}},
                    }
                },
                {
                    "Put": {
                        "TableName": audit,
                        "Item": {"pk": {"S": ref}, "amount": {"N": str(amount)}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    # When a debit within the balance is made
    debit(60, "ref-1")

    # Then both writes are committed
    assert ddb.get_item(TableName=accounts, Key={"pk": {"S": "acct"}})["Item"]["bal"] == {"N": "40"}
    assert "Item" in ddb.get_item(TableName=audit, Key={"pk": {"S": "ref-1"}})

    # When a debit beyond the balance is made
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as exc:
        debit(60, "ref-2")

    # Then the transaction is cancelled with the failing item's reason, and nothing is written
    reasons = [r.get("Code") for r in exc.value.response["CancellationReasons"]]
    assert reasons[0] == "ConditionalCheckFailed"
    assert ddb.get_item(TableName=accounts, Key={"pk": {"S": "acct"}})["Item"]["bal"] == {"N": "40"}
    assert "Item" not in ddb.get_item(TableName=audit, Key={"pk": {"S": "ref-2"}})


def test_tags_on_a_table(ddb: Any, table: Callable[..., str]) -> None:
    # Given a table
    name = table()
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]

    # When it is tagged and one tag is removed
    ddb.tag_resource(
        ResourceArn=arn,
        Tags=[{"Key": "app", "Value": "fraudops"}, {"Key": "tier", "Value": "hot"}],
    )
    ddb.untag_resource(ResourceArn=arn, TagKeys=["tier"])

    # Then only the remaining tag is listed
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "app", "Value": "fraudops"}
    ]


def test_ttl_setting_is_stored_and_described(ddb: Any, table: Callable[..., str]) -> None:
    # Given a table without TTL
    name = table()
    assert (
        ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"]
        == "DISABLED"
    )

    # When TTL is enabled on attribute expiresAt
    resp = ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"}
    )

    # Then the specification is echoed and described
    assert resp["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expiresAt"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiresAt",
    }


def test_ttl_deletes_expired_items_in_the_background(ddb: Any, table: Callable[..., str]) -> None:
    # Given a table with TTL on expiresAt and a GSI
    name = table(gsi=True)
    ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"}
    )
    now = int(time.time())

    # And an expired item, a live item, one without the attribute and one with a non-number
    items = {
        "expired": {"expiresAt": {"N": str(now - 60)}},
        "live": {"expiresAt": {"N": str(now + 3600)}},
        "no-ttl": {},
        "string-ttl": {"expiresAt": {"S": str(now - 60)}},
    }
    for pk, attrs in items.items():
        ddb.put_item(TableName=name, Item={"pk": {"S": pk}, "g": {"S": "grp"}, **attrs})

    # When the sweeper runs (every 5 s by default)
    gone = wait_until(
        lambda: "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "expired"}})
    )

    # Then the expired item is deleted, from the table and its index
    assert gone, f"expired item still present after {TTL_DEADLINE_S}s"
    in_index = ddb.query(
        TableName=name,
        IndexName="byG",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "grp"}},
    )["Items"]
    assert sorted(i["pk"]["S"] for i in in_index) == ["live", "no-ttl", "string-ttl"]


def test_ttl_disabled_table_keeps_expired_items(ddb: Any, table: Callable[..., str]) -> None:
    # Given two tables holding the same expired item, only the second with TTL enabled
    without_ttl, with_ttl = table(), table()
    ddb.update_time_to_live(
        TableName=with_ttl, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    item = {"pk": {"S": "old"}, "exp": {"N": str(int(time.time()) - 60)}}
    for name in (without_ttl, with_ttl):
        ddb.put_item(TableName=name, Item=item)

    # When the sweeper has removed it from the TTL table
    assert wait_until(
        lambda: "Item" not in ddb.get_item(TableName=with_ttl, Key={"pk": {"S": "old"}})
    )

    # Then the table without TTL still has it
    assert "Item" in ddb.get_item(TableName=without_ttl, Key={"pk": {"S": "old"}})


def test_cloudformation_table_with_ttl_gsi_and_on_demand(aws: Callable[..., Any], ddb: Any) -> None:
    # Given a stack with an on-demand table with a GSI, TTL and a tag
    cfn = aws("cloudformation")
    stack = f"ddb-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "Cases": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "status", "AttributeType": "S"},
                    ],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "byStatus",
                            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ],
                    "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                    "Tags": [{"Key": "app", "Value": "fraudops"}],
                },
            }
        },
        "Outputs": {
            "Name": {"Value": {"Ref": "Cases"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Cases", "Arn"]}},
        },
    }
    waiter_config = {"Delay": 1, "MaxAttempts": 60}

    # When the stack is created
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))["StackId"]
    try:
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig=waiter_config)
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        }

        # Then the table exists as declared
        name = outputs["Name"]
        desc = ddb.describe_table(TableName=name)["Table"]
        assert desc["TableArn"] == outputs["Arn"]
        assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert [i["IndexName"] for i in desc["GlobalSecondaryIndexes"]] == ["byStatus"]
        assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLED",
            "AttributeName": "expiresAt",
        }
        assert {"Key": "app", "Value": "fraudops"} in ddb.list_tags_of_resource(
            ResourceArn=desc["TableArn"]
        )["Tags"]
    finally:
        # When the stack is deleted
        cfn.delete_stack(StackName=stack)
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=waiter_config)

    # Then the table is gone and its resource was deleted cleanly
    assert name not in ddb.list_tables()["TableNames"]
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    statuses = {e["ResourceStatus"] for e in events if e["LogicalResourceId"] == "Cases"}
    assert "DELETE_COMPLETE" in statuses
    assert not any(s.endswith("_FAILED") for s in statuses)


def test_failed_transaction_does_not_lose_concurrent_writes(
    ddb: Any, table: Callable[..., str]
) -> None:
    # Given a table with enough items that a transaction's rollback snapshot takes a while
    name = table()
    for start in range(0, 1000, 25):
        ddb.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {"pk": {"S": f"seed-{i}"}, "pad": {"S": "x" * 200}}}}
                    for i in range(start, start + 25)
                ]
            }
        )

    def failing_transactions(_: int) -> None:
        for _ in range(10):
            with contextlib.suppress(ddb.exceptions.TransactionCanceledException):
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": name,
                                "Item": {"pk": {"S": "seed-0"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        }
                    ]
                )

    def writes(worker: int) -> None:
        for i in range(40):
            ddb.put_item(TableName=name, Item={"pk": {"S": f"w{worker}-{i}"}})

    # When cancelled transactions run while other clients write
    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = [pool.submit(failing_transactions, n) for n in range(2)]
        jobs += [pool.submit(writes, n) for n in range(4)]
        for job in jobs:
            job.result()

    # Then every write survives the rollbacks
    assert ddb.scan(TableName=name, Select="COUNT")["Count"] == 1000 + 4 * 40
