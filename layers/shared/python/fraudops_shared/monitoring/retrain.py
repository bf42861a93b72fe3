"""Alarms that retrain, loop-guarded.

The precision and drift alarms notify the alarm topic; this use case, subscribed to it, turns an
alarm's move to ALARM into a fresh snapshot and a training execution whose result goes to shadow
(``target: shadow``) with the alarm recorded in its run. Guards, held in one state-table item per
contract and changed only by conditional writes (so concurrent notifications cannot both pass):

* one retraining at a time: none starts while the guard names a running one (a run the guard
  still names but whose execution has ended, say stopped by an operator, is released first);
* a cooldown after each start, whatever became of it: a flapping alarm starts one retraining
  per cooldown, and a failed one can be retried only after it;
* a daily cap (UTC days);
* a pause switch for operators (maintenance, or tests that must not retrain).

The end of a retraining (the training pipeline's events) releases the guard; every decision,
started or refused, is returned with its reason and kept on the guard item.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

RETRAIN_ALARMS = ("precision", "drift")  # the alarm keys (infra constants) whose ALARM retrains


@dataclass(frozen=True)
class Trigger:
    alarm: str  # the alarm's key: the name after the stack's prefix
    name: str
    state: str
    at: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"alarm": self.alarm, "name": self.name, "state": self.state, "at": self.at,
                "reason": self.reason[:500]}  # fmt: skip


def parse_alarm(message: str | Mapping[str, Any]) -> Trigger | None:
    """A CloudWatch alarm notification (the SNS message body); None when it is not one."""
    try:
        doc = json.loads(message) if isinstance(message, str) else dict(message)
    except ValueError:
        return None
    name = doc.get("AlarmName") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not isinstance(doc.get("NewStateValue"), str):
        return None
    key = next((k for k in RETRAIN_ALARMS if name.endswith(f"-{k}")), name)
    return Trigger(key, name, doc["NewStateValue"], str(doc.get("StateChangeTime", "")),
                   str(doc.get("NewStateReason", "")))  # fmt: skip


@dataclass(frozen=True)
class GuardState:
    running: str | None = None
    last_started: float | None = None
    day: str | None = None
    day_count: int = 0
    paused: bool = False

    def refusal(self, now: float, cooldown: int, cap: int) -> str:
        """Why this state refuses a start now."""
        return self.blocked(now, cooldown, cap) or "refused by a concurrent start"

    def blocked(self, now: float, cooldown: int, cap: int) -> str | None:
        """Why this state would refuse a start now; None when it would take one."""
        if self.paused:
            return "paused: automatic retraining is switched off for this contract"
        if self.running:
            return f"running: {self.running} has not finished"
        if self.last_started is not None and now - self.last_started < cooldown:
            wait = cooldown - (now - self.last_started)
            return f"cooldown: the last retraining started {now - self.last_started:.0f} s ago " \
                   f"(cooldown {cooldown} s, {wait:.0f} s left)"  # fmt: skip
        if self.day == _day(now) and self.day_count >= cap:
            return f"daily cap: {self.day_count} retrainings today (cap {cap})"
        return None


class RetrainGuard(Protocol):
    def acquire(self, contract: str, run_id: str, now: float, *, cooldown: int, cap: int,
                trigger: Mapping[str, Any]) -> GuardState | None:  # fmt: skip
        """Take the guard for ``run_id`` (None) or return the state that refused it."""
        ...

    def release(self, contract: str, run_id: str, outcome: str) -> bool:
        """Free the guard if ``run_id`` holds it, keeping the outcome; False if it did not."""
        ...

    def state(self, contract: str) -> GuardState: ...

    def refused(self, contract: str, reason: str, trigger: Mapping[str, Any]) -> None:
        """Keep a refusal (counted, the last one's reason and trigger)."""
        ...


class Trainer(Protocol):
    def snapshot(self, contract: str) -> str:
        """A fresh snapshot of the contract's curated data; its id."""
        ...

    def start(self, run_id: str, request: Mapping[str, Any]) -> str:
        """Start the training state machine as ``run_id``; the execution's ARN."""
        ...

    def is_running(self, run_id: str) -> bool: ...


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def run_id_for(trigger: Trigger, now: float) -> str:
    """The execution name: the alarm and the time, within Step Functions' 80 characters."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"retrain-{trigger.alarm[:40]}-{stamp}"


def on_alarm(
    trigger: Trigger,
    contract: str,
    guard: RetrainGuard,
    trainer: Trainer,
    now: float,
    *,
    cooldown: int,
    cap: int,
    target: str = "shadow",
) -> dict[str, Any]:
    """One alarm notification: ignored, refused (with the guard's reason) or started."""
    out: dict[str, Any] = {"trigger": trigger.as_dict(), "contract": contract}
    if trigger.state != "ALARM" or trigger.alarm not in RETRAIN_ALARMS:
        return {**out, "action": "ignored", "reason": f"{trigger.name} -> {trigger.state}"}
    run_id = run_id_for(trigger, now)
    refused = guard.acquire(contract, run_id, now, cooldown=cooldown, cap=cap,
                            trigger=trigger.as_dict())  # fmt: skip
    if refused is not None and refused.running and not trainer.is_running(refused.running):
        guard.release(contract, refused.running, "ended (found finished by the next alarm)")
        refused = guard.acquire(contract, run_id, now, cooldown=cooldown, cap=cap,
                                trigger=trigger.as_dict())  # fmt: skip
    if refused is not None:
        reason = refused.refusal(now, cooldown, cap)
        guard.refused(contract, reason, trigger.as_dict())
        return {**out, "action": "refused", "reason": reason}
    try:
        snapshot_id = trainer.snapshot(contract)
        arn = trainer.start(run_id, {
            "contract": contract, "snapshot_id": snapshot_id, "config": {}, "promote": False,
            "target": target, "trigger": trigger.as_dict(),
        })  # fmt: skip
    except Exception as err:  # any failure: recorded on the guard, released, cooldown kept
        error = f"{type(err).__name__}: {err}"[:500]
        guard.release(contract, run_id, f"failed to start: {error}")
        return {**out, "action": "failed", "run_id": run_id, "reason": error}
    return {**out, "action": "started", "run_id": run_id, "execution_arn": arn,
            "snapshot_id": snapshot_id}  # fmt: skip


def on_training_event(detail: Mapping[str, Any], guard: RetrainGuard) -> dict[str, Any]:
    """The training pipeline announced a run's end: free the guard if that run held it."""
    contract, run_id = str(detail.get("contract", "")), str(detail.get("run_id", ""))
    outcome = str(detail.get("status") or detail.get("error") or "ended")
    released = bool(contract and run_id) and guard.release(contract, run_id, outcome)
    return {"contract": contract, "run_id": run_id, "released": released, "outcome": outcome}
