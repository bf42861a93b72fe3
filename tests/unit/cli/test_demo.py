"""The demo's own helpers: transactions sent as a producer sends them with their truth kept
aside, the ledger line of the summary, and a second run's alarms re-armed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fraudops import demo, generator
from fraudops.errors import UserError
from fraudops.paths import Layout
from fraudops_shared.monitoring.retrain import GuardState


def test_rows_are_sent_without_their_label_and_the_truth_is_kept_aside() -> None:
    table = generator.generate_transactions(
        200,
        seed=3,
        start=datetime(2026, 11, 1, tzinfo=UTC),
        days=1,
        fraud_rate=0.1,
        as_of=datetime(2027, 11, 1, tzinfo=UTC),
    )
    sent = demo._as_sent(table, "t")
    assert len(sent) == 200 and any(truth for _, truth in sent)
    for row, truth in sent:
        assert "is_fraud" not in row and "label_time" not in row
        assert row["transaction_id"].startswith("t-") and row["card_id"].startswith("t-")
        assert isinstance(row["event_time"], str) and isinstance(truth, bool)
    assert len({r["transaction_id"] for r, _ in sent}) == 200


def test_the_ledger_line_says_whether_the_counts_balance() -> None:
    line = demo._counts({"in_records": 10, "curated": 8, "quarantined": 2, "balanced": True})
    assert line == "10 = curated 8, quarantined 2 (balanced)"
    assert "NOT BALANCED" in demo._counts({"in_records": 3, "curated": 1, "balanced": False})


def test_percentiles_of_the_decision_latency() -> None:
    values = [float(v) for v in range(1, 101)]
    assert demo._pct(values, 50) in (50.0, 51.0) and demo._pct(values, 99) == 99.0


class Alarms:
    """CloudWatch's answers about one alarm, and the states set on it."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.set: list[str] = []

    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
        return {"MetricAlarms": [{"AlarmName": AlarmNames[0], "StateValue": self.state}]}

    def set_alarm_state(self, AlarmName: str, StateValue: str, StateReason: str) -> None:
        self.state = StateValue
        self.set.append(f"{AlarmName}={StateValue}")


def demo_with(monkeypatch: pytest.MonkeyPatch, cloudwatch: Alarms) -> demo.Demo:
    run = demo.Demo(Layout.from_env(port=4599), rate=10, stream_n=10)
    monkeypatch.setattr(run, "aws", lambda service: cloudwatch)
    return run


def test_an_alarm_left_in_alarm_by_an_earlier_run_is_rearmed_so_this_run_fires_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Alarms act on a change of state: one still in ALARM would start no retraining."""
    cloudwatch = Alarms("ALARM")
    run = demo_with(monkeypatch, cloudwatch)
    run.rearm("drift")
    assert cloudwatch.set == ["FraudOps-drift=OK"]
    assert run.alarms_fired == set()


def test_an_alarm_in_ok_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    cloudwatch = Alarms("OK")
    demo_with(monkeypatch, cloudwatch).rearm("drift")
    assert cloudwatch.set == []


def test_no_retraining_after_the_alarm_is_a_one_line_error_with_the_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fraudops import monitor

    run = demo_with(monkeypatch, Alarms("ALARM"))
    monkeypatch.setattr(run, "_retrain_runs", lambda: [])
    monkeypatch.setattr(demo, "RETRAIN_START_S", 0)
    monkeypatch.setattr(monitor, "retraining", lambda layout: {"paused": True, "day_count": 2})
    expected = r"no retraining started within 0 s \(retraining \(paused\)"
    with pytest.raises(UserError, match=expected):
        run.retrain(set())


def test_the_drift_waits_for_a_retraining_guard_an_earlier_retraining_left_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A retraining started moments ago (running, then in its cooldown) would refuse the one
    this run's drift asks for: the demo waits until the guard would take a start."""
    import time

    from fraudops import clients, monitor

    now = time.time()
    states = [
        GuardState(running="retrain-drift-1", last_started=now - 5),
        GuardState(last_started=now - 30),
        GuardState(last_started=now - 30),
        GuardState(last_started=now - 600),
    ]
    seen: list[GuardState] = []

    def guard(layout: Layout) -> GuardState:
        seen.append(states[min(len(seen), len(states) - 1)])
        return seen[-1]

    monkeypatch.setattr(monitor, "guard_state", guard)
    monkeypatch.setattr(clients.time, "sleep", lambda s: None)
    demo_with(monkeypatch, Alarms("OK")).guard_free()
    assert len(seen) == 4


def test_a_free_guard_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudops import monitor

    calls: list[int] = []

    def guard(layout: Layout) -> GuardState:
        calls.append(1)
        return GuardState()

    monkeypatch.setattr(monitor, "guard_state", guard)
    demo_with(monkeypatch, Alarms("OK")).guard_free()
    assert calls == [1]


def test_a_guard_that_stays_shut_is_a_one_line_error_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fraudops import clients, monitor

    monkeypatch.setattr(monitor, "guard_state", lambda layout: GuardState(paused=True))
    monkeypatch.setattr(demo, "GUARD_FREE_S", 0)
    monkeypatch.setattr(clients.time, "sleep", lambda s: None)
    with pytest.raises(UserError, match=r"the guard says paused: automatic retraining"):
        demo_with(monkeypatch, Alarms("OK")).guard_free()
