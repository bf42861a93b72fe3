"""Reading one column's values the same way whatever carried them (numpy arrays of a snapshot,
lists of Python values or JSON text of a scoring request), for every feature module.

Nulls are None, NaN, NaT or empty text; numbers may come as text, booleans as "true"/"false",
times as datetime64, datetimes, ISO-8601 text (naive means UTC) or seconds (``Time`` offsets).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class FeatureSpecError(ValueError):
    """A contract's features section that cannot be used (a packaging bug, not a data problem)."""


def numbers(values: Any) -> np.ndarray:
    """float64 with NaN for null; bools as 0/1; numeric strings parsed."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    out = np.full(len(arr), np.nan)
    for i, v in enumerate(arr):
        out[i] = _number(v)
    return out


def _number(v: Any) -> float:
    """One value of an object or text array, as `numbers` reads it."""
    if v is None or v == "":
        return np.nan
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return 1.0 if v.strip().lower() == "true" else 0.0
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def strings(values: Any) -> np.ndarray:
    """object array of str, None for null/NaN/empty."""
    arr = np.asarray(values, dtype=object)
    return np.array([_string(v) for v in arr], dtype=object)


def _string(v: Any) -> str | None:
    return None if v is None or v == "" or (isinstance(v, float) and v != v) else str(v)


def epoch_seconds(values: Any) -> np.ndarray:
    """Seconds since the epoch (UTC) of datetime64 values, datetimes or ISO-8601 strings."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        secs = arr.astype("datetime64[us]").astype(np.int64) / 1e6
        return np.where(np.isnat(arr), np.nan, secs)
    if arr.dtype.kind in "fiu":
        return arr.astype(np.float64)
    out = np.full(len(arr), np.nan)
    for i, v in enumerate(arr):
        out[i] = _second(v)
    return out


def _second(v: Any) -> float:
    """One value of an object or text array, as `epoch_seconds` reads it."""
    if v is None or v == "":
        return np.nan
    if isinstance(v, datetime):
        return utc(v).timestamp()
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
        return float(v)  # seconds (Time offsets) beside nulls in an object array
    text = str(v).strip().replace("Z", "+00:00")
    try:
        return utc(datetime.fromisoformat(text)).timestamp()
    except ValueError:
        try:
            return float(text)  # seconds as text ("3600"), as `numbers` reads numbers
        except ValueError:
            return np.nan


def epoch_micros(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(int64 microseconds since the epoch, known mask): exact integers, so that windows compare
    times the same way offline and online (float seconds lose microseconds after 2^53)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        known = ~np.isnat(arr)
        return np.where(known, arr.astype("datetime64[us]").astype(np.int64), 0), known
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64) * 1_000_000, np.ones(len(arr), bool)
    if arr.dtype.kind == "f":
        known = np.isfinite(arr)
        return np.where(known, np.rint(np.where(known, arr, 0) * 1e6), 0).astype(np.int64), known
    fast = _fast_micros(arr)
    if fast is not None:
        return fast
    out = np.zeros(len(arr), np.int64)
    known = np.zeros(len(arr), bool)
    for i, v in enumerate(arr):
        micros = _micros(v)
        if micros is not None:
            out[i], known[i] = micros, True
    return out, known


def _fast_micros(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The two shapes a scorer meets, vectorised (10x the loop below): ISO-8601 UTC text
    ending in Z (a JSON feed) and time-zone-aware datetimes (Arrow's to_pylist); anything
    else, or any doubt, takes the loop."""
    if not len(arr):
        return None
    first = arr[0]
    if isinstance(first, str):
        if not all(isinstance(v, str) and v.endswith("Z") and "T" in v for v in arr):
            return None
        try:
            parsed = np.array([v[:-1] for v in arr], dtype="datetime64[us]")
        except ValueError:
            return None
        return parsed.astype(np.int64), np.ones(len(arr), bool)
    if isinstance(first, datetime) and all(
        isinstance(v, datetime) and v.tzinfo is not None for v in arr
    ):
        # aware: timestamp() is exact UTC; float seconds hold whole microseconds until 2^33 s
        seconds = np.array([v.timestamp() for v in arr], np.float64)
        if np.abs(seconds).max() < 2**33:
            return np.rint(seconds * 1e6).astype(np.int64), np.ones(len(arr), bool)
    return None


def _micros(v: Any) -> int | None:
    if v is None or v == "" or isinstance(v, bool):
        return None
    if isinstance(v, datetime):
        return (utc(v) - _EPOCH) // _MICROSECOND
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else int(v.astype("datetime64[us]").astype(np.int64))
    if isinstance(v, int | np.integer):
        return int(v) * 1_000_000
    if isinstance(v, float | np.floating):
        return round(float(v) * 1e6) if np.isfinite(v) else None
    text = str(v).strip().replace("Z", "+00:00")
    try:
        return (utc(datetime.fromisoformat(text)) - _EPOCH) // _MICROSECOND
    except ValueError:
        try:
            seconds = float(text)
        except ValueError:
            return None
        return round(seconds * 1e6) if np.isfinite(seconds) else None


def utc(moment: datetime) -> datetime:
    """Naive times are UTC (as datetime64 values and the validator take them), never the
    process's local time zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- one value: what the array readers above give for a one-element list ----------------------
# The API scores one transaction per call, where a numpy call per value costs more than the
# feature itself. Each reader below returns exactly `reader([v])[0]` for the plain types a
# decoded record carries (None, str, bool, int, float, datetime) and raises `Unusual` for
# anything else, for which the caller takes the array path: exact by construction, not by
# tolerance (tests/unit/features/test_online_single.py compares both).

_SCALAR_INTS = (int, np.int64)
_SCALAR_FLOATS = (float, np.float64)
_MICROS_LIMIT = 2**62  # the one-value path leaves times near int64's ends to numpy's wrapping


class Unusual(Exception):
    """A value of a type (or a range) the one-value readers do not mirror: use the arrays."""


def number(v: Any) -> float:
    """`numbers([v])[0]`."""
    kind = type(v)
    if kind in _SCALAR_FLOATS or kind is bool:
        return float(v)
    if v is None:
        return np.nan
    if kind is str and "\0" not in v:  # numpy text arrays drop trailing NULs
        return _number(v)
    if kind in _SCALAR_INTS and -(2**63) <= v < 2**63:
        return float(v)
    raise Unusual(kind.__name__)


def string(v: Any) -> str | None:
    """`strings([v])[0]`."""
    if v is None or type(v) in (str, int, float, bool):
        return _string(v)
    raise Unusual(type(v).__name__)


def epoch_second(v: Any) -> float:
    """`epoch_seconds([v])[0]`."""
    kind = type(v)
    if v is None:
        return np.nan
    if (kind is str and "\0" not in v) or kind is datetime:
        return _second(v)
    if kind in _SCALAR_FLOATS or (kind in _SCALAR_INTS and -(2**63) <= v < 2**63):
        return float(v)
    if kind is np.datetime64:
        return np.nan if np.isnat(v) else int(v.astype("datetime64[us]").astype(np.int64)) / 1e6
    raise Unusual(kind.__name__)


def epoch_micro(v: Any) -> tuple[int, bool]:
    """`epoch_micros([v])` as (microseconds, known); Unusual beyond +-2^62 us as well."""
    kind = type(v)
    if v is None:
        return 0, False
    if kind is str and "\0" not in v:
        micros = None
        if v.endswith("Z") and "T" in v:  # `_fast_micros`, the same numpy parse
            try:
                micros = int(np.array([v[:-1]], dtype="datetime64[us]").astype(np.int64)[0])
            except ValueError:
                micros = None
        if micros is None:
            micros = _micros(v)
    elif kind is datetime:
        micros = None
        if v.tzinfo is not None:  # `_fast_micros`: aware datetimes
            seconds = v.timestamp()
            if abs(seconds) < 2**33:
                micros = round(seconds * 1e6)
        if micros is None:
            micros = _micros(v)
    elif kind in _SCALAR_INTS and -(2**63) <= v < 2**63:
        micros = int(v) * 1_000_000
    elif kind in _SCALAR_FLOATS:
        if not np.isfinite(v):
            return 0, False
        scaled = float(v) * 1e6
        if not abs(scaled) < _MICROS_LIMIT:
            raise Unusual("a time beyond +-2^62 us")
        micros = round(scaled)
    elif kind is np.datetime64:
        if np.isnat(v):
            return 0, False
        micros = int(v.astype("datetime64[us]").astype(np.int64))
    else:
        raise Unusual(kind.__name__)
    if micros is None:
        return 0, False
    if not -_MICROS_LIMIT < micros < _MICROS_LIMIT:
        raise Unusual("a time beyond +-2^62 us")
    return micros, True
