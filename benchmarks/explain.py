"""Reason-code benchmark: what explaining a decision costs next to scoring it, in process.

Prints figures and ratios, never asserts on them:

    .venv/bin/python -m benchmarks.explain [--calls 10000] [--batch 10000] [--no-write]

A HistGradientBoosting candidate (200 iterations, 31 leaves, 30 features; early stopping off, as
training fits it) and a logistic regression are fitted with ``trainers.fit`` on a synthetic
dataset (a few informative features, ~3 % fraud), exported with ``trainers.to_onnx`` and loaded
both by ``onnx_model.load`` (onnxruntime, one thread, as the scorer does) and by
``Explainer.from_onnx``. Reported per model:

- ``from_onnx``: reading the ONNX bytes and building the explainer (median of 20);
- one row: ``contributions`` and ``top_reasons`` of one transaction, a different row each
  call, ``--calls`` calls after a warm-up (median and p99), against onnxruntime scoring the
  same row (``InferenceSession.run``);
- a batch of ``--batch`` rows: ``contributions`` and onnxruntime's ``run`` (median of 5);
- accuracy on the batch: max |sigmoid(raw_score) - onnxruntime's P(fraud)| and max
  |bias + sum(contributions) - raw_score|.

The rows are written to ``bench-results.json`` at the repository root by
``benchmarks.results`` (a JSON list of ``{"name", "value", "unit", "baseline", "ratio"}``,
named ``explain.<model>.<figure>``; the baseline of a timing is onnxruntime's for the same rows,
the ratio baseline / value; rows of other benchmarks are kept, rows of the same names replaced),
unless ``--no-write``. Timings move with the machine's load: it is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import results as bench_results
from fraudops_shared.scoring.explain import Explainer
from fraudops_shared.training import onnx_model, trainers

N_FEATURES = 30
TRAIN_ROWS = 40_000
SEED = 17
MODELS = {
    "hgb": (
        "hist_gradient_boosting",
        {"max_iter": 200, "max_leaf_nodes": 31, "learning_rate": 0.1},
    ),
    "logreg": ("logistic_regression", {"C": 1.0, "max_iter": 1000}),
}


def _load(when: str) -> str:
    one, five, _ = os.getloadavg()
    return (
        f"load average at the {when}: {one:.1f} (1 min), {five:.1f} (5 min), {os.cpu_count()} cores"
    )


def dataset(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """30 float32 features, 5 of them informative (one through a non-linear term), ~3 % fraud."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES)).astype(np.float32)
    logit = -4.6 + 1.6 * x[:, 0] + 1.2 * x[:, 1] - 1.0 * x[:, 2] + 0.8 * x[:, 3] * x[:, 4]
    logit += 0.9 * (x[:, 5] > 1.0)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return x, y


def per_call(fn: Callable[[np.ndarray], Any], rows: np.ndarray, calls: int) -> list[float]:
    """Seconds per call of ``fn`` on one row, a different row each call, after a warm-up."""
    for i in range(min(200, calls)):
        fn(rows[i % len(rows)][None, :])
    out = []
    for i in range(calls):
        row = rows[i % len(rows)][None, :]
        started = time.perf_counter()
        fn(row)
        out.append(time.perf_counter() - started)
    return out


def median_of(fn: Callable[[], Any], repeat: int) -> float:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return statistics.median(out)


def p99(values: list[float]) -> float:
    return float(np.percentile(values, 99))


def bench_model(key: str, calls: int, batch: int) -> list[dict[str, Any]]:
    kind, params = MODELS[key]
    x, y = dataset(TRAIN_ROWS, SEED)
    fit = trainers.fit(key, kind, params, SEED, x, y)
    names = ",".join(f"f{i:02d}" for i in range(N_FEATURES))
    data = trainers.to_onnx(fit.model, N_FEATURES, {"fraudops.features": names})
    session = onnx_model.load(data, trainers.sha256(data))
    explainer = Explainer.from_onnx(data)
    holdout, _ = dataset(batch, SEED + 1)
    depth = getattr(explainer, "depth", None)
    print(
        f"\n{key} ({kind}): fit {fit.fit_seconds:.1f} s, ONNX {len(data) / 1024:.0f} KiB"
        + (f", max tree depth {depth}" if depth is not None else "")
    )

    def ort(rows: np.ndarray) -> Any:
        return session.run([onnx_model.PROBABILITIES], {onnx_model.INPUT_NAME: rows})

    build = median_of(lambda: Explainer.from_onnx(data), 20)
    single_ort = per_call(ort, holdout, calls)
    single_contrib = per_call(explainer.contributions, holdout, calls)
    single_reasons = per_call(explainer.top_reasons, holdout, calls)
    batch_ort = median_of(lambda: ort(holdout), 5)
    batch_contrib = median_of(lambda: explainer.contributions(holdout), 5)

    raw = explainer.raw_score(holdout)
    bias, contrib = explainer.contributions(holdout)
    prob_error = float(
        np.max(np.abs(1 / (1 + np.exp(-raw)) - onnx_model.fraud_probability(session, holdout)))
    )
    additivity = float(np.max(np.abs(bias + contrib.sum(axis=1) - raw)))

    us = 1e6
    ort_median = statistics.median(single_ort) * us
    rows = [
        ("from_onnx", build * 1e3, "ms", None),
        ("onnxruntime.single_row.median", ort_median, "us", None),
        ("onnxruntime.single_row.p99", p99(single_ort) * us, "us", None),
        (
            "contributions.single_row.median",
            statistics.median(single_contrib) * us,
            "us",
            ort_median,
        ),
        ("contributions.single_row.p99", p99(single_contrib) * us, "us", p99(single_ort) * us),
        ("top_reasons.single_row.median", statistics.median(single_reasons) * us, "us", ort_median),
        ("top_reasons.single_row.p99", p99(single_reasons) * us, "us", p99(single_ort) * us),
        (f"onnxruntime.batch_{batch}", batch_ort * 1e3, "ms", None),
        (f"contributions.batch_{batch}", batch_contrib * 1e3, "ms", batch_ort * 1e3),
        (f"contributions.batch_{batch}.per_row", batch_contrib / batch * us, "us", None),
        ("max_abs_probability_error", prob_error, "abs", None),
        ("max_abs_additivity_error", additivity, "abs", None),
    ]
    out = []
    for name, value, unit, baseline in rows:
        vs = f"   {value / baseline:6.2f} x onnxruntime's time" if baseline else ""
        print(f"  {name:<40} {value:12.6g} {unit:<3}{vs}")
        # a timing's ratio is baseline / value: above 1 when faster than onnxruntime
        out.append(bench_results.row(f"explain.{key}.{name}", value, unit, baseline))
    return out


def write_results(rows: list[dict[str, Any]]) -> None:
    """Replace this benchmark's rows in the results file (by name), keeping every other row."""
    mine = {r["name"] for r in rows}
    kept = sum(r.get("name") not in mine for r in bench_results.load())
    bench_results.record(rows)
    print(f"\n{len(rows)} rows written to {bench_results.RESULTS} ({kept} other rows kept)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000, help="single-row calls per figure")
    parser.add_argument("--batch", type=int, default=10_000, help="rows of the batch")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    print(_load("start"))
    rows = []
    for key in MODELS:
        rows += bench_model(key, args.calls, args.batch)
    print("\n" + _load("end"))
    if not args.no_write:
        write_results(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
