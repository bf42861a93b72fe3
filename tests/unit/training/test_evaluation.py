"""Evaluation in numpy alone: every metric against scikit-learn's, the cost threshold against a
brute force, ONNX parity, the promotion gate, and the drift baseline."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from fraudops_shared.training import evaluation
from fraudops_shared.training.evaluation import Costs

COSTS = Costs(missed_fraud=150.0, false_alarm=5.0)


def scored(seed: int, n: int = 2000, rate: float = 0.05, decimals: int | None = None) -> Any:
    """Labels and informative scores in (0, 1); rounded scores make many ties."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    y[:2] = [0, 1]  # both classes, always
    s = 1.0 / (1.0 + np.exp(-(rng.normal(0.0, 1.0, n) + 1.5 * y)))
    return y, (np.round(s, decimals) if decimals is not None else s)


# --- ranking metrics against scikit-learn --------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_average_precision_and_roc_auc_equal_sklearn(seed: int, decimals: int | None) -> None:
    # Given random labelled scores, with and without many ties
    y, s = scored(seed, decimals=decimals)
    # Then both metrics equal scikit-learn's
    assert evaluation.average_precision(y, s) == pytest.approx(
        average_precision_score(y, s), abs=1e-12
    )
    assert evaluation.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 6)),  # few distinct scores: ties everywhere
        min_size=2,
        max_size=40,
    ).filter(lambda rows: len({label for label, _ in rows}) == 2)
)
def test_metrics_equal_sklearn_on_arbitrary_small_data(rows: list[tuple[int, int]]) -> None:
    y = np.array([label for label, _ in rows])
    s = np.array([score / 6.0 for _, score in rows])
    assert evaluation.average_precision(y, s) == pytest.approx(
        average_precision_score(y, s), abs=1e-12
    )
    assert evaluation.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_metric_edge_cases() -> None:
    # Given one class only, Then the metrics are undefined (NaN), not an error
    assert math.isnan(evaluation.average_precision([0, 0, 0], [0.1, 0.2, 0.3]))
    assert math.isnan(evaluation.roc_auc([1, 1], [0.1, 0.2]))
    assert math.isnan(evaluation.roc_auc([0, 0], [0.1, 0.2]))
    # Given a perfect ranking and a reversed one
    assert evaluation.roc_auc([0, 0, 1], [0.1, 0.2, 0.9]) == 1.0
    assert evaluation.roc_auc([1, 0, 0], [0.1, 0.2, 0.9]) == 0.0
    assert evaluation.average_precision([0, 0, 1], [0.1, 0.2, 0.9]) == 1.0
    # Given all scores tied, Then AUC is one half
    assert evaluation.roc_auc([0, 1, 0, 1], [0.5] * 4) == 0.5
    # Given bad input, Then it is refused
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        evaluation.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="2 labels but 3 scores"):
        evaluation.roc_auc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="finite"):
        evaluation.average_precision([0, 1], [0.1, float("nan")])


def test_precision_at_k() -> None:
    y = [0, 1, 1, 0, 1, 0]
    s = [0.1, 0.9, 0.8, 0.7, 0.2, 0.3]
    # Then the share of frauds among the k highest scores
    assert evaluation.precision_at_k(y, s, 1) == 1.0
    assert evaluation.precision_at_k(y, s, 2) == 1.0
    assert evaluation.precision_at_k(y, s, 3) == pytest.approx(2 / 3)
    assert evaluation.precision_at_k(y, s, 4) == 0.5
    # And k beyond the rows is all rows
    assert evaluation.precision_at_k(y, s, 100) == 0.5
    # And ties at the cut are broken by position, as a queue would
    assert evaluation.precision_at_k([0, 1], [0.5, 0.5], 1) == 0.0
    assert evaluation.precision_at_k([1, 0], [0.5, 0.5], 1) == 1.0
    # And k must be positive; no rows is undefined
    with pytest.raises(ValueError, match="k must be positive"):
        evaluation.precision_at_k(y, s, 0)
    assert math.isnan(evaluation.precision_at_k([], [], 5))


# --- one threshold and the cost threshold --------------------------------------------------------


def test_at_threshold_counts_and_costs() -> None:
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    s = [0.9, 0.6, 0.2, 0.6, 0.5, 0.4, 0.1, 0.0]
    # When flagging every score >= 0.5 (a score equal to the threshold is flagged)
    point = evaluation.at_threshold(y, s, 0.5, Costs(missed_fraud=100.0, false_alarm=2.0))
    # Then the confusion counts, the rates and the money
    assert (point.tp, point.fp, point.fn, point.tn) == (2, 2, 1, 3)
    assert point.precision == 0.5 and point.recall == pytest.approx(2 / 3)
    assert point.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert point.flagged_rate == 0.5
    assert point.expected_cost == 1 * 100.0 + 2 * 2.0
    assert point.cost_per_1000 == pytest.approx(104.0 / 8 * 1000)
    assert point.as_dict()["threshold"] == 0.5
    # When nothing is flagged, Then precision and f1 are 0, not a division error
    none = evaluation.at_threshold(y, s, 2.0, COSTS)
    assert (none.tp, none.fp, none.fn, none.tn) == (0, 0, 3, 5)
    assert none.precision == 0.0 and none.f1 == 0.0 and none.flagged_rate == 0.0


def test_costs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Costs(missed_fraud=0.0, false_alarm=1.0)
    with pytest.raises(ValueError, match="must be positive"):
        Costs(missed_fraud=1.0, false_alarm=-1.0)


def brute_force(y: np.ndarray, s: np.ndarray, costs: Costs) -> float:
    """The lowest expected cost over every possible cut (flag nothing, or every score >= v)."""
    options = [float(y.sum() * costs.missed_fraud)]
    for v in np.unique(s):
        flagged = s >= v
        fn, fp = int(np.sum(~flagged & (y == 1))), int(np.sum(flagged & (y == 0)))
        options.append(fn * costs.missed_fraud + fp * costs.false_alarm)
    return min(options)


@pytest.mark.parametrize("seed", range(25))
def test_cost_threshold_minimises_expected_cost_and_sits_between_scores(seed: int) -> None:
    # Given small data with ties and varied costs
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 40))
    y = (rng.random(n) < 0.3).astype(int)
    s = np.round(rng.uniform(0.01, 0.99, n) + 0.3 * y, 2).clip(0.01, 0.99)
    costs = Costs(missed_fraud=float(rng.uniform(1, 50)), false_alarm=float(rng.uniform(1, 20)))
    # When the threshold is chosen
    threshold = evaluation.cost_threshold(y, s, costs)
    point = evaluation.at_threshold(y, s, threshold, costs)
    # Then no cut is cheaper
    assert point.expected_cost == pytest.approx(brute_force(y, s, costs))
    # And it lies strictly between two distinct scores (or beyond all of them)
    assert threshold not in set(s.tolist())
    flagged, kept = s[s >= threshold], s[s < threshold]
    if len(flagged) and len(kept):
        assert kept.max() < threshold < flagged.min()
    # And a score a float32 rounding away from its value keeps its decision
    s32 = s.astype(np.float32).astype(np.float64)
    assert np.array_equal(s32 >= threshold, s >= threshold)


def test_cost_ties_go_to_the_higher_threshold() -> None:
    # Given flagging the top row and flagging nothing cost the same (one fraud, one false alarm
    # at equal costs), Then the threshold flags nothing (fewer alarms for the same money)
    y, s = np.array([0, 1]), np.array([0.9, 0.4])
    threshold = evaluation.cost_threshold(y, s, Costs(missed_fraud=1.0, false_alarm=1.0))
    assert threshold > 0.9
    # Given two cuts of equal cost, Then the higher one
    y, s = np.array([1, 0, 1, 0]), np.array([0.9, 0.7, 0.6, 0.1])
    costs = Costs(missed_fraud=2.0, false_alarm=2.0)
    # flag >= 0.9: fn 1 -> 2; flag >= 0.6: fp 1 -> 2; flag nothing: 4; all: fp 2 -> 4
    assert 0.7 < evaluation.cost_threshold(y, s, costs) < 0.9


def test_flag_nothing_when_no_cut_pays() -> None:
    # Given false alarms far dearer than missed frauds
    y, s = np.array([0, 1, 0, 1, 0]), np.array([0.8, 0.7, 0.6, 0.3, 0.2])
    dear = Costs(missed_fraud=1.0, false_alarm=1000.0)
    threshold = evaluation.cost_threshold(y, s, dear)
    # Then the threshold is above every score: nothing is flagged
    assert threshold > s.max() and evaluation.at_threshold(y, s, threshold, dear).flagged_rate == 0
    # Given a top score of exactly 1.0, Then the threshold is just above 1
    threshold = evaluation.cost_threshold(np.array([0, 1]), np.array([1.0, 0.5]), dear)
    assert 1.0 < threshold < 1.0 + 1e-9
    # Given no frauds at all, Then nothing is flagged either
    assert evaluation.cost_threshold(np.array([0, 0, 0]), np.array([0.1, 0.5, 0.9]), COSTS) > 0.9


def test_flag_everything_when_missing_is_dearest() -> None:
    # Given every row must be flagged to be cheapest
    y, s = np.array([1, 0, 1]), np.array([0.9, 0.5, 0.2])
    threshold = evaluation.cost_threshold(y, s, Costs(missed_fraud=1000.0, false_alarm=1.0))
    # Then the threshold is below the lowest score
    assert 0.0 < threshold < 0.2


def test_evaluate_scores_summarises_one_model() -> None:
    y, s = scored(3, n=500, rate=0.1)
    out = evaluation.evaluate_scores(y, s, costs=COSTS, k=50)
    assert out["rows"] == 500 and out["positives"] == int(y.sum()) and out["k"] == 50
    assert out["auprc"] == pytest.approx(average_precision_score(y, s))
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert out["threshold"] == evaluation.cost_threshold(y, s, COSTS)
    assert out["tp"] + out["fp"] + out["fn"] + out["tn"] == 500
    # And a champion is judged at the threshold it serves with
    fixed = evaluation.evaluate_scores(y, s, costs=COSTS, k=10_000, threshold=0.5)
    assert fixed["threshold"] == 0.5 and fixed["k"] == 500
    assert fixed["expected_cost"] == evaluation.at_threshold(y, s, 0.5, COSTS).expected_cost


# --- ONNX parity ---------------------------------------------------------------------------------


def test_parity_passes_within_tolerance() -> None:
    ref = np.array([0.1, 0.45, 0.55, 0.9])
    got = ref + np.array([1e-6, -2e-6, 3e-6, 0.0])
    out = evaluation.parity(ref, got, threshold=0.5, tolerance=1e-4)
    assert out.passed and out.reason == "" and out.decision_flips == 0 and out.rows == 4
    assert out.max_abs_diff == pytest.approx(3e-6) and out.mean_abs_diff == pytest.approx(1.5e-6)
    assert out.as_dict()["tolerance"] == 1e-4


def test_parity_fails_on_the_largest_difference() -> None:
    ref = np.array([0.1, 0.2, 0.3])
    out = evaluation.parity(ref, ref + np.array([0.0, 2e-4, 0.0]), threshold=0.9, tolerance=1e-4)
    assert not out.passed and out.decision_flips == 0
    assert "exceeds" in out.reason and out.max_abs_diff == pytest.approx(2e-4)


def test_parity_counts_decision_flips_even_within_tolerance() -> None:
    # Given scores close to the threshold on either side, swapped by the export
    ref = np.array([0.49999, 0.50001, 0.2])
    got = np.array([0.50001, 0.49999, 0.2])
    out = evaluation.parity(ref, got, threshold=0.5, tolerance=1e-3)
    # Then the difference is tolerated but the flipped decisions are not
    assert out.max_abs_diff < 1e-3
    assert out.decision_flips == 2 and not out.passed and "2 decisions flip" in out.reason


def test_parity_allows_a_score_exactly_at_the_threshold() -> None:
    # Given a reference score exactly equal to the threshold, the export a hair below
    ref = np.array([0.5, 0.8])
    got = np.array([0.5 - 1e-9, 0.8])
    out = evaluation.parity(ref, got, threshold=0.5, tolerance=1e-4)
    # Then the flip is a tie, allowed and counted apart
    assert out.passed and out.decision_flips == 0 and out.tie_flips == 1


def test_parity_refuses_shape_mismatch_and_non_finite_scores() -> None:
    short = evaluation.parity([0.1, 0.2], [0.1], threshold=0.5, tolerance=1e-4)
    assert not short.passed and "2 reference scores but 1" in short.reason
    nan = evaluation.parity([0.1, 0.2], [0.1, float("nan")], threshold=0.5, tolerance=1e-4)
    assert not nan.passed and "non-finite" in nan.reason and nan.max_abs_diff == math.inf


# --- the gate ------------------------------------------------------------------------------------


def gate(value: float, champion: float | None = None, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"metric": "auprc", "floor": 0.2, "min_improvement": 0.01}
    options.update(kwargs)
    return evaluation.gate(
        {"auprc": value},
        champion={"auprc": champion} if champion is not None else None,
        **options,
    )


def test_the_first_model_passes_above_the_floor() -> None:
    out = gate(0.5)
    assert out.passed and out.reasons == []
    assert out.checks["first_model"] is True and out.checks["champion"] is None
    assert out.as_dict()["checks"]["candidate"] == 0.5


def test_below_the_floor_fails_and_nan_fails() -> None:
    low = gate(0.1)
    assert not low.passed and "below the floor" in low.reasons[0]
    assert not gate(float("nan")).passed
    assert gate(0.2).passed  # the floor itself is enough


def test_a_challenger_must_strictly_beat_the_champion_by_the_margin() -> None:
    # Given a champion at 0.60 and a margin of 0.01
    assert gate(0.62, champion=0.60).passed
    # Then equal, slightly better and exactly at the margin all fail
    for value in (0.60, 0.605):
        out = gate(value, champion=0.60)
        assert not out.passed and "does not beat the champion" in out.reasons[0]
    assert not gate(0.5, champion=0.5, min_improvement=0.0).passed
    assert gate(0.5 + 1e-9, champion=0.5, min_improvement=0.0).passed
    out = gate(0.62, champion=0.60)
    assert out.checks["champion"] == 0.60 and out.checks["min_improvement"] == 0.01


def test_a_champion_that_cannot_be_scored_fails_the_gate_with_the_reason() -> None:
    out = gate(0.9, champion=0.1, champion_problem="v3's artifact cannot be used: missing")
    assert not out.passed and out.checks["champion"] is None
    assert out.reasons == [
        "cannot compare with the champion: v3's artifact cannot be used: missing"
    ]


def test_a_parity_failure_fails_the_gate() -> None:
    out = gate(0.9, parity_passed=False)
    assert not out.passed and "ONNX export does not reproduce" in out.reasons[0]
    # And every failed check is listed
    both = gate(0.1, parity_passed=False)
    assert len(both.reasons) == 2


def test_the_gate_can_compare_roc_auc() -> None:
    out = evaluation.gate(
        {"roc_auc": 0.91, "auprc": 0.1},
        metric="roc_auc",
        floor=0.5,
        min_improvement=0.0,
        champion={"roc_auc": 0.9, "auprc": 0.5},
    )
    assert out.passed and out.checks["metric"] == "roc_auc"


# --- baseline statistics and drift ---------------------------------------------------------------


def test_baseline_statistics_shapes_and_shares() -> None:
    # Given a continuous, a binary and a constant feature, and holdout scores
    rng = np.random.default_rng(0)
    n = 5000
    x = np.column_stack([rng.normal(0, 1, n), rng.random(n) < 0.3, np.full(n, 7.0)])
    scores = rng.random(1000)
    names = ["amount", "ecom", "constant"]
    # When the baseline is computed with 10 bins
    base = evaluation.baseline_statistics(x, names, scores, threshold=0.8, bins=10)
    # Then every feature has edges, one more share than edges, shares summing to 1
    assert base["bins"] == 10 and base["rows"] == n and list(base["features"]) == names
    for stats in [*base["features"].values(), base["score"]]:
        assert len(stats["shares"]) == len(stats["edges"]) + 1
        assert sum(stats["shares"]) == pytest.approx(1.0)
        assert stats["edges"] == sorted(set(stats["edges"]))
    # And a continuous feature gets all bins, a binary or constant one fewer
    assert len(base["features"]["amount"]["edges"]) == 9
    assert len(base["features"]["ecom"]["edges"]) <= 2
    assert len(base["features"]["constant"]["edges"]) == 1
    assert base["features"]["amount"]["mean"] == pytest.approx(float(x[:, 0].mean()))
    # And the score distribution carries the expected alert rate
    assert base["score"]["rows"] == 1000
    assert base["score"]["flagged_rate"] == pytest.approx(float(np.mean(scores >= 0.8)))
    # And names must match the columns
    with pytest.raises(ValueError, match="3 feature columns but 2 names"):
        evaluation.baseline_statistics(x, names[:2], scores, threshold=0.8, bins=10)


def test_quantile_bins_of_nothing() -> None:
    out = evaluation.quantile_bins(np.array([]), 10)
    assert out["edges"] == [] and out["shares"] == [0.0] and out["mean"] is None


def test_population_stability_is_near_zero_on_the_same_distribution() -> None:
    rng = np.random.default_rng(1)
    baseline = evaluation.quantile_bins(rng.normal(0, 1, 20000), 10)
    # When fresh values come from the same distribution, Then PSI is about 0
    same = evaluation.population_stability(
        baseline["shares"], rng.normal(0, 1, 20000), baseline["edges"]
    )
    assert 0.0 <= same < 0.01
    # When they shift by one standard deviation, Then PSI is large (> 0.25)
    shifted = evaluation.population_stability(
        baseline["shares"], rng.normal(1, 1, 20000), baseline["edges"]
    )
    assert shifted > 0.25
    # And the training values themselves give exactly-balanced bins
    values = np.arange(1000, dtype=float)
    own = evaluation.quantile_bins(values, 10)
    assert evaluation.population_stability(own["shares"], values, own["edges"]) == pytest.approx(
        0.0, abs=1e-12
    )


def test_the_decline_threshold_is_the_lowest_cut_with_the_stated_precision() -> None:
    from fraudops_shared.training.evaluation import decline_threshold

    # Given 10 alerts at the top (9 fraud), then a mixed middle, then legitimate rows
    scores = [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.5, 0.4, 0.1, 0.05]
    labels = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0]
    # Then declining starts where precision still holds at 90%: all ten top rows
    cut = decline_threshold(labels, scores, floor=0.3)
    assert cut is not None and 0.5 < cut < 0.90
    # And never below the review threshold
    assert decline_threshold(labels, scores, floor=0.95) == 0.95


def test_no_decline_threshold_when_no_cut_is_precise_enough() -> None:
    from fraudops_shared.training.evaluation import decline_threshold

    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = [1, 0, 1, 0, 1, 0]
    assert decline_threshold(labels, scores, floor=0.1) is None
