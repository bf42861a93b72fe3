"""The ingest_stream handler through its entry point, wired to in-memory adapters: a Kinesis event
in, curated and quarantined objects, counters, scoring-feed records and the response out."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from fraudops_shared.ingestion import kpl
from fraudops_shared.runtime import settings
from tests.decision_records import as_bytes, decision
from tests.unit.fakes import MemoryRecordSink
from tests.unit.support import FakeAws, FakeLambdaContext, load_handler


@pytest.fixture(scope="module")
def ingest_stream() -> ModuleType:
    return load_handler("ingest_stream")


def kinesis_event(*payloads: bytes, stream: str = "tx") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}",
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


FEED = "fraudops-unit-scoring-feed"


@pytest.fixture
def aws(fake_aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    """The in-memory adapters, with the scoring feed the stack sets on the stream function."""
    monkeypatch.setenv("SCORING_FEED_STREAM", FEED)
    return fake_aws


def counts(aws: FakeAws) -> dict[str, int]:
    return aws.counters.of("transactions", "kinesis")


def feed_records(aws: FakeAws) -> list[tuple[str, dict[str, Any]]]:
    """(partition key, body) of every transaction on the feed, oldest first (the feed carries
    KPL aggregates: de-aggregated as the scoring function does)."""
    sink = aws.sinks.get(FEED) or MemoryRecordSink()
    return [
        (key, json.loads(data))
        for r in sink.records
        for key, data in kpl.deaggregate(r["Data"], r["PartitionKey"])
    ]


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
    ingest_stream: ModuleType, aws: FakeAws, lambda_context: FakeLambdaContext
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
    (curated,) = aws.bucket.keys("curated/transactions/")
    frame = aws.bucket.table(curated)
    assert frame["transaction_id"].to_pylist() == ["t-1"] and frame["mcc"].to_pylist() == ["0742"]
    # And the three others are quarantined with their reasons, and counted
    (quarantine,) = aws.bucket.keys("quarantine/transactions/stream/")
    lines = [json.loads(x) for x in aws.bucket.body(quarantine).splitlines()]
    assert sorted(r["rules"][0] for r in lines) == [
        "duplicate_key",
        "malformed_json",
        "not_null:transaction_id",
    ]
    counted = counts(aws)
    assert (counted["in_records"], counted["curated"], counted["quarantined"]) == (4, 1, 3)


def test_stream_handler_replay_changes_nothing(
    ingest_stream: ModuleType, aws: FakeAws, lambda_context: FakeLambdaContext
) -> None:
    # Given a batch handled once
    event = kinesis_event(good_txn("t-2"), b"nope")
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    before = (aws.bucket.keys(""), counts(aws))
    # When the same batch is delivered again, Then no new objects and the same counts
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    assert (aws.bucket.keys(""), counts(aws)) == before


def test_stream_handler_forwards_exactly_the_curated_rows_to_the_scoring_feed(
    ingest_stream: ModuleType,
    aws: FakeAws,
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
    published = feed_records(aws)
    assert [b["transaction_id"] for _, b in published] == ["t-10", "t-11"]
    assert {k for k, _ in published} == {"card_1"}
    first = published[0][1]
    assert first["_contract"] == "transactions" and first["_contract_version"]
    assert first["_record_id"] == "shardId-000000000000:100"
    assert first["mcc"] == "0742" and first["event_time"].endswith("+00:00")
    # And the per-contract metrics count them as RecordsForwarded
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [per_contract] = [d for d in emf if d.get("contract") == "transactions" and "RecordsIn" in d]
    assert per_contract["RecordsForwarded"] in (2.0, [2.0])


def test_a_committed_batch_delivered_again_is_not_forwarded_again(
    ingest_stream: ModuleType, aws: FakeAws, lambda_context: FakeLambdaContext
) -> None:
    # Given a batch handled once
    event = kinesis_event(good_txn("t-12"))
    ingest_stream.handler(event, lambda_context)
    # When the same batch is delivered again
    ingest_stream.handler(event, lambda_context)
    # Then its transaction is on the feed once
    assert [b["transaction_id"] for _, b in feed_records(aws)] == ["t-12"]


def test_a_failed_publish_leaves_the_batch_uncommitted_so_the_retry_forwards_it(
    ingest_stream: ModuleType,
    aws: FakeAws,
    lambda_context: FakeLambdaContext,
) -> None:
    # Given the feed cannot be written (every PutRecords call fails as a whole)
    event = kinesis_event(good_txn("t-13"))
    aws.sinks[FEED] = broken = MemoryRecordSink(broken=ConnectionError("feed unreachable"))
    # When a batch is handled, Then the invocation fails and nothing is committed
    with pytest.raises(ConnectionError, match="feed unreachable"):
        ingest_stream.handler(event, lambda_context)
    assert broken.calls == 1 and counts(aws) == {}
    # When Lambda retries the batch with the feed back
    del aws.sinks[FEED]
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    # Then the transaction is forwarded and counted, once
    assert [b["transaction_id"] for _, b in feed_records(aws)] == ["t-13"]
    assert counts(aws)["curated"] == 1


def test_without_a_feed_configured_the_batch_is_committed_and_a_warning_logged(
    ingest_stream: ModuleType,
    aws: FakeAws,
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
    assert counts(aws)["curated"] == 1 and aws.sinks == {}
    assert any(
        r.levelname == "WARNING" and "SCORING_FEED_STREAM is not set" in r.getMessage()
        for r in caplog.records
    )


DECISIONS_STREAM = "fraudops-unit-decisions"


def test_a_decisions_batch_is_ingested_as_decisions_and_not_forwarded(
    ingest_stream: ModuleType,
    aws: FakeAws,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the stack's mapping of the decisions stream to its contract, and a transaction
    # t-20 already curated from the transaction stream (and forwarded to scoring)
    monkeypatch.setenv(
        settings.STREAM_CONTRACTS_ENV, json.dumps({DECISIONS_STREAM: settings.DECISIONS_CONTRACT})
    )
    assert ingest_stream.handler(kinesis_event(good_txn("t-20")), lambda_context) == {
        "batchItemFailures": []
    }
    # When a batch of the decisions stream is handled: the decisions of t-20 (the transaction's
    # key, but another contract's) and t-21, a scorer's retry of t-21, and an invalid outcome
    event = kinesis_event(
        as_bytes(decision("t-20")),
        as_bytes(decision("t-21")),
        as_bytes(decision("t-21")),
        as_bytes(decision("t-22", outcome="maybe")),
        stream=DECISIONS_STREAM,
    )
    caplog.clear()
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    # Then the two decisions are curated under curated/decisions/, once each
    curated = aws.bucket.keys("curated/decisions/")
    ids = [i for key in curated for i in aws.bucket.table(key)["transaction_id"].to_pylist()]
    assert sorted(ids) == ["t-20", "t-21"]
    # And the retry and the invalid one are quarantined under decisions with their rules
    (quarantine,) = aws.bucket.keys("quarantine/decisions/stream/")
    rules = sorted(json.loads(x)["rules"][0] for x in aws.bucket.body(quarantine).splitlines())
    assert rules == ["allowed:outcome", "duplicate_key"]
    # And counted under ACCOUNT#decisions#kinesis, the transactions' account untouched
    assert aws.counters.of("decisions", "kinesis") == {
        "in_records": 4,
        "curated": 2,
        "quarantined": 2,
    }
    assert counts(aws) == {"in_records": 1, "curated": 1, "quarantined": 0}
    # And the shard's checkpoint is the decisions stream's own
    assert aws.log.checkpoint(DECISIONS_STREAM, "shardId-000000000000") is not None
    # And no decision reaches the scoring feed (it holds the one transaction), with no warning
    assert [b["transaction_id"] for _, b in feed_records(aws)] == ["t-20"]
    assert all(b["_contract"] == "transactions" for _, b in feed_records(aws))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_decisions_batch_without_a_feed_configured_logs_no_warning(
    ingest_stream: ModuleType,
    aws: FakeAws,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given no SCORING_FEED_STREAM: decisions are never forwarded, so nothing is skipped
    monkeypatch.delenv("SCORING_FEED_STREAM", raising=False)
    monkeypatch.setenv(
        settings.STREAM_CONTRACTS_ENV, json.dumps({DECISIONS_STREAM: settings.DECISIONS_CONTRACT})
    )
    # When a decision is handled, Then it is curated, no sink is wired and nothing is warned
    event = kinesis_event(as_bytes(decision("t-23")), stream=DECISIONS_STREAM)
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    assert aws.counters.of("decisions", "kinesis")["curated"] == 1 and aws.sinks == {}
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_decisions_batch_with_the_range_of_a_committed_transactions_batch_commits(
    ingest_stream: ModuleType,
    aws: FakeAws,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a transactions batch committed at shardId-000000000000, 100..100
    monkeypatch.setenv(
        settings.STREAM_CONTRACTS_ENV, json.dumps({DECISIONS_STREAM: settings.DECISIONS_CONTRACT})
    )
    ingest_stream.handler(kinesis_event(good_txn("t-30")), lambda_context)
    # When the decisions stream's first batch has the same shard id and sequence numbers
    event = kinesis_event(as_bytes(decision("t-30")), stream=DECISIONS_STREAM)
    # Then it is committed too (today: CommitConflict after every attempt)
    assert ingest_stream.handler(event, lambda_context) == {"batchItemFailures": []}
    assert aws.counters.of("decisions", "kinesis")["curated"] == 1
