"""The models a scorer serves (fraudops_shared.scoring.models): verified ONNX only, the last
verified champion kept when a new one is refused, promotions picked up within the bound."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fraudops_shared.scoring.models import ModelUnavailable
from tests.unit.scoring.champions import model_bytes, record
from tests.unit.scoring.world import World


def serving_v1_with_v2_promoted() -> World:
    """A warm scorer serving v1, and v2 (valid) promoted since its last read."""
    world = World()
    world.champion(1)
    world.models.current()
    data = model_bytes("hist_gradient_boosting")
    world.registry.add(record(2, data), data)
    world.registry.promote(2)
    return world


def test_the_champion_is_loaded_once_and_cached() -> None:
    world = World()
    world.champion(1)
    champion, shadow = world.models.current()
    assert champion is not None and champion.version == 1 and shadow is None
    for _ in range(100):
        world.models.current()
    assert world.models.loads == 1 and world.registry.reads == 1


def test_a_promotion_reaches_the_scorer_within_the_refresh_bound() -> None:
    world = serving_v1_with_v2_promoted()
    world.clock.t += 14  # before the bound: still v1 (no read)
    assert world.models.current()[0].version == 1  # type: ignore[union-attr]
    world.clock.t += 1  # at the bound (15 s): v2
    assert world.models.current()[0].version == 2  # type: ignore[union-attr]


def test_a_tampered_champion_is_refused_and_the_last_verified_one_keeps_serving() -> None:
    world = World()
    world.champion(1)
    world.models.current()
    # Given v2's artifact was replaced after registration (other bytes under its reference)
    data = model_bytes("hist_gradient_boosting")
    rec = record(2, data)
    world.registry.add(rec, model_bytes("logistic_regression", seed=9))
    world.registry.promote(2)
    world.clock.t += 60
    champion, _ = world.models.current()
    # Then v1 keeps serving and the refusal says why
    assert champion is not None and champion.version == 1
    (refusal,) = world.models.drain_refusals()
    assert refusal.version == 2 and "SHA-256 mismatch" in refusal.reason
    # And it is not retried at every refresh (one refusal, not one per batch)
    world.clock.t += 60
    world.models.current()
    assert world.models.drain_refusals() == []


def test_a_scorer_started_after_a_tampered_promotion_serves_the_last_verified_champion() -> None:
    world = World()
    world.champion(1)
    data = model_bytes("hist_gradient_boosting")
    world.registry.add(record(2, data), model_bytes("logistic_regression", seed=9))
    world.registry.promote(2)
    # Given an environment that never loaded v1 (a cold start after the tampered promotion)
    champion, _ = world.models.current()
    # Then it serves v1, the newest earlier champion that verifies, and v2's refusal is counted
    assert champion is not None and champion.version == 1
    (refusal,) = world.models.drain_refusals()
    assert refusal.version == 2 and "SHA-256 mismatch" in refusal.reason


def test_with_no_earlier_champion_that_verifies_nothing_is_served() -> None:
    world = World()
    data = model_bytes()
    world.registry.add(record(1, data), model_bytes("logistic_regression", seed=9))
    world.registry.promote(1)
    world.registry.add(record(2, data, sha=""), data)
    world.registry.promote(2)
    assert world.models.current() == (None, None)
    assert {r.version for r in world.models.drain_refusals()} == {1, 2}


def test_a_blanked_hash_fails_closed() -> None:
    world = World()
    data = model_bytes()
    world.registry.add(record(1, data, sha=""), data)
    world.registry.promote(1)
    assert world.models.current() == (None, None)
    (refusal,) = world.models.drain_refusals()
    assert "no SHA-256" in refusal.reason


def test_a_champion_of_another_feature_set_is_refused() -> None:
    world = World()
    data = model_bytes()
    world.registry.add(record(1, data, digest=hashlib.sha256(b"v1").hexdigest()), data)
    world.registry.promote(1)
    assert world.models.current()[0] is None
    (refusal,) = world.models.drain_refusals()
    assert "feature set" in refusal.reason and "refusing to score" in refusal.reason


def test_a_scorer_that_holds_no_champion_serves_the_first_promotion_at_its_next_call() -> None:
    world = World()
    # Given an environment that answered "no champion" a moment ago
    assert world.models.current() == (None, None)
    data = model_bytes()
    world.registry.add(record(1, data), data)
    world.registry.promote(1)
    # Then its next call, well inside the refresh bound, serves the promoted champion
    world.clock.t += 0.1
    champion, _ = world.models.current()
    assert champion is not None and champion.version == 1
    # And once it holds one, the pointer is read at the bound again, not at every call
    reads = world.registry.reads
    for _ in range(10):
        world.models.current()
    assert world.registry.reads == reads


def test_a_champion_that_cannot_be_read_just_now_is_retried_not_refused() -> None:
    world = World()
    data = model_bytes()
    world.registry.add(record(1, data), data)
    world.registry.promote(1)
    # Given the artifact store is unreachable when a cold environment first needs the champion
    world.registry.unreachable = {1}
    with pytest.raises(ModelUnavailable, match="v1 could not be read: ConnectionError"):
        world.models.current()
    # Then that is not a refusal (no alarm, nothing remembered against the model)
    assert world.models.drain_refusals() == []
    # And the next call, once the store answers, serves it
    world.registry.unreachable = set()
    champion, _ = world.models.current()
    assert champion is not None and champion.version == 1


def test_a_read_failure_never_makes_a_cold_scorer_serve_an_older_champion() -> None:
    world = World()
    world.champion(1)
    data = model_bytes("hist_gradient_boosting")
    world.registry.add(record(2, data), data)
    world.registry.promote(2)
    world.registry.unreachable = {2}
    # Given a cold environment that cannot read v2 (promoted and valid)
    with pytest.raises(ModelUnavailable):
        world.models.current()
    # Then it did not fall back to v1 (the fallback is for refused versions only)
    assert world.models.champion is None and world.models.loads == 0


def test_a_warm_scorer_keeps_its_champion_while_a_promotion_cannot_be_read() -> None:
    world = serving_v1_with_v2_promoted()
    world.registry.unreachable = {2}
    world.clock.t += 60
    assert world.models.current()[0].version == 1  # type: ignore[union-attr]
    world.registry.unreachable = set()
    world.clock.t += 15
    assert world.models.current()[0].version == 2  # type: ignore[union-attr]


def test_the_shadow_is_scored_beside_the_champion_and_never_decides() -> None:
    world = World()
    world.champion(1, threshold=0.99, decline=None)
    data = model_bytes("hist_gradient_boosting")
    world.registry.add(record(2, data, threshold=0.0), data)
    world.registry.promote(1, shadow=2)
    world.clock.t += 60
    champion, shadow = world.models.current()
    assert champion is not None and shadow is not None and shadow.version == 2
    from tests.unit.scoring.champions import transaction

    result = world.score(world.kinesis([transaction(i) for i in range(5)]))
    for d in result.decisions:
        assert d["shadow_model_id"] == "transactions-v2" and d["shadow_outcome"] == "review"
        assert d["outcome"] == "approve" and d["shadow_score"] is not None
    assert not np.isclose([d["score"] for d in result.decisions],
                          [d["shadow_score"] for d in result.decisions]).all()  # fmt: skip


def test_outcomes_follow_the_thresholds() -> None:
    from fraudops_shared.scoring.models import NEVER, Thresholds

    t = Thresholds(review=0.3, decline=0.8)
    out = t.outcomes(np.array([0.1, 0.3, 0.5, 0.8, 0.99]))
    assert out.tolist() == ["approve", "review", "review", "decline", "decline"]
    assert Thresholds(0.3, NEVER).outcomes(np.array([1.0])).tolist() == ["review"]
