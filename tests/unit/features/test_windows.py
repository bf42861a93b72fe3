"""Per-card window features offline (features.windows): each rule of the module docstring on a
handmade history, the kernel against a naive reference, the contract's window section, and
refused specs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from fraudops import generator
from fraudops_shared.contracts import load_contract
from fraudops_shared.features import windows
from fraudops_shared.features.transforms import (
    FeatureSpecError,
    feature_set,
    parse_feature_set,
)
from fraudops_shared.features.window_inputs import hash64, value_hashes
from fraudops_shared.features.windows import window_matrix
from fraudops_shared.training.dataset import columns_of
from tests.unit.features.windows_helpers import (
    DAY,
    WINDOWS,
    history,
    reference,
    spec_with,
    window_set,
)

SPEC = spec_with()
START = datetime(2026, 10, 1, tzinfo=UTC)


def feature(columns: dict[str, Any], name: str, spec: Any = SPEC) -> list[float]:
    """One window feature of every row, checked against the naive reference."""
    out = window_matrix(spec, columns)
    np.testing.assert_array_equal(out, reference(spec, columns))
    return out[:, spec.names.index(name)].tolist()


# --- the semantics, one rule at a time ----------------------------------------------------------


def test_a_transaction_sees_only_strictly_earlier_transactions_of_its_card() -> None:
    # Given card c1 at 0 s, two at 100 s (a tie), one at 700 s, and card c2 at 50 s
    cols = history(t=[0, 100, 100, 700, 50], card=["c1", "c1", "c1", "c1", "c2"])
    # Then the tie does not see itself nor its twin, and c2 sees nothing of c1
    assert feature(cols, "n_1h") == [0, 1, 1, 3, 0]
    # And windows are open at their start: 700 - 600 = 100 is not within 10 minutes of 700
    assert feature(cols, "n_10m") == [0, 1, 1, 0, 0]
    # And a transaction's own amount is never in its windows
    assert feature(cols, "sum_10m") == [0.0, 10.0, 10.0, 0.0, 0.0]


def test_windows_are_in_event_time_whatever_the_row_order() -> None:
    # Given the same history in time order and shuffled
    cols = history(t=[0, 30, 90, 4000, 4001], amount=[1.0, 2.0, 4.0, 8.0, 16.0])
    order = np.array([3, 0, 4, 2, 1])
    shuffled = {
        k: np.asarray(v, dtype=object if k != "t" else None)[order] for k, v in cols.items()
    }
    # Then each row gets the same numbers wherever it is
    np.testing.assert_array_equal(window_matrix(SPEC, shuffled), window_matrix(SPEC, cols)[order])


def test_amounts_are_exact_cents_and_empty_windows_are_zero() -> None:
    # Given amounts that float sums get wrong (0.1 + 0.2), a null and a negative amount
    cols = history(t=[0, 1, 2, 3, 4], amount=[0.1, 0.2, None, -5.0, 7.0])
    # Then sums are of whole cents: 0.30 exactly; a null or negative amount is 0 but counts
    assert feature(cols, "sum_7d") == np.array([0.0, 0.1, 0.3, 0.3, 0.3], np.float32).tolist()
    assert feature(cols, "n_7d") == [0, 1, 2, 3, 4]
    # And the mean and max of an empty window are 0
    assert feature(cols, "mean_7d")[0] == 0.0 and feature(cols, "max_7d")[0] == 0.0
    assert feature(cols, "max_7d") == pytest.approx([0.0, 0.1, 0.2, 0.2, 0.2])
    assert feature(cols, "mean_7d")[4] == pytest.approx(0.3 / 4)


def test_the_amount_ratio_and_its_value_without_history() -> None:
    # Given a card paying 10, 30 and then 80 within the week, and a new card paying 50
    cols = history(t=[0, 60, 120, 0], amount=[10.0, 30.0, 80.0, 50.0], card=["a", "a", "a", "b"])
    # Then the ratio is amount / mean of the earlier ones (80 / 20 = 4), -1 without history
    assert feature(cols, "ratio_7d") == [-1.0, 3.0, 4.0, -1.0]
    # And with only zero amounts before (no mean to divide by), it is -1 too
    zeros = history(t=[0, 60], amount=[0.0, 5.0])
    assert feature(zeros, "ratio_7d") == [-1.0, -1.0]


def test_seconds_since_previous_within_the_horizon() -> None:
    # Given transactions at 0, 0 (a tie), 90 s, then 31 days later, then 29 days after that
    gap31, gap29 = 31 * DAY, 29 * DAY
    cols = history(t=[0, 0, 90, 90 + gap31, 90 + gap31 + gap29])
    # Then the first (and its twin) have no previous one (-1); a gap of H or more is -1 too
    assert feature(cols, "since") == [-1.0, -1.0, 90.0, -1.0, float(gap29)]


def test_first_seen_per_value_within_the_horizon() -> None:
    # Given merchants m1, m1 (a tie), m2, m1, then m1 again 30 days later (H is 30 d)
    t = [0, 0, 60, 120, 120 + 30 * DAY]
    cols = history(t=t, merchant=["m1", "m1", "m2", "m1", "m1"])
    # Then a value is new when the card has no earlier one within H (ties do not count)
    assert feature(cols, "new_merchant") == [1.0, 1.0, 1.0, 0.0, 1.0]
    # And a null value is not new: it is null_as (-1); empty text is null
    devices = history(t=[0, 1, 2, 3], device=[None, "d1", "", "d1"])
    assert feature(devices, "new_device") == [-1.0, 1.0, -1.0, 0.0]


def test_an_unknown_card_and_rows_without_key_or_time() -> None:
    # Given a card's first transaction, a row without card and a row without time
    cols = history(t=[0, 10, 20], card=["c1", None, "c1"], device=["d", "d", "d"])
    cols["t"] = np.array([cols["t"][0], cols["t"][1], np.datetime64("NaT", "us")])
    out = window_matrix(SPEC, cols)
    np.testing.assert_array_equal(out, reference(SPEC, cols))
    # Then each is as an unknown card: counts, sums, means and max 0, ratio and since -1,
    # first_seen 1 (a value) or -1 (null)
    unknown = {
        **dict.fromkeys(
            [n for n in SPEC.names if n.startswith(("n_", "sum_", "mean", "max"))], 0.0
        ),
        "ratio_7d": -1.0,
        "since": -1.0,
        "new_merchant": 1.0,
        "new_device": 1.0,
    }
    for row in out:
        assert dict(zip(SPEC.names, row.tolist(), strict=True)) == unknown
    # And rows without key or time are never history for another row
    assert out[2].tolist() == out[0].tolist()


def test_windows_see_at_most_max_events() -> None:
    # Given a spec keeping 3 transactions and a card with 6 in ten minutes, amounts 1..6
    spec = spec_with(max_events=3)
    cols = history(t=[0, 1, 2, 3, 4, 5], amount=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    # Then every window holds the newest 3 before the transaction, offline as online
    assert feature(cols, "n_7d", spec) == [0, 1, 2, 3, 3, 3]
    assert feature(cols, "sum_7d", spec) == [0.0, 1.0, 3.0, 6.0, 9.0, 12.0]
    assert feature(cols, "max_7d", spec) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # And seconds_since_previous and first_seen do not depend on the limit
    assert feature(cols, "since", spec) == [-1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert feature(cols, "new_merchant", spec) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_the_kernel_equals_the_naive_reference_on_generated_transactions() -> None:
    # Given generated transactions: 40 busy cards, bursts, ties, nulls in device_id
    table = generator.generate_transactions(1200, seed=5, start=START, days=20, n_cards=40)
    fs = feature_set("transactions")
    spec = fs.windows
    assert spec is not None
    cols = columns_of(table, fs.input_columns)
    # When the kernel computes every row, Then it is the reference, bit for bit
    out = window_matrix(spec, cols)
    np.testing.assert_array_equal(out, reference(spec, cols))
    # And the history is real: bursts within 10 minutes, repeat merchants, known devices
    names = spec.names
    assert (out[:, names.index("card_count_10m")] > 0).any()
    assert (out[:, names.index("card_new_merchant")] == 0).any()
    assert set(out[:, names.index("card_new_device")].tolist()) == {-1.0, 0.0, 1.0}


def test_chunks_of_cards_give_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given generated transactions computed at once and in chunks of ~100 rows (whole cards)
    table = generator.generate_transactions(2000, seed=8, start=START, days=10, n_cards=60)
    fs = feature_set("transactions")
    assert fs.windows is not None
    cols = columns_of(table, fs.input_columns)
    whole = window_matrix(fs.windows, cols)
    monkeypatch.setattr(windows, "_CHUNK_ROWS", 100)
    # Then the numbers are the same
    np.testing.assert_array_equal(window_matrix(fs.windows, cols), whole)


def test_rows_picks_the_output_and_every_row_stays_history() -> None:
    cols = history(t=[0, 60, 120, 180])
    # When only rows 3 and 1 are asked for
    out = window_matrix(SPEC, cols, rows=np.array([3, 1]))
    # Then they come in that order, having seen rows 0 and 2 too
    full = window_matrix(SPEC, cols)
    np.testing.assert_array_equal(out, full[[3, 1]])
    assert out[0, SPEC.names.index("n_7d")] == 3


def test_values_are_hashed_the_same_way_everywhere() -> None:
    # Given texts of every length around the 8-byte words, and non-ASCII text
    texts = ["", "a", "a\x00", "abcdefgh", "abcdefghi", "ü" * 9, "m_DE_5411_3"]
    h = hash64(texts)
    # Then the hash of a text does not depend on its neighbours in the batch
    assert [hash64([x])[0] for x in texts] == h.tolist()
    assert len(set(h.tolist())) == len(texts)
    # And the values are fixed forever (states and datasets hold them)
    assert [int(x) for x in hash64(["card_testing", "m_DE_5411_3"])] == [
        0x93B6EBBD632A272B,
        0x1611746033D3C462,
    ]
    folded = value_hashes(["m1", None, "", "m1", 7])
    assert folded[0] == folded[3] != 0 and folded[1] == folded[2] == 0 and folded[4] != 0


# --- the contract's section ---------------------------------------------------------------------


def test_the_transactions_contract_declares_windows() -> None:
    fs = feature_set("transactions")
    spec = fs.windows
    assert spec is not None and fs.version == 2
    # Then the window features follow the per-transaction ones
    assert fs.names[-len(spec.names) :] == spec.names
    assert fs.names[: -len(spec.names)] == [n for f in fs.features for n in f.output_names]
    assert {"card_count_10m", "card_amount_sum_24h", "card_amount_mean_1h"} <= set(spec.names)
    assert {"card_amount_max_7d", "card_seconds_since_previous", "card_new_device"} <= set(
        spec.names
    )
    # And training passes what they read; the id is for scoring only
    assert {"card_id", "merchant_id", "device_id", "country"} <= set(fs.input_columns)
    assert "transaction_id" not in fs.input_columns
    assert spec.record_columns[0] == "transaction_id"
    # And the spans and limits are the contract's, the skew its freshness rule's
    assert spec.spans == (600_000_000, 3_600_000_000, 86_400_000_000, 604_800_000_000)
    assert (spec.max_events, spec.max_values) == (4096, 1024)
    assert spec.skew_us == 300_000_000 and spec.horizon_us == 30 * DAY * 1_000_000
    assert load_contract("transactions").features["windows"]["key"] == "card_id"


@pytest.mark.parametrize(
    "change",
    ["span", "horizon", "max_events", "max_values", "null_as", "column", "skew", "dropped"],
)
def test_the_digest_covers_the_window_spec(change: str) -> None:
    base = window_set().digest
    spec: dict[str, Any] = {**WINDOWS, "list": [dict(e) for e in WINDOWS["list"]]}
    skew = 300.0
    if change == "span":
        spec["list"][0]["spans"] = ["10m", "2h", "7d"]
    elif change == "horizon":
        spec["horizon_days"] = 29
    elif change in ("max_events", "max_values"):
        spec[change] = 7
    elif change == "null_as":
        spec["list"][5]["null_as"] = 0
    elif change == "column":
        spec["list"][6]["column"] = "device"
        spec["list"][7]["column"] = "merchant"
    elif change == "skew":
        skew = 600.0
    else:
        spec["list"] = spec["list"][:-1]
    assert window_set(spec, skew=skew).digest != base
    # And the same spec parsed again has the same digest
    assert window_set({**WINDOWS}).digest == base


def test_a_set_without_windows_keeps_its_digest_shape() -> None:
    # Then the benchmark contract (no windows) has no window features and no windows in its digest
    fs = feature_set("creditcard_benchmark")
    assert fs.windows is None and fs.input_columns == fs.transaction_columns
    assert parse_feature_set(load_contract("creditcard_benchmark")).digest == fs.digest


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key": "nope"}, "no column 'nope'"),
        ({"key": None}, "`key` names a column"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"max_events": 0}, "max_events"),
        ({"max_values": 1.5}, "max_values"),
        ({"list": []}, "at least one"),
        ({"extra": 1}, "unknown keys"),
        ({"list": [{"name": "n", "transform": "median", "spans": ["1h"]}]}, "transform 'median'"),
        ({"list": [{"name": "n", "transform": "count"}]}, "needs `spans`"),
        ({"list": [{"name": "n", "transform": "count", "spans": ["1w"]}]}, "not like"),
        ({"list": [{"name": "n", "transform": "count", "spans": ["60m", "1h"]}]}, "twice"),
        ({"list": [{"name": "n", "transform": "count", "spans": ["31d"]}]}, "longer than"),
        (
            {"list": [{"name": "s", "transform": "seconds_since_previous", "spans": ["1h"]}]},
            "no spans",
        ),
        ({"list": [{"name": "f", "transform": "first_seen"}]}, "needs a `column`"),
        (
            {"list": [{"name": "f", "transform": "first_seen", "column": "label"}]},
            "reads the label",
        ),
        (
            {"list": [{"name": "c", "transform": "count", "spans": ["1h"], "null_as": 0}]},
            "no null_as",
        ),
        ({"list": [{"name": "log_amount", "transform": "seconds_since_previous"}]}, "duplicate"),
        ({"list": ["count"]}, "is a mapping"),
    ],
)
def test_bad_window_specs_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises((FeatureSpecError, KeyError), match=message):
        window_set({**WINDOWS, **changes})
