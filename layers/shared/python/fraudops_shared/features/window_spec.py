"""The ``features.windows`` section of a contract, read and checked: which columns are the card,
the time, the transaction id and the amount, the horizon and the limits, and each window feature
(`WindowFeature`) with its spans. It is apart from the computation (`features.window_kernel`,
`features.windows`, `features.online`) because it is plain configuration: `WindowSpec` is what
both paths and the online state's tag are built from, and reading it needs no numpy.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fraudops_shared.contracts import Contract
from fraudops_shared.features.values import FeatureSpecError

WINDOW_TRANSFORMS = (
    "count",
    "amount_sum",
    "amount_mean",
    "amount_max",
    "amount_ratio",
    "seconds_since_previous",
    "first_seen",
)
_SPANNED = ("count", "amount_sum", "amount_mean", "amount_max", "amount_ratio")
_NULL_AS = ("amount_ratio", "seconds_since_previous", "first_seen")
_SECTION_KEYS = {"key", "time", "id", "amount", "horizon_days", "max_events", "max_values", "list"}
_ENTRY_KEYS = {"name", "transform", "spans", "column", "null_as"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_US = 1_000_000


@dataclass(frozen=True)
class WindowFeature:
    """One entry of ``windows.list``; a spanned transform gives one feature per span."""

    name: str
    transform: str
    spans: tuple[tuple[str, int], ...] = ()  # (label, microseconds)
    column: str | None = None  # first_seen
    null_as: float = -1.0

    @property
    def output_names(self) -> list[str]:
        if self.transform in _SPANNED:
            return [f"{self.name}_{label}" for label, _ in self.spans]
        return [self.name]


@dataclass(frozen=True)
class WindowSpec:
    key: str
    time: str
    id: str
    amount: str
    horizon_us: int
    max_events: int
    max_values: int
    skew_us: int  # the contract's max_future_seconds: how far ahead a producer clock may run
    features: tuple[WindowFeature, ...]

    @property
    def names(self) -> list[str]:
        return [n for f in self.features for n in f.output_names]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The first_seen columns, in order: the value hashes a state keeps per transaction."""
        return tuple(dict.fromkeys(f.column for f in self.features if f.column))

    @property
    def spans(self) -> tuple[int, ...]:
        return tuple(sorted({us for f in self.features for _, us in f.spans}))

    @property
    def keep_us(self) -> int:
        """The longest span: how far back an online state keeps transactions (plus the skew)."""
        return max(self.spans, default=0)

    @property
    def input_columns(self) -> list[str]:
        """Columns offline features read (the id is for online idempotency only)."""
        return list(dict.fromkeys([self.key, self.time, self.amount, *self.kinds]))

    @property
    def record_columns(self) -> list[str]:
        """Fields an online transaction must carry."""
        return list(dict.fromkeys([self.id, *self.input_columns]))

    def canonical(self) -> list[Any]:
        """What the digest covers: every setting that can change a number, online or offline."""
        return [
            self.key,
            self.time,
            self.id,
            self.amount,
            self.horizon_us,
            self.max_events,
            self.max_values,
            self.skew_us,
            [
                [f.name, f.transform, [list(s) for s in f.spans], f.column, f.null_as]
                for f in self.features
            ],
        ]

    @cached_property
    def tag(self) -> bytes:
        """8 bytes naming the spec, written into every online state (a state built under another
        spec is refused, never misread)."""
        doc = json.dumps(self.canonical(), separators=(",", ":")).encode()
        return hashlib.sha256(doc).digest()[:8]


def parse_windows(contract: Contract, doc: Any, label: str | None) -> WindowSpec:
    """The contract's ``features.windows`` section, checked."""
    where = f"{contract.name}.features.windows"
    if not isinstance(doc, dict):
        raise FeatureSpecError(f"{where} is a mapping")
    unknown = set(doc) - _SECTION_KEYS
    if unknown:
        raise FeatureSpecError(f"{where}: unknown keys {sorted(unknown)}")
    columns = {}
    for part in ("key", "time", "id", "amount"):
        name = doc.get(part)
        if not isinstance(name, str) or not name:
            raise FeatureSpecError(f"{where}: `{part}` names a column")
        contract.column(name)  # KeyError names the contract and the column
        columns[part] = name
    horizon = doc.get("horizon_days")
    if not isinstance(horizon, int | float) or isinstance(horizon, bool) or horizon <= 0:
        raise FeatureSpecError(f"{where}: horizon_days must be a positive number")
    limits = {}
    for part in ("max_events", "max_values"):
        value = doc.get(part)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise FeatureSpecError(f"{where}: {part} must be a positive integer")
        limits[part] = value
    horizon_us = round(float(horizon) * 86400 * _US)
    entries = doc.get("list")
    if not isinstance(entries, list) or not entries:
        raise FeatureSpecError(f"{where}: `list` names at least one feature")
    features = tuple(_window_feature(contract, where, e, horizon_us) for e in entries)
    read = {*columns.values(), *(f.column for f in features if f.column)}
    if label is not None and label in read:
        raise FeatureSpecError(f"{where}: a window reads the label {label!r}")
    skew = contract.max_future_seconds or 0.0
    return WindowSpec(
        key=columns["key"],
        time=columns["time"],
        id=columns["id"],
        amount=columns["amount"],
        horizon_us=horizon_us,
        max_events=limits["max_events"],
        max_values=limits["max_values"],
        skew_us=round(float(skew) * _US),
        features=features,
    )


def _window_feature(contract: Contract, where: str, entry: Any, horizon_us: int) -> WindowFeature:
    if not isinstance(entry, dict):
        raise FeatureSpecError(f"{where}: a feature is a mapping, got {entry!r}")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise FeatureSpecError(f"{where}: unknown feature keys {sorted(unknown)}")
    transform = entry.get("transform")
    if transform not in WINDOW_TRANSFORMS:
        raise FeatureSpecError(f"{where}: transform {transform!r} not in {WINDOW_TRANSFORMS}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise FeatureSpecError(f"{where}: feature {entry!r} has no name")
    spans: list[tuple[str, int]] = []
    if transform in _SPANNED:
        labels = entry.get("spans")
        if not isinstance(labels, list) or not labels:
            raise FeatureSpecError(f"{where}.{name}: {transform} needs `spans` (e.g. [1h, 7d])")
        spans = [(str(label), _span_us(where, name, label)) for label in labels]
        if len({us for _, us in spans}) != len(spans):
            raise FeatureSpecError(f"{where}.{name}: a span is listed twice")
        if max(us for _, us in spans) > horizon_us:
            raise FeatureSpecError(f"{where}.{name}: a span is longer than horizon_days")
    elif "spans" in entry:
        raise FeatureSpecError(f"{where}.{name}: {transform} takes no spans")
    column = entry.get("column")
    if transform == "first_seen":
        if not isinstance(column, str) or not column:
            raise FeatureSpecError(f"{where}.{name}: first_seen needs a `column`")
        contract.column(column)
    elif column is not None:
        raise FeatureSpecError(f"{where}.{name}: {transform} reads no column")
    if "null_as" in entry and transform not in _NULL_AS:
        raise FeatureSpecError(f"{where}.{name}: {transform} has no null_as")
    null_as = entry.get("null_as", -1.0)
    if not isinstance(null_as, int | float) or isinstance(null_as, bool):
        raise FeatureSpecError(f"{where}.{name}: null_as must be a number")
    return WindowFeature(
        name=name, transform=transform, spans=tuple(spans), column=column, null_as=float(null_as)
    )


def _span_us(where: str, name: str, label: Any) -> int:
    m = re.fullmatch(r"([1-9][0-9]*)([smhd])", str(label))
    if not m:
        raise FeatureSpecError(f"{where}.{name}: span {label!r} is not like 10m, 1h, 24h or 7d")
    return int(m.group(1)) * _UNITS[m.group(2)] * _US
