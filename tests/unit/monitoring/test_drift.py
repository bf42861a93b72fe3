"""Streamed PSI over a model version's training baseline: real distributions, the same number as
``evaluation.population_stability``, chunking, nulls, an empty window and which drift counts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from fraudops_shared.monitoring.drift import (
    ALL_NULL,
    EMPTY_WINDOW,
    DriftAccumulator,
    breaches,
)
from fraudops_shared.training.evaluation import baseline_statistics, population_stability

NAMES = ["log_amount", "card_present", "mcc", "card_count_24h"]


def transactions(seed: int, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(features, scores) shaped like the model's: a continuous amount, a binary flag, a
    category code, a count; ``shift`` moves the amount by that many standard deviations."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.normal(3.5 + shift, 1.0, n),
            rng.random(n) < 0.4,
            rng.choice([5411.0, 5812.0, 5999.0, 4829.0], n, p=[0.4, 0.3, 0.2, 0.1]),
            rng.poisson(3.0, n),
        ]
    ).astype(np.float64)
    scores = 1.0 / (1.0 + np.exp(-(rng.normal(-3.0, 1.0, n))))
    return x, scores


def baseline(seed: int = 0, n: int = 20_000) -> dict[str, Any]:
    x, scores = transactions(seed, n)
    return baseline_statistics(x, NAMES, scores, threshold=0.5, bins=10)


def drift_of(base: dict[str, Any], x: np.ndarray, scores: np.ndarray) -> Any:
    acc = DriftAccumulator(base, NAMES)
    acc.add(x, scores)
    return acc.result()


def test_the_same_distribution_gives_a_psi_near_zero() -> None:
    # Given a baseline and a live window drawn from the same distributions
    x, scores = transactions(1, 20_000)
    # When the drift is computed
    out = drift_of(baseline(), x.astype(np.float32), scores.astype(np.float32))
    # Then every PSI is about 0, and every row was binned
    assert out.rows == 20_000
    for name, drift in [*out.features.items(), ("score", out.score)]:
        assert drift.psi is not None and 0.0 <= drift.psi < 0.01, name
        assert drift.values == 20_000 and drift.nulls == 0 and drift.reason is None


def test_a_shifted_distribution_gives_a_psi_above_the_breach_threshold() -> None:
    # Given live amounts one standard deviation above training
    x, scores = transactions(1, 20_000, shift=1.0)
    # When the drift is computed
    out = drift_of(baseline(), x.astype(np.float32), scores)
    # Then the amount's PSI is large and the untouched features stay near 0
    assert out.features["log_amount"].psi > 0.2
    assert out.features["card_present"].psi < 0.01
    assert out.features["mcc"].psi < 0.01


def test_the_psi_equals_population_stability_on_the_same_data() -> None:
    # Given a shifted window, float32 as decisions are logged, with values on and next to every
    # float32-rounded edge (where float32 and float64 binning could disagree)
    base = baseline()
    x, scores = transactions(2, 5_000, shift=0.3)
    x32 = x.astype(np.float32)
    edges = np.asarray(base["features"]["log_amount"]["edges"], dtype=np.float32)
    tricky = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
    x32[: len(tricky), 0] = tricky
    # When the accumulator's PSI is computed
    out = drift_of(base, x32, scores)
    # Then it equals evaluation.population_stability on the same values, feature by feature
    for i, name in enumerate(NAMES):
        stats = base["features"][name]
        expected = population_stability(stats["shares"], x32[:, i], stats["edges"])
        assert out.features[name].psi == pytest.approx(expected, rel=1e-12, abs=1e-15), name
    # And for the score, in float64
    stats = base["score"]
    expected = population_stability(stats["shares"], scores, stats["edges"])
    assert out.score.psi == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert out.features["log_amount"].psi > 0.05  # a real shift, not two zeros


def test_adding_in_chunks_gives_the_same_result_as_one_add() -> None:
    # Given one window with some nulls
    x, scores = transactions(3, 10_007, shift=0.5)
    x32 = x.astype(np.float32)
    x32[::17, 3] = np.nan
    whole = drift_of(baseline(), x32, scores)
    # When the same rows are added in uneven chunks, some Fortran-ordered
    acc = DriftAccumulator(baseline(), NAMES)
    for i, (start, stop) in enumerate([(0, 1), (1, 4_000), (4_000, 4_000), (4_000, 10_007)]):
        chunk = x32[start:stop]
        acc.add(np.asfortranarray(chunk) if i % 2 else chunk, scores[start:stop])
    # Then the result is identical
    assert acc.result() == whole
    assert whole.features["card_count_24h"].nulls == len(range(0, 10_007, 17))


def test_a_c_ordered_matrix_larger_than_a_block_is_binned_like_a_fortran_one() -> None:
    x, scores = transactions(4, 150_000, shift=0.2)
    x32 = x.astype(np.float32)
    assert drift_of(baseline(), x32, scores) == drift_of(baseline(), np.asfortranarray(x32), scores)


def test_null_values_are_counted_apart_and_left_out_of_the_psi() -> None:
    # Given a window where a tenth of the amounts are NaN
    x, scores = transactions(5, 10_000)
    x32 = x.astype(np.float32)
    x32[::10, 0] = np.nan
    # When the drift is computed
    out = drift_of(baseline(), x32, scores)
    # Then the nulls are counted, and the PSI is that of the values present
    amount = out.features["log_amount"]
    present = x32[~np.isnan(x32[:, 0]), 0]
    stats = baseline()["features"]["log_amount"]
    assert amount.nulls == 1_000 and amount.values == 9_000
    assert amount.psi == pytest.approx(
        population_stability(stats["shares"], present, stats["edges"])
    )
    assert amount.psi < 0.01


def test_a_feature_all_null_in_the_window_is_reported_with_no_psi() -> None:
    # Given a window where the 24h count never arrived
    x, scores = transactions(6, 2_000)
    x[:, 3] = np.nan
    # When the drift is computed
    out = drift_of(baseline(), x, scores)
    # Then that feature is reported all null, with no PSI; the others are computed
    count = out.features["card_count_24h"]
    assert count.psi is None and count.all_null and count.reason == ALL_NULL
    assert count.nulls == 2_000 and count.values == 0
    assert out.features["log_amount"].psi is not None
    # And an all-null important feature is not a PSI breach (the result reports it)
    assert breaches(out, features=["card_count_24h"], score=False) == []


def test_an_empty_window_gives_no_psi_anywhere() -> None:
    # Given nothing added, or only empty chunks
    acc = DriftAccumulator(baseline(), NAMES)
    acc.add(np.empty((0, len(NAMES)), dtype=np.float32), np.empty(0))
    out = acc.result()
    # Then no PSI anywhere, with the reason, and no breach
    assert out.rows == 0
    for drift in [*out.features.values(), out.score]:
        assert drift.psi is None and drift.reason == EMPTY_WINDOW and drift.values == 0
    assert breaches(out, features=NAMES) == []
    assert json.loads(json.dumps(out.as_dict()))["score"]["psi"] is None


def test_drift_on_a_feature_not_in_the_important_list_never_counts() -> None:
    # Given a window where only the amount drifts
    x, scores = transactions(7, 20_000, shift=1.0)
    out = drift_of(baseline(), x, scores)
    assert out.features["log_amount"].psi > 0.2
    # When the important features do not include the amount, Then nothing breaches
    assert breaches(out, features=["card_present", "mcc"]) == []
    # When they do, Then the amount is the breach
    found = breaches(out, features=["mcc", "log_amount"])
    assert [(b.name, b.is_score) for b in found] == [("log_amount", False)]
    assert found[0].psi == out.features["log_amount"].psi
    # And a higher threshold lets it through
    assert breaches(out, 10.0, features=["log_amount"]) == []


def test_a_drifting_score_is_a_breach_unless_left_out() -> None:
    # Given live scores far above the holdout's
    x, scores = transactions(8, 20_000)
    out = drift_of(baseline(), x, np.clip(scores * 4.0, 0.0, 1.0))
    # Then the score breaches, on its own, and not when the score is left out
    found = breaches(out, features=NAMES)
    assert [(b.name, b.is_score) for b in found] == [("score", True)]
    assert breaches(out, features=NAMES, score=False) == []


def test_an_important_feature_the_model_does_not_have_is_refused() -> None:
    out = drift_of(baseline(), *transactions(9, 100))
    with pytest.raises(ValueError, match="no drift computed for"):
        breaches(out, features=["log_amount", "not_a_feature"])


def test_a_baseline_read_back_from_the_registry_json_gives_the_same_drift() -> None:
    # Given the baseline as the registry stores it: JSON with sorted keys (features alphabetical)
    stored = json.loads(json.dumps(baseline(), sort_keys=True))
    assert list(stored["features"]) != NAMES
    x, scores = transactions(10, 5_000, shift=0.4)
    # When the accumulator is given the model's column order, Then the drift is the same
    assert drift_of(stored, x, scores) == drift_of(baseline(), x, scores)


def test_a_mismatched_window_or_baseline_is_refused() -> None:
    base = baseline()
    x, scores = transactions(11, 100)
    acc = DriftAccumulator(base, NAMES)
    with pytest.raises(ValueError, match=r"expected a \(rows, 4\) matrix"):
        acc.add(x[:, :3], scores)
    with pytest.raises(ValueError, match="100 rows but 99 scores"):
        acc.add(x, scores[:99])
    with pytest.raises(ValueError, match="no bins for"):
        DriftAccumulator(base, [*NAMES, "ip_country"])
    broken = {**base, "features": {**base["features"], "mcc": {"edges": [1.0], "shares": [1.0]}}}
    with pytest.raises(ValueError, match="1 edges need 2 shares"):
        DriftAccumulator(broken, NAMES)
    assert acc.rows == 0  # a refused chunk counts nothing
