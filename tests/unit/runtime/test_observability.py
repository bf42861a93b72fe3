"""The metrics the simple alarms read, as the functions publish them (EMF on stdout): the
rejected share of each file or batch, and how old a stream consumer's batch is on arrival,
published before fault injection so a failing batch still says how far behind it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudops_shared.runtime.faults import FAULT_ENV, InjectedFault
from fraudops_shared.runtime.observability import emit_ingest_metrics, metrics, stream_consumer

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def values(out: str, name: str) -> list[float]:
    found = []
    for doc in documents(out):
        if name in doc:
            v = doc[name]
            found.extend(v if isinstance(v, list) else [v])
    return found


def test_a_file_publishes_its_rejected_share_in_percent(capsys: pytest.CaptureFixture[str]) -> None:
    emit_ingest_metrics("transactions", rows_in=40, valid=30, rejected=10, rule_counts={},
                        max_event_time=None, now=NOW)  # fmt: skip
    assert values(capsys.readouterr().out, "RejectedPercent") == [25.0]


def test_an_empty_file_publishes_no_share(capsys: pytest.CaptureFixture[str]) -> None:
    # no records is not 0 % rejected: nothing is published, the alarm reads missing data
    emit_ingest_metrics("transactions", rows_in=0, valid=0, rejected=0, rule_counts={},
                        max_event_time=None, now=NOW)  # fmt: skip
    out = capsys.readouterr().out
    assert values(out, "RejectedPercent") == [] and values(out, "RecordsIn") == [0]


def kinesis_event(*arrivals: datetime) -> dict[str, Any]:
    return {"Records": [{"kinesis": {"approximateArrivalTimestamp": a.timestamp()}}
                        for a in arrivals]}  # fmt: skip


def test_a_consumer_publishes_its_oldest_records_age_then_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FAULT_ENV, raising=False)
    now = datetime.now(UTC)
    seen = []

    @metrics.log_metrics(raise_on_empty_metrics=False)
    @stream_consumer("ingest_stream")
    def handler(event: dict[str, Any], context: Any) -> str:
        seen.append(len(event["Records"]))
        return "done"

    event = kinesis_event(now - timedelta(seconds=5), now - timedelta(seconds=95))
    assert handler(event, None) == "done" and seen == [2]
    [age] = values(capsys.readouterr().out, "RecordAgeMs")
    assert 95_000 <= age < 95_000 + 30_000  # the older record's age, not the newer's


def test_a_faulty_consumer_still_publishes_the_age_of_the_batch_it_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "score_stream")

    @metrics.log_metrics(raise_on_empty_metrics=False)
    @stream_consumer("score_stream")
    def handler(event: dict[str, Any], context: Any) -> str:
        raise AssertionError("never reached")

    with pytest.raises(InjectedFault):
        handler(kinesis_event(datetime.now(UTC) - timedelta(seconds=40)), None)
    [age] = values(capsys.readouterr().out, "RecordAgeMs")
    assert age >= 40_000


def test_an_event_without_kinesis_records_publishes_no_age(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a promotion event (no Records) reaches the scorer too: no age, no crash
    monkeypatch.delenv(FAULT_ENV, raising=False)

    @metrics.log_metrics(raise_on_empty_metrics=False)
    @stream_consumer("score_stream")
    def handler(event: dict[str, Any], context: Any) -> str:
        return "replayed"

    assert handler({"detail-type": "Model Promoted"}, None) == "replayed"
    assert values(capsys.readouterr().out, "RecordAgeMs") == []
