"""Parsing a column into the contract's type, the `type` rule: typed input cast without loss
(`direct`), text cast with the unparseable values nulled and marked (`parse`). It is apart from
the other rules because it is where most of the time of a dirty batch goes and has its own
machinery: casts run block by block and learn the bad values Arrow names, so a bad value costs a
cheap equality pass instead of a second cast of the column; blocks where that does not work out
are matched against the type's text shape, and NaN and infinities are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.masks import fixed_values, null_where, true_rows, valid_rows
from fraudops_shared.contracts.schema import Column

_FLOAT_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?([Nn][Aa][Nn]|[Ii]nf(inity)?|INF)$"
_INT_TEXT = r"^-?\d+$"
_TIMESTAMP_TEXT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:?\d{2}(:?\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_UNPARSED = (
    re.compile(r"^Failed to parse string: '(.*)' as a scalar of type", re.S),
    re.compile(r"^Failed to parse value: (.*)$", re.S),  # bool
)
_BOOL_TRUE = pa.array(["true", "1"])
_BOOL_ANY = pa.array(["true", "false", "1", "0"])
TYPE_WORDS = {
    "float64": "is not a number",
    "int64": "is not an integer",
    "timestamp": "is not an ISO-8601 timestamp with a UTC offset (e.g. 2026-11-27T10:15:00Z)",
    "bool": "is not a boolean (true/false/1/0)",
    "string": "is not a text value",
}
_BLOCK_ROWS = 1 << 16  # casts run per block: a failed cast wastes one block, not the column
_LEARNED_MAX = 16  # distinct bad values learned from cast errors before matching the shape


def direct(raw: pa.ChunkedArray, target: pa.DataType) -> tuple[pa.ChunkedArray | None, None]:
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


def parse(
    text: pa.ChunkedArray, col: Column, present: np.ndarray
) -> tuple[pa.ChunkedArray, np.ndarray | None]:
    """Text -> contract type; returns the typed column (null where unparseable) and that mask."""
    target = col.arrow_type()
    if col.type == "string":
        return text, None
    typed = _cast_learning(text, target, col.type)
    bad = present & ~valid_rows(typed) if typed.null_count > text.null_count else None
    if col.type == "float64":
        nonfinite = _nonfinite(typed)
        if nonfinite is not None:  # NaN and inf parse, but pass every range check: refuse them
            bad = nonfinite if bad is None else bad | nonfinite
            typed = pc.if_else(pa.array(nonfinite), pa.scalar(None, target), typed)
    if bad is not None and not bad.any():
        bad = None
    return typed, bad


def _blocks(values: pa.ChunkedArray) -> Iterator[pa.Array]:
    for chunk in values.chunks:
        for start in range(0, len(chunk), _BLOCK_ROWS):
            yield chunk.slice(start, _BLOCK_ROWS)


def _cast_learning(text: pa.ChunkedArray, target: pa.DataType, kind: str) -> pa.ChunkedArray:
    """Cast block by block, nulling the values Arrow refuses.

    A refused cast names the value it stopped at; every copy of that value is nulled (here and
    in the blocks still to come) and the block cast again. Bad values in real files are
    systematic (one producer writes "12,50 EUR"), so a few learned values cover them at the
    price of an equality pass. Blocks where that does not work out are matched against the
    type's text shape instead (bool: its spellings), exactly as before, only smaller.
    """
    learned: list[str] = []
    out: list[pa.Array] = []
    for block in _blocks(text):
        if learned and block.null_count < len(block):
            known = _equal_any(block, learned)
            if pc.any(known).as_py():
                block = null_where(block, known)
        for _ in range(3):
            try:
                out.append(pc.cast(block, target))
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                value = _refused(error, block) if len(learned) < _LEARNED_MAX else None
                if value is None:
                    out.append(_cast_by_shape(block, target, kind))
                    break
                learned.append(value)
                block = null_where(block, pc.equal(block, value))
        else:
            out.append(_cast_by_shape(block, target, kind))
    return pa.chunked_array(out, target)


def _equal_any(block: pa.Array, values: list[str]) -> pa.Array:
    """Rows equal to one of a few values (a handful of equality passes beat hashing)."""
    if len(values) > 4:
        return pc.is_in(block, value_set=pa.array(values, block.type))
    found = pc.equal(block, values[0])
    for value in values[1:]:
        found = pc.or_(found, pc.equal(block, value))
    return found


def _refused(error: Exception, block: pa.Array) -> str | None:
    """The value a failed cast names, if it really is in the block (else None)."""
    for pattern in _UNPARSED:
        found = pattern.search(str(error))
        if found and pc.any(pc.equal(block, found.group(1))).as_py():
            return found.group(1)
    return None


def _cast_by_shape(block: pa.Array, target: pa.DataType, kind: str) -> pa.Array:
    if kind == "bool":
        lower = pc.utf8_lower(block)
        ok = pc.is_in(lower, value_set=_BOOL_ANY)
        return pc.if_else(ok, pc.is_in(lower, value_set=_BOOL_TRUE), pa.scalar(None, pa.bool_()))
    pattern = {"float64": _FLOAT_TEXT, "int64": _INT_TEXT, "timestamp": _TIMESTAMP_TEXT}[kind]
    shaped = pc.fill_null(pc.match_substring_regex(block, pattern), False)
    return _bisect_cast(pc.if_else(shaped, block, pa.scalar(None, block.type)), target)


def _bisect_cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast, nulling the values Arrow refuses (the rare ones the shape regex let through)."""
    try:
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) <= 1:
            return pa.nulls(len(arr), target)
        half = len(arr) // 2
        parts = [_bisect_cast(arr.slice(0, half), target), _bisect_cast(arr.slice(half), target)]
        return pa.concat_arrays(parts)


def _nonfinite(typed: pa.ChunkedArray) -> np.ndarray | None:
    """Rows holding NaN or +-inf; None when there are none (checked on the raw values first)."""
    if all(np.isfinite(fixed_values(chunk, np.float64)).all() for chunk in typed.chunks):
        return None
    mask = true_rows(pc.invert(pc.is_finite(typed)))
    return mask if mask.any() else None
