"""The retraining guard on DynamoDB (moto): its conditional writes are the guards themselves:
one at a time, a cooldown, a daily cap, a pause; a release frees only the run that holds it."""

from __future__ import annotations

from typing import Any

import boto3

from fraudops_shared.aws.retrain import DynamoRetrainGuard
from tests.unit.conftest import TABLE_NAME

DAY = 1_796_000_000.0  # a UTC day's middle, far from midnight
TRIGGER = {"alarm": "precision"}


def guard(table: Any) -> DynamoRetrainGuard:
    return DynamoRetrainGuard(boto3.client("dynamodb"), TABLE_NAME)


def take(g: DynamoRetrainGuard, run: str, now: float, cooldown: int = 60, cap: int = 3) -> Any:
    return g.acquire("transactions", run, now, cooldown=cooldown, cap=cap, trigger=TRIGGER)


def test_the_first_alarm_takes_the_guard_and_a_second_is_refused_while_it_runs(table: Any) -> None:
    g = guard(table)
    assert take(g, "r1", DAY) is None
    refused = take(g, "r2", DAY + 1000)
    assert refused is not None and refused.running == "r1"
    assert refused.refusal(DAY + 1000, 60, 3).startswith("running: r1")
    assert g.item("transactions")["last_trigger"] == TRIGGER


def test_after_release_the_cooldown_still_refuses_then_lets_one_through(table: Any) -> None:
    g = guard(table)
    assert take(g, "r1", DAY) is None
    assert g.release("transactions", "r1", "registered") is True
    refused = take(g, "r2", DAY + 30)
    assert refused is not None and refused.refusal(DAY + 30, 60, 3).startswith("cooldown")
    assert take(g, "r2", DAY + 61) is None


def test_a_release_by_a_run_that_does_not_hold_the_guard_changes_nothing(table: Any) -> None:
    g = guard(table)
    assert take(g, "r1", DAY) is None
    assert g.release("transactions", "other", "registered") is False
    assert g.state("transactions").running == "r1"


def test_the_daily_cap_refuses_until_the_next_utc_day(table: Any) -> None:
    g = guard(table)
    for i in range(3):
        assert take(g, f"r{i}", DAY + i * 100, cooldown=10) is None
        g.release("transactions", f"r{i}", "done")
    refused = take(g, "r9", DAY + 400, cooldown=10)
    assert refused is not None and refused.refusal(DAY + 400, 10, 3).startswith("daily cap")
    assert take(g, "r10", DAY + 86_400, cooldown=10) is None
    assert g.state("transactions").day_count == 1


def test_a_paused_guard_refuses_everything_until_resumed(table: Any) -> None:
    g = guard(table)
    g.set_paused("transactions", True)
    refused = take(g, "r1", DAY)
    assert refused is not None and refused.refusal(DAY, 60, 3).startswith("paused")
    g.set_paused("transactions", False)
    assert take(g, "r1", DAY) is None


def test_refusals_are_counted_with_the_last_reason(table: Any) -> None:
    g = guard(table)
    g.refused("transactions", "cooldown: ...", TRIGGER)
    g.refused("transactions", "running: r1 has not finished", TRIGGER)
    item = g.item("transactions")
    assert item["refusals"] == 2
    assert item["last_refusal"] == {"reason": "running: r1 has not finished", "trigger": TRIGGER}
