"""Validate a batch (or one stream record) against its data contract, vectorised with Arrow.

Every rule is a boolean mask over the whole batch (pyarrow.compute, numpy; the rules are in
`contracts.rules`, uniqueness in `contracts.uniqueness`); Python only touches rejected rows, to
write their reasons. Rule ids are stable, dashboards and alarms count them, and never carry data
(metric names are built from them; a value or a producer's field name goes in the reason):

- per column: `not_null:<col>`, `type:<col>`, `range:<col>`, `allowed:<col>`, `pattern:<col>`,
  `max_length:<col>`;
- `identifier:<col>`, for columns marked `identifier: true`: the value holds a control
  character (Unicode Cc, NUL included), a zero-width character (U+200B, U+200C, U+200D, U+2060,
  U+FEFF) or whitespace at either end (any Unicode whitespace); the reason says which, e.g.
  "card_id has leading or trailing whitespace";
- freshness of the event time: `event_time_in_future`, `event_time_too_old`;
- label timing, when the contract's `label:` names a `time_column`: `label_time_before_event`
  (known before it happened), `label_time_in_future` (later than now plus the contract's
  `max_future_seconds`, or now without one), `label_without_time` (a label without the time it
  became known);
- `duplicate_key` (within the batch, or already ingested per `seen_keys`);
- for single records also `not_an_object` and `unknown_field` (the field's name is in the
  reason only: rule ids never hold what a producer sent), and `type:<col>` for a nested value
  or a lone surrogate; checked by `contracts.results.record_cells`, which the pyarrow-free
  `contracts.records` (one record at a time, for the scoring Lambda) shares.

Columns are checked side by side on `_WORKERS` threads (Arrow and numpy release the GIL). The
rejected rows' rules and reasons are built with the report; their JSON `record` text only when
`report.rejected` is first read.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.masks import TEXT_TYPES, Failure
from fraudops_shared.contracts.results import RecordResult, record_cells
from fraudops_shared.contracts.results import as_cell as as_cell  # re-exported: moved there
from fraudops_shared.contracts.rules import Checked, check_column
from fraudops_shared.contracts.schema import Column, Contract
from fraudops_shared.contracts.timing import freshness, labels
from fraudops_shared.contracts.uniqueness import Repeats, SeenKeys, duplicates, within_batch

_WORKERS = max(1, min(8, os.cpu_count() or 1))
_PARALLEL_ROWS = 50_000  # below this, starting threads costs more than it saves


class FileContractError(ValueError):
    """The file as a whole does not fit the contract (columns missing or unknown)."""

    def __init__(
        self, reason: str, *, missing: Sequence[str] = (), unknown: Sequence[str] = ()
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = list(missing)
        self.unknown = list(unknown)


class ValidationReport:
    """Outcome of one batch; `rows_in == valid.num_rows + rejected.num_rows` always holds.

    `rejected` is a table of REJECTED_SCHEMA; it may be given as a function that builds it,
    called once, when it is first read (the JSON records of rejected rows cost more than
    finding them, and many callers only count). `validate_batch` builds the rules and reasons
    at once and leaves the records to that function, which keeps the input table until then.
    """

    __slots__ = (
        "_build",
        "_lock",
        "_rejected",
        "_rows_rejected",
        "contract",
        "contract_version",
        "rows_in",
        "rule_counts",
        "valid",
    )

    def __init__(
        self,
        contract: str,
        contract_version: str,
        rows_in: int,
        valid: pa.Table,
        rejected: pa.Table | Callable[[], pa.Table],
        rule_counts: dict[str, int] | None = None,
        *,
        rows_rejected: int | None = None,
    ) -> None:
        self.contract = contract
        self.contract_version = contract_version
        self.rows_in = rows_in
        self.valid = valid
        self.rule_counts = dict(rule_counts or {})
        self._lock = threading.Lock()
        if isinstance(rejected, pa.Table):
            self._rejected: pa.Table | None = rejected
            self._build: Callable[[], pa.Table] | None = None
            self._rows_rejected = rejected.num_rows
        else:
            if rows_rejected is None:
                raise TypeError("a lazily built rejected table needs rows_rejected")
            self._rejected, self._build = None, rejected
            self._rows_rejected = rows_rejected

    @property
    def rejected(self) -> pa.Table:
        if self._rejected is None:
            with self._lock:
                if self._rejected is None:
                    assert self._build is not None
                    table = self._build()
                    if table.num_rows != self._rows_rejected:
                        raise AssertionError("rejected rows changed while being built")
                    self._rejected, self._build = table, None
        return self._rejected

    @property
    def rows_valid(self) -> int:
        return self.valid.num_rows

    @property
    def rows_rejected(self) -> int:
        return self._rows_rejected

    def __repr__(self) -> str:
        return (
            f"ValidationReport(contract={self.contract!r}, "
            f"contract_version={self.contract_version!r}, rows_in={self.rows_in}, "
            f"rows_valid={self.rows_valid}, rows_rejected={self.rows_rejected}, "
            f"rule_counts={self.rule_counts!r})"
        )


REJECTED_SCHEMA = pa.schema(
    [
        pa.field("row_number", pa.int64(), nullable=False),
        pa.field("rules", pa.list_(pa.string()), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("record", pa.string(), nullable=False),
    ]
)


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
    key = contract.unique_key
    repeats: Repeats | None = None

    def check(col: Column) -> Checked:
        nonlocal repeats
        raw = table.column(col.name) if col.name in table.column_names else None
        checked = check_column(col, raw, n)
        if col.name == key:  # within-batch repeats need nothing but the key: find them here
            keys = checked.text if checked.text is not None else checked.typed
            repeats = within_batch(keys, checked.present)
        return checked

    # Columns are independent and Arrow's kernels release the GIL: check them side by side,
    # the costly ones first so that no thread is left with a long one at the end.
    workers = _workers(n, len(contract.columns))
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        if pool is not None:
            order = sorted(contract.columns, key=lambda c: -_cost(c, key))
            done = dict(zip([c.name for c in order], pool.map(check, order), strict=True))
            results = [done[c.name] for c in contract.columns]
        else:
            results = [check(col) for col in contract.columns]
        typed = {c.name: r.typed for c, r in zip(contract.columns, results, strict=True)}
        present = {c.name: r.present for c, r in zip(contract.columns, results, strict=True)}
        failures: list[Failure] = [f for r in results for f in r.failures]
        failures += freshness(contract, typed, now_utc)
        failures += labels(contract, typed, present, now_utc)
        if key:
            checked = results[contract.column_names.index(key)]
            keys = checked.text if checked.text is not None else checked.typed
            failures += duplicates(key, keys, failures, n, seen_keys, repeats)
        return _report(contract, table, typed, failures, n, pool)
    finally:
        if pool is not None:
            pool.shutdown()


def _workers(rows: int, tasks: int) -> int:
    return max(1, min(_WORKERS, tasks)) if rows >= _PARALLEL_ROWS else 1


def _cost(col: Column, key: str | None) -> float:
    """A rough relative cost of checking a column, to hand out the long ones first."""
    cost = {"timestamp": 4.0, "float64": 4.0, "int64": 3.0, "bool": 2.0}.get(col.type, 1.0)
    cost += 3.0 if col.name == key else 0.0
    cost += 2.0 if col.pattern is not None else 0.0
    cost += 1.0 if col.allowed is not None else 0.0
    return cost


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


# ----------------------------------------------------------------------------- report


def _report(
    contract: Contract,
    table: pa.Table,
    typed: dict[str, pa.ChunkedArray],
    failures: list[Failure],
    n: int,
    pool: ThreadPoolExecutor | None = None,
) -> ValidationReport:
    bad = np.zeros(n, dtype=bool)
    for f in failures:
        bad |= f.mask
    rejected_rows = np.flatnonzero(bad)
    columns = [typed[c.name] for c in contract.columns]
    if len(rejected_rows):
        keep = pa.array(~bad)
        # per column (Table.filter is ~3x slower), on the pool: filters release the GIL, and
        # the reasons below are Python, so the two overlap
        if pool is not None:
            kept = pool.map(lambda c: c.filter(keep), columns)
            rules, reasons, counts = _reasons(failures, rejected_rows)
            columns = list(kept)
        else:
            columns = [c.filter(keep) for c in columns]
            rules, reasons, counts = _reasons(failures, rejected_rows)
    else:
        rules, reasons, counts = _reasons(failures, rejected_rows)
    by_name = dict(zip(contract.column_names, columns, strict=True))
    columns += [_partition(by_name[p.source], p.transform) for p in contract.partition_by]
    valid = pa.Table.from_arrays(columns, schema=contract.curated_schema())
    row_numbers = pa.array(rejected_rows, pa.int64())

    def build() -> pa.Table:
        records = _records(table.take(row_numbers))
        return pa.Table.from_arrays([row_numbers, rules, reasons, records], schema=REJECTED_SCHEMA)

    assert valid.num_rows + len(rejected_rows) == n
    return ValidationReport(
        contract=contract.name,
        contract_version=contract.version,
        rows_in=n,
        valid=valid,
        rejected=build,
        rule_counts=dict(sorted(counts.items())),
        rows_rejected=len(rejected_rows),
    )


def _reasons(
    failures: list[Failure], rejected_rows: np.ndarray
) -> tuple[pa.ListArray, pa.ListArray, dict[str, int]]:
    """Each rejected row's rules and reasons, in the order of `failures`, as list arrays.

    Python words the reasons (one call per rule, with its rows); the grouping by row is numpy.
    """
    counts: dict[str, int] = {}
    rows_of, rule_of, reasons = [], [], []
    for i, f in enumerate(failures):
        rows = np.flatnonzero(f.mask)
        if not len(rows):
            continue
        counts[f.rule] = counts.get(f.rule, 0) + len(rows)
        rows_of.append(rows)
        rule_of.append(np.full(len(rows), i, dtype=np.int64))
        why = f.describe(rows)
        if len(why) != len(rows):
            raise ValueError(f"{f.rule}: {len(why)} reasons for {len(rows)} rows")
        reasons += why
    if rows_of:
        all_rows, all_rules = np.concatenate(rows_of), np.concatenate(rule_of)
    else:
        all_rows = all_rules = np.zeros(0, dtype=np.int64)
    order = np.lexsort((all_rules, all_rows))  # by row, then in the order of the rules
    starts = np.searchsorted(all_rows[order], rejected_rows)
    offsets = pa.array(np.append(starts, len(order)).astype(np.int32))
    ids = pa.array([f.rule for f in failures], pa.string()).take(pa.array(all_rules[order]))
    text = pa.array(reasons, pa.string()).take(pa.array(order))
    return (
        pa.ListArray.from_arrays(offsets, ids),
        pa.ListArray.from_arrays(offsets, text),
        counts,
    )


def _partition(source: pa.ChunkedArray, transform: str) -> pa.ChunkedArray:
    if transform == "date":
        # the values are UTC already: a naive view makes the date a division, not a time zone
        # lookup per value (~10x faster)
        if pa.types.is_timestamp(source.type) and source.type.tz in ("UTC", "+00:00", "Z"):
            source = source.cast(pa.timestamp(source.type.unit))
        return pc.cast(source, pa.date32())
    return pc.cast(pc.floor(pc.divide(pc.cast(source, pa.float64()), 86400.0)), pa.int64())


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


_JSON_CONTROL = [(chr(c), json.dumps(chr(c))[1:-1]) for c in range(0x20)]  # as json.dumps


def _json_literal(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    kind = column.type
    if kind in TEXT_TYPES:
        escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
        if pc.any(pc.match_substring_regex(column, r"[\x00-\x1f]")).as_py():
            for char, escape in _JSON_CONTROL:  # after the backslashes: these add some
                escaped = pc.replace_substring(escaped, char, escape)
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
    columns: dict[str, list[str | None]] = {name: [] for name in names}
    kept: list[int] = []
    for i, record in enumerate(records):
        cells = record_cells(contract, record)  # not_an_object, unknown_field, nested values
        if isinstance(cells, RecordResult):
            results[i] = cells
            continue
        kept.append(i)
        for k in names:
            columns[k].append(cells[k])
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
