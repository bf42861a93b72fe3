"""Training configuration: defaults that are valid, overrides merged per candidate, and every
unknown key or invalid value refused up front with ConfigError."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fraudops_shared.training.config import (
    CANDIDATE_KINDS,
    DEFAULT_CANDIDATES,
    ConfigError,
    TrainingConfig,
    resolve,
)


def test_the_defaults_are_valid_and_resolve_to_themselves() -> None:
    # Given no overrides
    config = resolve(None)
    # Then the defaults, with both candidates
    assert config == TrainingConfig() == resolve({})
    assert list(config.candidates) == ["hgb", "logreg"]
    assert {c["kind"] for c in config.candidates.values()} == set(CANDIDATE_KINDS)
    assert config.metric == "auprc" and 0 < config.holdout_fraction < 1
    # And the config survives the JSON trip the state machine gives it (evaluate rebuilds it)
    assert TrainingConfig(**json.loads(json.dumps(config.as_dict()))) == config


def test_scalar_overrides_replace_defaults() -> None:
    config = resolve({"seed": 7, "holdout_fraction": 0.3, "metric": "roc_auc", "floor": 0.5})
    assert (config.seed, config.holdout_fraction, config.metric, config.floor) == (
        7,
        0.3,
        "roc_auc",
        0.5,
    )
    assert config.min_rows == TrainingConfig().min_rows


def test_candidate_params_merge_key_by_key() -> None:
    before = copy.deepcopy(DEFAULT_CANDIDATES)
    # When one parameter of one candidate is overridden
    config = resolve({"candidates": {"hgb": {"params": {"max_iter": 30, "max_depth": 3}}}})
    # Then that candidate keeps its other parameters and its kind
    hgb = config.candidates["hgb"]
    assert hgb["kind"] == "hist_gradient_boosting"
    assert hgb["params"] == {**before["hgb"]["params"], "max_iter": 30, "max_depth": 3}
    # And the other candidate is untouched
    assert config.candidates["logreg"] == before["logreg"]
    # And the module's defaults are not mutated (the next execution starts clean)
    assert before == DEFAULT_CANDIDATES
    assert resolve(None).candidates["hgb"]["params"]["max_iter"] == 200
    # And a candidate given without params keeps them all
    assert resolve({"candidates": {"logreg": {}}}).candidates["logreg"] == before["logreg"]


def test_a_new_candidate_needs_a_kind() -> None:
    config = resolve(
        {"candidates": {"lr_strong": {"kind": "logistic_regression", "params": {"C": 0.1}}}}
    )
    assert config.candidates["lr_strong"] == {"kind": "logistic_regression", "params": {"C": 0.1}}
    assert list(config.candidates) == ["hgb", "logreg", "lr_strong"]
    with pytest.raises(ConfigError, match="'mystery': kind must be one of"):
        resolve({"candidates": {"mystery": {"params": {"C": 1}}}})
    with pytest.raises(ConfigError, match="'hgb': kind must be one of"):
        resolve({"candidates": {"hgb": {"kind": "random_forest"}}})


def test_a_candidate_is_removed_with_null() -> None:
    config = resolve({"candidates": {"logreg": None}})
    assert list(config.candidates) == ["hgb"]
    # And removing a candidate that does not exist is harmless
    assert list(resolve({"candidates": {"nope": None}}).candidates) == ["hgb", "logreg"]
    # But removing every candidate leaves nothing to train
    with pytest.raises(ConfigError, match="at least one candidate"):
        resolve({"candidates": {"hgb": None, "logreg": None}})


@pytest.mark.parametrize(
    "overrides",
    [{"seeds": 1}, {"holdout": 0.2}, {"Seed": 1}, {"candidate": {}}],
)
def test_unknown_keys_are_refused(overrides: dict[str, Any]) -> None:
    # A typo must not silently train with a default
    with pytest.raises(ConfigError, match="unknown config keys"):
        resolve(overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"holdout_fraction": 0.0}, "holdout_fraction"),
        ({"holdout_fraction": 0.9}, "holdout_fraction"),
        ({"holdout_fraction": "0.2"}, "not supported"),
        ({"min_rows": 5}, "min_rows"),
        ({"min_train_positives": 0}, "min_train_positives"),
        ({"min_holdout_positives": 0}, "min_holdout_positives"),
        ({"cost_missed_fraud": 0}, "costs must be positive"),
        ({"cost_false_alarm": -1.0}, "costs must be positive"),
        ({"precision_k": 0}, "precision_k"),
        ({"precision_k": 10.5}, "precision_k must be an integer"),
        ({"metric": "f1"}, "metric must be one of"),
        ({"floor": 1.5}, "floor"),
        ({"parity_tolerance": 0}, "parity_tolerance"),
        ({"parity_tolerance": 0.1}, "parity_tolerance"),
        ({"baseline_bins": 1}, "baseline_bins"),
        ({"baseline_bins": 10.0}, "baseline_bins must be an integer"),
        ({"seed": "abc"}, "seed must be an integer"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": -1}, "seed must be within"),
        ({"seed": 2**32}, "seed must be within"),
        ({"min_rows": True}, "min_rows must be an integer"),
        ({"candidates": ["hgb"]}, "candidates must be a mapping"),
        ({"candidates": {"hgb": "fast"}}, "'hgb' must be a mapping or null"),
        ({"candidates": {"hgb": {"params": [1, 2]}}}, "params must be a mapping"),
    ],
)
def test_invalid_values_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(overrides)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        resolve({"min_rows": 1, "metric": "f1", "baseline_bins": 1000})
    assert all(word in str(err.value) for word in ("min_rows", "metric", "baseline_bins"))


def test_a_direct_construction_is_checked_too() -> None:
    # evaluate rebuilds the config from the run document: the same checks apply
    with pytest.raises(ConfigError, match="kind must be one of"):
        TrainingConfig(candidates={"x": {"kind": "svm"}})
    with pytest.raises(ConfigError, match="params must be a mapping"):
        TrainingConfig(candidates={"x": {"kind": "logistic_regression", "params": [1]}})
