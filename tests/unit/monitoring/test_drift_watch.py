"""The drift watch (fraudops_shared.monitoring.drift_watch) over in-memory decisions: only the
champion's decisions count, its baseline is the reference, only important features alarm, and
an empty window publishes no PSI."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fraudops import generator
from fraudops_shared.monitoring.drift_watch import DriftReport, watch
from fraudops_shared.scoring.explain import Explainer
from fraudops_shared.training.artifacts import ArtifactError
from fraudops_shared.training.evaluation import baseline_statistics
from tests.unit.scoring import champions

NAMES = ["log_amount", "hour_utc", "card_count_1h"]
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
rng = np.random.default_rng(3)


def _baseline() -> dict[str, Any]:
    x = np.column_stack([rng.normal(3, 1, 5000), rng.integers(0, 24, 5000), rng.poisson(2, 5000)])
    scores = rng.beta(1, 20, 5000)
    return baseline_statistics(x.astype(np.float32), NAMES, scores, threshold=0.5, bins=10)


BASELINE = _baseline()


class Registry:
    def __init__(self, record: dict[str, Any] | None) -> None:
        self.record = record

    def pointer(self, contract: str) -> Mapping[str, Any] | None:
        return {"version": self.record["version"]} if self.record else None

    def version(self, contract: str, version: int) -> Mapping[str, Any] | None:
        return self.record

    def artifact(self, ref: Mapping[str, Any]) -> bytes:
        if "data" not in ref:  # these records' models are not stored: importance from reasons
            raise ArtifactError("no artifact")
        return bytes(ref["data"])


class Decisions:
    def __init__(self, chunks: list[dict[str, list[Any]]]) -> None:
        self.chunks = chunks
        self.asked: list[tuple[datetime, datetime]] = []

    def between(self, start: datetime, end: datetime) -> Iterator[Mapping[str, Sequence[Any]]]:
        self.asked.append((start, end))
        yield from self.chunks


class Published:
    def __init__(self) -> None:
        self.reports: list[DriftReport] = []

    def publish(self, contract: str, report: DriftReport) -> None:
        self.reports.append(report)


def decisions(n: int, model_id: str, shift: float = 0.0, reason: str = "log_amount") -> dict:
    rows = [
        {"log_amount": float(rng.normal(3 + shift, 1)), "hour_utc": float(rng.integers(0, 24)),
         "card_count_1h": float(rng.poisson(2))}
        for _ in range(n)
    ]  # fmt: skip
    reasons = [{"feature": reason, "value": 1.0, "contribution": 0.8}]
    return {
        "decided_at": [NOW - timedelta(seconds=10)] * n,
        "model_id": [model_id] * n,
        "score": [float(s) for s in rng.beta(1, 20, n)],
        # as the scorer writes them (scoring.engine.as_record): a list in the model's order
        "features": [json.dumps([r[name] for name in NAMES]) for r in rows],
        "reasons": [json.dumps(reasons)] * n,
    }


def champion(**extra: Any) -> dict[str, Any]:
    return {"version": 3, "model_id": "transactions-v3", "baseline": BASELINE, **extra}


def run(registry: Registry, chunks: list[dict[str, list[Any]]]) -> tuple[DriftReport, Published]:
    published = Published()
    report = watch("transactions", NAMES, registry, Decisions(chunks), published, NOW, 300)
    return report, published


def test_traffic_like_the_training_data_does_not_breach() -> None:
    report, published = run(Registry(champion()), [decisions(2000, "transactions-v3")])
    assert report.status == "watched" and report.result is not None
    assert report.importance_from == "reasons"
    assert report.result.rows == 2000 and report.breaches == []
    assert report.alarm_psi is not None and report.alarm_psi < 0.05
    assert published.reports == [report]


def test_a_shifted_important_feature_breaches_and_sets_the_alarm_metric() -> None:
    report, _ = run(Registry(champion()), [decisions(2000, "transactions-v3", shift=1.0)])
    assert [b.name for b in report.breaches] == ["log_amount"]
    assert report.important == ["log_amount"]
    assert report.alarm_psi == pytest.approx(report.breaches[0].psi)
    assert report.alarm_psi is not None and report.alarm_psi > 0.2


def test_a_shifted_feature_the_model_does_not_lean_on_is_published_but_never_breaches() -> None:
    report, _ = run(
        Registry(champion()), [decisions(2000, "transactions-v3", shift=1.0, reason="hour_utc")]
    )
    assert report.result is not None
    shifted = report.result.features["log_amount"].psi
    assert shifted is not None and shifted > 0.2
    assert report.important == ["hour_utc"] and report.breaches == []
    assert report.alarm_psi is not None and report.alarm_psi < 0.2


def test_only_the_champions_decisions_are_compared_with_its_baseline() -> None:
    chunks = [
        decisions(1000, "transactions-v2", shift=3.0),  # the previous champion's, far off
        decisions(1000, "transactions-v3"),
    ]
    report, _ = run(Registry(champion()), chunks)
    assert report.other_models == 1000 and report.result is not None
    assert report.result.rows == 1000 and report.breaches == []


def test_an_empty_window_publishes_no_psi_and_divides_by_nothing() -> None:
    report, published = run(Registry(champion()), [])
    assert report.status == "no_decisions" and report.alarm_psi is None
    assert report.summary()["decisions"] == 0 and published.reports == [report]


def test_a_feature_null_in_every_decision_is_reported_not_a_crash() -> None:
    chunk = decisions(500, "transactions-v3")
    chunk["features"] = [json.dumps([*json.loads(f)[:2], None]) for f in chunk["features"]]
    report, _ = run(Registry(champion()), [chunk])
    assert report.result is not None
    drift = report.result.features["card_count_1h"]
    assert drift.psi is None and drift.nulls == 500 and drift.all_null


@pytest.mark.parametrize(
    ("record", "status"),
    [
        (None, "no_champion"),
        (champion(baseline=None), "no_baseline"),
        (champion(baseline={**BASELINE, "features": {"other": BASELINE["features"]["hour_utc"]}}),
         "baseline_mismatch"),
    ],
)  # fmt: skip
def test_without_a_usable_baseline_the_watch_says_why_and_publishes_no_psi(
    record: dict[str, Any] | None, status: str
) -> None:
    report, published = run(Registry(record), [decisions(100, "transactions-v3", shift=2.0)])
    assert report.status.startswith(status) and report.alarm_psi is None
    assert published.reports == [report]


def test_the_window_is_the_last_window_seconds() -> None:
    source = Decisions([])
    watch("transactions", NAMES, Registry(champion()), source, Published(), NOW, 300)
    assert source.asked == [(NOW - timedelta(seconds=300), NOW)]


def test_the_important_features_are_the_models_own_on_the_windows_traffic() -> None:
    # Given a champion whose ONNX can be read (and explained) and decisions without reasons
    names = champions.features().names
    data = champions.model_bytes("logistic_regression")
    table = generator.generate_transactions(600, seed=11, start=NOW - timedelta(days=2))
    x = champions.features().matrix({c: table.column(c).to_numpy(zero_copy_only=False)
                                     for c in champions.features().input_columns})  # fmt: skip
    baseline = baseline_statistics(x, names, rng.beta(1, 20, len(x)), threshold=0.5, bins=10)
    record = champion(baseline=baseline, onnx={"data": data})
    chunk: dict[str, list[Any]] = {
        "decided_at": [NOW] * len(x), "model_id": ["transactions-v3"] * len(x),
        "score": [0.1] * len(x), "reasons": ["[]"] * len(x),
        "features": [json.dumps(dict(zip(names, map(float, row), strict=True))) for row in x],
        # (an object by name reads the same as the scorer's list)
    }  # fmt: skip
    published = Published()
    report = watch("transactions", names, Registry(record), Decisions([chunk]), published, NOW, 300)
    # Then they are the ten with the largest mean |contribution| to the model's raw score
    _, contrib = Explainer.from_onnx(data).contributions(x)
    expected = [names[j] for j in np.argsort(-np.abs(contrib).sum(axis=0), kind="stable")[:10]]
    assert report.importance_from == "model"
    assert report.important == expected


def test_features_of_another_length_are_nulls_not_shifted_columns() -> None:
    chunk = decisions(300, "transactions-v3")
    chunk["features"] = [json.dumps(json.loads(f)[:2]) for f in chunk["features"]]
    report, _ = run(Registry(champion()), [chunk])
    assert report.result is not None
    assert all(d.all_null for d in report.result.features.values())
    assert report.result.score.psi is not None  # the score is still watched


def test_one_hot_feature_names_are_published_without_an_equals_sign() -> None:
    from fraudops_shared.runtime.observability import feature_dimension

    # LocalStack's ListMetrics fails on a stored dimension value holding '=' (every SEARCH too)
    assert feature_dimension("channel=pos") == "channel:pos"
    assert feature_dimension("log_amount") == "log_amount"
    assert len(feature_dimension("x" * 400)) == 250
