"""Dead letters of scoring (fraudops_shared.scoring.dead_letters): a given-up feed batch read
back from its shard, its undecided records kept under parked/<contract>/dead/ with the reason and
counted once, so scoring's accounting equation holds with the dead_lettered term."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fraudops_shared.ingestion.read_back import IncompleteReadError
from fraudops_shared.scoring.dead_letters import account_scoring_dead_letters
from tests.unit.fakes import MemoryShardReader
from tests.unit.scoring.champions import CONTRACT, transaction
from tests.unit.scoring.world import SHARD, World


def message(first: str, last: str, size: int) -> dict[str, Any]:
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
        "responseContext": {"functionError": "Unhandled"},
        "KinesisBatchInfo": {
            "shardId": SHARD,
            "startSequenceNumber": first,
            "endSequenceNumber": last,
            "batchSize": size,
            "streamArn": "arn:aws:kinesis:us-east-1:000000000000:stream/feed",
        },
    }


@pytest.fixture
def world() -> World:
    w = World()
    w.champion(1)
    return w


def account(world: World, msg: dict[str, Any], reader: MemoryShardReader) -> dict[str, Any]:
    return account_scoring_dead_letters(
        msg, contract=CONTRACT, reader=reader, log=world.log, parked=world.parked
    )


def test_a_given_up_batch_is_kept_and_counted_once_without_what_was_decided(
    world: World,
) -> None:
    records = world.kinesis([transaction(i) for i in range(4)])
    # Given the batch's first half was decided by a bisected retry, the second given up
    world.score(records[:2])
    reader = MemoryShardReader(records)
    msg = message(records[0].sequence_number, records[-1].sequence_number, 4)
    # When its on-failure record is handled, twice (SQS delivers at least once)
    first = account(world, msg, reader)
    second = account(world, msg, reader)
    # Then the two undecided records are kept with the reason, counted once
    assert (first["dead_lettered"], first["already_committed"], first["first"]) == (2, 2, True)
    assert second["first"] is False
    (key,) = [k for k in world.parked.files if "/dead/" in k]
    kept = world.parked.files[key]
    kept_ids = sorted(json.loads(r["record"])["transaction_id"] for r in kept)
    assert kept_ids == ["t-00002", "t-00003"]
    assert all("scoring function gave up" in r["reason"] for r in kept)
    counts = world.counts()
    assert counts["in_records"] == 4 and counts["decided"] == 2 and counts["dead_lettered"] == 2
    assert counts["in_records"] == counts["decided"] + counts["parked"] + counts["dead_lettered"]


def test_a_short_read_back_is_refused_loudly(world: World) -> None:
    records = world.kinesis([transaction(i) for i in range(3)])
    reader = MemoryShardReader([records[0], records[2]])  # the middle one did not come back
    msg = message(records[0].sequence_number, records[-1].sequence_number, 3)
    with pytest.raises(IncompleteReadError):
        account(world, msg, reader)
    assert world.counts() == {}


def test_records_expired_from_the_shard_are_counted_as_unrecoverable(world: World) -> None:
    records = world.kinesis([transaction(i) for i in range(3)])
    reader = MemoryShardReader(records[2:])  # the two oldest were trimmed by retention
    msg = message(records[0].sequence_number, records[-1].sequence_number, 3)
    summary = account(world, msg, reader)
    assert (summary["dead_lettered"], summary["expired_unrecoverable"]) == (1, 2)
    assert world.counts()["in_records"] == 3
