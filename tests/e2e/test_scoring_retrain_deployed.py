"""Alarms that retrain, on the deployed stack: the precision alarm flapping (its state set by
SetAlarmState, whose SNS actions LocalStack runs as AWS does) starts exactly one training
execution per cooldown, with a fresh snapshot, its result bound for shadow and the alarm
recorded in its input; a retraining that ended without an event (stopped by an operator) is
released by the next alarm after the cooldown; paused, nothing starts. Alarm -> execution
started is measured.

Runs after the quality tests (file order); it resumes retraining for itself and pauses it again
so later modules train only what they ask for."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fraudops import monitor
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.registry.models import ModelRegistry
from infra import constants as c


@pytest.fixture(scope="module", autouse=True)
def resumed(ls_layout: Layout, aws: Any, outputs: dict[str, str]) -> Iterator[None]:
    """Retraining on for this module only; at its end, paused again and every retraining it
    started stopped, whatever happened, so later modules train only what they ask for."""
    monitor.set_paused(ls_layout, False)
    yield
    monitor.set_paused(ls_layout, True)
    stop_all(aws, retrain_runs(aws, outputs))


def alarm_name(aws: Any, key: str) -> str:
    names = [
        a["AlarmName"]
        for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=c.STACK_NAME)["MetricAlarms"]
    ]
    (name,) = [n for n in names if n.endswith(f"-{key}")]
    return name


def set_state(aws: Any, name: str, state: str) -> None:
    aws("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue=state, StateReason=f"end-to-end test: {state}"
    )


def retrain_runs(aws: Any, outputs: dict[str, str]) -> list[dict[str, Any]]:
    found = aws("stepfunctions").list_executions(
        stateMachineArn=outputs["TrainingStateMachineArn"], maxResults=100
    )["executions"]
    return [e for e in found if e["name"].startswith("retrain-")]


def started_by(aws: Any, outputs: dict[str, str], name: str) -> tuple[list[dict], float]:
    """Move alarm ``name`` OK -> ALARM; the retraining executions that appear (and seconds)."""
    before = {r["executionArn"] for r in retrain_runs(aws, outputs)}
    started = time.monotonic()
    set_state(aws, name, "OK")
    set_state(aws, name, "ALARM")
    new = poll(
        lambda: [r for r in retrain_runs(aws, outputs) if r["executionArn"] not in before],
        timeout=120, interval=1, what="a retraining execution",
    )  # fmt: skip
    assert isinstance(new, list)
    return new, time.monotonic() - started


def stop_all(aws: Any, runs: list[dict[str, Any]]) -> None:
    for run in runs:
        if run["status"] == "RUNNING":
            aws("stepfunctions").stop_execution(executionArn=run["executionArn"], cause="test")


def refusals(layout: Layout) -> int:
    return int(monitor.retraining(layout).get("refusals") or 0)


def wait_refused(layout: Layout, at_least: int) -> dict[str, Any]:
    """Until the guard has counted ``at_least`` refusals: every ALARM notification handled."""
    found = poll(
        lambda: (g := monitor.retraining(layout)).get("refusals", 0) >= at_least and g,
        timeout=120, interval=2, what=f"{at_least} refusals on the guard",
    )  # fmt: skip
    assert isinstance(found, dict)
    return found


def test_a_flapping_alarm_starts_one_retraining_per_cooldown(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    name = alarm_name(aws, c.ALARM_PRECISION)
    before = {r["executionArn"] for r in retrain_runs(aws, outputs)}
    refused = refusals(ls_layout)
    new, latency = started_by(aws, outputs, name)
    print(f"alarm -> training execution started: {latency:.1f} s")
    assert latency <= 60
    for state in ("OK", "ALARM", "OK", "ALARM", "OK", "ALARM"):  # flapping within the cooldown
        set_state(aws, name, state)
    guard = wait_refused(ls_layout, refused + 3)  # the three later ALARMs, each refused
    assert guard["last_refusal"]["reason"].startswith("running")
    runs = [r for r in retrain_runs(aws, outputs) if r["executionArn"] not in before]
    assert len(runs) == 1, runs
    (run,) = new
    # (the refusals' "running" reason shows it ran through the flapping; a short retraining may
    # have ended since, which releases the guard: `running` is then "-")
    assert guard["last_run_id"] == run["name"] and guard["running"] in (run["name"], "-")
    assert guard["last_trigger"]["alarm"] == c.ALARM_PRECISION
    request = json.loads(
        aws("stepfunctions").describe_execution(executionArn=run["executionArn"])["input"]
    )
    assert request["target"] == "shadow" and request["promote"] is False
    assert request["trigger"]["alarm"] == c.ALARM_PRECISION
    assert request["trigger"]["state"] == "ALARM"
    assert request["snapshot_id"].startswith(c.STREAM_CONTRACT)


def test_the_other_retraining_alarm_shares_the_guard_and_starts_nothing_more(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    name = alarm_name(aws, c.ALARM_DRIFT)
    count, refused = len(retrain_runs(aws, outputs)), refusals(ls_layout)
    for state in ("ALARM", "OK", "ALARM"):
        set_state(aws, name, state)
    guard = wait_refused(ls_layout, refused + 2)
    assert guard["last_refusal"]["trigger"]["alarm"] == c.ALARM_DRIFT
    assert len(retrain_runs(aws, outputs)) == count


def test_a_finished_or_stopped_retraining_releases_the_guard_for_the_next_alarm(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    # Given the first retraining ended one way or another: stopped by an operator (no event:
    # the next alarm finds it finished), or failed or registered on its own (its end event
    # released the guard, and a failure is recorded with the alarm that started it)
    first = monitor.retraining(ls_layout)["last_run_id"]
    stop_all(aws, retrain_runs(aws, outputs))
    guard = monitor.retraining(ls_layout)
    ready = guard["last_started"] + c.RETRAIN_COOLDOWN_LOCAL_SECONDS + 1
    poll(lambda: time.time() >= ready, timeout=c.RETRAIN_COOLDOWN_LOCAL_SECONDS + 10,
         interval=2, what="the end of the cooldown")  # fmt: skip
    # When the drift alarm fires after the cooldown, Then exactly one new retraining starts
    new, _ = started_by(aws, outputs, alarm_name(aws, c.ALARM_DRIFT))
    assert len(new) == 1
    after = monitor.retraining(ls_layout)
    assert after["last_trigger"]["alarm"] == c.ALARM_DRIFT
    assert after["last_run_id"] == new[0]["name"] != first
    # And the first run is over, and its end was kept (found finished by this alarm, or its own
    # end event) unless the new run, quick to fail on this stack's data, ended already too
    sfn = aws("stepfunctions")
    arn = outputs["TrainingStateMachineArn"].replace(":stateMachine:", ":execution:")
    assert sfn.describe_execution(executionArn=f"{arn}:{first}")["status"] != "RUNNING"
    outcome = str(after.get("last_outcome", ""))
    assert outcome.startswith((f"{first}: ", f"{new[0]['name']}: ")), after
    run = ModelRegistry(DynamoRegistryStore(aws("dynamodb"), outputs["StateTableName"])).get_run(
        c.STREAM_CONTRACT, first
    )
    if run is not None:  # it ended on its own before the stop: recorded with its trigger
        assert run["trigger"]["alarm"] == c.ALARM_PRECISION
    stop_all(aws, retrain_runs(aws, outputs))


def test_paused_retraining_starts_nothing(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    guard = monitor.set_paused(ls_layout, True)
    assert guard["paused"] is True
    count, refused = len(retrain_runs(aws, outputs)), refusals(ls_layout)
    name = alarm_name(aws, c.ALARM_PRECISION)
    set_state(aws, name, "OK")
    set_state(aws, name, "ALARM")
    guard = wait_refused(ls_layout, refused + 1)
    assert guard["last_refusal"]["reason"].startswith("paused")
    assert len(retrain_runs(aws, outputs)) == count
