"""Candidate models: build, fit, predict and export to ONNX (scikit-learn and skl2onnx, imported
only here, only by the training function).

Reproducible by construction: every estimator gets the run's seed, nothing random is left to a
global state, early stopping is off (its validation split is random), and the ONNX document
carries no time, path or run id, so the same data, parameters and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# The ONNX opsets the exported models use: fixed, so a library upgrade cannot silently change
# the graph (and its hash); onnxruntime >= 1.17 runs both.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
PRODUCER = "fraudops"


class CandidateError(ValueError):
    """A candidate spec that scikit-learn refuses (unknown kind or parameter)."""


@dataclass(frozen=True)
class Trained:
    name: str
    kind: str
    params: dict[str, Any]
    model: Any
    fit_seconds: float
    iterations: int | None


def build(kind: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    try:
        if kind == "hist_gradient_boosting":
            return HistGradientBoostingClassifier(
                **{**params, "early_stopping": False, "random_state": seed}
            )
        if kind == "logistic_regression":
            return Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("model", LogisticRegression(**{**params, "random_state": seed})),
                ]
            )
    except TypeError as exc:
        raise CandidateError(f"{kind}: {exc}") from None
    raise CandidateError(f"unknown candidate kind {kind!r}")


def fit(name: str, kind: str, params: Mapping[str, Any], seed: int, x: Any, y: Any) -> Trained:
    model = build(kind, params, seed)
    started = time.perf_counter()
    try:
        model.fit(x, y)
    except ValueError as exc:  # e.g. an invalid parameter value, checked at fit time
        raise CandidateError(f"{name} ({kind}): {exc}") from None
    iterations = getattr(model, "n_iter_", None)
    if iterations is None and hasattr(model, "named_steps"):
        raw = getattr(model.named_steps["model"], "n_iter_", None)
        iterations = int(np.max(raw)) if raw is not None else None
    return Trained(
        name=name,
        kind=kind,
        params=dict(params),
        model=model,
        fit_seconds=time.perf_counter() - started,
        iterations=int(iterations) if iterations is not None else None,
    )


def fraud_probability(model: Any, x: Any) -> np.ndarray:
    """P(fraud) per row, float64 (scikit-learn's reference for the parity check)."""
    return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)


def to_onnx(model: Any, n_features: int, metadata: Mapping[str, str]) -> bytes:
    """The model as ONNX: one float input `features` (rows x n_features), outputs `label` and
    `probabilities` (rows x 2, no ZipMap so the scorer reads a plain tensor)."""
    from skl2onnx import to_onnx as skl_to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    with warnings.catch_warnings():
        # skl2onnx 1.20 writes boolean tree attributes into int fields; protobuf 6 converts
        # them and warns once per node (protobuf 7 refuses: the ml layer pins protobuf < 7).
        warnings.filterwarnings("ignore", "Field onnx.AttributeProto", DeprecationWarning)
        onx = skl_to_onnx(
            model,
            initial_types=[("features", FloatTensorType([None, n_features]))],
            options={id(estimator): {"zipmap": False}},
            target_opset=TARGET_OPSET,
        )
    onx.producer_name = PRODUCER
    onx.producer_version = ""
    onx.doc_string = ""
    del onx.metadata_props[:]
    for key in sorted(metadata):
        prop = onx.metadata_props.add()
        prop.key, prop.value = key, str(metadata[key])
    return bytes(onx.SerializeToString(deterministic=True))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
