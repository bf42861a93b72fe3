"""Model features: one float32 row per transaction, from the `features` section of a contract.

Training (a snapshot's columns, vectorised) and scoring (one event, or a micro-batch) must turn
a transaction into exactly the same numbers, or a model meets inputs it never saw. So both call
this module, numpy only (the scoring function has no pandas or pyarrow), and every feature is a
function of the transaction alone: no fitted state (vocabularies come from the contract's
`allowed` lists, not from the data), nothing for the scorer to look up.

A feature set is named by its hash (`FeatureSet.digest`): the model registry records it, and a
model is never scored on rows built by another feature set.

Transforms (each entry of `features.list` in the contract YAML):

* ``number`` — the column as is (``columns: [a, b]`` makes one feature per column);
* ``log1p`` — log(1 + max(x, 0)), for amounts;

Null becomes ``null_as`` (default -1) everywhere, never NaN: the exported models and the
logistic baseline take finite inputs only.
* ``is_multiple`` — 1 when the value is a whole multiple of ``of`` (round amounts);
* ``hour_of_day`` — UTC hour with fraction, of a timestamp or of seconds (``Time`` offsets);
* ``bool`` — 1/0, null as ``null_as`` (default -1);
* ``one_hot`` — one feature per allowed value, ``<name>=<value>``;
* ``category_index`` — position in the column's allowed list, -1 for null or unknown;
* ``digits`` — a string of digits as its number (an MCC), -1 if not digits;
* ``not_equal`` — 1 when two columns differ, ``null_as`` when either is null;
* ``not_null`` — 1 when the column has a (non-empty) value.

Per-card history (``features.windows``: counts and amounts over 10 minutes to 7 days, seconds
since the previous transaction, first time with a merchant / country / device) is the one
exception to "the transaction alone": `features.windows` computes it offline over a snapshot's
rows, `features.online` from a per-card state at scoring time, with the same numbers. Its
features follow the per-transaction ones in `FeatureSet.names`, and its spec is in the digest.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np

from fraudops_shared.contracts import Contract, load_contract
from fraudops_shared.features.values import FeatureSpecError, epoch_second, number, string
from fraudops_shared.features.values import epoch_seconds as _epoch_seconds
from fraudops_shared.features.values import numbers as _numbers
from fraudops_shared.features.values import strings as _strings
from fraudops_shared.features.windows import WindowSpec, parse_windows, window_matrix

__all__ = [
    "FEATURE_DTYPE",
    "TRANSFORMS",
    "Feature",
    "FeatureSet",
    "FeatureSpecError",
    "NotTrainableError",
    "feature_set",
    "parse_feature_set",
]

FEATURE_DTYPE = np.float32
TRANSFORMS = (
    "number",
    "log1p",
    "is_multiple",
    "hour_of_day",
    "bool",
    "one_hot",
    "category_index",
    "digits",
    "not_equal",
    "not_null",
)
_KEYS = {"name", "transform", "column", "columns", "of", "null_as"}


class NotTrainableError(ValueError):
    """The contract has no label or no features section: there is nothing to learn."""


@dataclass(frozen=True)
class Feature:
    """One entry of the contract's list; may expand to several columns (one_hot, columns: [..])."""

    name: str
    transform: str
    columns: tuple[str, ...]
    of: float | None = None
    null_as: float = -1.0
    values: tuple[str, ...] = ()  # one_hot / category_index vocabulary, from the contract

    @property
    def output_names(self) -> list[str]:
        if self.transform == "one_hot":
            return [f"{self.name}={v}" for v in self.values]
        if self.transform == "number" and len(self.columns) > 1:
            return list(self.columns)
        return [self.name]


@dataclass(frozen=True)
class FeatureSet:
    contract: str
    version: int
    features: tuple[Feature, ...]
    label: str
    event_time: str
    event_time_is_timestamp: bool
    windows: WindowSpec | None = None  # per-card history, after the per-transaction features

    @property
    def names(self) -> list[str]:
        own = [n for f in self.features for n in f.output_names]
        return own + (self.windows.names if self.windows else [])

    @property
    def transaction_columns(self) -> list[str]:
        """Contract columns the per-transaction features read."""
        seen: dict[str, None] = {}
        for f in self.features:
            seen.update(dict.fromkeys(f.columns))
        return list(seen)

    @property
    def input_columns(self) -> list[str]:
        """Contract columns the features read, windows included (what training passes; a
        scorer also needs `windows.record_columns`: the transaction id)."""
        extra = self.windows.input_columns if self.windows else []
        return list(dict.fromkeys([*self.transaction_columns, *extra]))

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical definition: same digest, same numbers for the same row."""
        doc = {
            "contract": self.contract,
            "version": self.version,
            "features": [
                [f.name, f.transform, list(f.columns), f.of, f.null_as, list(f.values)]
                for f in self.features
            ],
        }
        if self.windows is not None:  # absent for sets without windows: their digests stay
            doc["windows"] = self.windows.canonical()
        return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()

    def matrix(self, columns: Mapping[str, Any], rows: Any = None) -> np.ndarray:
        """(rows, features) float32. `columns` maps a contract column to a sequence of values:
        numpy arrays (datetime64, float, bool, object) or lists of Python values / ISO strings;
        None or NaN is null. Every row is history for the windows; `rows` (indices) picks the
        rows returned, in that order (training: the labelled ones, oldest first)."""
        _row_count(columns, self.input_columns)
        picked = columns
        if rows is not None:
            rows = np.asarray(rows, np.int64)
            picked = {c: np.asarray(columns[c])[rows] for c in self.transaction_columns}
        own = self.transaction_matrix(picked)
        if self.windows is None:
            return own
        history = window_matrix(self.windows, columns, rows)
        return np.ascontiguousarray(np.hstack([own, history]), dtype=FEATURE_DTYPE)

    def transaction_matrix(self, columns: Mapping[str, Any]) -> np.ndarray:
        """The per-transaction features alone (a scorer adds `features.online`'s windows)."""
        n = _row_count(columns, self.transaction_columns)
        blocks = [_apply(f, columns, n).reshape(n, len(f.output_names)) for f in self.features]
        out = np.concatenate(blocks, axis=1) if blocks else None
        if out is None:
            return np.zeros((n, 0), FEATURE_DTYPE)
        return np.ascontiguousarray(out, dtype=FEATURE_DTYPE)

    def transaction_row(self, record: Mapping[str, Any]) -> list[float] | None:
        """`transaction_matrix` of one record (the API's call), as the float64 values the
        matrix rounds to float32, computed without numpy per column; None for anything the
        one-value readers leave to the arrays (a value of an unusual type): use the matrix."""
        try:
            return [v for f in self.features for v in _apply_one(f, record, self._indexes)]
        except Exception:  # anything unusual: the matrix gives its answer (or its error)
            return None

    @cached_property
    def _indexes(self) -> dict[str, dict[str, float]]:
        """category_index: each feature's value -> position, built once."""
        return {f.name: {v: float(i) for i, v in enumerate(f.values)} for f in self.features}

    def matrix_from_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Rows as dicts (a Kinesis event, an API request): the same numbers as `matrix`, the
        records being the whole history (a scorer uses `features.online.featurise`)."""
        cols = {c: [r.get(c) for r in records] for c in self.input_columns}
        return self.matrix(cols)


@cache
def feature_set(contract_name: str) -> FeatureSet:
    """The contract's feature set, checked (cached: contracts are immutable)."""
    return parse_feature_set(load_contract(contract_name))


def parse_feature_set(contract: Contract) -> FeatureSet:
    if contract.label is None:
        raise NotTrainableError(f"contract {contract.name!r} declares no label column")
    doc = contract.features
    if not isinstance(doc, dict) or not isinstance(doc.get("list"), list) or not doc["list"]:
        raise NotTrainableError(f"contract {contract.name!r} has no features.list section")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FeatureSpecError(f"{contract.name}: features.version must be a positive integer")
    features = tuple(_feature(contract, entry) for entry in doc["list"])
    names = [n for f in features for n in f.output_names]
    if len(set(names)) != len(names):
        raise FeatureSpecError(f"{contract.name}: duplicate feature names")
    if contract.label in {c for f in features for c in f.columns}:
        raise FeatureSpecError(f"{contract.name}: a feature reads the label {contract.label!r}")
    windows = None
    if "windows" in doc:
        windows = parse_windows(contract, doc["windows"], contract.label)
        names += windows.names
        if len(set(names)) != len(names):
            raise FeatureSpecError(f"{contract.name}: duplicate feature names")
    return FeatureSet(
        contract=contract.name,
        version=version,
        features=features,
        label=contract.label,
        event_time=contract.event_time,
        event_time_is_timestamp=contract.column(contract.event_time).type == "timestamp",
        windows=windows,
    )


def _feature(contract: Contract, entry: Any) -> Feature:
    if not isinstance(entry, dict):
        raise FeatureSpecError(f"{contract.name}: a feature is a mapping, got {entry!r}")
    unknown = set(entry) - _KEYS
    if unknown:
        raise FeatureSpecError(f"{contract.name}: unknown feature keys {sorted(unknown)}")
    transform = entry.get("transform")
    if transform not in TRANSFORMS:
        raise FeatureSpecError(f"{contract.name}: transform {transform!r} not in {TRANSFORMS}")
    cols = entry.get("columns") or ([entry["column"]] if entry.get("column") else [])
    if not cols:
        raise FeatureSpecError(f"{contract.name}: feature {entry!r} names no column")
    for col in cols:
        contract.column(col)  # KeyError names the contract and the column
    name = str(entry.get("name") or cols[0])
    if transform == "not_equal" and len(cols) != 2:
        raise FeatureSpecError(f"{contract.name}.{name}: not_equal compares exactly two columns")
    if transform not in ("number", "not_equal") and len(cols) != 1:
        raise FeatureSpecError(f"{contract.name}.{name}: {transform} reads one column")
    values: tuple[str, ...] = ()
    if transform in ("one_hot", "category_index"):
        allowed = contract.column(cols[0]).allowed
        if not allowed:
            raise FeatureSpecError(f"{contract.name}.{name}: {transform} needs an allowed list")
        values = tuple(str(v) for v in allowed)
    of = entry.get("of")
    if transform == "is_multiple" and not (isinstance(of, int | float) and of > 0):
        raise FeatureSpecError(f"{contract.name}.{name}: is_multiple needs a positive `of`")
    return Feature(
        name=name,
        transform=transform,
        columns=tuple(cols),
        of=float(of) if of is not None else None,
        null_as=float(entry.get("null_as", -1.0)),
        values=values,
    )


# --- transforms (vectorised; null handling explicit) -------------------------------------------


def _row_count(columns: Mapping[str, Any], needed: list[str]) -> int:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise KeyError(f"missing input columns for the features: {missing}")
    lengths = {len(columns[c]) for c in needed}
    if len(lengths) > 1:
        raise ValueError(f"input columns differ in length: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _apply(f: Feature, columns: Mapping[str, Any], n: int) -> np.ndarray:
    col = columns[f.columns[0]]
    if f.transform == "number":
        if not n:
            return np.zeros((0, len(f.columns)))
        x = np.column_stack([_numbers(columns[c]) for c in f.columns])
        return np.where(np.isnan(x), f.null_as, x)
    if f.transform == "log1p":
        x = _numbers(col)
        return np.where(np.isnan(x), f.null_as, np.log1p(np.clip(x, 0.0, None)))
    if f.transform == "is_multiple":
        x = _numbers(col)
        cents = np.round(x * 100.0)
        step = round(float(f.of or 1.0) * 100.0)
        return np.where(np.isnan(x), f.null_as, (np.fmod(cents, step) == 0).astype(np.float64))
    if f.transform == "hour_of_day":
        secs = _epoch_seconds(col)
        return np.where(np.isnan(secs), f.null_as, np.mod(secs, 86400.0) / 3600.0)
    if f.transform == "bool":
        x = _numbers(col)
        return np.where(np.isnan(x), f.null_as, (x != 0).astype(np.float64))
    if f.transform == "one_hot":
        s = _strings(col)
        return np.column_stack([(s == v).astype(np.float64) for v in f.values])
    if f.transform == "category_index":
        index = {v: float(i) for i, v in enumerate(f.values)}
        return np.array([index.get(v, -1.0) if v is not None else -1.0 for v in _strings(col)])
    if f.transform == "digits":
        return np.array(
            [float(v) if v is not None and v.isdigit() else -1.0 for v in _strings(col)]
        )
    if f.transform == "not_equal":
        a, b = _strings(col), _strings(columns[f.columns[1]])
        null = np.array([x is None or y is None for x, y in zip(a, b, strict=True)], dtype=bool)
        return np.where(null, f.null_as, (a != b).astype(np.float64))
    if f.transform == "not_null":
        return np.array([v is not None for v in _strings(col)], dtype=np.float64)
    raise FeatureSpecError(f"unknown transform {f.transform!r}")  # parse_feature_set forbids it


def _apply_one(
    f: Feature, record: Mapping[str, Any], indexes: Mapping[str, Mapping[str, float]]
) -> list[float]:
    """`_apply` of one record, operation for operation (numpy where a libm call could differ)."""
    value = record.get(f.columns[0])
    if f.transform == "number":
        xs = [number(record.get(c)) for c in f.columns]
        return [f.null_as if math.isnan(x) else x for x in xs]
    if f.transform in ("log1p", "is_multiple", "bool"):
        x = number(value)
        if math.isnan(x):
            return [f.null_as]
        if f.transform == "log1p":
            return [float(np.log1p(np.maximum(x, 0.0)))]
        if f.transform == "bool":
            return [float(x != 0)]
        cents = x * 100.0
        step = round(float(f.of or 1.0) * 100.0)
        return [float(math.isfinite(cents) and math.fmod(round(cents), step) == 0)]
    if f.transform == "hour_of_day":
        secs = epoch_second(value)
        return [f.null_as if math.isnan(secs) else float(np.mod(secs, 86400.0)) / 3600.0]
    if f.transform == "one_hot":
        s = string(value)
        return [float(s == v) for v in f.values]
    if f.transform == "category_index":
        s = string(value)
        return [indexes[f.name].get(s, -1.0) if s is not None else -1.0]
    if f.transform == "digits":
        s = string(value)
        return [float(s) if s is not None and s.isdigit() else -1.0]
    if f.transform == "not_equal":
        a, b = string(value), string(record.get(f.columns[1]))
        return [f.null_as if a is None or b is None else float(a != b)]
    if f.transform == "not_null":
        return [float(string(value) is not None)]
    raise FeatureSpecError(f"unknown transform {f.transform!r}")
