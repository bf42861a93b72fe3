"""The stream's value types and the ports its use cases run over.

A Kinesis record is identified by ``<shard>:<sequence>``; a KPL aggregate is split into user
records ``<shard>:<sequence>:<index>``, an identity that survives every retry. The ports are
implemented by ``fraudops_shared.aws`` (DynamoDB, S3, Kinesis) and by in-memory fakes in tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class KinesisRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes

    @property
    def record_id(self) -> str:
        return f"{self.shard_id}:{self.sequence_number}"

    @classmethod
    def from_lambda_event(cls, raw: Mapping[str, Any]) -> KinesisRecord:
        """One record of a Lambda Kinesis event (``eventID`` is ``<shard>:<sequence>``)."""
        kinesis = raw["kinesis"]
        return cls(
            shard_id=str(raw["eventID"]).split(":", 1)[0],
            sequence_number=str(kinesis["sequenceNumber"]),
            partition_key=str(kinesis["partitionKey"]),
            data=base64.b64decode(kinesis["data"]),
        )


@dataclass(frozen=True)
class UserRecord:
    record_id: str  # stable across retries: shard:sequence[:index]
    parent_id: str  # the Kinesis record it came in
    partition_key: str
    data: bytes


@dataclass
class Rejected:
    record_id: str
    rules: list[str]
    reasons: list[str]
    record: str  # the record as text, or base64 when it is not UTF-8

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "rules": self.rules,
            "reasons": self.reasons,
            "record": self.record,
        }


def count_rules(rejected: Iterable[Rejected]) -> dict[str, int]:
    """How many rejected records failed each rule (a record may fail several)."""
    counts: dict[str, int] = {}
    for rej in rejected:
        for rule in rej.rules:
            counts[rule] = counts.get(rule, 0) + 1
    return counts


class ShardReader(Protocol):
    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> list[KinesisRecord]:
        """The records of a shard from ``first`` to ``last`` sequence number, inclusive."""


class ScoringFeed(Protocol):
    def publish(self, rows: Sequence[dict[str, Any]], *, now: datetime) -> int:
        """Put curated rows on the scoring feed, at least once; raise if some cannot be put."""
