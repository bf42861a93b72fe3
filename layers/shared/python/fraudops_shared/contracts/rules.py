"""The per-column rules of a contract, each a boolean mask over a batch with a function that
words the reason of any failing row: parsing text into the contract's types (`not_null`,
`type`), value rules (`range`, `allowed`, `pattern`, `max_length`) and freshness
(`event_time_in_future`, `event_time_too_old`). Rules per value are exclusive in order: a
missing value fails `not_null` only, an unparseable one `type` only; the others apply to parsed
values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.schema import Column, Contract

_FLOAT_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?([Nn][Aa][Nn]|[Ii]nf(inity)?|INF)$"
_INT_TEXT = r"^-?\d+$"
_TIMESTAMP_TEXT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:?\d{2}(:?\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_UNPARSED = re.compile(r"^Failed to parse string: '(.*)' as a scalar of type", re.S)
_BOOL_TRUE = pa.array(["true", "1"])
_BOOL_ANY = pa.array(["true", "false", "1", "0"])
TEXT_TYPES = (pa.string(), pa.large_string())
_TYPE_WORDS = {
    "float64": "is not a number",
    "int64": "is not an integer",
    "timestamp": "is not an ISO-8601 timestamp with a UTC offset (e.g. 2026-11-27T10:15:00Z)",
    "bool": "is not a boolean (true/false/1/0)",
    "string": "is not a text value",
}


@dataclass
class Failure:
    rule: str
    mask: np.ndarray  # bool, one per row, True = this row fails the rule
    describe: Callable[[np.ndarray], list[str]]  # reasons for the failing row numbers given


def check_column(
    col: Column, raw: pa.ChunkedArray | None, n: int, failures: list[Failure]
) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None]:
    """Parse one column and append its failures; returns (typed values, text or None)."""
    target = col.arrow_type()
    if raw is None:
        raw = pa.chunked_array([pa.nulls(n, target)])
    elif isinstance(raw, pa.Array):
        raw = pa.chunked_array([raw])
    if pa.types.is_dictionary(raw.type):
        raw = raw.cast(raw.type.value_type)
    typed, text = (None, None) if col.type == "string" else _direct(raw, target)
    if typed is None:
        text = raw if raw.type in TEXT_TYPES else raw.cast(pa.string())
        empty = pc.equal(text, "")
        if pc.any(empty).as_py():  # "" is a missing value in text files, not a value
            text = pc.if_else(empty, pa.scalar(None, text.type), text)
    values = typed if typed is not None else text
    assert values is not None  # one of them is set above
    # null_count is free metadata: skip the mask when nothing is missing
    present = np_mask(pc.is_valid(values)) if values.null_count else np.ones(n, dtype=bool)
    if not col.nullable and values.null_count:
        failures.append(Failure(f"not_null:{col.name}", ~present, _missing(col.name)))
    if typed is None:
        typed, unparsed = _parse(text, col, present)
        if unparsed is not None:
            failures.append(
                Failure(
                    f"type:{col.name}", unparsed, _values(col.name, text, _TYPE_WORDS[col.type])
                )
            )
    _value_rules(col, typed, text, failures)
    return typed, text


def _direct(raw: pa.ChunkedArray, target: pa.DataType) -> tuple[pa.ChunkedArray | None, None]:
    """Typed input (Parquet, JSON numbers) cast without loss, or None to go through text."""
    source = raw.type
    if source == target:
        return raw, None
    ok = (
        (pa.types.is_timestamp(target) and pa.types.is_timestamp(source))
        or (
            pa.types.is_floating(target)
            and (pa.types.is_integer(source) or pa.types.is_floating(source))
        )
        or (pa.types.is_integer(target) and pa.types.is_integer(source))
        or (pa.types.is_boolean(target) and pa.types.is_null(source))
        or pa.types.is_null(source)
    )
    if not ok:
        return None, None
    try:
        # naive timestamps are taken as UTC; ns -> us drops sub-microsecond digits
        return raw.cast(target, safe=not pa.types.is_timestamp(target)), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None, None


def _parse(
    text: pa.ChunkedArray, col: Column, present: np.ndarray
) -> tuple[pa.ChunkedArray, np.ndarray | None]:
    """Text -> contract type; returns the typed column (null where unparseable) and that mask."""
    target = col.arrow_type()
    if col.type == "string":
        return text, None
    if col.type == "bool":
        ok = pc.is_in(text, value_set=_BOOL_ANY)
        lower = text
        if not pc.all(pc.or_(ok, pc.is_null(text))).as_py():  # True/TRUE: lower-case only then
            lower = pc.utf8_lower(text)
            ok = pc.is_in(lower, value_set=_BOOL_ANY)
        typed = pc.if_else(ok, pc.is_in(lower, value_set=_BOOL_TRUE), pa.scalar(None, pa.bool_()))
        bad = present & ~np_mask(ok)
        return typed, bad if bad.any() else None
    typed = _cast_skipping_values(text, target)
    if typed is not None:
        bad = present & np_mask(pc.is_null(typed)) if typed.null_count > text.null_count else None
    else:
        pattern = {"float64": _FLOAT_TEXT, "int64": _INT_TEXT, "timestamp": _TIMESTAMP_TEXT}
        shaped = pc.fill_null(pc.match_substring_regex(text, pattern[col.type]), False)
        typed = _cast_or_null(pc.if_else(shaped, text, pa.scalar(None, text.type)), target)
        bad = present & np_mask(pc.is_null(typed))
    if col.type == "float64":
        nonfinite = np_mask(pc.fill_null(pc.invert(pc.is_finite(typed)), False))
        if nonfinite.any():  # NaN and inf parse, but pass every range check: refuse them here
            bad = nonfinite if bad is None else bad | nonfinite
            typed = pc.if_else(pa.array(nonfinite), pa.scalar(None, target), typed)
    if bad is not None and not bad.any():
        bad = None
    return typed, bad


def _cast_skipping_values(
    text: pa.ChunkedArray, target: pa.DataType, tries: int = 4
) -> pa.ChunkedArray | None:
    """Cast; on failure null every copy of the value Arrow names and retry, a few times.

    Bad values in real files are usually systematic (one producer writes "12,50 EUR"), so a
    handful of distinct values covers them for the price of a few casts, not a regex over the
    column. None when that does not work out: the caller falls back to the regex.
    """
    current = text
    for _ in range(tries + 1):
        try:
            return pc.cast(current, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            found = _UNPARSED.search(str(error))
            if not found:
                return None
            same = pc.fill_null(pc.equal(current, found.group(1)), False)
            if not pc.any(same).as_py():
                return None
            current = pc.if_else(same, pa.scalar(None, text.type), current)
    return None


def _cast_or_null(text: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Cast, nulling the values Arrow refuses (the rare ones the shape regex let through)."""
    try:
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.chunked_array([_bisect_cast(c, target) for c in text.chunks], target)


def _bisect_cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    try:
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) <= 1:
            return pa.nulls(len(arr), target)
        half = len(arr) // 2
        parts = [_bisect_cast(arr.slice(0, half), target), _bisect_cast(arr.slice(half), target)]
        return pa.concat_arrays(parts)


def _value_rules(
    col: Column, typed: pa.ChunkedArray, text: pa.ChunkedArray | None, failures: list[Failure]
) -> None:
    name = col.name
    if col.min is not None:
        below = np_mask(pc.fill_null(pc.less(typed, col.min), False))
        if below.any():
            failures.append(
                Failure(
                    f"range:{name}",
                    below,
                    _values(name, typed, f"is below the minimum {_num(col.min)}", raw=False),
                )
            )
    if col.max is not None:
        above = np_mask(pc.fill_null(pc.greater(typed, col.max), False))
        if above.any():
            rule = Failure(
                f"range:{name}",
                above,
                _values(name, typed, f"is above the maximum {_num(col.max)}", raw=False),
            )
            _merge(failures, rule)
    if col.allowed is not None:
        values = typed if col.type != "string" or text is None else text
        value_set = pa.array(col.allowed, type=values.type)
        # is_in(null) is False, not null: exclude missing values explicitly
        outside = np_mask(
            pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=value_set)))
        )
        if outside.any():
            shown = (
                ", ".join(map(str, col.allowed))
                if len(col.allowed) <= 10
                else f"the {len(col.allowed)} allowed values of {name}"
            )
            failures.append(
                Failure(f"allowed:{name}", outside, _values(name, values, f"is not one of {shown}"))
            )
    if col.type == "string" and text is not None:
        if col.pattern is not None:
            unmatched = np_mask(
                pc.fill_null(pc.invert(pc.match_substring_regex(text, col.pattern)), False)
            )
            if unmatched.any():
                failures.append(
                    Failure(
                        f"pattern:{name}",
                        unmatched,
                        _values(name, text, f"does not match {col.pattern}"),
                    )
                )
        if col.max_length is not None:
            too_long = _long(text, col.max_length)
            if too_long is not None:
                failures.append(
                    Failure(f"max_length:{name}", too_long, _lengths(name, text, col.max_length))
                )


def _long(text: pa.ChunkedArray, limit: int) -> np.ndarray | None:
    # bytes >= characters: only when some value has more bytes than the limit count characters
    if (pc.max(pc.binary_length(text)).as_py() or 0) <= limit:
        return None
    mask = np_mask(pc.fill_null(pc.greater(pc.utf8_length(text), limit), False))
    return mask if mask.any() else None


def freshness(
    contract: Contract, typed: dict[str, pa.ChunkedArray], now: datetime
) -> list[Failure]:
    times = typed[contract.event_time]
    if not pa.types.is_timestamp(times.type):
        return []
    out = []
    name = contract.event_time
    if contract.max_future_seconds is not None:
        limit = now + timedelta(seconds=contract.max_future_seconds)
        ahead = np_mask(pc.fill_null(pc.greater(times, pa.scalar(limit, times.type)), False))
        if ahead.any():

            def future(rows: np.ndarray) -> list[str]:
                vals = times.take(pa.array(rows)).to_pylist()
                return [
                    f"{name}={iso(v)} is {(v - now).total_seconds():.0f} s in the future "
                    f"(at most {contract.max_future_seconds:.0f} s allowed)"
                    for v in vals
                ]

            out.append(Failure("event_time_in_future", ahead, future))
    if contract.max_age_days is not None:
        oldest = now - timedelta(days=contract.max_age_days)
        old = np_mask(pc.fill_null(pc.less(times, pa.scalar(oldest, times.type)), False))
        if old.any():

            def too_old(rows: np.ndarray) -> list[str]:
                vals = times.take(pa.array(rows)).to_pylist()
                return [
                    f"{name}={iso(v)} is {(now - v).days} days old "
                    f"(at most {contract.max_age_days:.0f} days allowed)"
                    for v in vals
                ]

            out.append(Failure("event_time_too_old", old, too_old))
    return out


def _merge(failures: list[Failure], new: Failure) -> None:
    """Join a second mask into an existing rule id (range below + range above)."""
    for i, old in enumerate(failures):
        if old.rule == new.rule:

            def describe(rows: np.ndarray, a: Failure = old, b: Failure = new) -> list[str]:
                in_a = a.mask[rows]
                text = dict(zip(rows[in_a].tolist(), a.describe(rows[in_a]), strict=True))
                text.update(zip(rows[~in_a].tolist(), b.describe(rows[~in_a]), strict=True))
                return [text[int(r)] for r in rows]

            failures[i] = Failure(old.rule, old.mask | new.mask, describe)
            return
    failures.append(new)


# ----------------------------------------------------------------------------- reasons


def _missing(name: str) -> Callable[[np.ndarray], list[str]]:
    return lambda rows: [f"{name} is required but missing or empty"] * len(rows)


def _values(
    name: str, values: pa.ChunkedArray, words: str, *, raw: bool = True
) -> Callable[[np.ndarray], list[str]]:
    def describe(rows: np.ndarray) -> list[str]:
        vals = values.take(pa.array(rows, pa.int64())).to_pylist()
        return [f"{name}={_show(v, raw)} {words}" for v in vals]

    return describe


def _lengths(name: str, text: pa.ChunkedArray, limit: int) -> Callable[[np.ndarray], list[str]]:
    def describe(rows: np.ndarray) -> list[str]:
        vals = text.take(pa.array(rows, pa.int64())).to_pylist()
        return [f"{name} has {len(v)} characters, more than the maximum {limit}" for v in vals]

    return describe


def _show(value: Any, raw: bool) -> str:
    if isinstance(value, datetime):
        return iso(value)
    if raw and isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    return repr(value)


def _num(value: float) -> str:
    return (
        str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
    )


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def np_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)
