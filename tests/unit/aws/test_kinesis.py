"""The Kinesis adapters against moto: putting entries (per-entry results) and reading a range of
a shard back, inclusive, by sequence number."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from fraudops_shared.aws.kinesis import KinesisRecordSink, KinesisShardReader

STREAM = "fraudops-unit-stream"


@pytest.fixture
def kinesis(table: Any) -> Iterator[Any]:
    client = boto3.client("kinesis")
    client.create_stream(StreamName=STREAM, ShardCount=1)
    yield client


def test_entries_are_put_and_read_back_by_sequence_range(kinesis: Any) -> None:
    sink = KinesisRecordSink(kinesis, STREAM)
    entries = [{"Data": f"r{i}".encode(), "PartitionKey": "card"} for i in range(5)]
    # When five entries are put, Then every entry is accepted
    assert sink.put_records(entries) == [None] * 5
    shard = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"][0]
    iterator = kinesis.get_shard_iterator(
        StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    seqs = [r["SequenceNumber"] for r in records]
    # When the second to the fourth are read back, Then exactly those come, in order
    arn = f"arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}"
    back = KinesisShardReader(kinesis).read(arn, shard["ShardId"], seqs[1], seqs[3])
    assert [r.data for r in back] == [b"r1", b"r2", b"r3"]
    assert back[0].record_id == f"{shard['ShardId']}:{seqs[1]}"


def test_a_sink_names_its_stream_by_arn_or_name(kinesis: Any) -> None:
    assert KinesisRecordSink(kinesis, "arn:aws:kinesis:r:1:stream/s").target == {
        "StreamARN": "arn:aws:kinesis:r:1:stream/s"
    }
    assert KinesisRecordSink(kinesis, "s").target == {"StreamName": "s"}
