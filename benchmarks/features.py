"""Feature benchmark: what the per-card window features (features version 2) buy in AUPRC over
the per-transaction ones (version 1), and what they cost offline and online, in process.

Prints figures, never asserts on them:

    .venv/bin/python -m benchmarks.features [--rows 200000] [--seeds 29,30,31]
        [--offline-rows 1000000] [--skip-auprc] [--no-write]

1. AUPRC: per seed, ``--rows`` generated ``transactions`` over 60 days (fixed start, labels
   ~21 days late, so about two thirds labelled) go through ``build_dataset`` twice, with the
   contract's feature set (v2: windows over every row, unlabelled ones too) and with the same
   set without its windows (v1); both give the same rows and the same time split (the newest
   20 % of labelled rows). The default candidates (``training.config``) are fitted with
   ``trainers.fit`` and scored on the holdout with ``evaluation.evaluate_scores``. Per
   candidate and version: AUPRC (and ROC-AUC, recall at the cost threshold) per seed and their
   mean.
2. Offline: ``window_matrix`` over ``--offline-rows`` generated transactions (30 days, the
   generator's default cards), best of 2.
3. Online: 2,000 cards whose states hold ~10 days of history (streamed in batches of 10,000),
   then a batch of 10,000 more records of those cards: ``apply_batch`` on records as Arrow's
   ``to_pylist`` gives them and as a JSON feed carries them (text), min and median of 7; the
   states' ``from_bytes`` and ``to_bytes`` for the batch's cards; state sizes; one
   ``apply`` (median of 500).

Rows written to ``bench-results.json`` at the repository root by ``benchmarks.results`` (a
JSON list of ``{"name", "value", "unit", "baseline", "ratio"}``; rows of other benchmarks
kept, rows of these names replaced) unless ``--no-write``: ``features_auprc_<candidate>_v1`` /
``_v2`` (the v2 row's baseline is v1, ratio v2 / v1), and the timings. The machine's load is
printed: on a shared 2-core machine it moves every timing.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from benchmarks import results as bench_results
from benchmarks.results import row
from fraudops.generator import generate_transactions, to_text
from fraudops_shared.features import online
from fraudops_shared.features.transforms import FeatureSet, feature_set
from fraudops_shared.features.windows import window_matrix
from fraudops_shared.training import trainers
from fraudops_shared.training.config import TrainingConfig
from fraudops_shared.training.dataset import build_dataset, columns_of
from fraudops_shared.training.evaluation import Costs, evaluate_scores

START = datetime(2026, 8, 1, tzinfo=UTC)
DAYS = 60


def _load(when: str) -> str:
    one, five, _ = os.getloadavg()
    return (
        f"load average at the {when}: {one:.1f} (1 min), {five:.1f} (5 min), {os.cpu_count()} cores"
    )


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(min, median) seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def bench_auprc(rows: int, seeds: list[int]) -> dict[str, dict[str, list[float]]]:
    config = TrainingConfig()
    costs = Costs(config.cost_missed_fraud, config.cost_false_alarm)
    v2 = feature_set("transactions")
    v1: FeatureSet = dataclasses.replace(v2, version=1, windows=None)
    wanted = list(dict.fromkeys([*v2.input_columns, v2.label, v2.event_time]))
    out: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        table = generate_transactions(
            rows, seed=seed, start=START, days=DAYS, as_of=START + timedelta(days=DAYS)
        )
        columns = columns_of(table, wanted)
        datasets = {}
        for version, fs in (("v1", v1), ("v2", v2)):
            started = time.perf_counter()
            datasets[version] = build_dataset(columns, fs, config)
            built = time.perf_counter() - started
            ds = datasets[version]
            print(
                f"seed {seed} {version}: {len(ds.y_train):,} training / {len(ds.y_holdout):,} "
                f"holdout rows ({int(ds.y_train.sum())} / {int(ds.y_holdout.sum())} frauds) x "
                f"{ds.x_train.shape[1]} features, built in {built:.1f} s"
            )
        assert np.array_equal(datasets["v1"].y_holdout, datasets["v2"].y_holdout)
        for name, spec in config.candidates.items():
            for version, ds in datasets.items():
                fitted = trainers.fit(
                    name, spec["kind"], spec["params"], config.seed, ds.x_train, ds.y_train
                )
                scores = trainers.fraud_probability(fitted.model, ds.x_holdout)
                m = evaluate_scores(ds.y_holdout, scores, costs=costs, k=config.precision_k)
                key = f"{name}_{version}"
                for metric in ("auprc", "roc_auc", "recall"):
                    out.setdefault(key, {}).setdefault(metric, []).append(float(m[metric]))
                print(
                    f"  {name:6s} {version}: AUPRC {m['auprc']:.4f}  ROC-AUC {m['roc_auc']:.4f}  "
                    f"recall {m['recall']:.3f} at precision {m['precision']:.3f}  "
                    f"(fit {fitted.fit_seconds:.1f} s)"
                )
    return out


def bench_offline(rows: int) -> float:
    fs = feature_set("transactions")
    assert fs.windows is not None
    table = generate_transactions(rows, seed=3, start=START, days=30)
    columns = columns_of(table, fs.windows.input_columns)
    best, _ = _timed(lambda: window_matrix(fs.windows, columns), 2)  # type: ignore[arg-type]
    print(
        f"offline: window features of {rows:,} rows ({len(fs.windows.names)} features): "
        f"{best:.2f} s (best of 2)"
    )
    return best


def bench_online() -> dict[str, float]:
    fs = feature_set("transactions")
    spec = fs.windows
    assert spec is not None
    table = generate_transactions(110_000, seed=5, start=START, days=11, n_cards=2000)
    typed = table.to_pylist()
    text = to_text(table.slice(100_000)).to_pylist()
    states: dict[str, online.CardState] = {}
    for i in range(0, 100_000, 10_000):
        states.update(online.apply_batch(spec, states, typed[i : i + 10_000]).states)
    batch = typed[100_000:]
    cards = sorted({r["card_id"] for r in batch})
    mine = {c: states[c] for c in cards if c in states}
    sizes = [len(s.to_bytes()) for s in states.values()]
    events = [len(s) for s in states.values()]
    print(
        f"online: {len(states):,} card states of {statistics.mean(events):.0f} transactions "
        f"(max {max(events)}), {statistics.mean(sizes):,.0f} bytes (max {max(sizes):,}); a "
        f"batch of {len(batch):,} records of {len(cards):,} cards"
    )
    results = {}
    for label, records in (("typed", batch), ("text", text)):
        best, median = _timed(functools.partial(online.apply_batch, spec, mine, records), 7)
        results[f"batch_{label}"] = best
        print(
            f"  apply_batch ({label} records): {best * 1e3:.1f} ms min, {median * 1e3:.1f} median"
        )
    blobs = {c: s.to_bytes() for c, s in mine.items()}
    best, _ = _timed(lambda: {c: online.CardState.from_bytes(b, spec) for c, b in blobs.items()}, 7)
    results["load"] = best
    print(f"  from_bytes of {len(blobs):,} states: {best * 1e3:.1f} ms")
    new = online.apply_batch(spec, mine, batch).states
    best, _ = _timed(lambda: [s.to_bytes() for s in new.values()], 7)
    results["save"] = best
    print(f"  to_bytes of {len(new):,} new states: {best * 1e3:.1f} ms")
    one = [(mine.get(r["card_id"]) or online.CardState.empty(spec), r) for r in batch[:500]]
    times = []
    for state, record in one:
        started = time.perf_counter()
        online.apply(state, record)
        times.append(time.perf_counter() - started)
    results["one"] = statistics.median(times)
    print(f"  apply (one transaction): {results['one'] * 1e3:.2f} ms median")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seeds", default="29,30,31")
    parser.add_argument("--offline-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-auprc", action="store_true", help="only the timings")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    print(_load("start"))
    seeds = [int(s) for s in args.seeds.split(",") if s]
    auprc = {} if args.skip_auprc else bench_auprc(args.rows, seeds)
    rows = []
    if auprc:
        print(f"AUPRC on the holdout, mean of seeds {seeds}:")
    for name in TrainingConfig().candidates if auprc else []:
        before = statistics.mean(auprc[f"{name}_v1"]["auprc"])
        after = statistics.mean(auprc[f"{name}_v2"]["auprc"])
        print(f"  {name:6s} v1 {before:.4f} -> v2 {after:.4f} ({after / before:.2f}x)")
        rows.append(row(f"features_auprc_{name}_v1", before, "auprc"))
        # AUPRC: higher is better, so the ratio is v2 / v1
        rows.append(
            row(
                f"features_auprc_{name}_v2", after, "auprc", round(before, 4), higher_is_better=True
            )
        )
    offline = bench_offline(args.offline_rows)
    rows.append(row(f"features_windows_offline_{args.offline_rows // 1000}k_rows", offline, "s"))
    timings = bench_online()
    rows += [
        row("features_windows_online_batch_10k_records", timings["batch_typed"] * 1e3, "ms"),
        row("features_windows_online_batch_10k_text_records", timings["batch_text"] * 1e3, "ms"),
        row("features_windows_online_state_load_batch_cards", timings["load"] * 1e3, "ms"),
        row("features_windows_online_state_save_batch_cards", timings["save"] * 1e3, "ms"),
        row("features_windows_online_apply_one", timings["one"] * 1e3, "ms"),
    ]
    print(_load("end"))
    if not args.no_write:
        bench_results.record(rows)
        print(f"wrote {len(rows)} rows to {bench_results.RESULTS.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
