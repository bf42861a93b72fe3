"""Validate a batch (or one stream record) against its data contract, vectorised with Arrow.

Every rule is a boolean mask over the whole batch (pyarrow.compute, numpy); Python only touches
rejected rows, to write their reasons. Rule ids are stable, dashboards and alarms count them:
`not_null:<col>`, `type:<col>`, `range:<col>`, `allowed:<col>`, `pattern:<col>`,
`max_length:<col>`, `event_time_in_future`, `event_time_too_old`, `duplicate_key`; for single
records also `not_an_object` and `unknown_field:<name>`.

Rules per value are exclusive in order: a missing value fails `not_null` only, an unparseable one
`type` only; `range`, `allowed`, `pattern`, `max_length` and freshness apply to parsed values.
Uniqueness is positional: the first row with a key wins, later rows fail `duplicate_key` whatever
else is wrong with either. Keys are hashed once (fixed-width strings straight from Arrow's
buffers), sorted, and only colliding rows are compared as Python strings, so the check is exact.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts import Column, Contract

SeenKeys = Callable[[pa.Array], Any]
_WORKERS = max(1, min(8, os.cpu_count() or 1))
_PARALLEL_ROWS = 50_000  # below this, starting threads costs more than it saves

_FLOAT_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?([Nn][Aa][Nn]|[Ii]nf(inity)?|INF)$"
_INT_TEXT = r"^-?\d+$"
_TIMESTAMP_TEXT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:?\d{2}(:?\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_UNPARSED = re.compile(r"^Failed to parse string: '(.*)' as a scalar of type", re.S)
_BOOL_TRUE = pa.array(["true", "1"])
_BOOL_ANY = pa.array(["true", "false", "1", "0"])
_TEXT_TYPES = (pa.string(), pa.large_string())
_TYPE_WORDS = {
    "float64": "is not a number",
    "int64": "is not an integer",
    "timestamp": "is not an ISO-8601 timestamp with a UTC offset (e.g. 2026-11-27T10:15:00Z)",
    "bool": "is not a boolean (true/false/1/0)",
    "string": "is not a text value",
}


class FileContractError(ValueError):
    """The file as a whole does not fit the contract (columns missing or unknown)."""

    def __init__(
        self, reason: str, *, missing: Sequence[str] = (), unknown: Sequence[str] = ()
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = list(missing)
        self.unknown = list(unknown)


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of one batch; `rows_in == valid.num_rows + rejected.num_rows` always holds."""

    contract: str
    contract_version: str
    rows_in: int
    valid: pa.Table
    rejected: pa.Table
    rule_counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_valid(self) -> int:
        return self.valid.num_rows

    @property
    def rows_rejected(self) -> int:
        return self.rejected.num_rows


@dataclass(frozen=True)
class RecordResult:
    """One stream record: the typed row if valid, otherwise the failed rules and why."""

    valid_row: dict[str, Any] | None
    rules: list[str]
    reasons: list[str]

    @property
    def ok(self) -> bool:
        return self.valid_row is not None


REJECTED_SCHEMA = pa.schema(
    [
        pa.field("row_number", pa.int64(), nullable=False),
        pa.field("rules", pa.list_(pa.string()), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("record", pa.string(), nullable=False),
    ]
)


@dataclass
class _Failure:
    rule: str
    mask: np.ndarray  # bool, one per row, True = this row fails the rule
    describe: Callable[[np.ndarray], list[str]]  # reasons for the failing row numbers given


# ----------------------------------------------------------------------------- batch


def validate_batch(
    contract: Contract,
    table: pa.Table,
    *,
    now: datetime,
    seen_keys: SeenKeys | None = None,
) -> ValidationReport:
    """Split `table` into typed valid rows and rejected rows with every rule they failed.

    `table` holds text columns as read from CSV/JSONL (read them with `contract.raw_schema()`)
    or typed columns from Parquet. `seen_keys(keys) -> bool mask` is asked once, about the
    distinct keys of otherwise valid rows, whether an earlier batch already brought them.
    """
    _check_columns(contract, table)
    now_utc = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    n = table.num_rows
    failures: list[_Failure] = []
    typed: dict[str, pa.ChunkedArray] = {}
    texts: dict[str, pa.ChunkedArray] = {}

    def check(col: Column) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None, list[_Failure]]:
        found: list[_Failure] = []
        raw = table.column(col.name) if col.name in table.column_names else None
        return (*_check_column(col, raw, n, found), found)

    # Columns are independent and Arrow's kernels release the GIL: check them side by side.
    workers = min(_WORKERS, len(contract.columns)) if n >= _PARALLEL_ROWS else 1
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(check, contract.columns))
    else:
        results = [check(col) for col in contract.columns]
    for col, (values, text, found) in zip(contract.columns, results, strict=True):
        typed[col.name] = values
        if text is not None:
            texts[col.name] = text
        failures += found
    failures += _freshness(contract, typed, now_utc)
    if contract.unique_key:
        key = texts.get(contract.unique_key, typed[contract.unique_key])
        failures += _duplicates(contract.unique_key, key, failures, n, seen_keys)
    return _report(contract, table, typed, failures, n)


def _check_columns(contract: Contract, table: pa.Table) -> None:
    names = table.column_names
    if table.num_rows == 0 and not names:
        return  # an empty file: nothing to check, nothing lost
    if len(set(names)) != len(names):
        dupes = sorted({c for c in names if names.count(c) > 1})
        raise FileContractError(f"duplicate columns: {', '.join(dupes)}")
    known = set(contract.column_names)
    missing = [c.name for c in contract.columns if c.required and c.name not in names]
    unknown = [c for c in names if c not in known]
    problems = []
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    if problems:
        raise FileContractError(
            f"{contract.name} v{contract.version}: {'; '.join(problems)}",
            missing=missing,
            unknown=unknown,
        )


def _check_column(
    col: Column, raw: pa.ChunkedArray | None, n: int, failures: list[_Failure]
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
        text = raw if raw.type in _TEXT_TYPES else raw.cast(pa.string())
        empty = pc.equal(text, "")
        if pc.any(empty).as_py():  # "" is a missing value in text files, not a value
            text = pc.if_else(empty, pa.scalar(None, text.type), text)
    values = typed if typed is not None else text
    # null_count is free metadata: skip the mask when nothing is missing
    present = _np(pc.is_valid(values)) if values.null_count else np.ones(n, dtype=bool)
    if not col.nullable and values.null_count:
        failures.append(_Failure(f"not_null:{col.name}", ~present, _missing(col.name)))
    if typed is None:
        typed, unparsed = _parse(text, col, present)
        if unparsed is not None:
            failures.append(
                _Failure(
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
        bad = present & ~_np(ok)
        return typed, bad if bad.any() else None
    typed = _cast_skipping_values(text, target)
    if typed is not None:
        bad = present & _np(pc.is_null(typed)) if typed.null_count > text.null_count else None
    else:
        pattern = {"float64": _FLOAT_TEXT, "int64": _INT_TEXT, "timestamp": _TIMESTAMP_TEXT}
        shaped = pc.fill_null(pc.match_substring_regex(text, pattern[col.type]), False)
        typed = _cast_or_null(pc.if_else(shaped, text, pa.scalar(None, text.type)), target)
        bad = present & _np(pc.is_null(typed))
    if col.type == "float64":
        nonfinite = _np(pc.fill_null(pc.invert(pc.is_finite(typed)), False))
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
    col: Column, typed: pa.ChunkedArray, text: pa.ChunkedArray | None, failures: list[_Failure]
) -> None:
    name = col.name
    if col.min is not None:
        below = _np(pc.fill_null(pc.less(typed, col.min), False))
        if below.any():
            failures.append(
                _Failure(
                    f"range:{name}",
                    below,
                    _values(name, typed, f"is below the minimum {_num(col.min)}", raw=False),
                )
            )
    if col.max is not None:
        above = _np(pc.fill_null(pc.greater(typed, col.max), False))
        if above.any():
            rule = _Failure(
                f"range:{name}",
                above,
                _values(name, typed, f"is above the maximum {_num(col.max)}", raw=False),
            )
            _merge(failures, rule)
    if col.allowed is not None:
        values = typed if col.type != "string" or text is None else text
        value_set = pa.array(col.allowed, type=values.type)
        # is_in(null) is False, not null: exclude missing values explicitly
        outside = _np(
            pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=value_set)))
        )
        if outside.any():
            shown = (
                ", ".join(map(str, col.allowed))
                if len(col.allowed) <= 10
                else f"the {len(col.allowed)} allowed values of {name}"
            )
            failures.append(
                _Failure(
                    f"allowed:{name}", outside, _values(name, values, f"is not one of {shown}")
                )
            )
    if col.type == "string" and text is not None:
        if col.pattern is not None:
            unmatched = _np(
                pc.fill_null(pc.invert(pc.match_substring_regex(text, col.pattern)), False)
            )
            if unmatched.any():
                failures.append(
                    _Failure(
                        f"pattern:{name}",
                        unmatched,
                        _values(name, text, f"does not match {col.pattern}"),
                    )
                )
        if col.max_length is not None:
            too_long = _long(text, col.max_length)
            if too_long is not None:
                failures.append(
                    _Failure(f"max_length:{name}", too_long, _lengths(name, text, col.max_length))
                )


def _long(text: pa.ChunkedArray, limit: int) -> np.ndarray | None:
    # bytes >= characters: only when some value has more bytes than the limit count characters
    if (pc.max(pc.binary_length(text)).as_py() or 0) <= limit:
        return None
    mask = _np(pc.fill_null(pc.greater(pc.utf8_length(text), limit), False))
    return mask if mask.any() else None


def _freshness(
    contract: Contract, typed: dict[str, pa.ChunkedArray], now: datetime
) -> list[_Failure]:
    times = typed[contract.event_time]
    if not pa.types.is_timestamp(times.type):
        return []
    out = []
    name = contract.event_time
    if contract.max_future_seconds is not None:
        limit = now + timedelta(seconds=contract.max_future_seconds)
        ahead = _np(pc.fill_null(pc.greater(times, pa.scalar(limit, times.type)), False))
        if ahead.any():

            def future(rows: np.ndarray) -> list[str]:
                vals = times.take(pa.array(rows)).to_pylist()
                return [
                    f"{name}={_iso(v)} is {(v - now).total_seconds():.0f} s in the future "
                    f"(at most {contract.max_future_seconds:.0f} s allowed)"
                    for v in vals
                ]

            out.append(_Failure("event_time_in_future", ahead, future))
    if contract.max_age_days is not None:
        oldest = now - timedelta(days=contract.max_age_days)
        old = _np(pc.fill_null(pc.less(times, pa.scalar(oldest, times.type)), False))
        if old.any():

            def too_old(rows: np.ndarray) -> list[str]:
                vals = times.take(pa.array(rows)).to_pylist()
                return [
                    f"{name}={_iso(v)} is {(now - v).days} days old "
                    f"(at most {contract.max_age_days:.0f} days allowed)"
                    for v in vals
                ]

            out.append(_Failure("event_time_too_old", old, too_old))
    return out


# ----------------------------------------------------------------------------- uniqueness


def _duplicates(
    name: str,
    keys: pa.ChunkedArray,
    failures: list[_Failure],
    n: int,
    seen_keys: SeenKeys | None,
) -> list[_Failure]:
    present = _np(pc.is_valid(keys)) if keys.null_count else np.ones(n, dtype=bool)
    dup, first_row = _repeats(keys, present)
    out: list[_Failure] = []
    if dup is not None:

        def within(rows: np.ndarray) -> list[str]:
            vals = keys.take(pa.array(rows)).to_pylist()
            return [
                f"{name}={v!r} repeats row {first_row[int(r)]} of this batch"
                for r, v in zip(rows, vals, strict=True)
            ]

        out.append(_Failure("duplicate_key", dup, within))
    if seen_keys is not None:
        ask = present.copy()
        for f in [*failures, *out]:
            ask &= ~f.mask
        rows = np.flatnonzero(ask)
        if len(rows):
            answer = seen_keys(keys.take(pa.array(rows)).combine_chunks())
            if isinstance(answer, pa.Array | pa.ChunkedArray):
                answer = pc.fill_null(answer, False).to_numpy(zero_copy_only=False)
            seen = np.asarray(answer, dtype=bool)
            if len(seen) != len(rows):
                raise ValueError(f"seen_keys returned {len(seen)} flags for {len(rows)} keys")
            earlier = np.zeros(n, dtype=bool)
            earlier[rows[seen]] = True
            if earlier.any():

                def before(rows: np.ndarray) -> list[str]:
                    vals = keys.take(pa.array(rows)).to_pylist()
                    return [f"{name}={v!r} was already ingested in an earlier batch" for v in vals]

                if dup is None:
                    out.append(_Failure("duplicate_key", earlier, before))
                else:  # one rule id, two stories: merge the masks, keep both explanations
                    both = dup | earlier
                    first = out.pop()

                    def either(rows: np.ndarray) -> list[str]:
                        a = rows[dup[rows]]
                        b = rows[~dup[rows]]
                        text = dict(zip(a.tolist(), first.describe(a), strict=True))
                        text.update(zip(b.tolist(), before(b), strict=True))
                        return [text[int(r)] for r in rows]

                    out.append(_Failure("duplicate_key", both, either))
    return out


def _repeats(
    keys: pa.ChunkedArray, present: np.ndarray
) -> tuple[np.ndarray | None, dict[int, int]]:
    """Rows whose key appeared in an earlier row, and for each the row it repeats."""
    hashes = _hash(keys)
    if hashes is None:  # too irregular to hash cheaply: let Arrow's hash table do it
        return _repeats_arrow(keys, present)
    sorted_hashes = np.sort(hashes[present])
    same = sorted_hashes[1:] == sorted_hashes[:-1]
    if not same.any():
        return None, {}
    colliding = pa.array(np.unique(sorted_hashes[1:][same]))
    candidates = np.flatnonzero(present & _np(pc.is_in(pa.array(hashes), value_set=colliding)))
    return _exact(keys, candidates, len(present))


def _repeats_arrow(
    keys: pa.ChunkedArray, present: np.ndarray
) -> tuple[np.ndarray | None, dict[int, int]]:
    codes = _np(pc.fill_null(pc.dictionary_encode(keys.combine_chunks()).indices, -1))
    # codes number keys in order of first appearance: a repeat is a code not above the running max
    running = np.maximum.accumulate(np.where(present, codes, -1))
    previous = np.concatenate([[-1], running[:-1]])
    repeats = present & (codes <= previous)
    if not repeats.any():
        return None, {}
    candidates = np.flatnonzero(present & np.isin(codes, codes[repeats]))
    return _exact(keys, candidates, len(present))


def _exact(
    keys: pa.ChunkedArray, candidates: np.ndarray, n: int
) -> tuple[np.ndarray | None, dict[int, int]]:
    first: dict[Any, int] = {}
    first_row: dict[int, int] = {}
    dup = np.zeros(n, dtype=bool)
    for row, value in zip(
        candidates.tolist(), keys.take(pa.array(candidates)).to_pylist(), strict=True
    ):
        if value in first:
            dup[row] = True
            first_row[row] = first[value]
        else:
            first[value] = row
    return (dup if dup.any() else None), first_row


_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)


def _hash(keys: pa.ChunkedArray) -> np.ndarray | None:
    """64-bit hash per row, vectorised; None when the strings are too irregular in length."""
    if pa.types.is_integer(keys.type):
        return _np(pc.fill_null(keys.cast(pa.int64()), 0)).view(np.uint64)
    parts = []
    for chunk in keys.chunks:
        h = _hash_text(chunk)
        if h is None:
            return None
        parts.append(h)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def _hash_text(chunk: pa.Array) -> np.ndarray | None:
    n = len(chunk)
    if n == 0:
        return np.zeros(0, np.uint64)
    width = np.int64 if chunk.type == pa.large_string() else np.int32
    _, offsets_buf, data = chunk.buffers()
    offsets = np.frombuffer(
        offsets_buf, dtype=width, count=n + 1, offset=chunk.offset * np.dtype(width).itemsize
    ).astype(np.int64)
    lengths = np.diff(offsets)
    if data is None or lengths.max() == 0:
        return np.zeros(n, np.uint64)
    if lengths.min() == lengths.max():
        return _hash_fixed(data, int(offsets[0]), int(lengths[0]), n)
    counts = np.bincount(lengths)
    sizes = np.flatnonzero(counts)
    if len(sizes) > 32:
        return None
    out = np.zeros(n, np.uint64)
    for size in sizes.tolist():
        rows = np.flatnonzero(lengths == size)
        if size == 0:
            continue
        part = chunk.take(pa.array(rows))  # fresh, contiguous, one width
        _, part_offsets, part_data = part.buffers()
        start = int(np.frombuffer(part_offsets, dtype=width, count=1)[0])
        out[rows] = _hash_fixed(part_data, start, size, len(rows))
    return out


def _hash_fixed(data: pa.Buffer, start: int, size: int, n: int) -> np.ndarray:
    """Hash n strings of `size` bytes laid end to end, reading 8-byte words through strides."""
    h = np.full(n, size, dtype=np.uint64)
    h *= _MIX2
    if size < 8:
        padded = np.zeros((n, 8), np.uint8)
        padded[:, :size] = np.frombuffer(data, np.uint8, count=n * size, offset=start).reshape(
            n, size
        )
        words = [padded.view("<u8").ravel()]
    else:
        starts = list(range(0, size - 7, 8))
        if starts[-1] != size - 8:
            starts.append(size - 8)  # the last word overlaps the one before: no padding copy
        words = [
            np.ndarray((n,), "<u8", buffer=data, offset=start + k, strides=(size,)) for k in starts
        ]
    for word in words:
        h ^= word
        h *= _MIX
        h ^= h >> np.uint64(29)
    h *= _MIX2
    h ^= h >> np.uint64(32)
    return h


# ----------------------------------------------------------------------------- report


def _report(
    contract: Contract,
    table: pa.Table,
    typed: dict[str, pa.ChunkedArray],
    failures: list[_Failure],
    n: int,
) -> ValidationReport:
    bad = np.zeros(n, dtype=bool)
    for f in failures:
        bad |= f.mask
    columns = [typed[c.name] for c in contract.columns]
    columns += [_partition(typed[p.source], p.transform) for p in contract.partition_by]
    rejected_rows = np.flatnonzero(bad)
    if len(rejected_rows):
        keep = pa.array(~bad)
        columns = [c.filter(keep) for c in columns]  # per column: Table.filter is ~3x slower
    valid = pa.Table.from_arrays(columns, schema=contract.curated_schema())
    slot = np.full(n, -1, dtype=np.int64)
    slot[rejected_rows] = np.arange(len(rejected_rows))
    rules: list[list[str]] = [[] for _ in rejected_rows]
    reasons: list[list[str]] = [[] for _ in rejected_rows]
    counts: dict[str, int] = {}
    for f in failures:
        rows = np.flatnonzero(f.mask)
        counts[f.rule] = counts.get(f.rule, 0) + len(rows)
        for s, why in zip(slot[rows].tolist(), f.describe(rows), strict=True):
            rules[s].append(f.rule)
            reasons[s].append(why)
    records = _records(table.take(pa.array(rejected_rows, pa.int64())))
    rejected = pa.Table.from_arrays(
        [
            pa.array(rejected_rows, pa.int64()),
            pa.array(rules, pa.list_(pa.string())),
            pa.array(reasons, pa.list_(pa.string())),
            records,
        ],
        schema=REJECTED_SCHEMA,
    )
    assert valid.num_rows + rejected.num_rows == n
    return ValidationReport(
        contract=contract.name,
        contract_version=contract.version,
        rows_in=n,
        valid=valid,
        rejected=rejected,
        rule_counts=dict(sorted(counts.items())),
    )


def _partition(source: pa.ChunkedArray, transform: str) -> pa.ChunkedArray:
    if transform == "date":
        return pc.cast(source, pa.date32())
    return pc.cast(pc.floor(pc.divide(pc.cast(source, pa.float64()), 86400.0)), pa.int64())


def _merge(failures: list[_Failure], new: _Failure) -> None:
    """Join a second mask into an existing rule id (range below + range above)."""
    for i, old in enumerate(failures):
        if old.rule == new.rule:

            def describe(rows: np.ndarray, a: _Failure = old, b: _Failure = new) -> list[str]:
                in_a = a.mask[rows]
                text = dict(zip(rows[in_a].tolist(), a.describe(rows[in_a]), strict=True))
                text.update(zip(rows[~in_a].tolist(), b.describe(rows[~in_a]), strict=True))
                return [text[int(r)] for r in rows]

            failures[i] = _Failure(old.rule, old.mask | new.mask, describe)
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
        return _iso(value)
    if raw and isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    return repr(value)


def _num(value: float) -> str:
    return (
        str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _records(rows: pa.Table) -> pa.Array:
    """Each rejected row as a JSON object string, built column-wise (Python only as fallback)."""
    if rows.num_rows == 0:
        return pa.array([], pa.string())
    if rows.num_columns == 0:
        return pa.array(["{}"] * rows.num_rows, pa.string())
    parts: list[Any] = []
    for i, (name, column) in enumerate(zip(rows.column_names, rows.columns, strict=True)):
        literal = _json_literal(column)
        if literal is None:
            return pa.array([_json(r) for r in rows.to_pylist()], pa.string())
        parts += [("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":", literal]
    joined = pc.binary_join_element_wise(*parts, "}", "")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _json_literal(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    kind = column.type
    if kind in _TEXT_TYPES:
        if pc.any(pc.match_substring_regex(column, r"[\x00-\x1f]")).as_py():
            return None  # control characters need \u escapes: leave those to json.dumps
        escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise('"', escaped, '"', "")
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_integer(kind):
        text = column.cast(pa.string())
    elif pa.types.is_floating(kind):
        text = column.cast(pa.string())
        text = pc.if_else(
            pc.is_finite(column), text, pc.binary_join_element_wise('"', text, '"', "")
        )
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        text = pc.binary_join_element_wise('"', column.cast(pa.string()), '"', "")
    elif pa.types.is_null(kind):
        text = column.cast(pa.string())
    else:
        return None
    return pc.fill_null(text, "null")


def _json(row: dict[str, Any]) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, datetime | date):
            return v.isoformat()
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return v

    return json.dumps({k: plain(v) for k, v in row.items()}, ensure_ascii=False, default=str)


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)


# ----------------------------------------------------------------------------- records


def validate_record(contract: Contract, record: Any, *, now: datetime) -> RecordResult:
    """One stream record (a decoded JSON value), with the same rules as a batch."""
    return validate_records(contract, [record], now=now)[0]


def validate_records(
    contract: Contract,
    records: Iterable[Any],
    *,
    now: datetime,
    seen_keys: SeenKeys | None = None,
) -> list[RecordResult]:
    """Many stream records at once (one Arrow batch): the fast way to check a Kinesis batch."""
    records = list(records)
    results: list[RecordResult | None] = [None] * len(records)
    names = contract.column_names
    known = set(names)
    columns: dict[str, list[str | None]] = {name: [] for name in names}
    kept: list[int] = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            kind = type(record).__name__
            results[i] = RecordResult(
                None, ["not_an_object"], [f"record is a {kind}, not a JSON object"]
            )
            continue
        rules, reasons = [], []
        for k in record:
            if k not in known:
                rules.append(f"unknown_field:{k}")
                reasons.append(
                    f"field {str(k)!r} is not in contract {contract.name} v{contract.version}"
                )
        for k in names:
            v = record.get(k)
            if isinstance(v, dict | list | tuple | set | bytes):
                rules.append(f"type:{k}")
                reasons.append(
                    f"{k} is a {type(v).__name__}, not a single {contract.column(k).type} value"
                )
        if rules:
            results[i] = RecordResult(None, rules, reasons)
            continue
        kept.append(i)
        for k in names:
            columns[k].append(_text(record.get(k)))
    if kept:
        table = pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
        report = validate_batch(contract, table, now=now, seen_keys=seen_keys)
        valid_rows = iter(report.valid.to_pylist())
        rejected = {
            r["row_number"]: (r["rules"], r["reasons"]) for r in report.rejected.to_pylist()
        }
        for pos, i in enumerate(kept):
            if pos in rejected:
                results[i] = RecordResult(None, *rejected[pos])
            else:
                results[i] = RecordResult(next(valid_rows), [], [])
    return [r for r in results if r is not None]


def _text(value: Any) -> str | None:
    """A JSON value as the text a CSV would carry, so records and files share one parser."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
