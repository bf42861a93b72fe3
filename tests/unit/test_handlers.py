"""The thin handlers end to end against moto: event in, items and responses out."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
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


@pytest.fixture
def lake(table: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The data bucket in moto (inside the table fixture's mock), named by DATA_BUCKET."""
    import boto3

    monkeypatch.setenv("DATA_BUCKET", "lake")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    return s3


def keys(s3: Any, prefix: str) -> list[str]:
    return sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", [])
    )


def good_txn(txn_id: str) -> bytes:
    return json.dumps(
        {
            "transaction_id": txn_id,
            "event_time": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "card_id": "card_1",
            "customer_id": "cus_1",
            "merchant_id": "m_1",
            "mcc": "0742",
            "amount": 12.5,
            "currency": "EUR",
            "country": "DE",
            "merchant_country": "DE",
            "channel": "pos",
            "entry_mode": "chip",
            "card_present": True,
        }
    ).encode()


def test_stream_handler_curates_quarantines_and_counts(
    ingest_stream: ModuleType, table: Any, lake: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a batch: a good transaction, a non-JSON record, one without transaction_id, and the
    # good transaction again (a producer retry)
    event = kinesis_event(
        good_txn("t-1"), b"{broken", json.dumps({"amount": 1}).encode(), good_txn("t-1")
    )
    # When handled
    response = ingest_stream.handler(event, lambda_context)
    # Then no record fails (bad data is quarantined, not retried)
    assert response == {"batchItemFailures": []}
    # And one Parquet micro-batch holds the good row, with the mcc's leading zero kept
    (curated,) = keys(lake, "curated/transactions/")
    import awswrangler as wr

    frame = wr.s3.read_parquet(f"s3://lake/{curated}")
    assert frame["transaction_id"].tolist() == ["t-1"] and frame["mcc"].tolist() == ["0742"]
    # And the three others are quarantined with their reasons, and counted
    (quarantine,) = keys(lake, "quarantine/transactions/stream/")
    lines = [
        json.loads(x)
        for x in lake.get_object(Bucket="lake", Key=quarantine)["Body"].read().splitlines()
    ]
    assert sorted(r["rules"][0] for r in lines) == [
        "duplicate_key",
        "malformed_json",
        "not_null:transaction_id",
    ]
    counts = next(i for i in all_items(table) if i["pk"] == "ACCOUNT#transactions#kinesis")
    assert (counts["in_records"], counts["curated"], counts["quarantined"]) == (4, 1, 3)


def test_stream_handler_replay_changes_nothing(
    ingest_stream: ModuleType, table: Any, lake: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a batch handled once
    event = kinesis_event(good_txn("t-2"), b"nope")
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    before = (keys(lake, ""), all_items(table))
    # When the same batch is delivered again, Then no new objects and the same counts
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    assert (keys(lake, ""), all_items(table)) == before


def test_probe_reports_a_healthy_active_table(
    pipeline_probe: ModuleType, table: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given the state machine's input, When the probe runs
    summary = pipeline_probe.handler({"run": "smoke", "source": "test"}, lambda_context)
    # Then it is healthy and names what it checked
    assert summary["healthy"] is True
    assert summary["table"] == table.name and summary["table_status"] == "ACTIVE"
    assert summary["request_keys"] == ["run", "source"]
