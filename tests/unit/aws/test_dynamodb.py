"""Ingestion's DynamoDB adapters against moto: transaction claims, commit marks, counters, the
file claims (the same behaviours as the in-memory fake the use case tests run on) and the
snapshot catalog's items."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fraudops_shared.aws.dynamodb import (
    DynamoFileClaims,
    DynamoLedger,
    DynamoSnapshotCatalog,
    DynamoTransactionClaims,
    commit_marks,
    read_accounts,
)
from fraudops_shared.ingestion.claims import ClaimLostError
from fraudops_shared.lake.store import SourceObject
from tests.unit.conftest import TABLE_NAME
from tests.unit.fakes import Counters, MemoryFileClaims

TABLE = TABLE_NAME


@pytest.fixture
def client(table: Any) -> Any:
    return boto3.client("dynamodb")


def test_first_claim_wins_and_the_owner_may_claim_again(client: Any) -> None:
    claims = DynamoTransactionClaims(client, TABLE)
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


def test_commit_marks_are_read_in_pages_of_100(client: Any) -> None:
    ledger = DynamoLedger(client, TABLE, "kinesis")
    ids = [f"s:{i}" for i in range(250)]
    for start in range(0, 250, 50):
        ledger.commit("transactions", ids[start : start + 50], {"in_records": 50}, f"m{start}")
    marks = commit_marks(client, TABLE, [*ids, "s:999"])
    assert len(marks) == 250 and marks["s:0"] == "m0" and marks["s:249"] == "m200"


# --- file claims: the DynamoDB adapter and the fake behave alike --------------------------------

OBJ = SourceObject("lake", "landing/transactions/a.csv", "v1", 10, "etag")


class FileClaimsUnderTest:
    def __init__(self, claims: Any, counters: Any) -> None:
        self.claims, self.counters = claims, counters


@pytest.fixture(params=["memory", "dynamodb"])
def file_claims(request: pytest.FixtureRequest) -> FileClaimsUnderTest:
    if request.param == "memory":
        counters = Counters()
        return FileClaimsUnderTest(
            MemoryFileClaims(counters), lambda: counters.of("transactions", "s3")
        )
    client = request.getfixturevalue("client")
    return FileClaimsUnderTest(
        DynamoFileClaims(client, TABLE),
        lambda: read_accounts(client, TABLE).get("transactions", {}).get("s3", {}),
    )


def test_a_file_claim_is_held_until_completed_or_stale(file_claims: FileClaimsUnderTest) -> None:
    claims = file_claims.claims
    # Given content claimed by request 1
    assert claims.claim("sha", "transactions", OBJ, "req-1", 1000, 900).status == "claimed"
    # When request 1 claims again (an async retry keeps its id), Then it still holds it
    again = claims.claim("sha", "transactions", OBJ, "req-1", 1001, 900)
    assert again.status == "claimed" and again.taken_over
    # When another request comes before the claim is stale, Then it is busy
    busy = claims.claim("sha", "transactions", OBJ, "req-2", 1002, 900)
    assert busy.status == "busy" and busy.source_id == OBJ.source_id
    # When it comes after, Then it takes the claim over, and request 1 can no longer complete
    taken = claims.claim("sha", "transactions", OBJ, "req-2", 3000, 900)
    assert taken.status == "claimed" and taken.taken_over
    with pytest.raises(ClaimLostError):
        claims.complete("sha", "transactions", "req-1", "m", {"files": 1})
    assert file_claims.counters() == {}


def test_completing_a_claim_adds_the_counters_once(file_claims: FileClaimsUnderTest) -> None:
    claims = file_claims.claims
    claims.claim("sha", "transactions", OBJ, "req-1", 1000, 900)
    claims.complete(
        "sha", "transactions", "req-1", "manifests/t/sha.json", {"files": 1, "curated": 5}
    )
    assert file_claims.counters() == {"files": 1, "curated": 5}
    # When the content is claimed again, Then it is completed, naming its manifest and source
    done = claims.claim("sha", "transactions", OBJ, "req-9", 5000, 900)
    assert done.status == "completed" and done.manifest_key == "manifests/t/sha.json"
    assert done.source is not None and done.source["key"] == OBJ.key
    # And completing again is refused: the counters never move twice
    with pytest.raises(ClaimLostError):
        claims.complete("sha", "transactions", "req-1", "m", {"files": 1})
    assert file_claims.counters() == {"files": 1, "curated": 5}


def test_a_released_claim_is_free_and_only_the_holder_releases(
    file_claims: FileClaimsUnderTest,
) -> None:
    claims = file_claims.claims
    claims.claim("sha", "transactions", OBJ, "req-1", 1000, 900)
    claims.release("sha", "transactions", "req-2")  # not the holder: nothing happens
    assert claims.claim("sha", "transactions", OBJ, "req-2", 1001, 900).status == "busy"
    claims.release("sha", "transactions", "req-1")
    assert claims.claim("sha", "transactions", OBJ, "req-2", 1002, 900).status == "claimed"


# --- snapshot catalog -----------------------------------------------------------------------------


def test_the_snapshot_catalog_keeps_summaries_newest_last(client: Any) -> None:
    catalog = DynamoSnapshotCatalog(client, TABLE)
    for stamp, sid in (("2025-03-01T12:00:00Z", "s-1"), ("2025-03-02T12:00:00Z", "s-2")):
        catalog.register(
            "transactions",
            stamp,
            {"snapshot_id": sid, "row_count": 10, "key": f"k/{sid}", "x": None},
        )
    # Then each is an item under SNAPSHOT#<contract>, sorted by creation time
    key = {"pk": {"S": "SNAPSHOT#transactions"}, "sk": {"S": "2025-03-01T12:00:00Z#s-1"}}
    item = client.get_item(TableName=TABLE, Key=key)["Item"]
    assert item["row_count"] == {"N": "10"} and item["key"] == {"S": "k/s-1"} and "x" not in item
    assert catalog.latest("transactions") == {"snapshot_id": "s-2", "row_count": 10, "key": "k/s-2"}
    assert catalog.latest("creditcard_benchmark") is None
