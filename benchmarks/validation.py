"""Validation benchmark: `validate_batch` against pandera enforcing the same rules.

Prints figures, never asserts on them, and writes each one to `bench-results.json` at the repo
root with `benchmarks.results` (a list of {"name", "value", "unit", "baseline", "ratio"} rows;
rows of other benchmarks are kept, rows of the same name replaced):

    .venv/bin/python -m benchmarks.validation [--rows 1000000] [--repeat 5] [--bad 0.01]

Input: generated transactions as text (as read from CSV with the contract's raw schema), with
`--bad` of the rows spoiled by `inject_bad_rows` (every kind of rule). Both sides start from that
Arrow table and end with the valid rows and the rejected row numbers plus the rule each failed:

- fraudops: `validate_batch` (typed valid table, each rejected row's rules and reasons; the JSON
  `record` text of rejected rows is built when `report.rejected` is read, and is not timed),
  limited to 1 thread and to 2 threads (`validation._WORKERS` and Arrow's CPU pool);
- pandera (`lazy=True`, checks named by our rule ids): to pandas (Arrow-backed strings), "" to
  missing, parse numbers and times with pandas, `schema.validate`, split on `failure_cases`.

The two must agree on every rule count; the script says so. Runs are interleaved (pandera,
1 thread, 2 threads, again and again) after one warm-up each, and medians of `--repeat` runs
are compared: the machine is shared and noisy, so read ratios within one run.
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

from benchmarks import results as bench_results
from benchmarks.results import row
from fraudops.generator import BAD_KINDS, generate_transactions, inject_bad_rows
from fraudops_shared.contracts import Contract, load_contract
from fraudops_shared.contracts import validation as shared_validation
from fraudops_shared.contracts.validation import ValidationReport, validate_batch

THREADS = (1, 2)


def pandera_pipeline(contract: Contract, now: datetime) -> Callable[[pa.Table], dict[str, int]]:
    """A pandera schema with the contract's rules, returned as table -> rule counts."""
    warnings.filterwarnings("ignore", module="pandera")
    import numpy as np
    import pandas as pd
    import pandera.pandas as pdr

    future = pd.Timestamp(now + timedelta(seconds=contract.max_future_seconds or 0))
    oldest = pd.Timestamp(now - timedelta(days=contract.max_age_days or 0))
    offset = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"
    # control (Cc) or zero-width characters anywhere, Unicode whitespace at either end
    space = "[\\t-\\r\\x1c- \\x85\\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    odd_identifier = f"[\\x00-\\x1f\\x7f-\\x9f\u200b-\u200d\u2060\ufeff]|^{space}|{space}$"
    booleans = ["true", "false", "1", "0"]
    label, label_time = contract.label, contract.label_time
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
                    lambda s: s.isna() | s.str.lower().isin(booleans),
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
        if col.identifier:
            checks.append(
                pdr.Check(
                    lambda s: ~s.str.contains(odd_identifier, regex=True),
                    name=f"identifier:{col.name}",
                )
            )
        if col.name == contract.event_time:
            checks.append(pdr.Check(lambda s: ~(_parsed(s) > future), name="event_time_in_future"))
            checks.append(pdr.Check(lambda s: ~(_parsed(s) < oldest), name="event_time_too_old"))
        if label_time is not None and col.name == label_time:
            checks.append(
                pdr.Check(
                    lambda s: ~(_parsed(s) < parsed[contract.event_time].reindex(s.index)),
                    name="label_time_before_event",
                )
            )
            checks.append(pdr.Check(lambda s: ~(_parsed(s) > future), name="label_time_in_future"))
        if label_time is not None and col.name == label:
            checks.append(
                pdr.Check(
                    lambda s: (
                        ~(
                            s.str.lower().isin(booleans)
                            & parsed["label_time_missing"].reindex(s.index)
                        )
                    ),
                    name="label_without_time",
                )
            )
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
        if label_time is not None:
            parsed["label_time_missing"] = frame[label_time].isna()
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


def interleaved(
    runs: dict[str, Callable[[], Any]], repeat: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Median seconds of each run, the runs taking turns (one warm-up each first), so that
    a noisy neighbour slows them alike; and each run's last result."""
    results = {name: fn() for name, fn in runs.items()}  # warm-up (imports, caches)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            results[name] = None  # let the previous result go before timing the next
            gc.collect()
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


def ours(contract: Contract, table: pa.Table, now: datetime, threads: int) -> Callable[[], Any]:
    """`validate_batch` limited to `threads` threads (its pool and Arrow's)."""

    def run() -> ValidationReport:
        workers, cpus = shared_validation._WORKERS, pa.cpu_count()
        shared_validation._WORKERS = threads
        pa.set_cpu_count(threads)
        try:
            return validate_batch(contract, table, now=now)
        finally:
            shared_validation._WORKERS = workers
            pa.set_cpu_count(cpus)

    return run


def size_label(rows: int) -> str:
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if rows >= size and rows % size == 0:
            return f"{rows // size}{unit}"
    return str(rows)


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

    run_pandera = pandera_pipeline(contract, now)  # the schema is built once, not timed
    runs: dict[str, Callable[[], Any]] = {"pandera": lambda: run_pandera(table)}
    runs |= {f"{t} thread{'s' * (t > 1)}": ours(contract, table, now, t) for t in THREADS}
    medians, results = interleaved(runs, args.repeat)

    rows = table.num_rows
    size = size_label(rows)
    theirs = medians.pop("pandera")
    pandera_counts = results.pop("pandera")
    print(f"{'engine':<28}{'median s':>10}{'rows/s':>14}{'vs pandera':>12}")
    print(f"{'pandera lazy=True':<28}{theirs:>10.3f}{rows / theirs:>14,.0f}{'1.0x':>12}")
    figures = [
        row(f"validation_{size}_rows_pandera", theirs, "s"),
        row(f"validation_{size}_rows_pandera_rows_per_s", rows / theirs, "rows/s"),
    ]
    for label, seconds in medians.items():
        name = f"validation_{size}_rows_{label.replace(' ', '_')}"
        ratio = theirs / seconds
        print(f"{f'fraudops ({label})':<28}{seconds:>10.3f}{rows / seconds:>14,.0f}{ratio:>11.1f}x")
        figures.append(row(name, seconds, "s", theirs))
        figures.append(
            row(
                f"{name}_rows_per_s", rows / seconds, "rows/s", rows / theirs, higher_is_better=True
            )
        )
    report = results["1 thread"]
    same = [results[label].rule_counts == report.rule_counts for label in medians]
    print(
        f"valid {report.valid.num_rows:,}, rejected {report.rows_rejected:,}; "
        f"rule counts as injected: {report.rule_counts == expected}; "
        f"pandera agrees: {pandera_counts == report.rule_counts}; "
        f"thread counts agree: {all(same)}"
    )
    if pandera_counts != report.rule_counts:
        print(f"  fraudops: {report.rule_counts}\n  pandera:  {pandera_counts}")
    figures += [
        row(f"validation_{size}_rows_generate", took, "s"),
        row(f"validation_{size}_rows_rule_failures", failures, "count"),
        row(f"validation_{size}_rows_valid", report.valid.num_rows, "rows"),
        row(f"validation_{size}_rows_rejected", report.rows_rejected, "rows"),
        row(
            f"validation_{size}_rows_counts_as_injected",
            int(report.rule_counts == expected),
            "bool",
        ),
        row(
            f"validation_{size}_rows_pandera_agrees",
            int(pandera_counts == report.rule_counts),
            "bool",
        ),
    ]
    bench_results.record(figures)
    print(f"wrote {len(figures)} rows to {bench_results.RESULTS.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
