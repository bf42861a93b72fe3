"""The quality watch (fraudops_shared.monitoring.quality_watch) over in-memory zones: the
champion and the shadow are judged on their own decisions, the windows cut by decision time,
the floor comes from the champion's holdout precision, and the EMF it publishes carries exactly
the figures the labels support."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudops_shared.monitoring.quality_watch import QualityReport, precision_floor, watch
from fraudops_shared.runtime.observability import emit_quality_metrics

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
WINDOWS = {"hourly": 3600, "daily": 86_400}
CHAMPION = {"model_id": "transactions-v2", "version": 2, "metrics": {"precision": 0.9}}
SHADOW = {"model_id": "transactions-v3", "version": 3, "metrics": {"precision": 0.5}}


class Registry:
    def __init__(self, shadow: bool = True, champion: bool = True) -> None:
        self.records = {2: CHAMPION, 3: SHADOW}
        self.shadow, self.champion = shadow, champion

    def pointer(self, contract: str) -> Mapping[str, Any] | None:
        if not self.champion:
            return None
        return {"version": 2, **({"shadow": 3} if self.shadow else {})}

    def version(self, contract: str, version: int) -> Mapping[str, Any] | None:
        return self.records.get(version)

    def artifact(self, ref: Mapping[str, Any]) -> bytes:
        raise AssertionError("the quality watch needs no model artifact")


class Zone:
    """Decisions as rows; ``between`` filters by decision time and selects the columns."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def between(
        self, start: datetime, end: datetime, columns: Sequence[str]
    ) -> Iterator[Mapping[str, Sequence[Any]]]:
        rows = [r for r in self.rows if start <= r["decided_at"] < end]
        yield {c: [r.get(c) for r in rows] for c in columns}


class Labels:
    def __init__(self, rows: list[tuple[str, str, bool]]) -> None:
        self.rows = rows

    def since(self, start: datetime) -> Iterator[Mapping[str, Sequence[Any]]]:
        yield {
            "label_id": [f"l-{i}" for i, _ in enumerate(self.rows)],
            "transaction_id": [r[0] for r in self.rows],
            "is_fraud": [r[2] for r in self.rows],
            "label_time": [NOW - timedelta(minutes=1)] * len(self.rows),
            "source": [r[1] for r in self.rows],
        }


class Published:
    def __init__(self) -> None:
        self.reports: list[QualityReport] = []

    def publish(self, contract: str, report: QualityReport) -> None:
        self.reports.append(report)


def decision(txn: str, minutes_ago: float, score: float, shadow_score: float | None) -> dict:
    return {
        "transaction_id": txn,
        "decided_at": NOW - timedelta(minutes=minutes_ago),
        "model_id": CHAMPION["model_id"],
        "score": score,
        "outcome": "review" if score >= 0.5 else "approve",
        "shadow_model_id": SHADOW["model_id"] if shadow_score is not None else None,
        "shadow_score": shadow_score,
        "shadow_outcome": None
        if shadow_score is None
        else ("review" if shadow_score >= 0.5 else "approve"),
    }


def run(rows: list[dict], labels: list[tuple[str, str, bool]], **kw: Any) -> QualityReport:
    published = Published()
    report = watch(
        "transactions",
        kw.pop("registry", Registry()),
        Zone(rows),
        Labels(labels),
        published,
        NOW,
        windows=WINDOWS,
        min_alerts=kw.pop("min_alerts", 2),
        margin=0.1,
        horizon_days=35,
        **kw,
    )
    assert published.reports == [report]
    return report


def one(doc: Mapping[str, Any], name: str) -> Any:
    """An EMF value (Powertools writes a list per metric)."""
    value = doc[name]
    return value[0] if isinstance(value, list) else value


def by(report: QualityReport, window: str, role: str) -> Any:
    return next(w for w in report.windows if (w.window, w.role) == (window, role))


def test_champion_and_shadow_are_judged_each_on_their_own_alerts_and_windows() -> None:
    rows = [
        # in the last hour: champion alerts a1, a2 (a2 genuine), shadow alerts only a1
        decision("a1", 10, 0.9, 0.8),
        decision("a2", 20, 0.7, 0.1),
        decision("a3", 30, 0.1, 0.2),
        # earlier today: champion alerts b1 (fraud) and b2 (genuine), no shadow yet
        decision("b1", 300, 0.95, None),
        decision("b2", 400, 0.6, None),
        # yesterday: outside every window
        decision("c1", 2000, 0.99, None),
    ]
    labels = [
        ("a1", "chargeback", True),
        ("a2", "analyst", False),
        ("a3", "analyst", False),
        ("b1", "chargeback", True),
        ("b2", "analyst", False),
        ("c1", "analyst", False),
    ]
    report = run(rows, labels)
    assert report.status == "watched"
    assert (report.champion, report.shadow) == ("transactions-v2", "transactions-v3")
    hourly = by(report, "hourly", "champion")
    assert (hourly.decisions, hourly.tp, hourly.fp, hourly.precision) == (3, 1, 1, 0.5)
    assert hourly.floor == pytest.approx(0.8)  # holdout 0.9 - margin 0.1
    assert hourly.shortfall == pytest.approx(0.3)
    daily = by(report, "daily", "champion")
    assert (daily.decisions, daily.tp, daily.fp, daily.recall) == (5, 2, 2, 1.0)  # both frauds
    shadow = by(report, "hourly", "shadow")
    assert (shadow.decisions, shadow.tp, shadow.fp, shadow.fn, shadow.floor) == (3, 1, 0, 0, None)
    assert shadow.precision is None  # one labelled alert: under the minimum of 2
    assert report.labels["labelled_transactions"] == 6
    assert report.matching is not None and report.matching.as_dict() == {
        "matched": 6,
        "unmatched": 0,
    }


def test_a_label_whose_decision_is_not_in_the_zone_is_unmatched() -> None:
    report = run([decision("a1", 5, 0.9, None)], [("a1", "analyst", True), ("zz", "analyst", True)])
    assert report.matching is not None and report.matching.as_dict() == {
        "matched": 1,
        "unmatched": 1,
    }


def test_without_a_champion_only_the_label_counts_are_published() -> None:
    report = run([], [("a1", "analyst", True)], registry=Registry(champion=False))
    assert report.status == "no_champion" and report.windows == []
    assert report.labels["label_events"] == 1


def test_a_window_without_labels_publishes_coverage_zero_and_no_precision(capsys: Any) -> None:
    report = run([decision("a1", 5, 0.9, None)], [], registry=Registry(shadow=False))
    hourly = by(report, "hourly", "champion")
    assert hourly.coverage == 0.0 and hourly.precision is None
    capsys.readouterr()
    emit_quality_metrics("transactions", report)
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    names = {m["Name"] for d in docs for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert "LabelCoverage" in names and "AlertRate" in names
    assert "LivePrecision" not in names and "PrecisionShortfall" not in names


def test_the_emf_names_role_and_window_for_each_figure(capsys: Any) -> None:
    rows = [decision(f"t{i}", 5, 0.9 if i < 4 else 0.1, None) for i in range(8)]
    labels = [(f"t{i}", "analyst", i < 2) for i in range(8)]
    report = run(rows, labels, registry=Registry(shadow=False))
    capsys.readouterr()
    emit_quality_metrics("transactions", report)
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    hourly = next(d for d in docs if d.get("role") == "champion" and d.get("window") == "hourly")
    assert one(hourly, "LivePrecision") == pytest.approx(0.5)
    assert one(hourly, "PrecisionShortfall") == pytest.approx(0.3)
    assert set(hourly["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) >= {
        "contract",
        "role",
        "window",
    }
    join = next(d for d in docs if "LabelsMatched" in d)
    assert tuple(
        one(join, n) for n in ("LabelsMatched", "LabelsUnmatched", "LabelCorrections")
    ) == (8, 0, 0)


def test_the_floor_is_holdout_precision_minus_the_margin_unless_a_fixed_one_is_set() -> None:
    assert precision_floor({"metrics": {"precision": 0.72}}, 0.15, None) == pytest.approx(0.57)
    assert precision_floor({"metrics": {"precision": 0.1}}, 0.15, None) == 0.0
    assert precision_floor({"metrics": {}}, 0.15, None) is None
    assert precision_floor({"metrics": {"precision": 0.72}}, 0.15, 0.4) == 0.4


def test_the_champion_is_also_judged_on_exactly_the_decisions_the_shadow_scored() -> None:
    rows = [
        decision("a1", 10, 0.9, 0.8),
        decision("a2", 20, 0.7, None),
        decision("a3", 30, 0.6, 0.2),
    ]
    labels = [("a1", "chargeback", True), ("a2", "analyst", False), ("a3", "analyst", False)]
    report = run(rows, labels, min_alerts=1)
    same = by(report, "hourly", "champion_on_shadow")
    assert (same.decisions, same.tp, same.fp, same.model_id) == (2, 1, 1, CHAMPION["model_id"])
    assert by(report, "hourly", "champion").decisions == 3
