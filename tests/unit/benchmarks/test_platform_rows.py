"""`benchmarks.platform`: the figures it collects become rows of bench-results.json, the invoke
latencies with GetFunction of the same run as their baseline; made-up figures, no LocalStack."""

from __future__ import annotations

from typing import Any

from benchmarks.platform import rows_of
from benchmarks.results import row

FIGURES: dict[str, Any] = {
    "start_s": 6.42,
    "idle_rss_mb": 310.0,
    "cold_ms": {"median": 250.0, "p95": 500.0, "n": 25},
    "warm_ms": {"median": 12.0, "p95": 20.0, "n": 50},
    "baseline_ms": {"median": 3.0, "p95": 5.0, "n": 50},
    "warm_vs_baseline": 4.0,
    "invokes_per_s": 180.5,
    "env_rss_mb": [40.0, 44.0, 42.0, 50.0],
    "busy_rss_mb": 420.0,
}


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rows}


def test_every_figure_of_a_run_becomes_one_row_in_the_unit_it_is_printed_in() -> None:
    rows = rows_of(FIGURES)
    assert [(r["name"], r["value"], r["unit"]) for r in rows] == [
        ("platform.localstack_start", 6.42, "s"),
        ("platform.localstack_idle_rss", 310.0, "MB"),
        ("platform.invoke_cold_p50", 250.0, "ms"),
        ("platform.invoke_cold_p95", 500.0, "ms"),
        ("platform.invoke_warm_p50", 12.0, "ms"),
        ("platform.invoke_warm_p95", 20.0, "ms"),
        ("platform.invokes_per_s_4_callers", 180.5, "invokes/s"),
        ("platform.env_rss_p50", 43.0, "MB"),
        ("platform.env_rss_max", 50.0, "MB"),
        ("platform.localstack_busy_rss", 420.0, "MB"),
    ]
    assert all(set(r) == {"name", "value", "unit", "baseline", "ratio"} for r in rows)


def test_invoke_latencies_have_get_function_of_the_same_run_as_baseline() -> None:
    rows = by_name(rows_of(FIGURES))
    assert rows["platform.invoke_warm_p50"] == row("platform.invoke_warm_p50", 12.0, "ms", 3.0)
    assert rows["platform.invoke_warm_p50"]["ratio"] == 0.25  # 1 / the printed warm / baseline
    assert rows["platform.invoke_warm_p95"]["baseline"] == 5.0
    assert rows["platform.invoke_cold_p50"]["baseline"] == 3.0
    assert rows["platform.invoke_cold_p95"]["ratio"] == 0.01  # 5 / 500
    others = [r for name, r in rows.items() if not name.startswith("platform.invoke_")]
    assert all(r["baseline"] is None and r["ratio"] is None for r in others)


def test_a_deploy_time_is_a_row_only_when_the_deploy_was_timed() -> None:
    assert "platform.cdk_deploy" not in by_name(rows_of(FIGURES))
    rows = by_name(rows_of({**FIGURES, "deploy_s": 95.25}))
    assert rows["platform.cdk_deploy"] == row("platform.cdk_deploy", 95.25, "s")


def test_a_figure_that_could_not_be_read_has_no_row() -> None:
    unread = {**FIGURES, "idle_rss_mb": None, "busy_rss_mb": None, "env_rss_mb": []}
    names = set(by_name(rows_of(unread)))
    assert not names & {
        "platform.localstack_idle_rss",
        "platform.localstack_busy_rss",
        "platform.env_rss_p50",
        "platform.env_rss_max",
    }
    assert "platform.invoke_warm_p50" in names


def test_a_run_that_collected_nothing_gives_no_rows() -> None:
    assert rows_of({}) == []
