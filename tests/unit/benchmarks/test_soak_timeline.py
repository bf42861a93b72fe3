"""`benchmarks.soak`'s figures from made-up datapoints: the iterator age (RecordAgeMs Maximum per
60 s period) per consumer and minute beside the records sent, ingested and decided, the events
of the run, the sustained rate and the rows for bench-results.json."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from benchmarks.results import row
from benchmarks.soak import (
    Sample,
    ages_by_minute,
    rows_of,
    sustained_rate,
    timeline_rows,
    timeline_table,
)

START = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_datapoints_become_the_largest_age_of_each_minute_per_consumer() -> None:
    points = {
        "ingest_stream": [
            {"Timestamp": at(0), "Maximum": 1_200.0, "SampleCount": 4.0},
            {"Timestamp": at(1), "Maximum": 800.0, "SampleCount": 2.0},
            {"Timestamp": at(1.5), "Maximum": 950.0, "SampleCount": 1.0},  # same minute
        ],
        "score_stream": [
            {"Timestamp": at(2), "Maximum": 65_000.0, "SampleCount": 9.0},
            {"Timestamp": at(-1), "Maximum": 99.0, "SampleCount": 1.0},  # before the run
        ],
    }
    assert ages_by_minute(points, START) == {
        "ingest_stream": {0: 1_200.0, 1: 950.0},
        "score_stream": {2: 65_000.0},
    }
    assert ages_by_minute({"ingest_stream": []}, START) == {"ingest_stream": {}}


def test_one_row_a_minute_with_the_counts_of_that_minute_the_ages_and_the_events() -> None:
    ages = {"ingest_stream": {0: 1_200.0, 1: 950.0}, "score_stream": {2: 65_000.0}}
    samples = [
        Sample(at(0.2), 500, 0, 0),
        Sample(at(0.9), 4_000, 3_000, 1_000),
        Sample(at(1.5), 9_000, 8_000, 6_000),
        # none in minute 2: nothing moved
        Sample(at(3.1), 10_100, 10_100, 9_900),
    ]
    events = [(at(1.2), "fault ON in score_stream"), (at(1.3), "restart"), (at(2.5), "fault OFF")]
    rows = timeline_rows(START, at(3.5), ages, samples, events)
    assert rows == [
        ["0", "15:30", "4,000", "3,000", "1,000", "1.2 s", "-", ""],
        [
            "1",
            "15:31",
            "5,000",
            "5,000",
            "5,000",
            "0.9 s",
            "-",
            "fault ON in score_stream; restart",
        ],
        ["2", "15:32", "0", "0", "0", "-", "65.0 s", "fault OFF"],
        ["3", "15:33", "1,100", "2,100", "3,900", "-", "-", ""],
    ]
    table = timeline_table(rows)
    assert table.row_count == 4
    assert [col.header for col in table.columns] == [
        "min",
        "UTC",
        "sent",
        "ingested",
        "decided",
        "age ingest_stream",
        "age score_stream",
        "events",
    ]


def test_without_any_datapoint_the_ages_are_dashes_not_zeros() -> None:
    rows = timeline_rows(START, at(1.2), {}, [], [])
    assert [r[5:7] for r in rows] == [["-", "-"], ["-", "-"]]


def test_the_sustained_rate_is_unique_decisions_from_the_first_put_to_the_last_decision() -> None:
    assert sustained_rate(100_000, START, at(10)) == 100_000 / 600
    assert sustained_rate(0, START, at(10)) == 0.0
    assert sustained_rate(5, START, None) == 0.0


def test_the_rows_of_a_run_and_no_age_row_for_a_consumer_without_data() -> None:
    figures = {
        "transactions": 100_000,
        "sustained_rate": 166.6667,
        "send_rate": 2_345.6,
        "age_max_ms": {"ingest_stream": 1_200.0, "score_stream": None},
        "duration_s": 612.3,
    }
    assert rows_of(figures) == [
        row("soak.transactions", 100_000, "transactions"),
        row("soak.sustained_rate", 166.6667, "transactions/s"),
        row("soak.send_rate", 2_345.6, "records/s"),
        row("soak.iterator_age_max.ingest_stream", 1_200.0, "ms"),
        row("soak.duration", 612.3, "s"),
    ]
