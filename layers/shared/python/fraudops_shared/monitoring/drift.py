"""Drift of live traffic against a model version's training baseline: population stability
index (PSI) per feature and for the score, streamed.

The baseline is what ``training.evaluation.baseline_statistics`` stored with the model version:
per feature (and for the holdout scores) the inner bin ``edges`` at the training quantiles and
the ``shares`` of training rows per bin. Those bins are fixed, so a window of decisions of any
size reduces to a count per bin: ``DriftAccumulator.add`` takes the window chunk by chunk (a
Parquet row group at a time) in constant memory, and ``result`` turns the counts into PSI with
the same smoothing as ``evaluation.population_stability``, so both give the same number on the
same data.

Nulls: training features never hold NaN (the transforms write a null as ``null_as``), so a NaN
in live features means the value was missing before the transforms or the pipeline broke. It is
counted per feature and left out of that feature's PSI, which then measures the values that were
there; a feature null on every row has no PSI (None, with the reason), never a division by zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# evaluation.population_stability clips both distributions to this before the log: an empty bin
# on either side costs a bounded amount instead of an infinite one. Same value, same PSI.
PSI_EPSILON = 1e-6
# Rule of thumb: below 0.1 stable, 0.1-0.25 moderate, above 0.25 large; 0.2 is where a shift in
# an important feature is worth an alarm.
PSI_BREACH = 0.2
# Rows of a C-ordered matrix transposed at a time: each feature's values must be contiguous for
# the comparisons to run at memory speed, and a block bounds the copy that makes them so.
_BLOCK_ROWS = 65_536

EMPTY_WINDOW = "empty window"
ALL_NULL = "all null"
EMPTY_BASELINE = "empty baseline"


@dataclass(frozen=True)
class _Bins:
    """One feature's (or the score's) fixed bins: the edges as stored, the same edges rounded up
    to float32 (see ``_edges32``), and the training shares."""

    edges64: np.ndarray
    edges32: np.ndarray
    shares: np.ndarray


def _edges32(edges: np.ndarray) -> np.ndarray:
    """The smallest float32 at or above each float64 edge.

    For a float32 value v and a float64 edge e, ``v >= e`` exactly when ``v >= up(e)``: so live
    float32 features are binned exactly as the float64 baseline would bin them, without casting
    every value to float64 (twice the memory traffic, and NumPy then compares in float64)."""
    with np.errstate(over="ignore"):
        rounded = edges.astype(np.float32)
    below = rounded.astype(np.float64) < edges
    rounded[below] = np.nextafter(rounded[below], np.float32(np.inf))
    return rounded


def _bins(name: str, stats: Any) -> _Bins:
    """A baseline entry checked: a mistyped or truncated baseline fails here, at construction,
    not as a wrong PSI later."""
    if not isinstance(stats, Mapping) or "edges" not in stats or "shares" not in stats:
        raise ValueError(f"baseline of {name!r} has no edges and shares")
    edges = np.asarray(stats["edges"], dtype=np.float64).reshape(-1)
    shares = np.asarray(stats["shares"], dtype=np.float64).reshape(-1)
    if len(shares) != len(edges) + 1:
        raise ValueError(
            f"baseline of {name!r}: {len(edges)} edges need {len(edges) + 1} shares, "
            f"not {len(shares)}"
        )
    if np.isnan(edges).any() or (np.diff(edges) < 0).any():
        raise ValueError(f"baseline of {name!r}: edges must be sorted numbers")
    return _Bins(edges64=edges, edges32=_edges32(edges), shares=shares)


def _histogram(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """(count per bin, NaN count) of contiguous 1-D values; bin i holds the values with exactly
    i edges at or below them (``np.searchsorted(edges, v, side="right")``, the baseline's rule).

    Counted as ``count(v >= edge)`` per edge and differenced, not with searchsorted + bincount:
    a comparison streams the values once per edge at memory speed, searchsorted branches per
    value; measured on 1M x 44 float32 values it is about 15 times faster at 9 edges and still
    faster at 99 (the most ``baseline_bins`` allows). NaN compares false with every edge, so it
    falls out of every ``>=`` count and is subtracted from the first bin."""
    nulls = int(np.count_nonzero(np.isnan(values)))
    at_or_above = np.fromiter(
        (np.count_nonzero(values >= edge) for edge in edges), dtype=np.int64, count=len(edges)
    )
    present = len(values) - nulls
    return -np.diff(np.concatenate(([present], at_or_above, [0]))), nulls


def _psi(shares: np.ndarray, counts: np.ndarray) -> float:
    """PSI of live counts against training shares; the operations of
    ``evaluation.population_stability`` in the same order, so the float is the same."""
    act = counts / max(1, int(counts.sum()))
    exp, act = np.clip(shares, PSI_EPSILON, None), np.clip(act, PSI_EPSILON, None)
    return float(np.sum((act - exp) * np.log(act / exp)))


@dataclass(frozen=True)
class Drift:
    """One feature's (or the score's) drift over the window. ``psi`` is None when there is
    nothing to compare, and ``reason`` says why: an empty window, a feature null on every row,
    or a baseline bin set with no training rows behind it."""

    psi: float | None
    values: int  # rows with a value, binned into the PSI
    nulls: int  # rows with NaN, left out of the PSI
    reason: str | None = None

    @property
    def all_null(self) -> bool:
        return self.reason == ALL_NULL


@dataclass(frozen=True)
class DriftResult:
    rows: int
    features: dict[str, Drift]
    score: Drift

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Breach:
    name: str  # the feature name, or "score"
    psi: float
    is_score: bool = False


class DriftAccumulator:
    """Counts per baseline bin of a window of decisions, fed chunk by chunk.

    ``names`` is the column order of the matrices ``add`` will get (the model's feature order,
    ``feature_set(contract).names``). It is not taken from the baseline: stored as JSON with
    sorted keys, the baseline's features come back in alphabetical order, not the model's."""

    def __init__(self, baseline: Mapping[str, Any], names: Sequence[str]) -> None:
        stored = baseline.get("features")
        if not isinstance(stored, Mapping):
            raise ValueError("the baseline has no per-feature statistics")
        missing = [n for n in names if n not in stored]
        if missing:
            raise ValueError(f"the baseline has no bins for {missing}")
        if len(set(names)) != len(names):
            raise ValueError("feature names repeat")
        self.names = list(names)
        self._features = [_bins(n, stored[n]) for n in self.names]
        self._score = _bins("score", baseline.get("score"))
        self._counts = [np.zeros(len(b.shares), dtype=np.int64) for b in self._features]
        self._nulls = np.zeros(len(self.names), dtype=np.int64)
        self._score_counts = np.zeros(len(self._score.shares), dtype=np.int64)
        self._score_nulls = 0
        self.rows = 0

    def add(self, matrix: np.ndarray, scores: np.ndarray) -> None:
        """Count one chunk: ``matrix`` (rows, features) in ``names`` order, ``scores`` one per
        row. float32 is binned as is (exactly as float64 would be); any other dtype as float64.
        A Fortran-ordered matrix (columns contiguous, as a Parquet reader fills it) is read in
        place; a C-ordered one is transposed a block of rows at a time."""
        x = _floats(np.asarray(matrix))
        s = _floats(np.asarray(scores)).reshape(-1)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise ValueError(
                f"expected a (rows, {len(self.names)}) matrix, got shape {tuple(x.shape)}"
            )
        if len(s) != x.shape[0]:
            raise ValueError(f"{x.shape[0]} rows but {len(s)} scores")
        if x.flags.f_contiguous:
            self._count_columns(x.T)
        else:
            for start in range(0, x.shape[0], _BLOCK_ROWS):
                self._count_columns(np.ascontiguousarray(x[start : start + _BLOCK_ROWS].T))
        counts, nulls = _histogram(s, _edges_for(self._score, s))
        self._score_counts += counts
        self._score_nulls += nulls
        self.rows += x.shape[0]

    def _count_columns(self, columns: np.ndarray) -> None:
        """``columns`` is (features, rows) with each feature's values contiguous."""
        for i, bins in enumerate(self._features):
            counts, nulls = _histogram(columns[i], _edges_for(bins, columns[i]))
            self._counts[i] += counts
            self._nulls[i] += nulls

    def result(self) -> DriftResult:
        """PSI per feature and for the score over everything added so far."""
        features = {
            name: self._drift(bins, counts, int(nulls))
            for name, bins, counts, nulls in zip(
                self.names, self._features, self._counts, self._nulls, strict=True
            )
        }
        score = self._drift(self._score, self._score_counts, self._score_nulls)
        return DriftResult(rows=self.rows, features=features, score=score)

    def _drift(self, bins: _Bins, counts: np.ndarray, nulls: int) -> Drift:
        values = int(counts.sum())
        if self.rows == 0:
            return Drift(None, 0, 0, EMPTY_WINDOW)
        if values == 0:
            return Drift(None, 0, nulls, ALL_NULL)
        if not bins.shares.sum() > 0:  # a baseline of no rows: every live bin would look new
            return Drift(None, values, nulls, EMPTY_BASELINE)
        return Drift(_psi(bins.shares, counts), values, nulls)


def _floats(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.float32 else a.astype(np.float64, copy=False)


def _edges_for(bins: _Bins, values: np.ndarray) -> np.ndarray:
    return bins.edges32 if values.dtype == np.float32 else bins.edges64


def breaches(
    result: DriftResult,
    threshold: float = PSI_BREACH,
    *,
    features: Iterable[str],
    score: bool = True,
) -> list[Breach]:
    """The listed features (the model's most important ones) and, unless ``score`` is False,
    the score whose PSI exceeds ``threshold``, largest first.

    Only the listed features count: an unimportant feature drifting does not move the model's
    decisions, and alarming on it teaches people to ignore the alarm. A listed name the result
    does not know is an error (the list and the model version disagree), not silently skipped.
    No PSI (empty window, all null) is not a breach; the result reports those itself."""
    wanted = list(dict.fromkeys(features))
    unknown = [n for n in wanted if n not in result.features]
    if unknown:
        raise ValueError(f"no drift computed for {unknown}")
    found = [
        Breach(n, psi)
        for n in wanted
        if (psi := result.features[n].psi) is not None and psi > threshold
    ]
    if score and result.score.psi is not None and result.score.psi > threshold:
        found.append(Breach("score", result.score.psi, is_score=True))
    return sorted(found, key=lambda b: -b.psi)
