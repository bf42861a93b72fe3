"""The quality watch: the champion's and the shadow's recent decisions against the labels known
so far, as live precision, recall, alert rate, AUPRC and label coverage per window, published as
metrics the precision alarm reads.

Run on a schedule. Each run reads the label events of the label horizon and resolves them into
verdicts from scratch (``monitoring.labels``: exactly once by construction), reads the decisions
of the longest window once, and computes every window (hourly, daily: decision time) for each
role. The champion's window carries its precision floor: its holdout precision at its review
threshold minus ``margin`` (or a configured absolute floor); ``PrecisionShortfall`` = floor -
live precision is what the precision alarm reads, published only when the window has the stated
minimum of labelled alerts (fewer: no datapoint, the alarm treats missing data as fine).
Matching counts labelled transactions against every decision of the horizon, so a label that
arrived before its decision is counted unmatched until a run finds the decision.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from fraudops_shared.monitoring.drift_watch import ChampionRecords
from fraudops_shared.monitoring.labels import LabelBook, Matching, match, resolve
from fraudops_shared.monitoring.quality import ALERT_OUTCOMES, WindowQuality, window_quality

# decisions zone columns the watch reads (the `decisions` contract)
QUALITY_COLUMNS = (
    "transaction_id",
    "decided_at",
    "model_id",
    "score",
    "outcome",
    "shadow_model_id",
    "shadow_score",
    "shadow_outcome",
)


class Decisions(Protocol):
    def between(
        self, start: datetime, end: datetime, columns: Sequence[str]
    ) -> Iterator[Mapping[str, Sequence[Any]]]:
        """Chunks of the decisions zone, as ``columns``, decided in [start, end)."""
        ...


class LabelEvents(Protocol):
    def since(self, start: datetime) -> Iterator[Mapping[str, Sequence[Any]]]:
        """Chunks of the labels zone (``labels.LABEL_COLUMNS``) labelled at or after start."""
        ...


class QualityMetrics(Protocol):
    def publish(self, contract: str, report: QualityReport) -> None: ...


@dataclass
class QualityReport:
    contract: str
    at: str
    status: str  # watched | no_champion
    champion: str | None = None
    shadow: str | None = None
    labels: dict[str, int] = field(default_factory=dict)
    matching: Matching | None = None
    windows: list[WindowQuality] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "at": self.at,
            "status": self.status,
            "champion": self.champion,
            "shadow": self.shadow,
            "labels": {**self.labels, **(self.matching.as_dict() if self.matching else {})},
            "windows": [w.as_dict() for w in self.windows],
        }


def precision_floor(record: Mapping[str, Any], margin: float, fixed: float | None) -> float | None:
    """The precision the champion should keep: ``fixed`` when configured, else its holdout
    precision at its review threshold minus ``margin`` (None: the record states none)."""
    if fixed is not None:
        return fixed
    metrics = record.get("metrics")
    held = metrics.get("precision") if isinstance(metrics, Mapping) else None
    if isinstance(held, int | float) and not isinstance(held, bool):
        return max(0.0, float(held) - margin)
    return None


def _model(registry: ChampionRecords, contract: str, version: Any) -> Mapping[str, Any] | None:
    if not isinstance(version, int | str) or isinstance(version, bool):
        return None
    try:
        return registry.version(contract, int(version))
    except ValueError:
        return None


@dataclass
class _Rows:
    decided_at: list[datetime] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    alerts: list[bool] = field(default_factory=list)
    verdicts: list[bool | None] = field(default_factory=list)

    def since(self, start: datetime) -> tuple[list[float], list[bool], list[bool | None]]:
        keep = [i for i, at in enumerate(self.decided_at) if at >= start]
        return ([self.scores[i] for i in keep], [self.alerts[i] for i in keep],
                [self.verdicts[i] for i in keep])  # fmt: skip


# The champion judged on exactly the decisions the shadow also scored: the like-for-like
# comparison a promotion of the shadow needs (``monitoring.promotion``).
CHAMPION_ON_SHADOW = "champion_on_shadow"


def _collect(
    chunks: Iterator[Mapping[str, Sequence[Any]]], book: LabelBook, models: Mapping[str, str]
) -> dict[str, _Rows]:
    """The rows of each role's model (``models``: role -> model id)."""
    roles = dict(models)
    if "shadow" in models:
        roles[CHAMPION_ON_SHADOW] = models["champion"]
    rows = {role: _Rows() for role in roles}
    prefix = {"champion": "", "shadow": "shadow_", CHAMPION_ON_SHADOW: ""}
    for chunk in chunks:
        for role, model_id in roles.items():
            p = prefix[role]
            ids, scores, outcomes = chunk[f"{p}model_id"], chunk[f"{p}score"], chunk[f"{p}outcome"]
            out = rows[role]
            for i, m in enumerate(ids):
                if m != model_id or scores[i] is None:
                    continue
                if role == CHAMPION_ON_SHADOW and chunk["shadow_model_id"][i] != models["shadow"]:
                    continue
                out.decided_at.append(chunk["decided_at"][i])
                out.scores.append(float(scores[i]))
                out.alerts.append(outcomes[i] in ALERT_OUTCOMES)
                out.verdicts.append(book.verdict(str(chunk["transaction_id"][i])))
    return rows


def watch(
    contract: str,
    registry: ChampionRecords,
    decisions: Decisions,
    labels: LabelEvents,
    metrics: QualityMetrics,
    now: datetime,
    *,
    windows: Mapping[str, int],
    min_alerts: int,
    margin: float,
    horizon_days: int,
    fixed_floor: float | None = None,
) -> QualityReport:
    """Every window's figures for the champion and the shadow, and the label join's counts."""
    report = QualityReport(contract, now.isoformat(), "no_champion")
    horizon = now - timedelta(days=horizon_days)
    book = resolve(labels.since(horizon))
    report.labels = book.counts()
    chunks = decisions.between(horizon, now, ("transaction_id", "decided_at"))
    report.matching = match(book, (str(t) for chunk in chunks for t in chunk["transaction_id"]))
    pointer = registry.pointer(contract)
    champion = _model(registry, contract, pointer.get("version")) if pointer else None
    if champion is None or pointer is None:
        metrics.publish(contract, report)
        return report
    report.status = "watched"
    report.champion = str(champion.get("model_id"))
    models = {"champion": report.champion}
    shadow = _model(registry, contract, pointer.get("shadow"))
    if shadow is not None:
        report.shadow = models["shadow"] = str(shadow.get("model_id"))
    longest = max(windows.values())
    chunks = decisions.between(now - timedelta(seconds=longest), now, QUALITY_COLUMNS)
    rows = _collect(chunks, book, models)
    floor = precision_floor(champion, margin, fixed_floor)
    for name, seconds in sorted(windows.items(), key=lambda kv: kv[1]):
        for role in rows:
            model_id = models["champion" if role == CHAMPION_ON_SHADOW else role]
            scores, alerts, verdicts = rows[role].since(now - timedelta(seconds=seconds))
            report.windows.append(window_quality(
                name, role, model_id, scores, alerts, verdicts, min_alerts=min_alerts,
                floor=floor if role == "champion" else None,
            ))  # fmt: skip
    metrics.publish(contract, report)
    return report
