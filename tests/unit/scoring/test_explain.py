"""Reason codes (fraudops_shared.scoring.explain) against onnxruntime, the closed form of the
linear model, a brute-force walk of hand-made tree ensembles, and the informative features of
a synthetic dataset; malformed models are refused with ModelFormatError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper

from fraudops_shared.scoring.explain import (
    Explainer,
    LinearExplainer,
    ModelFormatError,
    TreeExplainer,
)
from fraudops_shared.training import onnx_model, trainers
from tests.unit.scoring.models import (
    COMPARE,
    INFORMATIVE,
    NAMES,
    HandEnsemble,
    HandNode,
    HandTree,
    dataset,
    graph_model,
    grid_rows,
    linear_model,
    random_ensemble,
    trained,
)

KINDS = ["hist_gradient_boosting", "logistic_regression"]
TOLERANCE = 1e-5


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def onnxruntime_probability(data: bytes, x: np.ndarray) -> np.ndarray:
    return onnx_model.fraud_probability(onnx_model.load(data, trainers.sha256(data)), x)


def holdout(missing: float = 0.0) -> np.ndarray:
    x, _ = dataset(3000, seed=99, missing=missing)
    return x


# --- real models, against onnxruntime ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_raw_score_is_the_logit_onnxruntime_scores(kind: str) -> None:
    # Given a trained candidate exported as training exports it, and a holdout
    _, data = trained(kind)
    x = holdout()
    # When the explainer recomputes the margin from the model's parameters
    explainer = Explainer.from_onnx(data)
    raw = explainer.raw_score(x)
    # Then its logistic is onnxruntime's P(fraud), row by row
    assert explainer.kind == kind
    assert np.max(np.abs(sigmoid(raw) - onnxruntime_probability(data, x))) < TOLERANCE


@pytest.mark.parametrize("kind", KINDS)
def test_the_bias_and_the_contributions_add_up_to_the_raw_score(kind: str) -> None:
    # Given a trained candidate and a few thousand holdout rows
    explainer = Explainer.from_onnx(trained(kind)[1])
    x = holdout()
    # When every row is explained
    bias, contrib = explainer.contributions(x)
    # Then each row's contributions and the bias add up to its raw score
    assert contrib.shape == (len(x), len(NAMES))
    assert np.max(np.abs(bias + contrib.sum(axis=1) - explainer.raw_score(x))) < TOLERANCE


def test_trees_send_missing_values_where_onnxruntime_sends_them() -> None:
    # Given boosted trees trained on data with missing values (so some splits send NaN to
    # their true side and others to their false side), and a holdout with NaNs
    _, data = trained("hist_gradient_boosting", missing=0.1)
    x = holdout(missing=0.1)
    explainer = Explainer.from_onnx(data)
    assert isinstance(explainer, TreeExplainer) and explainer._tracks2.any()
    # Then the raw score still matches onnxruntime, and the contributions still add up
    raw = explainer.raw_score(x)
    assert np.max(np.abs(sigmoid(raw) - onnxruntime_probability(data, x))) < TOLERANCE
    bias, contrib = explainer.contributions(x)
    assert np.max(np.abs(bias + contrib.sum(axis=1) - raw)) < TOLERANCE


def test_logistic_contributions_are_the_closed_form_against_the_training_mean() -> None:
    # Given the scaler and logistic regression that training fitted
    model, data = trained("logistic_regression")
    scaler, logistic = model.named_steps["scale"], model.named_steps["model"]
    x = holdout()
    # When the exported model is explained
    bias, contrib = Explainer.from_onnx(data).contributions(x)
    # Then contribution_i = coef_i * (x_i - mean_i) / std_i and the bias is the intercept:
    # exact SHAP values of a linear model, the mean transaction as the baseline
    expected = logistic.coef_[0] * (x.astype(np.float64) - scaler.mean_) / scaler.scale_
    assert np.max(np.abs(contrib - expected)) < TOLERANCE
    assert bias == pytest.approx(logistic.intercept_[0], abs=TOLERANCE)
    # And the mean transaction has no contribution at all
    _, at_mean = Explainer.from_onnx(data).contributions(scaler.mean_[None, :])
    assert np.max(np.abs(at_mean)) < TOLERANCE


@pytest.mark.parametrize("kind", KINDS)
def test_one_row_is_explained_as_it_is_in_a_batch(kind: str) -> None:
    # Given a batch of a few hundred rows (more than one walking chunk) and one of its rows
    explainer = Explainer.from_onnx(trained(kind)[1])
    x = holdout()[:700]
    # When the row is explained alone, as a 1-D vector
    _, batch = explainer.contributions(x)
    _, single = explainer.contributions(x[600])
    # Then it gets the same contributions
    np.testing.assert_array_equal(single[0], batch[600])


# --- hand-made trees, against a brute force ------------------------------------------------------


def test_a_stump_is_attributed_as_worked_out_by_hand() -> None:
    # Given one tree: amount <= 0.5 ? -1.0 : 3.0, and a base value of 0.25
    stump = HandTree(
        root=2,
        nodes={
            2: HandNode("BRANCH_LEQ", feature=0, threshold=0.5, true=0, false=1),
            0: HandNode(weights=[-1.0]),
            1: HandNode(weights=[3.0]),
        },
    )
    data = HandEnsemble([stump], base=0.25, n_features=2).to_onnx()
    x = np.array([[0.0, 9.0], [1.0, -9.0]], dtype=np.float32)
    # When it is explained
    explainer = Explainer.from_onnx(data)
    bias, contrib = explainer.contributions(x)
    # Then the root expects the mean of its leaves (1.0), so the bias is 1.25, and the split
    # moves the score by -2 (to the -1 leaf) or +2 (to the 3 leaf), all on feature 0
    assert bias == 1.25
    np.testing.assert_array_equal(contrib, [[-2.0, 0.0], [2.0, 0.0]])
    np.testing.assert_array_equal(explainer.raw_score(x), [-0.75, 3.25])
    assert np.max(np.abs(sigmoid(explainer.raw_score(x)) - onnxruntime_probability(data, x))) < (
        TOLERANCE
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "modes", [sorted(COMPARE), ["BRANCH_LEQ"], ["BRANCH_LT"], ["BRANCH_NEQ"]], ids=str
)
def test_path_attribution_equals_a_brute_force_walk(seed: int, modes: list[str]) -> None:
    # Given random trees (shuffled node ids, uneven depths, NaN sent either way, thresholds
    # that the rows hit exactly) with the given split modes
    ensemble = random_ensemble(seed, modes)
    data = ensemble.to_onnx()
    x = grid_rows(300, ensemble.n_features, seed)
    # When they are explained
    explainer = Explainer.from_onnx(data)
    bias, contrib = explainer.contributions(x)
    raw = explainer.raw_score(x)
    # Then every row gets what walking each tree node by node gives
    for i, row in enumerate(x.astype(np.float64).tolist()):
        want_bias, want_contrib, want_raw = ensemble.brute_force(row)
        assert bias == pytest.approx(want_bias, abs=1e-12)
        np.testing.assert_allclose(contrib[i], want_contrib, atol=1e-12)
        assert raw[i] == pytest.approx(want_raw, abs=1e-12)
    # And onnxruntime walks them the same way
    assert np.max(np.abs(sigmoid(raw) - onnxruntime_probability(data, x))) < TOLERANCE


def test_thresholds_and_weights_given_as_float_tensors_are_read() -> None:
    # Given an ensemble whose thresholds, leaf weights and base value are float tensors (the
    # opset-3 *_as_tensor attributes)
    ensemble = random_ensemble(3, sorted(COMPARE))
    data = ensemble.to_onnx(tensors=TensorProto.FLOAT)
    x = grid_rows(200, ensemble.n_features, 3)
    # Then it is explained as the same ensemble with float attributes, and as onnxruntime runs it
    plain = Explainer.from_onnx(ensemble.to_onnx())
    tensors = Explainer.from_onnx(data)
    np.testing.assert_array_equal(tensors.contributions(x)[1], plain.contributions(x)[1])
    np.testing.assert_array_equal(tensors.raw_score(x), plain.raw_score(x))
    raw = tensors.raw_score(x)
    assert np.max(np.abs(sigmoid(raw) - onnxruntime_probability(data, x))) < TOLERANCE
    # And double tensors, which onnxruntime refuses for float features, are refused
    with pytest.raises(ModelFormatError, match="DOUBLE tensor, not FLOAT"):
        Explainer.from_onnx(ensemble.to_onnx(tensors=TensorProto.DOUBLE))


# --- top reasons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_top_reasons_of_flagged_rows_are_the_informative_features(kind: str) -> None:
    # Given a candidate trained where only three features carry the fraud signal
    _, data = trained(kind)
    x = holdout()
    explainer = Explainer.from_onnx(data)
    flagged = x[sigmoid(explainer.raw_score(x)) > 0.5]
    assert len(flagged) >= 50
    # When the rows the model flags are explained
    reasons = explainer.top_reasons(flagged)
    # Then their reasons are three, named from the model's metadata, largest first
    assert all(len(row) == 3 for row in reasons)
    for row_reasons, row in zip(reasons, flagged, strict=True):
        amounts = [r["contribution"] for r in row_reasons]
        assert amounts == sorted(amounts, reverse=True) and amounts[0] > 0
        for r in row_reasons:
            assert r["value"] == float(row[NAMES.index(r["feature"])])
    # And the first reason is an informative feature, and so, nearly always, is the second
    # (a flagged row may have an informative feature below its mean, and the third reason of a
    # boosted model may be a split it learned on noise)
    assert all(row[0]["feature"] in INFORMATIVE for row in reasons)
    second = [row[1]["feature"] in INFORMATIVE for row in reasons]
    assert sum(second) / len(second) > 0.85


def test_when_fewer_than_k_features_push_towards_fraud_the_largest_others_follow() -> None:
    # Given a linear model with unit weights, so a row's contributions are its values
    data = linear_model([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0], [0.5, -0.5], 3, {
        "fraudops.features": "a,b,c"
    })  # fmt: skip
    explainer = Explainer.from_onnx(data)
    assert isinstance(explainer, LinearExplainer)
    # When a row with one positive contribution and two negative ones is explained
    (reasons,) = explainer.top_reasons([[-3.0, 1.0, -1.0]])
    # Then the positive one comes first, then the least negative ones
    assert reasons == [
        {"feature": "b", "value": 1.0, "contribution": 1.0},
        {"feature": "c", "value": -1.0, "contribution": -1.0},
        {"feature": "a", "value": -3.0, "contribution": -3.0},
    ]
    # And k and the names can be chosen
    (two,) = explainer.top_reasons([[-3.0, 1.0, -1.0]], k=2, names=["x", "y", "z"])
    assert [r["feature"] for r in two] == ["y", "z"]
    assert len(explainer.top_reasons([[0.0, 0.0, 0.0]], k=10)[0]) == 3


def test_top_reasons_need_names_and_rows_of_the_model_width() -> None:
    # Given a model without the feature-names metadata
    explainer = Explainer.from_onnx(linear_model([1.0, 2.0], [0.0], 2))
    # Then reasons need names, of the right count, and rows of the model's width
    with pytest.raises(ValueError, match="pass names="):
        explainer.top_reasons([[1.0, 2.0]])
    with pytest.raises(ValueError, match="1 names for 2 features"):
        explainer.top_reasons([[1.0, 2.0]], names=["a"])
    with pytest.raises(ValueError, match="k must be at least 1"):
        explainer.top_reasons([[1.0, 2.0]], k=0, names=["a", "b"])
    with pytest.raises(ValueError, match="expected rows x 2 features"):
        explainer.contributions([[1.0, 2.0, 3.0]])
    # And a one-coefficient-row model scores the logistic of that row, as onnxruntime does
    x = np.array([[1.0, 2.0], [-1.0, 0.5]], dtype=np.float32)
    data = linear_model([1.0, 2.0], [0.0], 2)
    assert np.max(np.abs(sigmoid(explainer.raw_score(x)) - onnxruntime_probability(data, x))) < (
        TOLERANCE
    )


# --- what is refused -----------------------------------------------------------------------------


def classifier_with(**changes: Any) -> bytes:
    """A valid stump (feature 0 <= 0.5 ? -1 : 3) with some attributes changed (None: left out)."""
    attributes: dict[str, Any] = {
        "nodes_treeids": [0, 0, 0],
        "nodes_nodeids": [0, 1, 2],
        "nodes_modes": ["BRANCH_LEQ", "LEAF", "LEAF"],
        "nodes_featureids": [0, 0, 0],
        "nodes_values": [0.5, 0.0, 0.0],
        "nodes_truenodeids": [1, 0, 0],
        "nodes_falsenodeids": [2, 0, 0],
        "class_treeids": [0, 0],
        "class_nodeids": [1, 2],
        "class_ids": [0, 0],
        "class_weights": [-1.0, 3.0],
        "classlabels_int64s": [0, 1],
        "post_transform": "LOGISTIC",
    }
    attributes.update(changes)
    node = helper.make_node(
        "TreeEnsembleClassifier",
        ["features"],
        ["label", "probabilities"],
        domain="ai.onnx.ml",
        **{k: v for k, v in attributes.items() if v is not None},
    )
    return graph_model(node, 2)


def test_the_stump_used_for_refusals_is_itself_accepted() -> None:
    # Given the stump unchanged, Then it is explained
    assert Explainer.from_onnx(classifier_with()).raw_score([[0.0, 0.0]])[0] == -1.0


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty model"),
        (b"\x08", "truncated varint"),
        (b"\x0a\x05abc", "truncated"),
        (b"not an onnx model at all", "unsupported wire type 6"),
        (b"\x08\x08", "no graph"),
        (classifier_with(post_transform="SOFTMAX"), "not LOGISTIC"),
        (classifier_with(classlabels_int64s=[0, 1, 2]), "3 class labels"),
        (classifier_with(class_ids=[0, 1]), "class other than 0"),
        (classifier_with(nodes_modes=["BRANCH_MEMBER", "LEAF", "LEAF"]), "BRANCH_MEMBER"),
        (classifier_with(nodes_truenodeids=[5, 0, 0]), "true child 5 of tree 0: no such node"),
        (classifier_with(nodes_truenodeids=[0, 0, 0]), "its own child"),
        (classifier_with(nodes_falsenodeids=[1, 0, 0]), "reached twice"),
        (classifier_with(nodes_featureids=[2, 0, 0]), "outside 0..1"),
        (classifier_with(nodes_nodeids=[0, 1, 1]), "listed twice"),
        (classifier_with(nodes_values=[0.5, 0.0]), "2 nodes_values for 3"),
        (classifier_with(nodes_treeids=[0, 1, 0]), "not listed together"),
        (classifier_with(base_values=[0.0, 0.0]), "2 base values"),
        (classifier_with(class_weights=None), "has no 'class_weights'"),
        (classifier_with(nodes_values=[1, 0, 0]), "'nodes_values' is INTS, expected FLOATS"),
        (linear_model([1.0, 2.0, 3.0], [0.0], 2), "3 coefficients for 2"),
        (linear_model([1.0, 2.0], [0.0], 2, {"fraudops.features": "a,b,c"}), "names 3"),
    ],
)
def test_what_cannot_be_explained_raises_model_format_error(data: bytes, match: str) -> None:
    with pytest.raises(ModelFormatError, match=match):
        Explainer.from_onnx(data)


def test_a_graph_of_other_operators_is_refused() -> None:
    # Given a valid model whose probabilities come from an operator the explainer does not know
    node = helper.make_node("Sigmoid", ["features"], ["probabilities"])
    # Then it is refused, as is bytes that are not bytes
    with pytest.raises(ModelFormatError, match="unexpected :Sigmoid node"):
        Explainer.from_onnx(graph_model(node, 2))
    with pytest.raises(ModelFormatError, match="expected the model's bytes"):
        Explainer.from_onnx("model.onnx")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_bytes_are_explained_or_refused_never_crash(kind: str) -> None:
    # Given a real model's bytes, cut short or with a byte changed, at many places
    _, data = trained(kind)
    rng = np.random.default_rng(5)
    damaged = [data[:cut] for cut in rng.integers(0, len(data), 150)]
    for at in rng.integers(0, len(data), 150):
        flipped = bytearray(data)
        flipped[at] ^= int(rng.integers(1, 256))
        damaged.append(bytes(flipped))
    # Then each one either still reads as a model or raises ModelFormatError, nothing else
    outcomes = []
    for blob in damaged:
        try:
            Explainer.from_onnx(blob)
            outcomes.append("read")
        except ModelFormatError:
            outcomes.append("refused")
    assert outcomes.count("refused") > 100
