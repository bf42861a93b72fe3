"""Model evaluation in numpy alone: ranking metrics, the cost-chosen threshold, ONNX parity, the
promotion gate and the baseline statistics drift monitoring compares live traffic with.

numpy only on purpose: the evaluation function runs the ONNX models (onnxruntime + numpy, no
scikit-learn), and the scoring side will reuse the same definitions. Unit tests check every
metric against scikit-learn's.

Conventions: `y` is 0/1, `scores` are fraud probabilities; a transaction is flagged when
``score >= threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Costs:
    """What one mistake costs, in money: a missed fraud (the loss, chargeback fees) and a false
    alarm (an analyst's review, a declined good customer)."""

    missed_fraud: float
    false_alarm: float

    def __post_init__(self) -> None:
        if not (self.missed_fraud > 0 and self.false_alarm > 0):
            raise ValueError("costs of a missed fraud and of a false alarm must be positive")


# --- ranking metrics ---------------------------------------------------------------------------


def _check(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y, s


def _curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (tp, fp) at each distinct score, descending, and those scores."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last_of_group]
    fp = (last_of_group + 1) - tp
    return tp, fp, s_sorted[last_of_group]


def average_precision(y: Any, scores: Any) -> float:
    """AUPRC as average precision (scikit-learn's definition: sum of precision x recall step)."""
    y, s = _check(y, scores)
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    tp, fp, _ = _curve(y, s)
    precision = tp / (tp + fp)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(y: Any, scores: Any) -> float:
    """Area under the ROC curve: the probability a random fraud outranks a random genuine
    transaction, ties counting one half (Mann-Whitney U with average ranks)."""
    y, s = _check(y, scores)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average rank of each tie group (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y == 1].sum() - pos * (pos + 1) / 2.0
    return float(u / (pos * neg))


def precision_at_k(y: Any, scores: Any, k: int) -> float:
    """Share of frauds among the k highest scores (what a review team of k cases would find);
    ties at the cut are broken by position, as a queue would."""
    y, s = _check(y, scores)
    if k <= 0:
        raise ValueError("k must be positive")
    k = min(k, len(y))
    if k == 0:
        return float("nan")
    top = np.argsort(-s, kind="mergesort")[:k]
    return float(y[top].mean())


# --- threshold and costs -------------------------------------------------------------------------


@dataclass(frozen=True)
class AtThreshold:
    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    flagged_rate: float
    expected_cost: float  # total over the evaluated rows
    cost_per_1000: float  # per 1,000 transactions, comparable across holdout sizes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def at_threshold(y: Any, scores: Any, threshold: float, costs: Costs) -> AtThreshold:
    y, s = _check(y, scores)
    flagged = s >= threshold
    tp = int(np.sum(flagged & (y == 1)))
    fp = int(np.sum(flagged & (y == 0)))
    fn = int(np.sum(~flagged & (y == 1)))
    tn = int(len(y) - tp - fp - fn)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    cost = fn * costs.missed_fraud + fp * costs.false_alarm
    return AtThreshold(
        threshold=float(threshold),
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=precision,
        recall=recall,
        f1=f1,
        flagged_rate=float(flagged.mean()) if len(y) else 0.0,
        expected_cost=float(cost),
        cost_per_1000=float(cost / len(y) * 1000.0) if len(y) else 0.0,
    )


def cost_threshold(y: Any, scores: Any, costs: Costs) -> float:
    """The threshold with the lowest expected cost on (y, scores).

    Candidates are the cuts between distinct scores; the threshold returned is the midpoint
    between the lowest flagged score and the next lower one, so a score off by float rounding
    (ONNX computes in float32) does not land on the wrong side. Ties in cost go to the higher
    threshold (fewer alarms for the same money)."""
    y, s = _check(y, scores)
    positives = int(y.sum())
    tp, fp, distinct = _curve(y, s)
    # option i: flag every score >= distinct[i]; option "none": flag nothing
    cost = (positives - tp) * costs.missed_fraud + fp * costs.false_alarm
    none_cost = positives * costs.missed_fraud
    best = int(np.argmin(cost)) if len(cost) else -1
    if best < 0 or none_cost <= cost[best]:
        top = float(distinct[0]) if len(distinct) else 1.0
        return float(np.nextafter(max(top, 1.0), np.inf)) if top >= 1.0 else (top + 1.0) / 2.0
    if best + 1 < len(distinct):
        lower = float(distinct[best + 1])
    else:  # flag everything: below the lowest score (0 for probabilities)
        lowest = float(distinct[best])
        lower = 0.0 if lowest > 0.0 else lowest - 1.0
    return (float(distinct[best]) + lower) / 2.0


# Scoring declines outright only where the holdout says an alert is this likely to be fraud
# (below it, an alert goes to review): stated, so a bank can audit the automatic declines.
DECLINE_PRECISION = 0.9
DECLINE_MIN_ALERTS = 5  # fewer flagged holdout rows than this cannot show a precision


def decline_threshold(
    y: Any, scores: Any, *, floor: float, target: float = DECLINE_PRECISION
) -> float | None:
    """The lowest threshold, at or above ``floor`` (the review threshold), at which at least
    ``DECLINE_MIN_ALERTS`` holdout rows are flagged with precision >= ``target``; None when no
    threshold reaches it (the model then never declines on its own, it sends to review)."""
    y, s = _check(y, scores)
    tp, fp, distinct = _curve(y, s)
    flagged = tp + fp
    ok = (flagged >= DECLINE_MIN_ALERTS) & (tp >= target * flagged) & (distinct >= floor)
    if not ok.any():
        return None
    best = int(np.flatnonzero(ok)[-1])  # the lowest qualifying score (distinct is descending)
    lower = float(distinct[best + 1]) if best + 1 < len(distinct) else 0.0
    return max(float(floor), (float(distinct[best]) + lower) / 2.0)


def evaluate_scores(
    y: Any, scores: Any, *, costs: Costs, k: int, threshold: float | None = None
) -> dict[str, Any]:
    """Every holdout figure of one model; the cost-optimal threshold unless one is given (a
    champion is judged at the threshold it serves with), and the decline threshold above it."""
    y, s = _check(y, scores)
    chosen = cost_threshold(y, s, costs) if threshold is None else float(threshold)
    point = at_threshold(y, s, chosen, costs)
    return {
        "decline_threshold": decline_threshold(y, s, floor=chosen),
        "decline_precision_target": DECLINE_PRECISION,
        "rows": len(y),
        "positives": int(y.sum()),
        "auprc": average_precision(y, s),
        "roc_auc": roc_auc(y, s),
        "precision_at_k": precision_at_k(y, s, k),
        "k": int(min(k, len(y))),
        **point.as_dict(),
    }


# --- ONNX parity ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parity:
    rows: int
    max_abs_diff: float
    mean_abs_diff: float
    decision_flips: int  # flagged by one and not the other, neither score exactly the threshold
    tie_flips: int  # flips where a score equals the threshold exactly (allowed)
    tolerance: float
    passed: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parity(reference: Any, exported: Any, threshold: float, tolerance: float) -> Parity:
    """scikit-learn's probabilities (`reference`) against the ONNX model's on the same rows."""
    ref = np.asarray(reference, dtype=np.float64).ravel()
    got = np.asarray(exported, dtype=np.float64).ravel()
    if ref.shape != got.shape:
        return Parity(
            len(ref),
            math.inf,
            math.inf,
            0,
            0,
            tolerance,
            False,
            f"{len(ref)} reference scores but {len(got)} exported scores",
        )
    if not np.isfinite(got).all():
        return Parity(
            len(ref),
            math.inf,
            math.inf,
            0,
            0,
            tolerance,
            False,
            "the exported model produced non-finite scores",
        )
    diff = np.abs(ref - got)
    flips = (ref >= threshold) != (got >= threshold)
    tie = (ref == threshold) | (got == threshold)
    hard = int(np.sum(flips & ~tie))
    max_diff = float(diff.max()) if len(diff) else 0.0
    reasons = []
    if max_diff > tolerance:
        reasons.append(f"max |sklearn - onnx| {max_diff:.3g} exceeds {tolerance:g}")
    if hard:
        reasons.append(f"{hard} decisions flip at threshold {threshold:.6g}")
    return Parity(
        rows=len(ref),
        max_abs_diff=max_diff,
        mean_abs_diff=float(diff.mean()) if len(diff) else 0.0,
        decision_flips=hard,
        tie_flips=int(np.sum(flips & tie)),
        tolerance=tolerance,
        passed=not reasons,
        reason="; ".join(reasons),
    )


# --- the gate ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]
    checks: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gate(
    candidate: Mapping[str, Any],
    *,
    metric: str,
    floor: float,
    min_improvement: float,
    champion: Mapping[str, Any] | None,
    champion_problem: str | None = None,
    parity_passed: bool = True,
) -> GateResult:
    """Promote only a model that (1) is faithful as ONNX, (2) clears an absolute floor on the
    primary metric and (3) beats the current champion on the same holdout by more than
    `min_improvement`. No champion (the first model) passes (3); a champion that cannot be
    scored fails it, with the reason: an unknown incumbent is not beaten by default."""
    reasons: list[str] = []
    value = float(candidate[metric])
    checks: dict[str, Any] = {"metric": metric, "candidate": value, "floor": floor}
    if not parity_passed:
        reasons.append("the ONNX export does not reproduce scikit-learn's scores")
    if not (value >= floor):  # NaN fails too
        reasons.append(f"{metric} {value:.4f} is below the floor {floor:.4f}")
    if champion_problem:
        checks["champion"] = None
        reasons.append(f"cannot compare with the champion: {champion_problem}")
    elif champion is None:
        checks["champion"] = None
        checks["first_model"] = True
    else:
        incumbent = float(champion[metric])
        checks["champion"] = incumbent
        checks["min_improvement"] = min_improvement
        if not (value > incumbent + min_improvement):
            reasons.append(
                f"{metric} {value:.4f} does not beat the champion's {incumbent:.4f} "
                f"on the same holdout (needs > {incumbent + min_improvement:.4f})"
            )
    return GateResult(passed=not reasons, reasons=reasons, checks=checks)


# --- baseline statistics for drift monitoring ---------------------------------------------------


def quantile_bins(values: np.ndarray, bins: int) -> dict[str, Any]:
    """Inner edges at the quantiles (duplicates merged, so a constant or binary feature gets
    fewer bins) and the share of rows in each bin: what a PSI over live traffic needs."""
    v = np.asarray(values, dtype=np.float64)
    edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1])) if len(v) else np.array([])
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
    shares = counts / max(1, len(v))
    return {
        "edges": [float(e) for e in edges],
        "shares": [float(x) for x in shares],
        "mean": float(v.mean()) if len(v) else None,
        "std": float(v.std()) if len(v) else None,
    }


def baseline_statistics(
    features: np.ndarray,
    names: Sequence[str],
    scores: np.ndarray,
    threshold: float,
    bins: int,
) -> dict[str, Any]:
    """Per-feature quantile bins of the training rows and the score distribution on the
    holdout, plus the share flagged at the threshold (the expected alert rate)."""
    if features.shape[1] != len(names):
        raise ValueError(f"{features.shape[1]} feature columns but {len(names)} names")
    s = np.asarray(scores, dtype=np.float64)
    return {
        "bins": bins,
        "rows": int(features.shape[0]),
        "features": {n: quantile_bins(features[:, i], bins) for i, n in enumerate(names)},
        "score": {
            **quantile_bins(s, bins),
            "flagged_rate": float(np.mean(s >= threshold)) if len(s) else None,
            "rows": len(s),
        },
    }


def population_stability(
    expected_shares: Sequence[float], actual: np.ndarray, edges: Sequence[float]
) -> float:
    """PSI of `actual` values against a baseline's bins (0.1 moderate, 0.25 large shift)."""
    exp = np.asarray(expected_shares, dtype=np.float64)
    counts = np.bincount(
        np.searchsorted(
            np.asarray(edges, dtype=np.float64), np.asarray(actual, np.float64), side="right"
        ),
        minlength=len(exp),
    )
    act = counts / max(1, int(counts.sum()))
    eps = 1e-6
    exp, act = np.clip(exp, eps, None), np.clip(act, eps, None)
    return float(np.sum((act - exp) * np.log(act / exp)))
