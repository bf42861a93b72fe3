"""Dead letters of scoring (fraudops_shared.scoring.dead_letters): a given-up feed batch read
back from its shard, its undecided records kept under parked/<contract>/dead/ with the reason and
each feed record counted once however many on-failure records cover it, so scoring's accounting
equation holds with the dead_lettered term and no transaction is both decided and dead."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fraudops_shared.ingestion.read_back import IncompleteReadError
from fraudops_shared.scoring import dead_letters
from fraudops_shared.scoring.dead_letters import account_scoring_dead_letters
from tests.unit.fakes import MemoryShardReader
from tests.unit.scoring.champions import CONTRACT, transaction
from tests.unit.scoring.fakes import MemoryScoringLog
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
        msg,
        contract=CONTRACT,
        reader=reader,
        log=world.log,
        parked=world.parked,
        decisions=world.decisions,
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


def balanced(world: World) -> bool:
    c = world.counts()
    return c["in_records"] == c.get("decided", 0) + c.get("parked", 0) + c.get("dead_lettered", 0)


def dead_ids(world: World) -> list[str]:
    return sorted(
        json.loads(r["record"])["transaction_id"]
        for key, rows in world.parked.files.items()
        if "/dead/" in key
        for r in rows
    )


def test_a_wider_on_failure_record_counts_nothing_already_accounted(world: World) -> None:
    records = world.kinesis([transaction(i) for i in range(8)])
    reader = MemoryShardReader(records)
    # Given records 0-1 decided, 2-3 given up and accounted, 4-5 decided
    world.score(records[:2])
    account(world, message(records[2].sequence_number, records[3].sequence_number, 2), reader)
    world.score(records[4:6])
    # When an on-failure record spanning all eight arrives (LocalStack sends such ranges)
    wide = account(world, message(records[0].sequence_number, records[-1].sequence_number, 8),
                   reader)  # fmt: skip
    # Then only the two never accounted are counted, and each record once in all
    assert (wide["already_committed"], wide["dead_lettered"]) == (6, 2)
    assert dead_ids(world) == ["t-00002", "t-00003", "t-00006", "t-00007"]
    counts = world.counts()
    assert (counts["in_records"], counts["decided"], counts["dead_lettered"]) == (8, 4, 4)
    assert balanced(world)


def test_decisions_stored_by_an_invocation_that_died_count_as_decided_not_dead(
    world: World,
) -> None:
    records = world.kinesis([transaction(i) for i in range(4)])
    # Given an invocation stored and published its decisions, then died before its commit
    world.log.fail_next = RuntimeError("environment replaced by a configuration update")
    with pytest.raises(RuntimeError):
        world.score(records)
    assert len(world.decisions.items) == 4 and world.counts() == {}
    # When Lambda gives up on the batch and its on-failure record is handled
    summary = account(
        world, message(records[0].sequence_number, records[-1].sequence_number, 4),
        MemoryShardReader(records),
    )  # fmt: skip
    # Then the four are decided (as the decisions zone says), none kept as dead letters
    assert (summary["decided"], summary["dead_lettered"]) == (4, 0)
    assert dead_ids(world) == []
    assert world.counts() == {"in_records": 4, "decided": 4, "dead_lettered": 0}


def test_two_accountings_of_overlapping_ranges_at_once_count_each_record_once(
    world: World,
) -> None:
    records = world.kinesis([transaction(i) for i in range(6)])
    reader = MemoryShardReader(records)
    inner = message(records[1].sequence_number, records[4].sequence_number, 4)
    outer = message(records[0].sequence_number, records[-1].sequence_number, 6)

    class Racing(MemoryScoringLog):
        """The inner range is accounted between the outer one's reads and its commit."""

        raced = False

        def covered(self, stream: str, shard: str, first: str, last: str) -> list[tuple[int, int]]:
            ranges = super().covered(stream, shard, first, last)
            if not self.raced:
                self.raced = True
                account(world, inner, reader)
            return ranges

    world.log = Racing()
    summary = account(world, outer, reader)
    assert summary["dead_lettered"] == 2  # records 0 and 5: the inner four were taken meanwhile
    assert dead_ids(world) == [f"t-{i:05d}" for i in range(6)]
    assert world.counts() == {"in_records": 6, "decided": 0, "dead_lettered": 6}


def test_many_runs_are_committed_in_chunks_each_record_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dead_letters, "RUNS_PER_COMMIT", 2)
    records = world.kinesis([transaction(i) for i in range(12)])
    for i in range(0, 12, 2):  # every other record decided: six runs of one record
        world.score([records[i]])
    reader = MemoryShardReader(records)
    msg = message(records[0].sequence_number, records[-1].sequence_number, 12)
    summary = account(world, msg, reader)
    again = account(world, msg, reader)
    assert (summary["dead_lettered"], len(summary["kept"])) == (6, 3)
    assert (again["dead_lettered"], again["first"]) == (0, False)
    assert dead_ids(world) == [f"t-{i:05d}" for i in range(1, 12, 2)]
    assert world.counts()["in_records"] == 12 and balanced(world)
