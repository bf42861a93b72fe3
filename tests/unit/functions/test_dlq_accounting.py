"""The dlq_accounting handler through its entry point, wired to in-memory adapters: an SQS event
of on-failure messages in; the given-up records read back from the shard, kept and counted; a
message it cannot handle reported in batchItemFailures (it stays in the queue)."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.runtime import settings
from tests.decision_records import as_bytes, decision
from tests.unit.support import FakeAws, FakeLambdaContext, load_handler

SHARD = "shardId-000000000000"


@pytest.fixture(scope="module")
def dlq_accounting() -> ModuleType:
    return load_handler("dlq_accounting")


def sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dlq",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def on_failure(first: str, last: str, stream: str = "tx") -> str:
    return json.dumps(
        {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
            "responseContext": {"functionError": "Unhandled"},
            "KinesisBatchInfo": {
                "shardId": SHARD,
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "batchSize": 2,
                "streamArn": f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}",
            },
        }
    )


def test_given_up_records_are_kept_and_counted_and_a_bad_message_stays(
    dlq_accounting: ModuleType, fake_aws: FakeAws, lambda_context: FakeLambdaContext
) -> None:
    # Given two records still retained on the shard
    fake_aws.shard.records = [
        KinesisRecord(SHARD, "100", "card", b'{"transaction_id": "d1"}'),
        KinesisRecord(SHARD, "101", "card", b'{"transaction_id": "d2"}'),
    ]
    # When their on-failure message and a message that is not JSON are handled
    response = dlq_accounting.handler(sqs_event(on_failure("100", "101"), "{nope"), lambda_context)
    # Then the records are dead-lettered and counted, and the bad message is reported back
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert fake_aws.counters.of("transactions", "kinesis") == {"in_records": 2, "dead_lettered": 2}
    (kept,) = fake_aws.bucket.keys("quarantine/transactions/stream/dlq-")
    rows = [json.loads(line) for line in fake_aws.bucket.body(kept).splitlines()]
    assert [json.loads(r["record"])["transaction_id"] for r in rows] == ["d1", "d2"]


def test_a_given_up_decisions_batch_is_accounted_under_decisions(
    dlq_accounting: ModuleType,
    fake_aws: FakeAws,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the decisions stream mapped to its contract, and two decisions still on its shard
    monkeypatch.setenv(
        settings.STREAM_CONTRACTS_ENV, json.dumps({"decisions": settings.DECISIONS_CONTRACT})
    )
    fake_aws.shard.records = [
        KinesisRecord(SHARD, "200", "card", as_bytes(decision("d-1"))),
        KinesisRecord(SHARD, "201", "card", as_bytes(decision("d-2"))),
    ]
    # When the on-failure message of their batch on the decisions stream is handled
    response = dlq_accounting.handler(
        sqs_event(on_failure("200", "201", stream="decisions")), lambda_context
    )
    # Then they are dead-lettered and counted under decisions, not transactions
    assert response == {"batchItemFailures": []}
    assert fake_aws.counters.of("decisions", "kinesis") == {"in_records": 2, "dead_lettered": 2}
    assert fake_aws.counters.of("transactions", "kinesis") == {}
    (kept,) = fake_aws.bucket.keys("quarantine/decisions/stream/dlq-")
    rows = [json.loads(line) for line in fake_aws.bucket.body(kept).splitlines()]
    assert [json.loads(r["record"])["transaction_id"] for r in rows] == ["d-1", "d-2"]
    assert fake_aws.bucket.keys("quarantine/transactions/") == []
