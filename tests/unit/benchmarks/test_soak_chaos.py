"""`benchmarks.soak`'s fault schedule: the scorer's fault on at its share of records sent and
off after its seconds, the ingestion function's environments restarted at theirs, each change
on a worker thread the producer does not wait for; a fault still on when the run ends is
switched off. `fraudops.faults` replaced by a recorder; no LocalStack."""

from __future__ import annotations

from concurrent.futures import wait
from typing import Any

import pytest

from benchmarks.soak import Chaos
from fraudops import faults
from infra import constants as c


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail_next = False

    def set_fault(self, layout: Any, function: str, on: bool, **_: Any) -> dict[str, Any]:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("update refused")
        self.calls.append(("fault", function, "on" if on else "off"))
        return {"function": function, "fault": "score_stream" if on else None, "changed": True}

    def restart_environments(self, layout: Any, function: str, **_: Any) -> dict[str, Any]:
        self.calls.append(("restart", function))
        return {"function": function, "restarted_at": "2026-12-02T15:40:00.000+00:00"}


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(faults, "set_fault", rec.set_fault)
    monkeypatch.setattr(faults, "restart_environments", rec.restart_environments)
    return rec


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def chaos(clock: Clock, said: list[str], **kw: Any) -> Chaos:
    settings = {"fault_at": 0.4, "fault_seconds": 60.0, "restart_at": 0.7, **kw}
    return Chaos(None, {}, say=said.append, clock=clock, **settings)


def settle(ch: Chaos) -> None:
    wait(ch.pending)


def test_the_fault_and_the_restart_happen_at_their_share_and_the_fault_ends_after_its_time(
    recorder: Recorder,
) -> None:
    clock, said = Clock(), list[str]()
    ch = chaos(clock, said)
    ch.step(0.39, 0.39)
    settle(ch)
    assert recorder.calls == [] and not ch.busy
    ch.step(0.41, 0.41)
    settle(ch)
    assert recorder.calls == [("fault", c.OUT_SCORE_STREAM_FN, "on")] and ch.busy
    clock.now = 59.0
    ch.step(0.71, 0.71)
    settle(ch)
    assert recorder.calls[1:] == [("restart", c.OUT_INGEST_STREAM_FN)] and ch.busy
    clock.now = 60.0
    ch.step(0.9, 0.9)
    settle(ch)
    assert recorder.calls[2:] == [("fault", c.OUT_SCORE_STREAM_FN, "off")]
    ch.step(1.0, 1.0)
    assert not ch.busy
    ch.close()
    assert len(recorder.calls) == 3  # each change once
    notes = [what for _, what in ch.events]
    assert (
        notes[1] == "fault ON in score_stream for 60 s" and notes[-1] == "fault OFF in score_stream"
    )
    assert ch.restart_time is not None and ch.restart_time.minute == 40
    assert len(said) == len(ch.events) == 5


def test_the_fault_waits_for_scoring_whatever_was_sent(recorder: Recorder) -> None:
    ch = chaos(Clock(), [])
    ch.step(0.1, 1.0)  # every record sent, a tenth scored: the restart, not yet the fault
    settle(ch)
    assert recorder.calls == [("restart", c.OUT_INGEST_STREAM_FN)]
    ch.step(0.4, 1.0)
    settle(ch)
    assert recorder.calls[1:] == [("fault", c.OUT_SCORE_STREAM_FN, "on")]
    ch.close()


def test_a_fault_still_on_when_the_run_ends_is_switched_off(recorder: Recorder) -> None:
    ch = chaos(Clock(), [])
    ch.step(0.5, 0.5)
    ch.close()
    assert [call[-1] for call in recorder.calls if call[0] == "fault"] == ["on", "off"]
    assert ch.fault == "done"


def test_no_faults_at_all_when_switched_off(recorder: Recorder) -> None:
    ch = chaos(Clock(), [], fault_at=0.0, restart_at=0.0)
    ch.step(1.0, 1.0)
    ch.close()
    assert recorder.calls == [] and not ch.busy


def test_a_change_that_failed_is_raised_in_the_run_and_the_fault_is_still_cleared(
    recorder: Recorder,
) -> None:
    said: list[str] = []
    ch = chaos(Clock(), said)
    recorder.fail_next = True
    ch.step(0.5, 0.5)
    settle(ch)
    with pytest.raises(RuntimeError, match="update refused"):
        ch.step(0.6, 0.6)
    ch.close()  # the switch failed half-way: switched off to be sure
    assert recorder.calls == [("fault", c.OUT_SCORE_STREAM_FN, "off")]
