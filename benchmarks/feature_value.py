"""What the per-card window features buy: AUPRC of the default candidates trained on the same
generated transactions with the feature set as the contract declares it (per-transaction
features and the per-card windows) and with the windows left out (the per-transaction features
alone, what the first feature set had). Same rows, same time split, same seed; in process.

    .venv/bin/python -m benchmarks.feature_value [--rows 500000]

Prints AUPRC and ROC-AUC per candidate and feature set and writes ``feature_value_auprc_<name>``
rows to ``bench-results.json`` with the per-transaction-only AUPRC as the baseline (the ratio is
how many times the windows multiply it). The generator plants velocity-shaped fraud (takeover
bursts, card testing, cash-out), which the per-transaction features cannot see.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

from benchmarks.results import record, row
from benchmarks.training import _transactions
from fraudops_shared.features.transforms import FeatureSet, feature_set
from fraudops_shared.training import trainers
from fraudops_shared.training.config import TrainingConfig
from fraudops_shared.training.dataset import build_dataset, columns_of
from fraudops_shared.training.evaluation import average_precision, roc_auc


def scores(
    features: FeatureSet, table: Any, config: TrainingConfig
) -> dict[str, tuple[float, float]]:
    """(AUPRC, ROC-AUC) on the holdout per default candidate."""
    wanted = list(dict.fromkeys([*features.input_columns, features.label, features.event_time]))
    dataset = build_dataset(columns_of(table, wanted), features, config)
    out = {}
    for name, spec in config.candidates.items():
        trained = trainers.fit(
            name, spec["kind"], spec["params"], config.seed, dataset.x_train, dataset.y_train
        )
        p = trainers.fraud_probability(trained.model, dataset.x_holdout)
        out[name] = (average_precision(dataset.y_holdout, p), roc_auc(dataset.y_holdout, p))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    config = TrainingConfig()
    full = feature_set("transactions")
    own_only = dataclasses.replace(full, windows=None)
    t = time.perf_counter()
    table = _transactions(args.rows)
    print(f"{args.rows:,} generated transactions in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    with_windows = scores(full, table, config)
    without = scores(own_only, table, config)
    print(f"trained 2 x {len(config.candidates)} candidates in {time.perf_counter() - t:.1f} s")
    print(
        f"{'candidate':<22}{'features':>10}{'AUPRC':>9}{'ROC-AUC':>9}   "
        f"(per-transaction only: {len(own_only.names)} features; with windows: {len(full.names)})"
    )
    rows = []
    for name in config.candidates:
        for label, (auprc, auc) in (("own", without[name]), ("windows", with_windows[name])):
            print(f"{name:<22}{label:>10}{auprc:>9.3f}{auc:>9.3f}")
        rows.append(
            row(
                f"feature_value_auprc_{name}",
                with_windows[name][0],
                "auprc",
                without[name][0],
                higher_is_better=True,
            )
        )
    record(rows)
    print(f"{len(rows)} rows written to bench-results.json")


if __name__ == "__main__":
    main()
