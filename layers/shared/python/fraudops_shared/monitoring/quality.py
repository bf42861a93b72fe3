"""Live model quality over one window of decisions, from the labels known so far.

An alert is a decision at or above the model's review threshold (outcome review or decline; for
the shadow, its own outcome). Over the decisions with a verdict (``monitoring.labels``):
precision and recall at the decision threshold and AUPRC of the scores; over all decisions of
the window: the alert rate and the label coverage (decisions with a verdict / decisions).
A figure that few labels cannot support is None, never a guess and never a division by zero:
precision needs ``min_alerts`` labelled alerts, recall as many labelled frauds, AUPRC
``min_alerts`` labelled decisions of both classes. A window without decisions reports coverage
0 and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fraudops_shared.training.evaluation import average_precision

ALERT_OUTCOMES = frozenset({"review", "decline"})


@dataclass(frozen=True)
class WindowQuality:
    window: str
    role: str  # champion | shadow
    model_id: str | None
    decisions: int
    labelled: int
    alerts: int
    labelled_alerts: int
    tp: int
    fp: int
    fn: int
    tn: int
    coverage: float
    alert_rate: float | None
    precision: float | None
    recall: float | None
    auprc: float | None
    floor: float | None = None  # the precision the alarm expects at least (champion only)

    @property
    def shortfall(self) -> float | None:
        """floor - precision (> 0: the precision alarm's breach), when both are known."""
        if self.floor is None or self.precision is None:
            return None
        return self.floor - self.precision

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shortfall": self.shortfall}


def window_quality(
    window: str,
    role: str,
    model_id: str | None,
    scores: list[float],
    alerts: list[bool],
    verdicts: list[bool | None],
    *,
    min_alerts: int,
    floor: float | None = None,
) -> WindowQuality:
    """The figures of one model over one window: ``scores``, ``alerts`` and ``verdicts`` (None:
    no label yet) per decision, in the same order."""
    n = len(scores)
    known = np.array([v is not None for v in verdicts], bool)
    y = np.array([bool(v) for v in verdicts], bool)
    flagged = np.array(alerts, bool)
    s = np.array(scores, np.float64)
    tp = int(np.sum(known & flagged & y))
    fp = int(np.sum(known & flagged & ~y))
    fn = int(np.sum(known & ~flagged & y))
    tn = int(np.sum(known & ~flagged & ~y))
    labelled = int(known.sum())
    positives = tp + fn
    auprc = None
    if labelled >= min_alerts and 0 < positives < labelled:
        auprc = average_precision(y[known].astype(np.int64), s[known])
    return WindowQuality(
        window=window,
        role=role,
        model_id=model_id,
        decisions=n,
        labelled=labelled,
        alerts=int(flagged.sum()),
        labelled_alerts=tp + fp,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        coverage=labelled / n if n else 0.0,
        alert_rate=float(flagged.mean()) if n else None,
        precision=tp / (tp + fp) if tp + fp >= max(min_alerts, 1) else None,
        recall=tp / positives if positives >= max(min_alerts, 1) else None,
        auprc=auprc,
        floor=floor,
    )
