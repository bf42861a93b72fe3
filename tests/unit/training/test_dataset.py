"""From a snapshot's columns to training arrays: every way a snapshot is unfit for training
(one stable code each), the time split, unlabelled rows, and the dataset's bytes and digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fraudops import generator
from fraudops_shared.contracts import parse_contract
from fraudops_shared.features.transforms import FeatureSet, feature_set, parse_feature_set
from fraudops_shared.training.config import resolve
from fraudops_shared.training.dataset import (
    Dataset,
    TrainingDataError,
    build_dataset,
    columns_of,
    labels,
)
from tests.unit.features.windows_helpers import history, window_set


def mini(event_type: str = "float64") -> FeatureSet:
    """Features that show each row's time and id, so the split can be checked row by row."""
    return parse_feature_set(
        parse_contract(
            {
                "name": "mini",
                "version": "1.0.0",
                "event_time": "t",
                "label": {"column": "label"},
                "columns": [
                    {"name": "t", "type": event_type, "nullable": False},
                    {"name": "row", "type": "float64"},
                    {"name": "label", "type": "bool"},
                ],
                "features": {
                    "version": 1,
                    "list": [
                        {"name": "time", "transform": "number", "column": "t"},
                        {"name": "row", "transform": "number", "column": "row"},
                    ],
                },
            }
        )
    )


FS = mini()
CONFIG = resolve(
    {"min_rows": 10, "min_train_positives": 2, "min_holdout_positives": 2, "holdout_fraction": 0.2}
)


def columns(t: Any, label: Any) -> dict[str, np.ndarray]:
    t = np.asarray(t, dtype=float)
    return {
        "t": t,
        "row": np.arange(len(t), dtype=float),
        "label": np.asarray(label, dtype=object),
    }


def every(n: int, k: int) -> list[bool]:
    """n labels, every k-th one positive."""
    return [i % k == 0 for i in range(n)]


def code_of(cols: dict[str, Any], config: Any = CONFIG) -> str:
    with pytest.raises(TrainingDataError) as err:
        build_dataset(cols, FS, config)
    assert str(err.value).startswith(f"{err.value.code}: ")
    return err.value.code


# --- every refusal, by its code ------------------------------------------------------------------


def test_empty_snapshot() -> None:
    assert code_of(columns([], [])) == "EMPTY_SNAPSHOT"
    # And a table without the label column holds nothing to learn either
    assert code_of({"t": np.arange(5.0), "row": np.arange(5.0)}) == "EMPTY_SNAPSHOT"


def test_no_labels() -> None:
    cols = columns(np.arange(50), [None] * 50)
    with pytest.raises(TrainingDataError, match="none of the 50 rows has a label") as err:
        build_dataset(cols, FS, CONFIG)
    assert err.value.code == "NO_LABELS"


def test_too_few_rows_counts_labelled_rows_only() -> None:
    # Given 9 labelled rows among 50 (min_rows 10)
    label = [True, False, False, True, False, False, True, False, False] + [None] * 41
    with pytest.raises(TrainingDataError, match=r"9 labelled rows \(of 50\)") as err:
        build_dataset(columns(np.arange(50), label), FS, CONFIG)
    assert err.value.code == "TOO_FEW_ROWS"


def test_no_positives() -> None:
    assert code_of(columns(np.arange(100), [False] * 100)) == "NO_POSITIVES"


def test_one_class() -> None:
    assert code_of(columns(np.arange(100), [True] * 90 + [None] * 10)) == "ONE_CLASS"


def test_no_time_spread() -> None:
    assert code_of(columns(np.full(100, 42.0), every(100, 5))) == "NO_TIME_SPREAD"


def test_too_few_positives_in_the_holdout_or_in_training() -> None:
    # Given frauds only in the oldest 80 %: the holdout (newest 20 %) has none
    label = [i < 80 and i % 5 == 0 for i in range(100)]
    with pytest.raises(TrainingDataError, match="the holdout period has 0 positives") as err:
        build_dataset(columns(np.arange(100), label), FS, CONFIG)
    assert err.value.code == "TOO_FEW_POSITIVES"
    # Given frauds only in the newest rows: training has one
    label = [i == 3 or i >= 85 for i in range(100)]
    with pytest.raises(TrainingDataError, match="the training period has 1 positives") as err:
        build_dataset(columns(np.arange(100), label), FS, CONFIG)
    assert err.value.code == "TOO_FEW_POSITIVES"


def test_a_period_without_negatives_is_one_class() -> None:
    # Given every row of the newest 20 % is a fraud
    label = [i >= 80 or i % 10 == 0 for i in range(100)]
    with pytest.raises(TrainingDataError, match="holdout period has no negatives") as err:
        build_dataset(columns(np.arange(100), label), FS, CONFIG)
    assert err.value.code == "ONE_CLASS"


# --- the time split ------------------------------------------------------------------------------


def test_the_holdout_is_the_newest_labelled_rows() -> None:
    # Given 2000 rows in random order, times with ties, 10 % unlabelled, 5 % frauds
    rng = np.random.default_rng(3)
    n = 2000
    t = rng.integers(0, 400, n).astype(float)
    label: list[Any] = list(rng.random(n) < 0.05)
    unlabelled = rng.random(n) < 0.10
    for i in np.flatnonzero(unlabelled):
        label[i] = None
    cols = columns(t, label)
    # When the dataset is built
    ds = build_dataset(cols, FS, CONFIG)
    # Then every holdout event time is >= every training one, and the cut separates them
    train_t, hold_t = ds.x_train[:, 0], ds.x_holdout[:, 0]
    assert train_t.max() < ds.cut_time <= hold_t.min()
    # And rows of one instant are never split between the two periods
    assert not set(train_t.tolist()) & set(hold_t.tolist())
    # And rows come oldest first within each period
    assert np.all(np.diff(train_t) >= 0) and np.all(np.diff(hold_t) >= 0)
    # And the holdout is about the newest 20 % of labelled rows (at least that much)
    labelled = int((~unlabelled).sum())
    assert 0.2 <= len(ds.y_holdout) / labelled < 0.25
    # And unlabelled rows are left out, and counted
    rows = np.concatenate([ds.x_train[:, 1], ds.x_holdout[:, 1]]).astype(int)
    assert sorted(rows.tolist()) == np.flatnonzero(~unlabelled).tolist()
    assert ds.stats["unlabelled"] == int(unlabelled.sum()) and ds.stats["rows"] == n
    assert ds.stats["labelled"] == labelled == ds.stats["train_rows"] + ds.stats["holdout_rows"]
    # And each row keeps its own label through the sort
    truth = np.array([bool(v) for v in label])
    assert np.array_equal(ds.y_train, truth[ds.x_train[:, 1].astype(int)])
    assert np.array_equal(ds.y_holdout, truth[ds.x_holdout[:, 1].astype(int)])
    assert ds.stats["positives"] == int(ds.y_train.sum() + ds.y_holdout.sum())
    assert ds.stats["holdout_positives"] == int(ds.y_holdout.sum())
    assert ds.feature_names == ["time", "row"]
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int8


def test_the_split_of_timestamp_event_times() -> None:
    # Given generated transactions: datetime64 event times, labels unknown for the newest rows
    table = generator.generate_transactions(
        4000,
        seed=2,
        start=datetime(2026, 10, 1, tzinfo=UTC),
        fraud_rate=0.02,
        label_delay=timedelta(days=3),
    )
    fs = feature_set("transactions")
    wanted = list(dict.fromkeys([*fs.input_columns, fs.label, fs.event_time]))
    cols = columns_of(table, wanted)
    # When the dataset is built
    ds = build_dataset(cols, fs, resolve({"min_train_positives": 5}))
    # Then the cut is in epoch seconds and the holdout is every labelled row at or after it
    secs = cols["event_time"].astype("datetime64[us]").astype(np.int64) / 1e6
    known = np.array([v is not None for v in cols["is_fraud"]])
    assert ds.stats["unlabelled"] == int((~known).sum()) > 0
    assert len(ds.y_holdout) == int(np.sum(secs[known] >= ds.cut_time))
    assert ds.stats["first_time"] < ds.cut_time <= ds.stats["last_time"]
    assert ds.x_train.shape[1] == len(fs.names) == len(ds.feature_names)


def test_unlabelled_rows_are_history_for_the_window_features() -> None:
    # Given one card paying every minute, only every third payment labelled yet
    fs = window_set()
    n = 300
    cols = history(t=list(range(0, 60 * n, 60)))
    cols["label"] = np.array(
        [(i % 15 == 0) if i % 3 == 0 else None for i in range(n)], dtype=object
    )
    # When the dataset is built
    ds = build_dataset(cols, fs, CONFIG)
    x = np.vstack([ds.x_train, ds.x_holdout])
    count = ds.feature_names.index("n_10m")
    # Then only labelled rows are in it, and each saw the payments of the 10 minutes before
    # it, labelled or not: 9 (the labelled ones alone would be 3)
    assert len(x) == 100 and ds.stats["unlabelled"] == 200
    assert x[:4, count].tolist() == [0.0, 3.0, 6.0, 9.0] and (x[3:, count] == 9).all()
    # And the window features follow the per-transaction ones
    assert ds.feature_names == fs.names and ds.feature_names[0] == "log_amount"


def test_labels_of_bools_numbers_and_nulls() -> None:
    # Given label columns as Arrow gives them: bools, ints, floats with NaN, objects with None
    known, y = labels(np.array([True, False]))
    assert known.all() and y.tolist() == [1, 0]
    known, y = labels(np.array([1, 0, 1]))
    assert known.all() and y.tolist() == [1, 0, 1]
    known, y = labels(np.array([1.0, np.nan, 0.0]))
    assert known.tolist() == [True, False, True] and y.tolist() == [1, 0, 0]
    known, y = labels(np.array([True, None, False], dtype=object))
    assert known.tolist() == [True, False, True] and y.tolist() == [1, 0, 0]


# --- the dataset's bytes and digest --------------------------------------------------------------


def dataset() -> Dataset:
    return build_dataset(columns(np.arange(200), every(200, 7)), FS, CONFIG)


def test_bytes_round_trip_and_digest() -> None:
    ds = dataset()
    # When the dataset is written and read back
    back = Dataset.from_bytes(ds.to_bytes(), stats=ds.stats)
    # Then the arrays, names, cut and digest are the same
    assert back.feature_names == ds.feature_names and back.cut_time == ds.cut_time
    for a, b in (
        (ds.x_train, back.x_train),
        (ds.y_train, back.y_train),
        (ds.x_holdout, back.x_holdout),
        (ds.y_holdout, back.y_holdout),
    ):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert back.digest == ds.digest and back.stats == ds.stats
    assert Dataset.from_bytes(ds.to_bytes()).stats == {}
    # And the same input builds the same digest again
    assert dataset().digest == ds.digest


def test_the_digest_changes_with_any_row_label_or_name() -> None:
    ds = dataset()
    flipped = ds.y_holdout.copy()
    flipped[0] = 1 - flipped[0]
    moved = ds.x_train.copy()
    moved[0, 1] += 1
    changes = [
        Dataset(ds.feature_names, ds.x_train, ds.y_train, ds.x_holdout, flipped, 0.0, {}),
        Dataset(ds.feature_names, moved, ds.y_train, ds.x_holdout, ds.y_holdout, 0.0, {}),
        Dataset(["a", "b"], ds.x_train, ds.y_train, ds.x_holdout, ds.y_holdout, 0.0, {}),
        Dataset(  # one row moved from training to the holdout
            ds.feature_names,
            ds.x_train[:-1],
            ds.y_train[:-1],
            np.vstack([ds.x_train[-1:], ds.x_holdout]),
            np.concatenate([ds.y_train[-1:], ds.y_holdout]),
            0.0,
            {},
        ),
    ]
    assert all(c.digest != ds.digest for c in changes)
