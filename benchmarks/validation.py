"""Validation benchmark: `validate_batch` against pandera enforcing the same rules.

Prints figures, never asserts on them:

    .venv/bin/python -m benchmarks.validation [--rows 1000000] [--repeat 5] [--bad 0.01]

Input: generated transactions as text (as read from CSV with the contract's raw schema), with
`--bad` of the rows spoiled by `inject_bad_rows` (every kind of rule). Both sides start from that
Arrow table and end with the valid rows and the rejected row numbers plus the rule each failed:

- fraudops: `validate_batch` (also builds typed columns, reasons and JSON records);
- pandera (`lazy=True`, checks named by our rule ids): to pandas (Arrow-backed strings), "" to
  missing, parse numbers and times with pandas, `schema.validate`, split on `failure_cases`.

The two must agree on every rule count; the script says so. Medians of `--repeat` runs after one
warm-up; the machine is shared and noisy, so read ratios within one run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from fraudops.generator import BAD_KINDS, generate_transactions, inject_bad_rows
from fraudops_shared.contracts import Contract, load_contract
from fraudops_shared.contracts import validation as shared_validation
from fraudops_shared.contracts.validation import validate_batch


def pandera_pipeline(contract: Contract, now: datetime) -> Callable[[pa.Table], dict[str, int]]:
    """A pandera schema with the contract's rules, returned as table -> rule counts."""
    warnings.filterwarnings("ignore", module="pandera")
    import numpy as np
    import pandas as pd
    import pandera.pandas as pdr

    future = pd.Timestamp(now + timedelta(seconds=contract.max_future_seconds or 0))
    oldest = pd.Timestamp(now - timedelta(days=contract.max_age_days or 0))
    offset = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"
    columns: dict[str, Any] = {}
    for col in contract.columns:
        checks = []
        if col.type == "float64":
            checks.append(pdr.Check(lambda s: s.isna() | _finite(s), name=f"type:{col.name}"))
        if col.type == "timestamp":
            checks.append(
                pdr.Check(
                    lambda s: s.isna() | (s.str.contains(offset) & _parsed(s).notna()),
                    name=f"type:{col.name}",
                )
            )
        if col.type == "bool":
            checks.append(
                pdr.Check(
                    lambda s: s.isna() | s.str.lower().isin(["true", "false", "1", "0"]),
                    name=f"type:{col.name}",
                )
            )
        if col.min is not None or col.max is not None:
            checks.append(
                pdr.Check(
                    lambda s, lo=col.min, hi=col.max: (
                        ~(
                            (_parsed(s) < lo if lo is not None else False)
                            | (_parsed(s) > hi if hi is not None else False)
                        )
                    ),
                    name=f"range:{col.name}",
                )
            )
        if col.allowed is not None:
            checks.append(
                pdr.Check.isin(
                    list(col.allowed), name=f"allowed:{col.name}", error=f"allowed:{col.name}"
                )
            )
        if col.pattern is not None:
            checks.append(
                pdr.Check.str_matches(
                    col.pattern, name=f"pattern:{col.name}", error=f"pattern:{col.name}"
                )
            )
        if col.max_length is not None:
            checks.append(
                pdr.Check.str_length(
                    max_value=col.max_length,
                    name=f"max_length:{col.name}",
                    error=f"max_length:{col.name}",
                )
            )
        if col.name == contract.event_time:
            checks.append(pdr.Check(lambda s: ~(_parsed(s) > future), name="event_time_in_future"))
            checks.append(pdr.Check(lambda s: ~(_parsed(s) < oldest), name="event_time_too_old"))
        columns[col.name] = pdr.Column(
            nullable=col.nullable,
            unique=col.name == contract.unique_key,
            report_duplicates="exclude_first",
            checks=checks,
        )
    schema = pdr.DataFrameSchema(columns, strict=True)
    parsed: dict[str, pd.Series] = {}

    def _parsed(s: pd.Series) -> pd.Series:
        """The parsed twin of a raw column, aligned (pandera drops nulls of nullable columns)."""
        values = parsed[str(s.name)]
        return values if len(values) == len(s) else values.reindex(s.index)

    def _finite(s: pd.Series) -> pd.Series:
        values = _parsed(s).to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(np.isfinite(values), index=s.index)

    def run(table: pa.Table) -> dict[str, int]:
        frame = table.to_pandas()  # pandas 3: Arrow-backed str columns, no Python objects
        for name in frame.columns:
            frame[name] = frame[name].where(frame[name] != "")
        parsed.clear()
        for col in contract.columns:
            if col.type == "float64":
                parsed[col.name] = pd.to_numeric(frame[col.name], errors="coerce")
            elif col.type == "timestamp":
                parsed[col.name] = pd.to_datetime(
                    frame[col.name], utc=True, format="ISO8601", errors="coerce"
                )
        try:
            schema.validate(frame, lazy=True)
            cases = pd.DataFrame({"check": [], "index": []})
        except pdr.errors.SchemaErrors as errors:
            cases = errors.failure_cases
        names = {"not_nullable": "not_null:", "field_uniqueness": "duplicate_key"}
        rules = cases["check"].astype(str)
        rules = np.where(
            rules == "not_nullable", names["not_nullable"] + cases["column"].astype(str), rules
        )
        rules = np.where(rules == "field_uniqueness", "duplicate_key", rules)
        counts = pd.Series(rules).value_counts().to_dict()
        frame.drop(index=cases["index"].dropna().unique())  # the valid rows, as our side has them
        return {str(k): int(v) for k, v in sorted(counts.items())}

    return run


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bad", type=float, default=0.01, help="share of spoiled rows")
    args = parser.parse_args(argv)

    contract = load_contract("transactions")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    now = start + timedelta(days=30)
    t0 = time.perf_counter()
    clean = generate_transactions(args.rows, seed=7, start=start, days=30)
    per_kind = max(1, round(args.rows * args.bad / (len(BAD_KINDS) + 1)))
    table, expected = inject_bad_rows(clean, per_kind=per_kind, seed=7)
    took = time.perf_counter() - t0
    failures = sum(expected.values())
    print(f"generated {table.num_rows:,} rows in {took:.1f} s, {failures:,} rule failures")

    ours, report = timed(lambda: validate_batch(contract, table, now=now), args.repeat)
    threads, shared_validation._WORKERS = shared_validation._WORKERS, 1  # the same on one core
    single, _ = timed(lambda: validate_batch(contract, table, now=now), args.repeat)
    shared_validation._WORKERS = threads
    run_pandera = pandera_pipeline(contract, now)
    theirs, pandera_counts = timed(lambda: run_pandera(table), args.repeat)

    rows = table.num_rows
    print(f"{'engine':<28}{'median s':>10}{'rows/s':>14}")
    print(f"{f'fraudops ({threads} threads)':<28}{ours:>10.3f}{rows / ours:>14,.0f}")
    print(f"{'fraudops (1 thread)':<28}{single:>10.3f}{rows / single:>14,.0f}")
    print(f"{'pandera lazy=True':<28}{theirs:>10.3f}{rows / theirs:>14,.0f}")
    print(
        f"ratio: validate_batch is {theirs / ours:.1f}x faster than pandera "
        f"({theirs / single:.1f}x on one thread)"
    )
    print(
        f"valid {report.valid.num_rows:,}, rejected {report.rejected.num_rows:,}; "
        f"rule counts as injected: {report.rule_counts == expected}; "
        f"pandera agrees: {pandera_counts == report.rule_counts}"
    )
    if pandera_counts != report.rule_counts:
        print(f"  fraudops: {report.rule_counts}\n  pandera:  {pandera_counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
