"""The one-row path of the reason codes (scoring.explain_walk.OneRow and top_of_row, what
`Explainer.contributions` and `top_reasons` take for one row) against the batch walk: the same
leaf in every tree, the same contributions to the bit, the same top reasons (names, values,
contributions), over trained models (NaN sent either way), hand-made ensembles of every split
mode, and the champion shape the API serves; and one decision per call equals the batch's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from fraudops import generator
from fraudops_shared.features import online
from fraudops_shared.features.online import CardState
from fraudops_shared.scoring.engine import decide
from fraudops_shared.scoring.explain import Explainer, TreeExplainer
from fraudops_shared.scoring.explain_walk import OneRow, walk_rows
from fraudops_shared.scoring.models import load
from tests.unit.scoring import champions
from tests.unit.scoring.models import (
    COMPARE,
    HandNode,
    HandTree,
    dataset,
    grid_rows,
    random_ensemble,
    trained,
)


def assert_one_row_is_the_batch(explainer: Explainer, x: np.ndarray, names: Any = None) -> int:
    """Every row of `x` alone against the batch of all of them; returns the rows compared."""
    _, contrib = explainer.contributions(x)
    reasons = explainer.top_reasons(x, k=3, names=names)
    for i in range(len(x)):
        _, alone = explainer.contributions(x[i])
        assert alone.shape == (1, x.shape[1])
        assert alone.tobytes() == contrib[i : i + 1].tobytes()  # to the bit
        (mine,) = explainer.top_reasons(x[i : i + 1], k=3, names=names)
        assert [r["feature"] for r in mine] == [r["feature"] for r in reasons[i]]
        for got, want in zip(mine, reasons[i], strict=True):  # exactly (a NaN value is NaN)
            assert got["contribution"] == want["contribution"]
            assert got["value"] == want["value"] or np.isnan([got["value"], want["value"]]).all()
    return len(x)


def assert_same_leaves(explainer: TreeExplainer, x: np.ndarray) -> None:
    """The one-row walk reaches the leaf the batch walk reaches, in every tree, for every row."""
    one = OneRow(explainer)
    leaves = walk_rows(explainer, x)  # trees x rows, as 2 * node
    slots = explainer._slot2.take(leaves)
    for i in range(len(x)):
        np.testing.assert_array_equal(one.slots(x[i]), slots[:, i])


@pytest.mark.parametrize(
    ("kind", "missing"),
    [("hist_gradient_boosting", 0.0), ("hist_gradient_boosting", 0.1), ("logistic_regression", 0)],
)
def test_trained_models_explain_one_row_as_in_a_batch(kind: str, missing: float) -> None:
    # Given a trained candidate (boosted trees trained on missing values: splits send NaN
    # either way) and a holdout (with NaNs for those)
    explainer = Explainer.from_onnx(trained(kind, missing)[1])
    x, _ = dataset(2000, seed=31, missing=missing)
    # Then each row explained alone is the row explained in the batch
    assert assert_one_row_is_the_batch(explainer, x) == 2000
    if isinstance(explainer, TreeExplainer):
        assert_same_leaves(explainer, x[:500])
        assert explainer._tracks2.any() and np.isnan(x).any() == (missing > 0)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(
    "modes", [sorted(COMPARE), ["BRANCH_LEQ"], ["BRANCH_GT"], ["BRANCH_NEQ"]], ids=str
)
def test_hand_made_ensembles_of_every_split_mode(seed: int, modes: list[str]) -> None:
    # Given random trees (shuffled ids, uneven depths, NaN either way, values on thresholds),
    # plus a tree that is a single leaf and an unreachable split on a feature out of range
    ensemble = random_ensemble(seed, modes, n_trees=7, n_features=4, depth=5)
    ensemble.trees.append(HandTree(root=0, nodes={0: HandNode(weights=[0.25])}))
    stray = ensemble.trees[0]
    stray.nodes[max(stray.nodes) + 1] = HandNode(
        "BRANCH_LEQ", feature=99, threshold=0.0, true=stray.root, false=stray.root
    )
    explainer = Explainer.from_onnx(ensemble.to_onnx())
    assert isinstance(explainer, TreeExplainer)
    x = grid_rows(400, ensemble.n_features, seed)
    # Then the one-row walk reaches the same leaves and explains the same, row by row
    assert_same_leaves(explainer, x)
    assert assert_one_row_is_the_batch(explainer, x, names=["a", "b", "c", "d"]) == 400


def test_the_champion_the_api_serves_explains_one_transaction_as_in_a_batch() -> None:
    # Given boosted trees trained on the contract's 44 features, and rows featurised from
    # generated transactions
    fs = champions.features()
    explainer = Explainer.from_onnx(champions.model_bytes("hist_gradient_boosting"))
    table = generator.generate_transactions(1500, seed=12, start=champions.START, n_cards=300)
    x, _ = online.featurise(fs, {}, table.to_pylist())
    # Then each row alone gets the batch's reasons, named by the feature set
    assert assert_one_row_is_the_batch(explainer, x, names=fs.names) == 1500
    assert isinstance(explainer, TreeExplainer)
    assert_same_leaves(explainer, x[:300])


@pytest.mark.parametrize("kind", ["hist_gradient_boosting", "logistic_regression"])
def test_one_decision_per_call_is_the_batch_decision(kind: str) -> None:
    # Given a loaded champion, the states of 200 cards with history, and one new transaction
    # per card (some repeats of what the state holds)
    fs = champions.features()
    data = champions.model_bytes(kind)
    model = load(champions.CONTRACT, champions.record(1, data), data, fs)
    start = champions.START + timedelta(days=30)
    history = generator.generate_transactions(3000, seed=3, start=start, days=4, n_cards=200)
    batch = online.apply_batch(fs.windows, {}, history.to_pylist())  # type: ignore[arg-type]
    states: dict[str, CardState] = batch.states
    rows = generator.generate_transactions(
        2000, seed=4, start=start + timedelta(days=4), days=1, n_cards=200
    ).to_pylist()
    firsts = list({r["card_id"]: r for r in rows}.values())
    held = {f["card_id"] for f in firsts}
    firsts += [r for r in history.to_pylist()[-50:] if r["card_id"] not in held]  # repeats
    now = start + timedelta(days=5)
    # When they are decided in one batch (the batch path), and one per call
    together = decide(firsts, states, fs, model, model, source="api", now=now, started=0.0)
    x_all, _ = online.featurise(fs, states, firsts)
    scored = ("score", "outcome", "shadow_score", "shadow_outcome", "latency_ms")
    for i, record in enumerate(firsts):
        alone = decide([record], states, fs, model, model, source="api", now=now, started=0.0)
        # Then each decision is the batch's: features, reasons, amounts, ids...
        (mine,) = alone.decisions
        want = together.decisions[i]
        assert {k: v for k, v in mine.items() if k not in scored} == {
            k: v for k, v in want.items() if k not in scored
        }
        # ...and the score of its batch row (onnxruntime scores one row alone, as it always
        # did: its batched sums may round a float32 apart)
        score = model.scores(x_all[i : i + 1])
        assert mine["score"] == mine["shadow_score"] == float(score[0])
        assert mine["outcome"] == model.thresholds.outcomes(score)[0]
        assert alone.batch.applied[0] == together.batch.applied[i]
        assert alone.batch.repeat[0] == together.batch.repeat[i]
        card = str(record["card_id"])
        assert {k: s.to_bytes() for k, s in alone.batch.states.items()} == (
            {card: together.batch.states[card].to_bytes()} if card in together.batch.states else {}
        )
    assert len(firsts) >= 150 and together.batch.repeat.sum() >= 10
