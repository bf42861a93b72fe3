"""The scoring feed publisher against a fake Kinesis client: JSON shape, partition key, PutRecords
limits, and retrying only the entries a call reports as failed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from fraudops_shared.aws.kinesis import KinesisRecordSink
from fraudops_shared.ingestion import scoring_feed

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    name: str = "transactions"
    version: str = "1.0.0"


class FakeKinesis:
    """Records every put_records call; ``fail`` decides per call which entry indexes fail."""

    def __init__(self, fail: list[set[int]] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = list(fail or [])

    def put_records(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        failing = self.fail.pop(0) if self.fail else set()
        results = [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
            if i in failing
            else {"SequenceNumber": str(i), "ShardId": "shardId-000000000000"}
            for i in range(len(kwargs["Records"]))
        ]
        return {"FailedRecordCount": len(failing), "Records": results}

    def txn_ids(self, call: int) -> list[str]:
        return [json.loads(r["Data"])["transaction_id"] for r in self.calls[call]["Records"]]


def row(i: int, card: str = "card_1", pad: int = 0) -> dict[str, Any]:
    return {
        "transaction_id": f"t-{i}",
        "event_time": datetime(2026, 11, 27, 9, 0, i % 60, tzinfo=UTC),
        "card_id": card,
        "amount": 12.5,
        "mcc": "0742",
        "note": "x" * pad,
        "_record_id": f"shardId-000000000000:{100 + i}",
        "_partition_key": "producer-key",
    }


def test_a_row_becomes_json_with_contract_lineage_and_the_card_as_partition_key() -> None:
    # Given one curated row
    client = FakeKinesis()
    # When published
    assert (
        scoring_feed.publish(
            KinesisRecordSink(cast(Any, client), "feed"), [row(1)], contract=Spec(), now=NOW
        )
        == 1
    )
    # Then one call names the stream, keys the record by card, and the body is plain JSON
    [call] = client.calls
    assert call["StreamName"] == "feed"
    [entry] = call["Records"]
    assert entry["PartitionKey"] == "card_1"
    assert json.loads(entry["Data"]) == {
        "transaction_id": "t-1",
        "event_time": "2026-11-27T09:00:01+00:00",
        "card_id": "card_1",
        "amount": 12.5,
        "mcc": "0742",
        "note": "",
        "_record_id": "shardId-000000000000:101",
        "_partition_key": "producer-key",
        "_contract": "transactions",
        "_contract_version": "1.0.0",
        "_published_at": "2026-11-27T10:00:00+00:00",
    }


def test_an_arn_is_passed_as_stream_arn() -> None:
    client = FakeKinesis()
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/feed"
    scoring_feed.publish(
        KinesisRecordSink(cast(Any, client), arn), [row(1)], contract=Spec(), now=NOW
    )
    assert client.calls[0]["StreamARN"] == arn and "StreamName" not in client.calls[0]


def test_nothing_to_publish_makes_no_call() -> None:
    client = FakeKinesis()
    assert (
        scoring_feed.publish(
            KinesisRecordSink(cast(Any, client), "feed"), [], contract=Spec(), now=NOW
        )
        == 0
    )
    assert client.calls == []


def test_more_than_500_rows_are_split_in_order() -> None:
    # Given 1,201 rows
    client = FakeKinesis()
    rows = [row(i, card=f"card_{i % 7}") for i in range(1201)]
    # When published
    assert (
        scoring_feed.publish(
            KinesisRecordSink(cast(Any, client), "feed"), rows, contract=Spec(), now=NOW
        )
        == 1201
    )
    # Then in calls of 500, 500, 201, every row once and in order
    assert [len(c["Records"]) for c in client.calls] == [500, 500, 201]
    sent = [t for i in range(3) for t in client.txn_ids(i)]
    assert sent == [f"t-{i}" for i in range(1201)]


def test_a_call_never_exceeds_5_mib() -> None:
    # Given 12 rows of ~900 KB each (under the 1 MiB record limit, 10.8 MB in all)
    client = FakeKinesis()
    rows = [row(i, pad=900_000) for i in range(12)]
    # When published
    scoring_feed.publish(
        KinesisRecordSink(cast(Any, client), "feed"), rows, contract=Spec(), now=NOW
    )
    # Then each call stays within 5 MiB of data and keys, and together they hold every row
    for call in client.calls:
        size = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in call["Records"])
        assert size <= scoring_feed.MAX_BYTES_PER_CALL
    assert [len(c["Records"]) for c in client.calls] == [5, 5, 2]


def test_a_record_over_1_mib_fails_loudly() -> None:
    with pytest.raises(ValueError, match="1 MiB"):
        scoring_feed.publish(
            KinesisRecordSink(cast(Any, FakeKinesis()), "feed"),
            [row(1, pad=1_100_000)],
            contract=Spec(),
            now=NOW,
        )


def test_only_the_failed_entries_are_retried_with_growing_pauses() -> None:
    # Given a stream that throttles entries 1 and 3 of the first call, then entry 0 of the retry
    client = FakeKinesis(fail=[{1, 3}, {0}])
    pauses: list[float] = []
    rows = [row(i) for i in range(5)]
    # When published
    sent = scoring_feed.publish(
        KinesisRecordSink(cast(Any, client), "feed"),
        rows,
        contract=Spec(),
        now=NOW,
        sleep=pauses.append,
    )
    # Then all 5 are put: the retry sends only t-1 and t-3, the last one only t-1
    assert sent == 5
    assert [client.txn_ids(i) for i in range(3)] == [
        ["t-0", "t-1", "t-2", "t-3", "t-4"],
        ["t-1", "t-3"],
        ["t-1"],
    ]
    # And the pauses between attempts grow exponentially
    assert pauses == [scoring_feed.BACKOFF_BASE_SECONDS, 2 * scoring_feed.BACKOFF_BASE_SECONDS]


def test_entries_still_failing_after_every_attempt_raise() -> None:
    # Given a stream that rejects entry 0 every time
    client = FakeKinesis(fail=[{0}] * 10)
    pauses: list[float] = []
    # When published with 4 attempts, Then it raises (the invocation fails and is retried)
    with pytest.raises(scoring_feed.PublishError, match="1 record") as err:
        scoring_feed.publish(
            KinesisRecordSink(cast(Any, client), "feed"),
            [row(0), row(1)],
            contract=Spec(),
            now=NOW,
            attempts=4,
            sleep=pauses.append,
        )
    assert err.value.errors == {"ProvisionedThroughputExceededException": 1}
    # And it made exactly 4 calls, with bounded backoff in between
    assert len(client.calls) == 4 and len(pauses) == 3
    assert all(p <= scoring_feed.BACKOFF_MAX_SECONDS for p in pauses)


def test_backoff_is_capped() -> None:
    client = FakeKinesis(fail=[{0}] * 9)
    pauses: list[float] = []
    scoring_feed.publish(
        KinesisRecordSink(cast(Any, client), "feed"),
        [row(0)],
        contract=Spec(),
        now=NOW,
        attempts=10,
        sleep=pauses.append,
    )
    assert max(pauses) == scoring_feed.BACKOFF_MAX_SECONDS


def test_a_row_without_a_card_is_keyed_by_its_source_partition_key() -> None:
    client = FakeKinesis()
    bare = {k: v for k, v in row(1).items() if k != "card_id"}
    scoring_feed.publish(
        KinesisRecordSink(cast(Any, client), "feed"), [bare], contract=Spec(), now=NOW
    )
    assert client.calls[0]["Records"][0]["PartitionKey"] == "producer-key"
