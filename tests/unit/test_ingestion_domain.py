"""Ingestion domain rules (fraudops_shared.ingestion): contracts, record validation, idempotency."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fraudops_shared import idempotency, ingestion
from unit_support import all_items


def test_contract_is_the_first_folder_under_landing() -> None:
    # Given a landing key, When the contract is derived, Then it is the first folder
    assert ingestion.contract_from_key("landing/transactions/2026/11/27/a.csv") == "transactions"


@pytest.mark.parametrize(
    "key",
    ["curated/transactions/a.csv", "landing/a.csv", "landing/transactions/", "landing//a.csv"],
)
def test_keys_that_name_no_contract_are_rejected(key: str) -> None:
    # Given a key outside landing/<contract>/<name>, When parsed, Then it is refused
    with pytest.raises(ingestion.InvalidObjectKeyError):
        ingestion.contract_from_key(key)


def test_arrival_decodes_s3_keys_and_strips_etag_quotes() -> None:
    # Given S3 notification fields (URL-encoded key, quoted ETag)
    arrival = ingestion.arrival_from_s3(
        bucket="b",
        raw_key="landing/card+tx/file%3D1.csv",
        size=10,
        etag='"abc"',
        version_id=None,
        event_time="2026-11-27T00:00:00.000Z",
    )
    # Then the key is decoded, the contract found and the ETag bare
    assert arrival.key == "landing/card tx/file=1.csv"
    assert arrival.contract == "card tx"
    assert arrival.etag == "abc"


def test_valid_record_keeps_amounts_exact() -> None:
    # Given a JSON transaction with a decimal amount
    data = json.dumps({"transaction_id": "t-1", "amount": 12.34}).encode()
    # When parsed
    txn = ingestion.parse_transaction(data, sequence_number="1", partition_key="card-1")
    # Then the id is taken and the amount is a Decimal (DynamoDB refuses floats)
    assert txn.transaction_id == "t-1"
    assert txn.payload["amount"] == Decimal("12.34")


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"amount": 1}',
        b'{"transaction_id": "  "}',
        b'{"transaction_id": 7}',
    ],
)
def test_invalid_records_are_refused(data: bytes) -> None:
    # Given a record that is not a JSON object with a string transaction_id, Then it is refused
    with pytest.raises(ingestion.InvalidRecordError):
        ingestion.parse_transaction(data, sequence_number="9", partition_key="p")


def test_recording_the_same_arrival_twice_writes_once(table: Any) -> None:
    # Given one arrival
    arrival = ingestion.arrival_from_s3("b", "landing/tx/a.csv", 5, "e1", "v1", "t")
    # When it is recorded twice (S3 re-delivers notifications)
    first = ingestion.record_arrivals(table, [arrival], ttl_days=1)
    second = ingestion.record_arrivals(table, [arrival], ttl_days=1)
    # Then one item exists and the second delivery counts as a duplicate
    assert first == {"recorded": 1, "duplicates": 0}
    assert second == {"recorded": 0, "duplicates": 1}
    [item] = all_items(table)
    assert item["pk"] == "OBJECT#b/landing/tx/a.csv" and item["sk"] == "ARRIVAL#v1"
    assert item["contract"] == "tx" and item["size"] == 5
    assert item["expires_at"] > 0


def test_a_new_version_of_the_same_key_is_a_new_arrival(table: Any) -> None:
    # Given two versions of one key, When both are recorded, Then both items exist
    for version in ("v1", "v2"):
        arrival = ingestion.arrival_from_s3("b", "landing/tx/a.csv", 5, "e", version, "t")
        ingestion.record_arrivals(table, [arrival], ttl_days=1)
    assert len(all_items(table)) == 2


def test_recording_a_replayed_transaction_writes_once(table: Any) -> None:
    # Given a transaction, When recorded twice (a Kinesis retry)
    txn = ingestion.parse_transaction(b'{"transaction_id": "t-9"}', "1", "p")
    # Then only the first write happens
    assert ingestion.record_transaction(table, txn, ttl_days=1) is True
    assert ingestion.record_transaction(table, txn, ttl_days=1) is False
    assert len(all_items(table)) == 1


def test_other_dynamodb_errors_are_not_swallowed(table: Any) -> None:
    # Given a table name that does not exist (moto active through the `table` fixture)
    ghost = boto3.resource("dynamodb").Table("no-such-table")
    # When writing, Then the error propagates, so the event is retried rather than lost
    with pytest.raises(ClientError, match="ResourceNotFound"):
        idempotency.put_once(ghost, {"pk": "a", "sk": "b"})


def test_expiry_is_ttl_days_after_now() -> None:
    assert idempotency.expires_at(2, now=1000.0) == 1000 + 2 * 86_400
