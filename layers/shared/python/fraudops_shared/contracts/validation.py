"""Validate a batch (or one stream record) against its data contract, vectorised with Arrow.

Every rule is a boolean mask over the whole batch (pyarrow.compute, numpy; the rules are in
`contracts.rules`, uniqueness in `contracts.uniqueness`); Python only touches rejected rows, to
write their reasons. Rule ids are stable, dashboards and alarms count them: `not_null:<col>`,
`type:<col>`, `range:<col>`, `allowed:<col>`, `pattern:<col>`, `max_length:<col>`,
`event_time_in_future`, `event_time_too_old`, `duplicate_key`; for single records also
`not_an_object` and `unknown_field:<name>`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.rules import (
    TEXT_TYPES,
    Failure,
    check_column,
    freshness,
)
from fraudops_shared.contracts.schema import Column, Contract
from fraudops_shared.contracts.uniqueness import SeenKeys, duplicates

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
    failures: list[Failure] = []
    typed: dict[str, pa.ChunkedArray] = {}
    texts: dict[str, pa.ChunkedArray] = {}

    def check(col: Column) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None, list[Failure]]:
        found: list[Failure] = []
        raw = table.column(col.name) if col.name in table.column_names else None
        return (*check_column(col, raw, n, found), found)

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
    failures += freshness(contract, typed, now_utc)
    if contract.unique_key:
        key = texts.get(contract.unique_key, typed[contract.unique_key])
        failures += duplicates(contract.unique_key, key, failures, n, seen_keys)
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


# ----------------------------------------------------------------------------- report


def _report(
    contract: Contract,
    table: pa.Table,
    typed: dict[str, pa.ChunkedArray],
    failures: list[Failure],
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
    if kind in TEXT_TYPES:
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
