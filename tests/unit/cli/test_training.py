"""The `fraudops train` / `fraudops models` helpers that need no AWS: version references, run
names, the progress display and the one-line summary."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from fraudops import training


@pytest.mark.parametrize("ref", ["3", "v3", "transactions-v3", " v3 "])
def test_a_version_can_be_named_three_ways(ref: str) -> None:
    assert training.parse_version(ref, "transactions") == 3


@pytest.mark.parametrize("ref", ["", "latest", "creditcard_benchmark-v3", "v3.1", "-3"])
def test_anything_else_is_refused_with_the_accepted_forms(ref: str) -> None:
    with pytest.raises(training.TrainingCliError, match="use 3, v3 or transactions-v3"):
        training.parse_version(ref, "transactions")


def test_execution_names_sort_by_time_and_are_valid_for_step_functions() -> None:
    # Given two runs a second apart
    t0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    first = training.execution_name("transactions", t0)
    second = training.execution_name("transactions", t0 + timedelta(seconds=1))
    # Then the names sort by time, differ, and use only what execution names allow
    assert first < second
    assert first.startswith("transactions-20261127T100000Z-")
    for name in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
    assert training.execution_name("transactions", t0) != first  # random suffix


def test_progress_shows_states_entered_and_left_and_failures() -> None:
    # Given an execution history as Step Functions returns it
    t0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    events = [
        {"type": "ExecutionStarted", "timestamp": t0},
        {
            "type": "TaskStateEntered",
            "timestamp": t0 + timedelta(seconds=0.5),
            "stateEnteredEventDetails": {"name": "Prepare"},
        },
        {
            "type": "TaskFailed",
            "timestamp": t0 + timedelta(seconds=2),
            "taskFailedEventDetails": {"error": "TrainingDataError"},
        },
        {
            "type": "TaskStateExited",
            "timestamp": t0 + timedelta(seconds=2.1),
            "stateExitedEventDetails": {"name": "Prepare"},
        },
    ]
    # When it is rendered
    lines = training.progress_lines(events, t0)
    # Then one line per state change, with the time since the start
    assert lines == [
        "    0.5s  > Prepare",
        "    2.0s  ! TrainingDataError",
        "    2.1s  < Prepare",
    ]


def test_summary_line_of_a_rejection_and_of_a_failure() -> None:
    rejected = {
        "execution_status": "SUCCEEDED",
        "model_id": "transactions-v2",
        "status": "rejected",
        "candidate": "hgb",
        "seconds": 7.5,
        "metrics": {"auprc": 0.75, "roc_auc": 0.94, "threshold": 0.97},
        "gate": {"passed": False, "reasons": ["auprc 0.7500 does not beat the champion's"]},
    }
    assert training.summary_line(rejected) == (
        "transactions-v2 rejected (hgb, 7.5 s): AUPRC 0.7500, ROC-AUC 0.9400, threshold 0.9700; "
        "auprc 0.7500 does not beat the champion's"
    )
    failed = {
        "execution_status": "FAILED",
        "seconds": 1.0,
        "error": "TrainingDataError",
        "reason": "NO_POSITIVES: no positive label",
    }
    assert training.summary_line(failed) == (
        "training FAILED after 1.0 s: TrainingDataError: NO_POSITIVES: no positive label"
    )
