"""The synchronous scoring API (fraudops_shared.scoring.api): a decision in one call on the
stream's code path; 400 with the contract's rule ids for bad input, never a 500; one decision and
one state move per transaction however many times it is sent."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from fraudops_shared.scoring.api import MAX_BODY_BYTES
from tests.unit.scoring.champions import transaction
from tests.unit.scoring.world import World


@pytest.fixture
def world() -> World:
    w = World()
    w.champion(1)
    return w


def body(row: dict) -> bytes:
    return json.dumps(row).encode()


def test_a_transaction_is_decided_recorded_published_and_ingested(world: World) -> None:
    answer = world.api().score(body(transaction(1)))
    assert answer.status == 200 and answer.body["duplicate"] is False
    decision = answer.body["decision"]
    assert decision["source"] == "api" and decision["transaction_id"] == "t-00001"
    assert world.decisions.items["t-00001"] == decision
    assert [r["transaction_id"] for r in world.sink.items] == ["t-00001"]
    assert [r["transaction_id"] for r in world.transactions.items] == ["t-00001"]
    assert len(world.card("card_a")) == 1


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b"{not json", "malformed_json"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),
        (b'{"transaction_id": "\\ud800"}', "encoding"),
        (json.dumps(transaction(1, amount=-5)).encode(), "range:amount"),
        (json.dumps(transaction(1, amount=float("nan"))).encode(), "type:amount"),
        (json.dumps(transaction(1, amount=float("inf"))).encode(), "type:amount"),
        (
            json.dumps({k: v for k, v in transaction(1).items() if k != "card_id"}).encode(),
            "not_null:card_id",
        ),
        (json.dumps(transaction(1, event_time="2026-11-26T10:00:00")).encode(), "type:event_time"),
    ],
)
def test_bad_input_is_a_400_with_the_contracts_rule(world: World, raw: bytes, rule: str) -> None:
    answer = world.api().score(raw)
    assert answer.status == 400, answer.body
    error = answer.body["error"]
    assert error["code"] == "invalid_transaction" and error["reasons"]
    assert any(r.split(":")[0] == rule.split(":")[0] for r in error["rules"]), error["rules"]
    assert world.decisions.items == {}


def test_a_future_time_is_refused(world: World) -> None:
    future = world.now + timedelta(hours=2)
    answer = world.api().score(body(transaction(1, at=future)))
    assert answer.status == 400 and any("fresh" in r or "future" in r
                                         for r in answer.body["error"]["rules"])  # fmt: skip


def test_an_oversized_body_is_a_413(world: World) -> None:
    assert world.api().score(b" " * (MAX_BODY_BYTES + 1)).status == 413


def test_without_a_champion_the_answer_is_503() -> None:
    answer = World().api().score(body(transaction(1)))
    assert answer.status == 503 and answer.body["error"]["code"] == "no_champion"


def test_a_champion_promoted_just_after_a_503_is_served_at_the_next_call() -> None:
    world = World()
    api = world.api()
    assert api.score(body(transaction(1))).status == 503
    world.champion(1)
    world.clock.t -= 60  # inside the refresh bound of the 503 call
    assert api.score(body(transaction(1))).status == 200


def test_a_champion_that_cannot_be_read_just_now_is_a_503_to_retry_not_no_champion() -> None:
    world = World()
    world.champion(1)
    world.registry.unreachable = {1}
    answer = world.api().score(body(transaction(1)))
    assert answer.status == 503 and answer.body["error"]["code"] == "model_unavailable"
    assert "retry" in answer.body["error"]["message"] and world.decisions.items == {}


def test_an_unknown_card_is_scored_as_first_seen(world: World) -> None:
    answer = world.api().score(body(transaction(1, card="never-seen")))
    names = world.features.names
    features = dict(zip(names, answer.body["decision"]["features"], strict=True))
    assert features["card_count_1h"] == 0 and features["card_new_merchant"] == 1


def test_the_same_transaction_50_times_at_once_is_one_decision_and_one_state_move(
    world: World,
) -> None:
    api = world.api()
    answers = []
    lock = threading.Lock()

    def send() -> None:
        a = api.score(body(transaction(9)))
        with lock:
            answers.append(a)

    threads = [threading.Thread(target=send) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status for a in answers] == [200] * 50
    assert len({json.dumps(a.body["decision"], sort_keys=True) for a in answers}) == 1
    assert sum(not a.body["duplicate"] for a in answers) == 1
    assert len(world.card("card_a")) == 1 and len(world.decisions.items) == 1


def test_500_transactions_of_one_card_in_a_minute_lose_no_state_update(world: World) -> None:
    api = world.api()
    start = world.now - timedelta(minutes=1)
    for i in range(500):
        at = start + timedelta(milliseconds=100 * i)
        assert api.score(body(transaction(i, at=at))).status == 200
    assert len(world.card("card_a")) == 500
    last = world.decisions.items["t-00499"]
    features = dict(zip(world.features.names, last["features"], strict=True))
    assert features["card_count_10m"] == 499
