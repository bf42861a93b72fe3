"""Dead letters of the stream (fraudops_shared.ingestion.dead_letters): the given-up records
read back from the shard, kept with the failure reason and counted once."""

from __future__ import annotations

import json
from typing import Any

from fraudops_shared.ingestion.dead_letters import account_dead_letters
from fraudops_shared.ingestion.records import KinesisRecord
from tests.unit.ingestion.test_stream import NOW, ports, rec, run

__all__ = ["ports"]  # the fixture, shared with the stream tests


class FakeReader:
    def __init__(self, records: list[KinesisRecord]) -> None:
        self.records = records

    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> list[KinesisRecord]:
        return [r for r in self.records if first <= r.sequence_number <= last]


def dlq_message(first: KinesisRecord, last: KinesisRecord) -> dict[str, Any]:
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
        "responseContext": {"functionError": "Unhandled"},
        "KinesisBatchInfo": {
            "shardId": first.shard_id,
            "startSequenceNumber": first.sequence_number,
            "endSequenceNumber": last.sequence_number,
            "batchSize": 3,
            "streamArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
        },
    }


def test_dead_letters_are_read_back_kept_and_counted_once(ports: Any) -> None:
    claims, ledger, zones = ports
    records = [rec(i, {"transaction_id": f"t{i}", "amount": 1}) for i in (1, 2, 3)]
    # Given a batch whose middle record was committed by an earlier partial success
    run([records[1]], claims, ledger, zones)
    message = dlq_message(records[0], records[2])
    # When its dead-letter message is processed (twice: SQS is at least once too)
    kwargs: dict[str, Any] = {
        "contract_name": "transactions",
        "reader": FakeReader(records),
        "now": NOW,
    }
    first = account_dead_letters(message, ledger=ledger, zones=zones, **kwargs)
    second = account_dead_letters(message, ledger=ledger, zones=zones, **kwargs)
    # Then the two lost records are kept with the reason and counted once; nothing is counted twice
    assert first["dead_lettered"] == 2 and second["dead_lettered"] == 0
    assert ledger.counts == {"in_records": 3, "curated": 1, "quarantined": 0, "dead_lettered": 2}
    kept = next(v for k, v in zones.objects.items() if "dlq-" in k and k.startswith("quarantine"))
    assert [json.loads(r["record"])["transaction_id"] for r in kept] == ["t1", "t3"]
    assert "RetryAttemptsExhausted" in kept[0]["reasons"][0]
