"""Shared by the window tests: a small contract with windows, times in seconds, and a naive
reference of the documented semantics (one row at a time, no sorting tricks)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fraudops_shared.contracts import parse_contract
from fraudops_shared.features.transforms import FeatureSet, parse_feature_set
from fraudops_shared.features.values import epoch_micros, strings
from fraudops_shared.features.window_inputs import cents, value_hashes
from fraudops_shared.features.window_spec import WindowSpec

T0 = 1_790_000_000  # seconds: 2026-09-21, the start of every handmade history
MINUTE, HOUR, DAY = 60, 3600, 86400

COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "type": "string", "nullable": False},
    {"name": "t", "type": "timestamp", "nullable": False},
    {"name": "card", "type": "string"},
    {"name": "amount", "type": "float64"},
    {"name": "merchant", "type": "string"},
    {"name": "device", "type": "string"},
    {"name": "label", "type": "bool"},
]
WINDOWS: dict[str, Any] = {
    "key": "card",
    "time": "t",
    "id": "id",
    "amount": "amount",
    "horizon_days": 30,
    "max_events": 4096,
    "max_values": 1024,
    "list": [
        {"name": "n", "transform": "count", "spans": ["10m", "1h", "7d"]},
        {"name": "sum", "transform": "amount_sum", "spans": ["10m", "7d"]},
        {"name": "mean", "transform": "amount_mean", "spans": ["7d"]},
        {"name": "max", "transform": "amount_max", "spans": ["7d"]},
        {"name": "ratio", "transform": "amount_ratio", "spans": ["7d"]},
        {"name": "since", "transform": "seconds_since_previous"},
        {"name": "new_merchant", "transform": "first_seen", "column": "merchant"},
        {"name": "new_device", "transform": "first_seen", "column": "device"},
    ],
}


def window_set(windows: dict[str, Any] | None = None, skew: float = 300) -> FeatureSet:
    """A contract with one per-transaction feature and `windows` (default WINDOWS)."""
    return parse_feature_set(
        parse_contract(
            {
                "name": "mini",
                "version": "1.0.0",
                "event_time": "t",
                "label": {"column": "label"},
                "freshness": {"max_future_seconds": skew},
                "columns": COLUMNS,
                "features": {
                    "version": 1,
                    "list": [{"name": "log_amount", "transform": "log1p", "column": "amount"}],
                    "windows": WINDOWS if windows is None else windows,
                },
            }
        )
    )


def spec_with(**changes: Any) -> WindowSpec:
    spec = window_set({**WINDOWS, **changes}).windows
    assert spec is not None
    return spec


def at(*seconds: float) -> np.ndarray:
    """Event times T0 + seconds, as a snapshot gives them (datetime64[us])."""
    return (np.array([(T0 + s) * 1_000_000 for s in seconds], np.int64)).astype("datetime64[us]")


def history(**columns: Any) -> dict[str, Any]:
    """Columns of a handmade history: `t` in seconds after T0; the others default."""
    t = at(*columns.pop("t"))
    n = len(t)
    out: dict[str, Any] = {
        "id": [f"tx{i}" for i in range(n)],
        "t": t,
        "card": ["c1"] * n,
        "amount": [10.0] * n,
        "merchant": ["m1"] * n,
        "device": [None] * n,
    }
    out.update(columns)
    return out


def records(columns: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def reference(spec: WindowSpec, columns: dict[str, Any]) -> np.ndarray:
    """The module docstring's definitions, row by row."""
    keys = strings(columns[spec.key])
    t, has_time = epoch_micros(columns[spec.time])
    amount = cents(columns[spec.amount])
    hashes = {k: value_hashes(columns[k]) for k in spec.kinds}
    n = len(keys)
    rows = []
    for i in range(n):
        alive = keys[i] is not None and has_time[i]
        earlier = sorted(
            (j for j in range(n) if alive and keys[j] == keys[i] and has_time[j] and t[j] < t[i]),
            key=lambda j: t[j],
        )
        row: list[float] = []
        for f in spec.features:
            for _, span in f.spans:
                seen = [j for j in earlier if t[j] > t[i] - span][-spec.max_events :]
                count, total = len(seen), sum(int(amount[j]) for j in seen)
                if f.transform == "count":
                    row.append(count)
                elif f.transform == "amount_sum":
                    row.append(total / 100.0)
                elif f.transform == "amount_mean":
                    row.append(total / max(count, 1) / 100.0 if count else 0.0)
                elif f.transform == "amount_max":
                    row.append(max((int(amount[j]) for j in seen), default=0) / 100.0)
                else:
                    live = count and total
                    row.append(float(amount[i]) * count / total if live else f.null_as)
            if f.transform == "seconds_since_previous":
                near = [j for j in earlier if t[i] - t[j] < spec.horizon_us]
                row.append((t[i] - t[near[-1]]) / 1e6 if near else f.null_as)
            elif f.transform == "first_seen":
                h = hashes[str(f.column)]
                if h[i] == 0:
                    row.append(f.null_as)
                else:
                    hit = any(h[j] == h[i] and t[i] - t[j] < spec.horizon_us for j in earlier)
                    row.append(0.0 if hit else 1.0)
        rows.append(row)
    return np.array(rows, np.float32).reshape(n, len(spec.names))
