"""The scorers' adapters against moto: card states (versioned, conditional, keyed by a hash of
the card), decisions (idempotent, first-writer-wins for the API), the scoring checkpoint and
counters, parked files. The state and decision behaviours run against the in-memory fakes too,
so the scoring use-case tests rely on fakes that behave as the adapters do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from fraudops_shared.aws.scoring import (
    DynamoCardStates,
    DynamoDecisionStore,
    DynamoScoringLog,
    S3ParkedStore,
    card_key,
)
from fraudops_shared.features import online
from fraudops_shared.features.online import CardState
from fraudops_shared.lake.commits import CommitConflict
from fraudops_shared.scoring.ports import StateConflict, StateWrite
from tests.unit.conftest import TABLE_NAME
from tests.unit.scoring.champions import features, transaction
from tests.unit.scoring.fakes import MemoryCardStates, MemoryDecisionStore

C = "transactions"
DECISIONS = "fraudops-unit-decisions"


@pytest.fixture
def decisions_table(table: Any) -> Iterator[str]:
    boto3.client("dynamodb").create_table(
        TableName=DECISIONS,
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield DECISIONS


@pytest.fixture(params=["memory", "dynamodb"])
def states(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryCardStates()
    request.getfixturevalue("table")
    return DynamoCardStates(boto3.client("dynamodb"), TABLE_NAME, workers=1)  # moto: one thread


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryDecisionStore()
    table = request.getfixturevalue("decisions_table")
    return DynamoDecisionStore(boto3.client("dynamodb"), table, workers=1)  # moto: one thread


def state_of(card: str, n: int) -> CardState:
    spec = features().windows
    assert spec is not None
    batch = online.apply_batch(spec, {}, [transaction(i, card=card) for i in range(n)])
    return batch.states[card]


def test_card_states_are_written_only_over_the_version_read(states: Any) -> None:
    spec = features().windows
    assert spec is not None
    # Given a card without state, written at version 0
    states.put_many(C, [StateWrite("card_a", state_of("card_a", 2), 0)])
    (stored,) = states.get_many(C, ["card_a", "card_b"], spec).values()
    assert stored.version == 1 and len(stored.state) == 2
    # When a writer that read version 0 writes again, Then it is refused (nothing changes)
    with pytest.raises(StateConflict):
        states.put_many(C, [StateWrite("card_a", state_of("card_a", 3), 0)])
    assert states.get_many(C, ["card_a"], spec)["card_a"].version == 1
    # And a writer over the current version moves it
    states.put_many(C, [StateWrite("card_a", state_of("card_a", 3), 1)])
    assert len(states.get_many(C, ["card_a"], spec)["card_a"].state) == 3


def test_many_cards_are_read_and_written_in_batches(states: Any) -> None:
    spec = features().windows
    assert spec is not None
    cards = [f"card_{i}" for i in range(250)]
    states.put_many(C, [StateWrite(c, state_of(c, 1), 0) for c in cards])
    assert set(states.get_many(C, cards, spec)) == set(cards)


def test_the_table_holds_no_card_id_in_clear(table: Any) -> None:
    DynamoCardStates(boto3.client("dynamodb"), TABLE_NAME).put_many(
        C, [StateWrite("4111-1111-1111-1111", state_of("4111-1111-1111-1111", 1), 0)]
    )
    items = boto3.client("dynamodb").scan(TableName=TABLE_NAME)["Items"]
    assert all("4111" not in str(i) for i in items)
    assert items[0]["pk"]["S"] == card_key(C, "4111-1111-1111-1111")


def test_a_decision_is_kept_once_and_the_first_api_writer_wins(store: Any) -> None:
    first = {"transaction_id": "t1", "outcome": "approve", "model_version": 1,
             "decided_at": "2026-11-26T12:00:00+00:00", "score": 0.1}  # fmt: skip
    assert store.put_new(first) is None
    assert store.put_new({**first, "score": 0.9}) == first
    store.put_many([{**first, "transaction_id": f"t{i}"} for i in range(2, 60)])
    found = store.get_many(["t1", "t30", "missing"])
    assert set(found) == {"t1", "t30"} and found["t1"]["score"] == 0.1


def test_the_scoring_checkpoint_moves_from_where_it_was_with_the_counters(table: Any) -> None:
    log = DynamoScoringLog(boto3.client("dynamodb"), TABLE_NAME)
    log.commit(C, "feed", "shard-0", None, "1", "100", {"in_records": 5, "decided": 5})
    assert log.checkpoint("feed", "shard-0") == "100"
    with pytest.raises(CommitConflict):
        log.commit(C, "feed", "shard-0", "50", "101", "200", {"in_records": 1, "decided": 1})
    log.commit(C, "feed", "shard-0", "100", "101", "200", {"in_records": 2, "parked": 2})
    assert log.covered("feed", "shard-0", "90", "150") == [(101, 200), (1, 100)]
    assert log.counts(C) == {"in_records": 7, "decided": 5, "parked": 2}
    # And a parked file's replay is counted once
    assert log.commit_once(C, "parked/x.jsonl", {"parked": -2, "decided": 2}) is True
    assert log.commit_once(C, "parked/x.jsonl", {"parked": -2, "decided": 2}) is False
    assert log.counts(C) == {"in_records": 7, "decided": 7, "parked": 0}


def test_dead_letter_runs_join_the_shard_log_one_accounting_at_a_time(table: Any) -> None:
    log = DynamoScoringLog(boto3.client("dynamodb"), TABLE_NAME)
    log.commit(C, "feed", "shard-0", None, "1", "100", {"in_records": 5, "decided": 5})
    assert log.dead_version("feed", "shard-0") == 0
    log.claim_dead(C, "feed", "shard-0", 0, [("101", "150"), ("170", "180")],
                   {"in_records": 3, "dead_lettered": 3})  # fmt: skip
    assert log.dead_version("feed", "shard-0") == 1
    # a second accounting that read the version before the first committed loses
    with pytest.raises(CommitConflict):
        log.claim_dead(C, "feed", "shard-0", 0, [("151", "160")], {"in_records": 1})
    # a run already recorded is never recorded (or counted) again
    with pytest.raises(CommitConflict):
        log.claim_dead(C, "feed", "shard-0", 1, [("170", "175")], {"in_records": 1})
    assert log.covered("feed", "shard-0", "90", "200") == [(170, 180), (101, 150), (1, 100)]
    assert log.counts(C) == {"in_records": 8, "decided": 5, "dead_lettered": 3}


def test_parked_files_are_listed_read_and_retired(table: Any) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    parked = S3ParkedStore(s3, "lake")
    parked.park(f"parked/{C}/waiting/b1.jsonl", [{"record_id": "r1", "replayable": True}])
    parked.park(f"parked/{C}/b2.jsonl", [{"record_id": "r2", "replayable": False}])
    assert parked.keys(C) == [f"parked/{C}/waiting/b1.jsonl"]
    assert parked.read(f"parked/{C}/waiting/b1.jsonl") == [{"record_id": "r1", "replayable": True}]
    parked.retire(f"parked/{C}/waiting/b1.jsonl")
    assert parked.keys(C) == []
    kept = s3.list_objects_v2(Bucket="lake", Prefix=f"parked/{C}/replayed/")["Contents"]
    assert [o["Key"] for o in kept] == [f"parked/{C}/replayed/b1.jsonl"]
