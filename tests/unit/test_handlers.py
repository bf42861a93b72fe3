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


FEED = "fraudops-unit-scoring-feed"


@pytest.fixture
def feed(table: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The scoring feed stream in moto (inside the table fixture's mock), named by the env var
    the stack sets on the stream function."""
    import boto3

    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=FEED, ShardCount=1)
    monkeypatch.setenv("SCORING_FEED_STREAM", FEED)
    return kinesis


def feed_records(kinesis: Any) -> list[tuple[str, dict[str, Any]]]:
    """(partition key, body) of everything on the feed, oldest first."""
    shard = kinesis.describe_stream(StreamName=FEED)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=FEED, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return [(r["PartitionKey"], json.loads(r["Data"])) for r in records]


def test_stream_handler_forwards_exactly_the_curated_rows_to_the_scoring_feed(
    ingest_stream: ModuleType,
    lake: Any,
    feed: Any,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two good transactions, a bad one and a producer retry of the first
    event = kinesis_event(
        good_txn("t-10"), good_txn("t-11"), json.dumps({"amount": 1}).encode(), good_txn("t-10")
    )
    # When handled
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    # Then the feed holds the two curated transactions once each, keyed by card, with lineage
    published = feed_records(feed)
    assert [b["transaction_id"] for _, b in published] == ["t-10", "t-11"]
    assert {k for k, _ in published} == {"card_1"}
    first = published[0][1]
    assert first["_contract"] == "transactions" and first["_contract_version"]
    assert first["_record_id"] == "shardId-000000000000:100"
    assert first["mcc"] == "0742" and first["event_time"].endswith("+00:00")
    # And the per-contract metrics count them as RecordsForwarded
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [per_contract] = [d for d in emf if d.get("contract") == "transactions"]
    assert per_contract["RecordsForwarded"] in (2.0, [2.0])


def test_a_committed_batch_delivered_again_is_not_forwarded_again(
    ingest_stream: ModuleType, lake: Any, feed: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a batch handled once
    event = kinesis_event(good_txn("t-12"))
    ingest_stream.handler(event, lambda_context)
    # When the same batch is delivered again
    ingest_stream.handler(event, lambda_context)
    # Then its transaction is on the feed once
    assert [b["transaction_id"] for _, b in feed_records(feed)] == ["t-12"]


def test_a_failed_publish_leaves_the_batch_uncommitted_so_the_retry_forwards_it(
    ingest_stream: ModuleType,
    table: Any,
    lake: Any,
    feed: Any,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the feed cannot be written (a stream that does not exist)
    event = kinesis_event(good_txn("t-13"))
    monkeypatch.setenv("SCORING_FEED_STREAM", "no-such-stream")
    # When a batch is handled, Then the invocation fails and nothing is committed
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        ingest_stream.handler(event, lambda_context)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert not [i for i in all_items(table) if i["pk"].startswith("ACCOUNT#")]
    # When Lambda retries the batch with the feed back
    monkeypatch.setenv("SCORING_FEED_STREAM", FEED)
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    # Then the transaction is forwarded and counted, once
    assert [b["transaction_id"] for _, b in feed_records(feed)] == ["t-13"]
    counts = next(i for i in all_items(table) if i["pk"] == "ACCOUNT#transactions#kinesis")
    assert counts["curated"] == 1


def test_without_a_feed_configured_the_batch_is_committed_and_a_warning_logged(
    ingest_stream: ModuleType,
    table: Any,
    lake: Any,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given no SCORING_FEED_STREAM
    monkeypatch.delenv("SCORING_FEED_STREAM", raising=False)
    # When a good transaction is handled
    assert ingest_stream.handler(kinesis_event(good_txn("t-14")), lambda_context) == {
        "batchItemFailures": []
    }
    # Then it is curated and counted, and the skipped forwarding is said out loud
    counts = next(i for i in all_items(table) if i["pk"] == "ACCOUNT#transactions#kinesis")
    assert counts["curated"] == 1
    assert any(
        r.levelname == "WARNING" and "SCORING_FEED_STREAM is not set" in r.getMessage()
        for r in caplog.records
    )
