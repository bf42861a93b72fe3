"""Scoring the feed (fraudops_shared.scoring.stream) over in-memory adapters: one decision per
transaction whatever the re-deliveries, every record decided or parked and counted, the card
states moved once, bad records kept without failing their batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from fraudops_shared.ingestion import kpl
from fraudops_shared.runtime.settings import SOURCE_SCORING
from fraudops_shared.runtime.settings import balanced as accounting_balanced
from fraudops_shared.scoring.models import ModelUnavailable
from fraudops_shared.scoring.ports import StateWrite
from tests.unit.scoring.champions import CONTRACT, transaction
from tests.unit.scoring.world import World


@pytest.fixture
def world() -> World:
    w = World()
    w.champion(1)
    return w


def balanced(counts: dict[str, int]) -> bool:
    return accounting_balanced(SOURCE_SCORING, counts)


def test_every_transaction_gets_one_decision_published_and_counted(world: World) -> None:
    rows = [transaction(i, card=f"card_{i % 3}") for i in range(12)]
    result = world.score(world.kinesis(rows))
    # Then each transaction has a decision in the table and on the decisions stream
    assert sorted(world.decisions.items) == sorted(r["transaction_id"] for r in rows)
    assert sorted(d["transaction_id"] for d in world.sink.items) == sorted(world.decisions.items)
    # And each decision names the model, its features, three reasons and an outcome
    d = world.decisions.items["t-00003"]
    assert d["model_version"] == 1 and d["feature_set"] == world.features.digest
    assert len(d["features"]) == len(world.features.names) and len(d["reasons"]) == 3
    assert d["outcome"] in ("approve", "review", "decline") and 0 <= d["score"] <= 1
    # And the decisions stream carries the contract's rows (nested values as JSON text)
    assert json.loads(world.sink.items[0]["features"]) == world.decisions.items[
        world.sink.items[0]["transaction_id"]]["features"]  # fmt: skip
    # And the accounting balances; the cards' states hold their transactions
    assert world.counts() == {"in_records": 12, "decided": 12, "parked": 0}
    assert len(world.card("card_0")) == 4
    assert result.fresh == 12


def test_a_redelivered_transaction_gets_the_decision_already_made(world: World) -> None:
    rows = [transaction(i) for i in range(3)]
    world.score(world.kinesis(rows))
    first = dict(world.decisions.items["t-00001"])
    state_before = world.card("card_a").to_bytes()
    world.now = world.now.replace(minute=59)  # later: a new decision would have another time
    # When the feed delivers two of them again (ingestion retried before its commit)
    result = world.score(world.kinesis([rows[1], rows[2]]))
    # Then they are decided once: the stored decisions come back, the state did not move
    assert result.fresh == 0
    assert result.decisions[0]["decided_at"] == first["decided_at"]
    assert world.decisions.items["t-00001"] == first
    assert world.card("card_a").to_bytes() == state_before
    # And both deliveries are counted as decided (in = decided + parked holds)
    assert world.counts()["decided"] == 5 and balanced(world.counts())


def test_the_same_transaction_twice_in_a_batch_is_decided_once(world: World) -> None:
    row = transaction(7)
    result = world.score(world.kinesis([row, row]))
    assert result.fresh == 1 and len(world.decisions.items) == 1
    assert result.decisions[0] == result.decisions[1]
    assert len(world.card("card_a")) == 1


def test_records_committed_before_are_skipped_on_a_retry(world: World) -> None:
    records = world.kinesis([transaction(i) for i in range(4)])
    world.score(records)
    again = world.score(records)  # Lambda re-delivers a batch that had committed
    assert again.skipped_committed == 4 and again.decisions == []
    assert world.counts()["in_records"] == 4


def test_a_batch_that_failed_before_its_commit_is_decided_the_same_on_retry(world: World) -> None:
    records = world.kinesis([transaction(i, card=f"c{i % 2}") for i in range(6)])
    world.log.fail_next = RuntimeError("DynamoDB unavailable")
    with pytest.raises(RuntimeError):
        world.score(records)
    made = {k: dict(v) for k, v in world.decisions.items.items()}
    # When Lambda retries it, Then the same decisions stand and the counters move once
    result = world.score(records)
    assert result.fresh == 0 and world.decisions.items == made
    assert world.counts() == {"in_records": 6, "decided": 6, "parked": 0}


def test_bad_records_are_parked_with_their_rule_and_never_fail_the_batch(world: World) -> None:
    good = [transaction(i) for i in range(3)]
    bad = [
        b"{not json",
        b"[" * 5000 + b"]" * 5000,
        b'"a string"',
        json.dumps({**transaction(50), "_contract": "decisions"}).encode(),
        json.dumps({k: v for k, v in transaction(51).items() if k != "transaction_id"}).encode(),
        json.dumps(transaction(52, event_time="not a time")).encode(),
    ]
    result = world.score(world.kinesis([*good, *bad]))
    assert len(result.decisions) == 3 and len(result.parked) == 6
    (key,) = world.parked.files
    rules = sorted(r["rule"] for r in world.parked.files[key])
    assert rules == sorted(["malformed_json", "too_deep", "not_an_object", "wrong_contract",
                            "not_null:transaction_id", "type:event_time"])  # fmt: skip
    assert all(not r["replayable"] and r["reason"] for r in world.parked.files[key])
    assert world.counts() == {"in_records": 9, "decided": 3, "parked": 6}


def test_kpl_aggregates_of_the_feed_are_split_and_a_broken_one_is_parked(world: World) -> None:
    rows = [transaction(i) for i in range(4)]
    blob = kpl.aggregate([(r["card_id"], json.dumps(r).encode()) for r in rows])
    broken = kpl.MAGIC + b"\x0a\x05junk" + b"0" * 16
    result = world.score(world.kinesis([blob, broken]))
    assert len(result.decisions) == 4 and len(result.parked) == 1
    assert result.parked[0].rule == "kpl_aggregate"


def test_the_feed_lineage_fields_are_not_part_of_the_transaction(world: World) -> None:
    row = {**transaction(1), "_contract": "transactions", "_record_id": "shardId-1:5",
           "_partition_key": "card_a", "_published_at": "2026-11-26T12:00:00+00:00"}  # fmt: skip
    result = world.score(world.kinesis([row]))
    assert len(result.decisions) == 1 and not result.parked


def test_without_a_champion_records_are_parked_then_decided_once_one_is_promoted() -> None:
    world = World()
    rows = [transaction(i) for i in range(5)]
    # Given no champion yet
    result = world.score(world.kinesis(rows))
    assert result.decisions == [] and len(result.parked) == 5
    assert world.counts() == {"in_records": 5, "decided": 0, "parked": 5}
    assert world.parked.keys(CONTRACT)  # waiting for a champion
    # When one is promoted and the parked records are replayed (twice: at least once), even
    # within the cache's refresh bound (the promotion event is news)
    world.champion(1)
    world.clock.t -= 60
    first = world.replay()
    second = world.replay()
    # Then each is decided once and the counters move from parked to decided
    assert [r["decided"] for r in first["replayed"]] == [5] and second["replayed"] == []
    assert sorted(world.decisions.items) == sorted(r["transaction_id"] for r in rows)
    assert {d["source"] for d in world.decisions.items.values()} == {"replay"}
    assert world.counts() == {"in_records": 5, "decided": 5, "parked": 0}


def test_a_champion_that_cannot_be_read_just_now_fails_the_batch_for_a_retry_parking_nothing(
) -> None:  # fmt: skip
    world = World()
    world.champion(1)
    world.registry.unreachable = {1}
    rows = [transaction(i) for i in range(5)]
    # When a cold scorer cannot read the champion's artifact (the store is down)
    with pytest.raises(ModelUnavailable):
        world.score(world.kinesis(rows))
    # Then nothing is parked as if no model existed, and nothing is counted: Lambda retries it
    assert world.parked.keys(CONTRACT) == [] and world.counts() == {}
    world.registry.unreachable = set()
    result = world.score(world.kinesis(rows))
    assert len(result.decisions) == 5 and balanced(world.counts())


def test_a_concurrent_writer_of_a_card_makes_the_batch_read_again(world: World) -> None:
    # Given the API decides a transaction of the card while the feed batch is being scored
    api_row = transaction(100, card="card_a")

    def concurrent() -> None:
        answer = world.api().score(json.dumps(api_row).encode())
        assert answer.status == 200

    world.states.before_put = concurrent
    rows = [transaction(i, card="card_a") for i in range(3)]
    world.score(world.kinesis(rows))
    # Then nothing was lost: the state holds all four transactions, each decided once
    assert len(world.card("card_a")) == 4
    assert len(world.decisions.items) == 4


def test_a_record_that_breaks_scoring_is_parked_and_the_rest_decided(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fraudops_shared.scoring import record as record_module

    real = record_module.decide

    def fragile(rows: Any, *args: Any, **kwargs: Any) -> Any:
        if any(r["transaction_id"] == "t-00002" for r in rows):
            raise MemoryError("unexpected")
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(record_module, "decide", fragile)
    result = world.score(world.kinesis([transaction(i) for i in range(4)]))
    assert sorted(d["transaction_id"] for d in result.decisions) == ["t-00000", "t-00001",
                                                                     "t-00003"]  # fmt: skip
    assert [(p.rule, p.reason) for p in result.parked] == [
        ("unprocessable", "MemoryError: unexpected")
    ]
    assert balanced(world.counts())


def test_flagged_decisions_are_published_as_events(world: World) -> None:
    world.champion(2, threshold=0.0, decline=None)  # everything to review
    rows = [transaction(i) for i in range(3)]
    world.score(world.kinesis(rows))
    assert {d["outcome"] for d in world.decisions.items.values()} == {"review"}
    assert sorted(e["transaction_id"] for e in world.flags.items) == sorted(world.decisions.items)


def test_state_writes_name_the_version_they_read(world: World) -> None:
    writes: list[StateWrite] = []
    real = world.states.put_many

    def spy(contract: str, w: Sequence[StateWrite]) -> None:
        writes.extend(w)
        real(contract, w)

    world.states.put_many = spy  # type: ignore[method-assign,assignment]
    world.score(world.kinesis([transaction(1)]))
    world.score(world.kinesis([transaction(2)]))
    assert [w.expected for w in writes] == [0, 1]
