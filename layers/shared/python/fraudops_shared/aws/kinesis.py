"""Kinesis: reading a range of a shard back (the dead-letter path keeps records, not pointers;
``ingestion.records.ShardReader``) and putting entries on a stream (the scoring feed's
``ingestion.scoring_feed.RecordSink``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fraudops_shared.ingestion.records import KinesisRecord

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

MAX_EMPTY_READS = 5  # a shard read that keeps returning nothing has reached its end
READ_LIMIT = 1000


class KinesisShardReader:
    def __init__(self, client: KinesisClient) -> None:
        self.client = client

    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> list[KinesisRecord]:
        stream = stream_arn.rsplit("/", 1)[-1]
        iterator: str | None = self.client.get_shard_iterator(
            StreamName=stream,
            ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=first,
        )["ShardIterator"]
        out: list[KinesisRecord] = []
        empty = 0
        while iterator and empty < MAX_EMPTY_READS:
            resp = self.client.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
            for rec in resp["Records"]:
                if int(rec["SequenceNumber"]) > int(last):
                    return out
                out.append(
                    KinesisRecord(shard_id, rec["SequenceNumber"], rec["PartitionKey"], rec["Data"])
                )
            empty = 0 if resp["Records"] else empty + 1
            if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                break
            iterator = resp.get("NextShardIterator")
        return out


class KinesisRecordSink:
    """PutRecords on one stream, named by name or ARN."""

    def __init__(self, client: KinesisClient, stream: str) -> None:
        self.client = client
        self.target: dict[str, str] = (
            {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
        )

    def put_records(self, entries: Sequence[dict[str, Any]]) -> list[str | None]:
        response = self.client.put_records(Records=list(entries), **self.target)  # type: ignore[arg-type]
        if not response.get("FailedRecordCount"):
            return [None] * len(entries)
        return [result.get("ErrorCode") or None for result in response["Records"]]
