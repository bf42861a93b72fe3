"""The thin handlers end to end against moto: event in, items and responses out."""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest
from fraudops_shared import ingestion
from unit_support import FakeLambdaContext, all_items, load_handler


@pytest.fixture(scope="module")
def ingest_batch() -> ModuleType:
    return load_handler("ingest_batch")


@pytest.fixture(scope="module")
def ingest_stream() -> ModuleType:
    return load_handler("ingest_stream")


@pytest.fixture(scope="module")
def pipeline_probe() -> ModuleType:
    return load_handler("pipeline_probe")


def s3_event(*keys: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-27T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": "lake", "arn": "arn:aws:s3:::lake"},
                    "object": {
                        "key": key,
                        "size": 42,
                        "eTag": "etag-" + str(i),
                        "versionId": "v" + str(i),
                        "sequencer": "00" + str(i),
                    },
                },
            }
            for i, key in enumerate(keys)
        ]
    }


def kinesis_event(*payloads: bytes) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/tx",
                "eventID": f"shardId-000000000000:{seq}",
                "eventName": "aws:kinesis:record",
                "eventVersion": "1.0",
                "awsRegion": "us-east-1",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/r",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "card-1",
                    "sequenceNumber": str(seq),
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1795000000.0,
                },
            }
            for seq, data in enumerate(payloads, start=100)
        ]
    }


def test_batch_handler_records_each_landing_object_once(
    ingest_batch: ModuleType, table: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given an S3 event for two landing objects
    event = s3_event("landing/transactions/a.csv", "landing/chargebacks/b.csv")
    # When delivered twice
    first = ingest_batch.handler(event, lambda_context)
    second = ingest_batch.handler(event, lambda_context)
    # Then two arrivals are recorded once each, with their contracts
    assert first == {"recorded": 2, "duplicates": 0}
    assert second == {"recorded": 0, "duplicates": 2}
    assert {i["contract"] for i in all_items(table)} == {"transactions", "chargebacks"}


def test_batch_handler_fails_loudly_on_a_key_without_contract(
    ingest_batch: ModuleType, table: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given an object directly under landing/, When handled, Then the invocation fails
    with pytest.raises(ingestion.InvalidObjectKeyError):
        ingest_batch.handler(s3_event("landing/orphan.csv"), lambda_context)
    assert all_items(table) == []


def test_stream_handler_reports_only_the_bad_records(
    ingest_stream: ModuleType, table: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a batch: one good transaction, one non-JSON record, one without transaction_id
    event = kinesis_event(
        json.dumps({"transaction_id": "t-1", "amount": 9.99}).encode(),
        b"{broken",
        json.dumps({"amount": 1}).encode(),
    )
    # When handled
    response = ingest_stream.handler(event, lambda_context)
    # Then the two bad sequence numbers are reported and the good one is stored
    assert response == {"batchItemFailures": [{"itemIdentifier": "101"}, {"itemIdentifier": "102"}]}
    [item] = all_items(table)
    assert item["transaction_id"] == "t-1" and item["sequence_number"] == "100"


def test_stream_handler_replay_is_idempotent(
    ingest_stream: ModuleType, table: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a good record delivered twice (bisection or retry replays it)
    event = kinesis_event(json.dumps({"transaction_id": "t-2"}).encode())
    # When handled twice, Then no failures and a single item
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    assert len(all_items(table)) == 1


def test_probe_reports_a_healthy_active_table(
    pipeline_probe: ModuleType, table: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given the state machine's input, When the probe runs
    summary = pipeline_probe.handler({"run": "smoke", "source": "test"}, lambda_context)
    # Then it is healthy and names what it checked
    assert summary["healthy"] is True
    assert summary["table"] == table.name and summary["table_status"] == "ACTIVE"
    assert summary["request_keys"] == ["run", "source"]
