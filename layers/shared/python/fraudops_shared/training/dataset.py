"""From a dataset snapshot to the arrays training needs: labelled rows, features, a time split.

The holdout is the newest share of labelled rows by event time, never a random sample: fraud
models are used on the future, and a random split lets near-duplicate bursts (card testing)
leak from training into the holdout and overstate every metric. Rows whose label has not
arrived yet are left out of the arrays and counted, but they are still history: the per-card
window features (`features.windows`) of every row are computed over all rows of the snapshot,
labelled or not, as the scorer's state sees every transaction, before rows are selected.

Every way a snapshot can be unfit for training ends in a `TrainingDataError` with a stable
`code` and a sentence that says what was found, before anything is trained or registered.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudops_shared.features.transforms import FeatureSet
from fraudops_shared.training.config import TrainingConfig


class TrainingDataError(Exception):
    """The snapshot cannot be trained on; `code` says why in one word, the message in full."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Dataset:
    feature_names: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_holdout: np.ndarray
    y_holdout: np.ndarray
    cut_time: float  # holdout rows have event time >= cut_time (seconds, or Time offsets)
    stats: dict[str, Any]

    @property
    def digest(self) -> str:
        """SHA-256 over the arrays and names: the same rows in the same order, the same digest
        (the .npz bytes carry zip timestamps, so they cannot serve as the identity)."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.feature_names).encode())
        for arr in (self.x_train, self.y_train, self.x_holdout, self.y_holdout):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            feature_names=np.array(self.feature_names),
            x_train=self.x_train,
            y_train=self.y_train,
            x_holdout=self.x_holdout,
            y_holdout=self.y_holdout,
            cut_time=np.array(self.cut_time),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, stats: dict[str, Any] | None = None) -> Dataset:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls(
                feature_names=[str(n) for n in npz["feature_names"]],
                x_train=npz["x_train"],
                y_train=npz["y_train"],
                x_holdout=npz["x_holdout"],
                y_holdout=npz["y_holdout"],
                cut_time=float(npz["cut_time"]),
                stats=stats or {},
            )


def labels(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(known mask, 0/1 labels) of a label column: bools, 0/1 numbers, None for unknown."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biu":
        return np.ones(len(arr), bool), arr.astype(np.int8)
    if arr.dtype.kind == "f":
        known = ~np.isnan(arr)
        return known, np.where(known, arr, 0).astype(np.int8)
    known = np.array([v is not None for v in arr], dtype=bool)
    y = np.array([1 if v is not None and bool(v) else 0 for v in arr], dtype=np.int8)
    return known, y


def event_seconds(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]").astype(np.int64) / 1e6
    return arr.astype(np.float64)


def time_cut(times: np.ndarray, holdout_fraction: float) -> float:
    """The event time from which rows are held out: the (1 - fraction) quantile, so rows of
    the same instant are never split between training and holdout."""
    return float(np.quantile(times, 1.0 - holdout_fraction, method="higher"))


def build_dataset(
    columns: Mapping[str, Any], features: FeatureSet, config: TrainingConfig
) -> Dataset:
    """Labelled rows of `columns` (a contract's columns as arrays), featurised and split."""
    n = len(columns[features.label]) if features.label in columns else 0
    if n == 0:
        raise TrainingDataError("EMPTY_SNAPSHOT", "the snapshot holds no rows")
    known, y = labels(columns[features.label])
    labelled = int(known.sum())
    if labelled == 0:
        raise TrainingDataError(
            "NO_LABELS", f"none of the {n} rows has a label yet ({features.label} is null)"
        )
    if labelled < config.min_rows:
        raise TrainingDataError(
            "TOO_FEW_ROWS",
            f"{labelled} labelled rows (of {n}); at least {config.min_rows} are needed",
        )
    positives = int(y[known].sum())
    if positives == 0:
        raise TrainingDataError(
            "NO_POSITIVES", f"no positive label among {labelled} labelled rows: nothing to learn"
        )
    if positives == labelled:
        raise TrainingDataError(
            "ONE_CLASS", f"all {labelled} labelled rows are positive: there is no negative class"
        )
    times = event_seconds(columns[features.event_time])[known]
    order = np.argsort(times, kind="mergesort")
    rows = np.flatnonzero(known)[order]  # labelled, oldest first; every row is history
    x = features.matrix({c: columns[c] for c in features.input_columns}, rows=rows)
    y, times = y[known][order], times[order]
    cut = time_cut(times, config.holdout_fraction)
    hold = times >= cut
    if hold.all():  # the cut is the earliest instant: nothing older to train on
        raise TrainingDataError(
            "NO_TIME_SPREAD",
            f"no labelled row is older than the holdout cut ({cut:.0f}): "
            f"{int(np.sum(times == times[0]))} of {len(times)} rows share the earliest event time",
        )
    y_train, y_hold = y[~hold], y[hold]
    for name, ys, minimum in (
        ("training", y_train, config.min_train_positives),
        ("holdout", y_hold, config.min_holdout_positives),
    ):
        pos = int(ys.sum())
        if pos < minimum:
            raise TrainingDataError(
                "TOO_FEW_POSITIVES",
                f"the {name} period has {pos} positives of {len(ys)} rows; at least {minimum} "
                "are needed (label more data, or lower the holdout fraction)",
            )
        if pos == len(ys):
            raise TrainingDataError("ONE_CLASS", f"the {name} period has no negatives")
    stats = {
        "rows": n,
        "labelled": labelled,
        "unlabelled": n - labelled,
        "positives": positives,
        "positive_rate": positives / labelled,
        "train_rows": len(y_train),
        "train_positives": int(y_train.sum()),
        "holdout_rows": len(y_hold),
        "holdout_positives": int(y_hold.sum()),
        "cut_time": cut,
        "first_time": float(times[0]),
        "last_time": float(times[-1]),
    }
    return Dataset(
        feature_names=features.names,
        x_train=x[~hold],
        y_train=y_train,
        x_holdout=x[hold],
        y_holdout=y_hold,
        cut_time=cut,
        stats=stats,
    )


def columns_of(table: Any, names: list[str]) -> dict[str, np.ndarray]:
    """A pyarrow Table's columns as numpy arrays (strings and nullable bools as objects)."""
    return {n: table.column(n).to_numpy(zero_copy_only=False) for n in names}
