"""One batch of validated transactions to decisions: the same code for the stream, the API and
replays. Features from the cards' states (``features.online``), one onnxruntime call for the
champion and one for the shadow, the top three reasons from the model's own parameters
(``scoring.explain``), the outcome from the model's thresholds.

A decision (``Decision``) is the document the decisions table keeps, the API answers and the
decisions stream carries (``as_record``: the ``decisions`` contract's row)::

    transaction_id, decided_at, event_time, source, model_id, model_version, feature_set,
    score, outcome, review_threshold, decline_threshold, reasons [{feature, value,
    contribution}] x3, features [values in the feature set's order], latency_ms, amount,
    shadow_model_id, shadow_score, shadow_outcome

Outcomes: ``decline`` when score >= the model's decline threshold (holdout precision >= 90%,
``training.evaluation.DECLINE_PRECISION``; absent, the model never declines), else ``review``
when score >= its cost-chosen threshold, else ``approve``. The shadow's outcome uses its own
thresholds and never changes the decision.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from fraudops_shared.features import online
from fraudops_shared.features.online import CardState
from fraudops_shared.features.transforms import FeatureSet
from fraudops_shared.scoring.models import NEVER, LoadedModel

REASONS = 3
Decision = dict[str, Any]


class UnscorableError(ValueError):
    """The model gave no usable score: the records are parked, never decided by accident."""


@dataclass
class Scored:
    decisions: list[Decision]  # one per record, in order
    batch: online.Batch  # the cards' new states, and which records were applied or repeats


def decide(
    records: Sequence[Mapping[str, Any]],
    states: Mapping[str, CardState],
    features: FeatureSet,
    champion: LoadedModel,
    shadow: LoadedModel | None,
    *,
    source: str,
    now: datetime,
    started: float,
    clock: Any = time.perf_counter,
) -> Scored:
    """Decisions for ``records`` (validated transactions) against the cards' ``states``."""
    x, batch = online.featurise(features, states, records)
    scores = champion.scores(x)
    if not np.isfinite(scores).all():  # never an outcome from a NaN (it would read as approve)
        rows = np.flatnonzero(~np.isfinite(scores)).tolist()
        bad = [str(records[i].get("transaction_id")) for i in rows]
        raise UnscorableError(f"non-finite score for {', '.join(bad[:5])}")
    outcomes = champion.thresholds.outcomes(scores)
    names = _names(features)
    reasons = champion.explainer.top_reasons(x, k=REASONS, names=names) if len(x) else []
    shadow_scores = shadow.scores(x) if shadow is not None else None
    shadow_outcomes = (
        shadow.thresholds.outcomes(shadow_scores)
        if shadow is not None and shadow_scores is not None
        else None
    )
    latency_ms = round((clock() - started) * 1000.0, 3)
    decided_at = now.isoformat()
    values = np.round(x.astype(np.float64), 6).tolist()
    decisions: list[Decision] = []
    for i, record in enumerate(records):
        decisions.append(
            {
                "transaction_id": str(record["transaction_id"]),
                "decided_at": decided_at,
                "event_time": _iso(record.get("event_time")),
                "source": source,
                "model_id": champion.model_id,
                "model_version": champion.version,
                "feature_set": champion.feature_set,
                "score": float(scores[i]),
                "outcome": str(outcomes[i]),
                "review_threshold": champion.thresholds.review,
                "decline_threshold": _threshold(champion.thresholds.decline),
                "reasons": reasons[i],
                "features": values[i],
                "latency_ms": latency_ms,
                "amount": _number(record.get("amount")),
                "shadow_model_id": shadow.model_id if shadow is not None else None,
                "shadow_score": float(shadow_scores[i]) if shadow_scores is not None else None,
                "shadow_outcome": str(shadow_outcomes[i]) if shadow_outcomes is not None else None,
            }
        )
    return Scored(decisions, batch)


def flagged(decision: Mapping[str, Any]) -> bool:
    return decision.get("outcome") in ("review", "decline")


def as_record(decision: Mapping[str, Any]) -> dict[str, Any]:
    """The decision as a row of the ``decisions`` contract (nested values as JSON text)."""
    return {
        **decision,
        "reasons": json.dumps(decision["reasons"], separators=(",", ":")),
        "features": json.dumps(decision["features"], separators=(",", ":")),
    }


_NAMES: dict[int, tuple[FeatureSet, list[str]]] = {}


def _names(features: FeatureSet) -> list[str]:
    """`features.names`, built once per feature set (a property: ~5 us a call)."""
    held = _NAMES.get(id(features))
    if held is None or held[0] is not features:
        if len(_NAMES) > 64:  # feature sets are few and long-lived; tests make many
            _NAMES.clear()
        held = _NAMES[id(features)] = (features, features.names)
    return held[1]


def _threshold(value: float) -> float | None:
    return None if value == NEVER else float(value)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
