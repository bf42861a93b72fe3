"""Dead letters of the stream (fraudops_shared.ingestion.dead_letters): the given-up records read
back from the shard, exactly the batch, kept with the failure reason and counted once; records
already trimmed from the shard counted as expired; a short read refused loudly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fraudops_shared.ingestion.dead_letters import account_dead_letters
from fraudops_shared.ingestion.read_back import IncompleteReadError
from tests.unit.fakes import MemoryShardReader
from tests.unit.ingestion.test_stream import NOW, SHARD, Lake, rec, txn


def dlq_message(first: int, last: int, size: int) -> dict[str, Any]:
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
        "responseContext": {"functionError": "Unhandled"},
        "KinesisBatchInfo": {
            "shardId": SHARD,
            "startSequenceNumber": str(first),
            "endSequenceNumber": str(last),
            "batchSize": size,
            "streamArn": "arn:aws:kinesis:us-east-1:000000000000:stream/tx",
        },
    }


def account(lake: Lake, message: dict[str, Any], reader: MemoryShardReader) -> dict[str, Any]:
    return account_dead_letters(
        message,
        contract=lake.contract,
        reader=reader,
        log=lake.log,
        store=lake.store,
        zones=lake.zones,
        now=NOW,
        index_ttl_seconds=86_400,
    )


@pytest.fixture
def lake() -> Lake:
    return Lake()


def test_dead_letters_are_read_back_kept_and_counted_once(lake: Lake) -> None:
    records = [rec(i, txn(f"t{i}")) for i in (1, 2, 3)]
    # Given a batch whose middle record was committed by a bisected retry
    lake.run([records[1]])
    # When its dead-letter message is processed (twice: SQS is at least once too)
    reader = MemoryShardReader(records)
    first = account(lake, dlq_message(1, 3, 3), reader)
    second = account(lake, dlq_message(1, 3, 3), reader)
    # Then the two lost records are kept with the reason and counted once
    assert first["dead_lettered"] == 2 and first["already_committed"] == 1
    assert second["dead_lettered"] == 0 and second.get("already_accounted") is True
    assert lake.counts() == {"in_records": 3, "curated": 1, "quarantined": 0, "dead_lettered": 2}
    kept = [r for r in lake.quarantined() if r["rules"] == ["dead_letter"]]
    assert [json.loads(r["record"])["transaction_id"] for r in kept] == ["t1", "t3"]
    assert "RetryAttemptsExhausted" in kept[0]["reasons"][0]


def test_records_trimmed_from_the_shard_are_counted_as_expired(lake: Lake) -> None:
    # Given a batch of 5 whose first 3 records the shard no longer holds
    reader = MemoryShardReader([rec(i, txn(f"e{i}")) for i in (4, 5)])
    summary = account(lake, dlq_message(1, 5, 5), reader)
    # Then the 2 still there are kept and the 3 lost are counted, so the ledger balances
    assert (summary["dead_lettered"], summary["expired_unrecoverable"]) == (2, 3)
    counts = lake.counts()
    assert counts == {"in_records": 5, "dead_lettered": 2, "expired_unrecoverable": 3}


def test_a_short_read_that_is_not_expiry_is_refused(lake: Lake) -> None:
    # Given a read that has the first record but stops before the last (an empty page, a
    # throttled read): the message must stay in the queue, not be deleted as accounted
    reader = MemoryShardReader([rec(1, txn("s1")), rec(2, txn("s2"))])
    with pytest.raises(IncompleteReadError, match="read 2 of 3"):
        account(lake, dlq_message(1, 3, 3), reader)
    assert lake.counts() == {}
