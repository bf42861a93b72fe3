"""Alarms that retrain (fraudops_shared.monitoring.retrain) with an in-memory guard: only the
precision and drift alarms' ALARM starts a run, a flapping alarm starts one per cooldown, a run
that ended unseen is released by the next alarm, and a failure to start releases the guard."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from fraudops_shared.monitoring.retrain import (
    GuardState,
    Trigger,
    on_alarm,
    on_training_event,
    parse_alarm,
)

DAY = 1_796_000_000.0


class Guard:
    """The DynamoDB guard's rules, in memory (its conditions are tested against moto)."""

    def __init__(self) -> None:
        self.s = GuardState()
        self.outcomes: list[str] = []
        self.refusals: list[str] = []

    def acquire(
        self,
        contract: str,
        run_id: str,
        now: float,
        *,
        cooldown: int,
        cap: int,
        trigger: Mapping[str, Any],
    ) -> GuardState | None:
        s = self.s
        count = s.day_count if s.day == "d" else 0
        cooling = s.last_started is not None and now - s.last_started < cooldown
        if s.paused or s.running or cooling or count >= cap:
            return s
        self.s = GuardState(run_id, now, "d", count + 1)
        return None

    def release(self, contract: str, run_id: str, outcome: str) -> bool:
        if self.s.running != run_id:
            return False
        self.s = GuardState(None, self.s.last_started, self.s.day, self.s.day_count)
        self.outcomes.append(outcome)
        return True

    def state(self, contract: str) -> GuardState:
        return self.s

    def refused(self, contract: str, reason: str, trigger: Mapping[str, Any]) -> None:
        self.refusals.append(reason)


class Trainer:
    def __init__(self, fail: bool = False) -> None:
        self.started: list[tuple[str, Mapping[str, Any]]] = []
        self.fail, self.running = fail, True

    def snapshot(self, contract: str) -> str:
        if self.fail:
            raise RuntimeError("committed manifest x is not in the lake")
        return f"{contract}-snap"

    def start(self, run_id: str, request: Mapping[str, Any]) -> str:
        self.started.append((run_id, request))
        return f"arn:exec:{run_id}"

    def is_running(self, run_id: str) -> bool:
        return self.running


def alarm(key: str = "precision", state: str = "ALARM") -> Trigger:
    message = json.dumps(
        {
            "AlarmName": f"FraudOps-{key}",
            "NewStateValue": state,
            "StateChangeTime": "2026-12-02T10:00:00Z",
            "NewStateReason": "x",
        }
    )
    trigger = parse_alarm(message)
    assert trigger is not None
    return trigger


def handle(t: Trigger, guard: Guard, trainer: Trainer, now: float) -> dict[str, Any]:
    return on_alarm(t, "transactions", guard, trainer, now, cooldown=90, cap=20)


def test_an_alarm_starts_a_snapshot_and_a_training_run_to_shadow_with_the_trigger() -> None:
    guard, trainer = Guard(), Trainer()
    out = handle(alarm("drift"), guard, trainer, DAY)
    assert out["action"] == "started" and out["snapshot_id"] == "transactions-snap"
    ((run_id, request),) = trainer.started
    assert run_id.startswith("retrain-drift-") and len(run_id) <= 80
    assert request["target"] == "shadow" and request["promote"] is False
    assert request["trigger"]["alarm"] == "drift" and request["snapshot_id"] == "transactions-snap"


@pytest.mark.parametrize("key,state", [("precision", "OK"), ("freshness-lag", "ALARM")])
def test_other_alarms_and_other_states_are_ignored(key: str, state: str) -> None:
    trainer = Trainer()
    assert handle(alarm(key, state), Guard(), trainer, DAY)["action"] == "ignored"
    assert trainer.started == []


def test_a_flapping_alarm_starts_one_retraining_per_cooldown() -> None:
    guard, trainer = Guard(), Trainer()
    actions = []
    for i in range(6):  # ALARM every 15 s for 75 s, the run finishing after 20 s
        if i == 2:
            on_training_event(
                {"contract": "transactions", "run_id": trainer.started[0][0], "status": "shadow"},
                guard,
            )
        actions.append(handle(alarm(), guard, trainer, DAY + 15 * i))
    assert [a["action"] for a in actions] == ["started"] + ["refused"] * 5
    assert len(guard.refusals) == 5
    assert actions[1]["reason"].startswith("running") and actions[2]["reason"].startswith("cool")
    assert handle(alarm(), guard, trainer, DAY + 91)["action"] == "started"
    assert len(trainer.started) == 2


def test_a_run_that_ended_unseen_is_released_by_the_next_alarm_after_the_cooldown() -> None:
    guard, trainer = Guard(), Trainer()
    handle(alarm(), guard, trainer, DAY)
    trainer.running = False  # stopped by an operator: no end event
    assert handle(alarm(), guard, trainer, DAY + 10)["action"] == "refused"  # cooldown
    assert handle(alarm(), guard, trainer, DAY + 100)["action"] == "started"
    assert guard.outcomes == ["ended (found finished by the next alarm)"]  # once


def test_a_failure_to_start_is_recorded_and_releases_the_guard_keeping_the_cooldown() -> None:
    guard = Guard()
    out = handle(alarm(), guard, Trainer(fail=True), DAY)
    assert out["action"] == "failed" and "not in the lake" in out["reason"]
    assert guard.s.running is None and guard.outcomes[0].startswith("failed to start")
    assert handle(alarm(), guard, Trainer(), DAY + 30)["reason"].startswith("cooldown")
    assert handle(alarm(), guard, Trainer(), DAY + 91)["action"] == "started"


def test_messages_that_are_not_alarm_notifications_are_not_triggers() -> None:
    assert parse_alarm("not json") is None
    assert parse_alarm(json.dumps({"hello": 1})) is None
    assert parse_alarm({"AlarmName": "FraudOps-drift", "NewStateValue": "ALARM"}) is not None
