"""The drift watch: the champion's recent decisions against the baseline stored with it at
training, as PSI per feature and for the score, published as metrics an alarm reads.

Run on a schedule (EventBridge, ``DRIFT_SCHEDULE_MINUTES``) over the last ``window_seconds`` of
decisions in the decisions zone. Only decisions the current champion made count (a promotion
switches the baseline with the model: the previous champion's decisions in the window are
counted apart, never compared with the new baseline). The features that can trip the alarm are
the model's most important ones on the window's traffic: the ``top`` features by mean
|contribution| to its raw score, from the model's own parameters (``scoring.explain``, the reason
codes' explainer, over the champion's hash-checked ONNX); if the model cannot be explained, by
total contribution in the decisions' reason codes. Drift on another feature is published but
never breaches. The alarm metric ``DriftPSI`` is the largest PSI among the score
and those features, published only when the window holds decisions of the champion: no traffic
is no datapoint, never a false zero or a division by zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from fraudops_shared.monitoring.drift import (
    PSI_BREACH,
    Breach,
    DriftAccumulator,
    DriftResult,
    breaches,
)
from fraudops_shared.runtime.observability import logger
from fraudops_shared.scoring.explain import Explainer

# decisions zone columns the watch reads (the `decisions` contract)
COLUMNS = ("decided_at", "model_id", "score", "features", "reasons")


class ChampionRecords(Protocol):
    """The registry's champion pointer and version records (read only), and a version's ONNX
    bytes, checked against the SHA-256 its record names (``training.artifacts``)."""

    def pointer(self, contract: str) -> Mapping[str, Any] | None: ...

    def version(self, contract: str, version: int) -> Mapping[str, Any] | None: ...

    def artifact(self, ref: Mapping[str, Any]) -> bytes: ...


class RecentDecisions(Protocol):
    def between(self, start: datetime, end: datetime) -> Iterator[Mapping[str, Sequence[Any]]]:
        """Chunks of the decisions zone, as columns (``COLUMNS``), decided in [start, end)."""
        ...


class DriftMetrics(Protocol):
    def publish(self, contract: str, report: DriftReport) -> None: ...


@dataclass
class DriftReport:
    contract: str
    model_id: str | None
    status: str  # watched | no_champion | no_baseline | baseline_mismatch | no_decisions
    window_start: str
    window_end: str
    result: DriftResult | None = None
    important: list[str] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    other_models: int = 0  # decisions in the window made by another model (not compared)
    importance_from: str = "model"  # or "reasons": the model could not be explained
    threshold: float = PSI_BREACH

    @property
    def alarm_psi(self) -> float | None:
        """The largest PSI among the score and the important features (the alarm's metric)."""
        if self.result is None or self.result.rows == 0:
            return None
        values = [self.result.score.psi] + [self.result.features[n].psi for n in self.important]
        known = [v for v in values if v is not None]
        return max(known) if known else None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "contract": self.contract,
            "model_id": self.model_id,
            "status": self.status,
            "window": [self.window_start, self.window_end],
            "other_models": self.other_models,
            "threshold": self.threshold,
            "alarm_psi": self.alarm_psi,
            "breaches": [{"name": b.name, "psi": round(b.psi, 4)} for b in self.breaches],
            "important": self.important,
            "importance_from": self.importance_from,
        }
        if self.result is not None:
            out["decisions"] = self.result.rows
            out["score_psi"] = self.result.score.psi
            out["features"] = {
                n: {"psi": d.psi, "nulls": d.nulls, **({"reason": d.reason} if d.reason else {})}
                for n, d in self.result.features.items()
            }
        return out


def _feature_row(doc: Any, names: Sequence[str]) -> list[float]:
    """One decision's features in the model's order: the scorer writes a JSON list in its
    feature-set order (a JSON object name -> value is read by name too). A missing,
    non-numeric or mis-sized entry is NaN (counted as null, left out of that feature's PSI)."""
    values = json.loads(doc) if isinstance(doc, str | bytes) else doc
    if isinstance(values, list):
        cells = values if len(values) == len(names) else [None] * len(names)
    elif isinstance(values, Mapping):
        cells = [values.get(n) for n in names]
    else:
        cells = [None] * len(names)
    return [
        float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan
        for v in cells
    ]


def _add_importance(importance: dict[str, float], doc: Any) -> None:
    try:
        reasons = json.loads(doc) if isinstance(doc, str | bytes) else doc
    except ValueError:
        return
    for r in reasons if isinstance(reasons, list) else []:
        if isinstance(r, Mapping) and isinstance(r.get("feature"), str):
            c = r.get("contribution")
            if isinstance(c, int | float):
                importance[r["feature"]] = importance.get(r["feature"], 0.0) + abs(float(c))


def _explainer(registry: ChampionRecords, record: Mapping[str, Any], n: int) -> Explainer | None:
    """The champion's explainer from its hash-checked ONNX; None when that fails (a missing or
    tampered artifact, a model it cannot read): importance then comes from the reason codes."""
    try:
        explainer = Explainer.from_onnx(registry.artifact(record.get("onnx") or {}))
    except Exception as err:  # any failure: fall back, said in the report and the log
        logger.warning("champion not explained", extra={"error": f"{type(err).__name__}: {err}"})
        return None
    return explainer if explainer.n_features == n else None


def watch(
    contract: str,
    names: Sequence[str],
    registry: ChampionRecords,
    decisions: RecentDecisions,
    metrics: DriftMetrics,
    now: datetime,
    window_seconds: int,
    *,
    top: int = 10,
    threshold: float = PSI_BREACH,
) -> DriftReport:
    """PSI of the champion's decisions in the window against its baseline, published."""
    start = now - timedelta(seconds=window_seconds)
    report = DriftReport(contract, None, "no_champion", start.isoformat(), now.isoformat(),
                         threshold=threshold)  # fmt: skip
    pointer = registry.pointer(contract)
    record = registry.version(contract, int(pointer["version"])) if pointer else None
    if record is None:
        metrics.publish(contract, report)
        return report
    report.model_id = str(record.get("model_id"))
    baseline = record.get("baseline")
    if not isinstance(baseline, Mapping) or not baseline.get("features"):
        report.status = "no_baseline"
        metrics.publish(contract, report)
        return report
    try:
        acc = DriftAccumulator(baseline, names)
    except ValueError as err:  # a model of another feature set, or a malformed baseline
        report.status = f"baseline_mismatch: {err}"[:300]
        metrics.publish(contract, report)
        return report
    explainer = _explainer(registry, record, len(names))
    report.importance_from = "model" if explainer is not None else "reasons"
    importance: dict[str, float] = {}
    for chunk in decisions.between(start, now):
        mine = [i for i, m in enumerate(chunk["model_id"]) if m == report.model_id]
        report.other_models += len(chunk["model_id"]) - len(mine)
        if not mine:
            continue
        x = np.array([_feature_row(chunk["features"][i], names) for i in mine], np.float32)
        x = x.reshape(len(mine), len(names))
        acc.add(x, np.array([chunk["score"][i] for i in mine]))
        if explainer is not None:
            _, contrib = explainer.contributions(np.nan_to_num(x, nan=0.0))
            for name, total in zip(names, np.abs(contrib).sum(axis=0), strict=True):
                importance[name] = importance.get(name, 0.0) + float(total)
        else:
            for i in mine:
                _add_importance(importance, chunk["reasons"][i])
    report.result = acc.result()
    if report.result.rows == 0:
        report.status = "no_decisions"
    else:
        report.status = "watched"
        ranked = sorted((n for n in importance if n in names), key=lambda n: -importance[n])
        report.important = ranked[:top] or list(names)
        report.breaches = breaches(report.result, threshold, features=report.important)
    metrics.publish(contract, report)
    return report
