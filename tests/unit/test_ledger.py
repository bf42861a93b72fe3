"""The ledger's DynamoDB adapters (claims, commit marks, counters) against moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fraudops_shared.ledger import DynamoClaims, DynamoLedger, read_accounts

TABLE = "fraudops-unit-registry"


@pytest.fixture
def client(table: Any) -> Any:
    return boto3.client("dynamodb")


def test_first_claim_wins_and_the_owner_may_claim_again(client: Any) -> None:
    claims = DynamoClaims(client, TABLE)
    # Given a transaction claimed by record A
    assert claims.claim("TXN#transactions#t1", "shard:1") is None
    # When A claims again (a retry) it still owns it; When B claims, it learns A owns it
    assert claims.claim("TXN#transactions#t1", "shard:1") is None
    assert claims.claim("TXN#transactions#t1", "shard:2") == "shard:1"


def test_commit_marks_records_and_adds_counters_once(client: Any) -> None:
    ledger = DynamoLedger(client, TABLE, "kinesis")
    # Given a committed batch of two records
    ledger.commit(
        "transactions", ["s:1", "s:2"], {"in_records": 5, "curated": 4, "quarantined": 1}, "m1"
    )
    ledger.commit("transactions", ["s:3"], {"in_records": 1, "curated": 1, "quarantined": 0}, "m2")
    # Then the marks are readable and the counters summed
    assert ledger.committed(["s:1", "s:2", "s:3", "s:4"]) == {"s:1", "s:2", "s:3"}
    assert read_accounts(client, TABLE) == {
        "transactions": {"kinesis": {"in_records": 6, "curated": 5, "quarantined": 1}}
    }
    # When a batch containing a committed record is committed again, Then nothing changes
    with pytest.raises(ClientError):
        ledger.commit("transactions", ["s:3", "s:9"], {"in_records": 2, "curated": 2}, "m3")
    assert read_accounts(client, TABLE)["transactions"]["kinesis"]["in_records"] == 6
    assert ledger.committed(["s:9"]) == set()


def test_too_many_records_for_one_transaction_are_refused(client: Any) -> None:
    ledger = DynamoLedger(client, TABLE, "kinesis")
    with pytest.raises(ValueError, match="at most 99"):
        ledger.commit("transactions", [f"s:{i}" for i in range(100)], {"in_records": 100}, "m")


def test_dead_letter_counts_add_up(client: Any) -> None:
    ledger = DynamoLedger(client, TABLE, "kinesis")
    ledger.add_counts("transactions", {"dead_lettered": 2})
    ledger.add_counts("transactions", {"dead_lettered": 1})
    assert read_accounts(client, TABLE)["transactions"]["kinesis"] == {"dead_lettered": 3}


def test_the_first_mark_of_a_commit_never_expires(client: Any) -> None:
    # Snapshots tell a committed stream manifest by its first record's mark: it must outlive TTL
    DynamoLedger(client, TABLE, "kinesis").commit(
        "transactions", ["s:1", "s:2"], {"in_records": 2}, "m"
    )
    first, second = (
        client.get_item(TableName=TABLE, Key={"pk": {"S": f"SEQ#s:{i}"}, "sk": {"S": "COMMITTED"}})[
            "Item"
        ]
        for i in (1, 2)
    )
    assert "expires_at" not in first and first["manifest"]["S"] == "m"
    assert int(second["expires_at"]["N"]) > 0
