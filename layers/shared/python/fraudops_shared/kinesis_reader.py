"""Read a range of a Kinesis shard back (the dead-letter path keeps records, not pointers)."""

from __future__ import annotations

from typing import Any

from fraudops_shared.stream_ingestion import KinesisRecord

MAX_EMPTY_READS = 5  # a shard read that keeps returning nothing has reached its end


class BotoShardReader:
    def __init__(self, client: Any) -> None:
        self.client = client

    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> list[KinesisRecord]:
        stream = stream_arn.rsplit("/", 1)[-1]
        iterator = self.client.get_shard_iterator(
            StreamName=stream,
            ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=first,
        )["ShardIterator"]
        out: list[KinesisRecord] = []
        empty = 0
        while iterator and empty < MAX_EMPTY_READS:
            resp = self.client.get_records(ShardIterator=iterator, Limit=1000)
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
