"""Drift benchmark: PSI of a window of logged decisions against a model version's baseline,
streamed from Parquet, next to a plain pandas implementation of the same bins. In process:

    .venv/bin/python -m benchmarks.drift [--rows 1000000] [--row-group 131072] [--repeat 3]
                                         [--no-write]

Every model feature of the ``transactions`` feature set (float32 columns, as decisions are
logged) plus the score are generated for ``--rows`` decisions and written to a Parquet file in a
temporary directory, in row groups of ``--row-group`` rows. The baseline comes from
``evaluation.baseline_statistics`` (10 bins, the training default) on a separate, undrifted
sample of 200,000 rows; the window drifts on purpose (larger amounts, more IP mismatches, faster
card bursts, higher scores) and a few NaN inter-transaction gaps, so the PSI are not all zero.

Timed, median of ``--repeat`` runs, each from the file:

- streamed: ``pyarrow.parquet.ParquetFile`` one row group at a time into a Fortran-ordered
  float32 matrix, ``DriftAccumulator.add`` per row group, then ``result()`` (aim: <= 1 s);
- pandas: ``pd.read_parquet`` of the whole file, then per column ``pd.cut`` on the baseline's
  edges, ``value_counts`` and the same PSI formula.

Both must give the same PSI: the largest absolute difference per feature and score is printed,
and also against ``evaluation.population_stability`` on the full columns. Also printed: the
largest PSI, the NaN left out, the breaches among a few features taken as important, and the
features whose baseline has a single populated bin (a flag set on fewer than 1/bins of the
training rows: every quantile is 0, so the baseline has one edge at 0 and PSI cannot see the
flag's rate change). Writes the row
``drift_psi_1m_decisions`` (seconds, baseline the pandas seconds) to ``bench-results.json``
through ``benchmarks.results`` unless ``--no-write``. Never asserts; timings move with the
machine's load, which is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.results import record, row
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.monitoring.drift import PSI_EPSILON, DriftAccumulator, DriftResult, breaches
from fraudops_shared.training.evaluation import baseline_statistics, population_stability

BASELINE_ROWS = 200_000
BINS = 10
FLAGS = {
    "amount_whole": 0.3,
    "amount_round_10": 0.08,
    "card_present": 0.55,
    "merchant_abroad": 0.1,
    "ip_mismatch": 0.05,
    "has_device": 0.45,
    "card_new_merchant": 0.35,
    "card_new_country": 0.04,
    "card_new_device": 0.1,
}
ONE_HOT = {
    "channel": [0.5, 0.35, 0.1, 0.05],
    "entry_mode": [0.35, 0.25, 0.1, 0.05, 0.25],
}
CODES = {"country": 250, "merchant_country": 250, "ip_country": 250, "currency": 160}
MCCS = [5411, 5812, 5999, 4829, 5541, 5311, 5732, 7011, 4511, 5912, 6011, 5651, 7995, 5964]
SPAN_RATE = {"10m": 0.2, "1h": 0.6, "24h": 3.0, "7d": 14.0}


def sample(names: list[str], n: int, seed: int, drifted: bool) -> tuple[dict[str, Any], Any]:
    """Feature columns (float32, by name) and scores shaped like the model's inputs: flags,
    one-hot groups, category codes, log amounts, per-card counts and amounts. ``drifted`` moves
    a few of them and nulls 1 % of the inter-transaction gaps (NaN)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    groups: dict[str, Any] = {}
    for name in names:
        prefix, _, value = name.partition("=")
        span = name.rsplit("_", 1)[-1]
        if value:
            if prefix not in groups:
                groups[prefix] = rng.choice(len(ONE_HOT[prefix]), n, p=ONE_HOT[prefix])
            index = [n_.partition("=")[2] for n_ in names if n_.startswith(prefix + "=")]
            x = groups[prefix] == index.index(value)
        elif name in FLAGS:
            p = FLAGS[name] * (2.4 if drifted and name == "ip_mismatch" else 1.0)
            x = rng.random(n) < p
        elif name in CODES:
            weights = 1.0 / np.arange(1, CODES[name] + 1) ** 1.2
            x = rng.choice(CODES[name], n, p=weights / weights.sum())
        elif name == "mcc":
            x = rng.choice(MCCS, n)
        elif name == "log_amount":
            x = rng.normal(3.6 + (0.6 if drifted else 0.0), 1.2, n)
        elif name == "hour_utc":
            x = rng.random(n) * 24.0
        elif name.startswith("card_count_"):
            x = rng.poisson(SPAN_RATE[span] * (1.6 if drifted and span == "1h" else 1.0), n)
        elif name.startswith("card_amount_vs_mean"):
            x = rng.lognormal(0.0, 0.5, n)
        elif name.startswith("card_amount_"):
            x = rng.lognormal(3.5 + np.log1p(SPAN_RATE[span]), 1.0, n)
        elif name == "card_seconds_since_previous":
            x = np.where(rng.random(n) < 0.05, -1.0, rng.exponential(86_400.0, n))
            if drifted:
                x[rng.random(n) < 0.01] = np.nan
        else:
            x = rng.normal(0.0, 1.0, n)
        cols[name] = np.asarray(x, dtype=np.float32)
    logit = rng.normal(-4.0 + (0.35 if drifted else 0.0), 1.3, n)
    return cols, (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)


def streamed(path: Path, names: list[str], baseline: dict[str, Any]) -> DriftResult:
    """Row group by row group into the accumulator: memory is one row group plus the counts."""
    reader = pq.ParquetFile(path)
    acc = DriftAccumulator(baseline, names)
    for group in range(reader.num_row_groups):
        table = reader.read_row_group(group, columns=[*names, "score"])
        matrix = np.empty((table.num_rows, len(names)), dtype=np.float32, order="F")
        for j, name in enumerate(names):
            matrix[:, j] = table.column(name).to_numpy()
        acc.add(matrix, table.column("score").to_numpy())
    return acc.result()


def pandas_psi(path: Path, names: list[str], baseline: dict[str, Any]) -> dict[str, float]:
    """The straightforward way: the whole file in a DataFrame, pd.cut per column on the same
    edges (left-closed, as searchsorted side="right" bins), value_counts, the PSI formula."""
    df = pd.read_parquet(path)
    out = {}
    for name in [*names, "score"]:
        stats = baseline["score"] if name == "score" else baseline["features"][name]
        edges = stats["edges"]
        bins = pd.cut(df[name], [-np.inf, *edges, np.inf], right=False, labels=False)
        counts = bins.value_counts().reindex(range(len(edges) + 1), fill_value=0).to_numpy()
        actual = np.clip(counts / max(1, counts.sum()), PSI_EPSILON, None)
        expected = np.clip(np.asarray(stats["shares"]), PSI_EPSILON, None)
        out[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(median seconds, last result)."""
    seconds, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - t)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--row-group", type=int, default=131_072)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = feature_set("transactions").names
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    t = time.perf_counter()
    base_cols, base_scores = sample(names, BASELINE_ROWS, seed=1, drifted=False)
    base_matrix = np.column_stack([base_cols[n] for n in names]).astype(np.float64)
    baseline = baseline_statistics(base_matrix, names, base_scores, threshold=0.5, bins=BINS)
    cols, scores = sample(names, args.rows, seed=2, drifted=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "decisions.parquet"
        table = pa.table({**{n: pa.array(cols[n]) for n in names}, "score": pa.array(scores)})
        pq.write_table(table, path, row_group_size=args.row_group)
        del table
        groups = pq.ParquetFile(path).num_row_groups
        print(
            f"{args.rows:,} decisions x {len(names)} features + score -> Parquet "
            f"{path.stat().st_size / 1e6:.0f} MB, {groups} row groups of <= {args.row_group:,} "
            f"rows; baseline from {BASELINE_ROWS:,} other rows, {BINS} bins "
            f"({time.perf_counter() - t:.1f} s to prepare)"
        )
        fast_s, result = timed(lambda: streamed(path, names, baseline), args.repeat)
        slow_s, reference = timed(lambda: pandas_psi(path, names, baseline), args.repeat)

    ours = {n: result.features[n].psi for n in names} | {"score": result.score.psi}
    gaps = [abs((ours[n] or 0.0) - reference[n]) for n in reference]
    direct = [
        abs(
            (ours[n] or 0.0)
            - population_stability(
                baseline["features"][n]["shares"],
                cols[n][~np.isnan(cols[n])],
                baseline["features"][n]["edges"],
            )
        )
        for n in names
    ]
    print(
        f"streamed (pyarrow row groups + DriftAccumulator): {fast_s:.3f} s median of "
        f"{args.repeat}, {args.rows / fast_s / 1e6:.1f} M decisions/s"
    )
    print(
        f"pandas (read_parquet + pd.cut/value_counts):      {slow_s:.3f} s median of "
        f"{args.repeat}  -> {slow_s / fast_s:.1f}x"
    )
    print(f"max |PSI streamed - PSI pandas| over {len(gaps)} features and score: {max(gaps):.3g}")
    print(f"max |PSI streamed - evaluation.population_stability|: {max(direct):.3g}")
    top = sorted(ours.items(), key=lambda kv: -(kv[1] or 0.0))[:6]
    print("largest PSI: " + ", ".join(f"{n} {p:.3f}" for n, p in top if p is not None))
    gap = result.features["card_seconds_since_previous"]
    print(f"card_seconds_since_previous: {gap.nulls:,} NaN left out, {gap.values:,} binned")
    blind = [n for n in names if sum(x > 0 for x in baseline["features"][n]["shares"]) < 2]
    print(
        f"one populated baseline bin, so PSI cannot move ({len(blind)}): {', '.join(blind)}; "
        f"e.g. ip_mismatch {base_cols['ip_mismatch'].mean():.3f} -> "
        f"{cols['ip_mismatch'].mean():.3f} of rows, PSI {ours['ip_mismatch']:.3f}"
    )
    important = ["log_amount", "card_count_1h", "ip_mismatch", "mcc"]
    found = breaches(result, features=important)
    print(
        f"breaches > 0.2 among {important} + score: "
        + (", ".join(f"{b.name} {b.psi:.3f}" for b in found) or "none")
    )
    if not args.no_write:
        record([row("drift_psi_1m_decisions", fast_s, "s", slow_s)])
        print("1 row written to bench-results.json")


if __name__ == "__main__":
    main()
