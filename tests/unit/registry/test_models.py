"""The model registry (fraudops_shared.registry.models): versions, the champion pointer and its
history, rejection, idempotent registration, rollback, shadows and failed runs. Every test runs
on the in-memory store and on the DynamoDB store (moto), so the two agree."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from fraudops_shared.aws import model_registry as dynamo_store
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.registry.models import ModelRegistry, RegistryError
from tests.unit.conftest import TABLE_NAME
from tests.unit.fakes import MemoryRegistryStore

TABLE = TABLE_NAME
C = "transactions"


@pytest.fixture(params=["memory", "dynamodb"])
def reg(request: pytest.FixtureRequest) -> ModelRegistry:
    """The registry over each store; the DynamoDB one on the unit conftest's moto table."""
    if request.param == "memory":
        return ModelRegistry(MemoryRegistryStore())
    request.getfixturevalue("table")
    return ModelRegistry(DynamoRegistryStore(boto3.client("dynamodb"), TABLE))


def record(run_id: str, status: str = "candidate", auprc: float = 0.5, **extra: Any) -> dict:
    """What the pipeline's register step hands the registry (lineage trimmed to a few fields)."""
    return {
        "contract": C,
        "run_id": run_id,
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:training:{run_id}",
        "status": status,
        "status_reason": "gates passed" if status != "rejected" else "does not beat the champion",
        "snapshot_id": "transactions-20261127T000000Z-0123456789ab",
        "feature_set": "f" * 64,
        "seed": 20261127,
        "threshold": 0.625,
        "auprc": auprc,
        "metrics": {"auprc": auprc, "roc_auc": 0.9, "threshold": 0.625},
        "params": {"max_iter": 30, "class_weight": "balanced"},
        "onnx": {"key": f"training/{C}/{run_id}/hgb/model.onnx", "sha256": "ab" * 32},
        **extra,
    }


def counter(reg: ModelRegistry) -> int:
    return reg.store.counter(C)


def statuses(reg: ModelRegistry) -> dict[int, str]:
    return {v["version"]: v["status"] for v in reg.list_versions(C)}


def champion_version(reg: ModelRegistry) -> int | None:
    champ = reg.champion(C)
    return None if champ is None else int(champ["version"])


def history(reg: ModelRegistry) -> list[int]:
    pointer = reg.champion_pointer(C)
    return [int(h["version"]) for h in (pointer or {}).get("history", [])]


def register(reg: ModelRegistry, run_id: str, *, promote: bool = True, **kwargs: Any) -> dict:
    return reg.register(record(run_id, **kwargs), promote=promote)


# --- registration --------------------------------------------------------------------------------


def test_the_first_promoted_registration_is_v1_and_champion(reg: ModelRegistry) -> None:
    # Given an empty registry, When the first run registers with promote
    doc = register(reg, "run-1")
    # Then it is v1, the champion, and the counter says 1
    assert doc["version"] == 1 and doc["model_id"] == f"{C}-v1" and doc["status"] == "champion"
    assert counter(reg) == 1 and champion_version(reg) == 1 and history(reg) == [1]
    # And the stored record round-trips its lineage (nested documents and numbers)
    champ = reg.champion(C)
    assert champ is not None
    assert champ["metrics"] == {"auprc": 0.5, "roc_auc": 0.9, "threshold": 0.625}
    assert champ["params"] == {"max_iter": 30, "class_weight": "balanced"}
    assert champ["onnx"]["sha256"] == "ab" * 32 and champ["threshold"] == 0.625
    assert champ["seed"] == 20261127 and isinstance(champ["seed"], int)
    assert champ["history"][0]["status"] == "champion"
    # And the run item says how the run ended
    run = reg.get_run(C, "run-1")
    assert run is not None
    assert (run["status"], run["version"], run["model_id"]) == ("promoted", 1, f"{C}-v1")


def test_an_unpromoted_registration_is_a_candidate(reg: ModelRegistry) -> None:
    doc = register(reg, "run-1", promote=False)
    assert doc["status"] == "candidate" and champion_version(reg) is None
    assert reg.get_run(C, "run-1")["status"] == "registered"  # type: ignore[index]


def test_a_second_promotion_archives_the_first(reg: ModelRegistry) -> None:
    register(reg, "run-1")
    # When a second run is promoted
    doc = register(reg, "run-2", auprc=0.6)
    # Then it is v2 and the champion, and v1 is archived with the reason
    assert doc["version"] == 2 and champion_version(reg) == 2
    assert statuses(reg) == {1: "archived", 2: "champion"}
    v1 = reg.get_version(C, 1)
    assert v1 is not None and v1["status_reason"] == "replaced by v2"
    assert history(reg) == [1, 2]


def test_a_rejected_registration_does_not_move_the_champion(reg: ModelRegistry) -> None:
    register(reg, "run-1")
    # When a run is registered as rejected (the gate failed)
    doc = register(reg, "run-2", status="rejected", promote=False)
    # Then it gets a version but the champion and its history stay
    assert doc["version"] == 2 and doc["status"] == "rejected"
    assert statuses(reg) == {1: "champion", 2: "rejected"}
    assert champion_version(reg) == 1 and history(reg) == [1]
    run = reg.get_run(C, "run-2")
    assert run is not None and run["status"] == "rejected"
    assert run["reason"] == "does not beat the champion"


def test_registering_the_same_run_twice_returns_the_same_version(reg: ModelRegistry) -> None:
    first = register(reg, "run-1")
    # When the register step is retried (a Lambda retry of the same execution)
    again = register(reg, "run-1")
    # Then the same version comes back and nothing moved
    assert again["version"] == first["version"] == 1
    assert again["model_id"] == first["model_id"]
    assert counter(reg) == 1 and list(statuses(reg)) == [1]
    assert history(reg) == [1]
    # And the next run still gets v2
    assert register(reg, "run-2")["version"] == 2 and counter(reg) == 2


def test_list_versions_is_in_version_order(reg: ModelRegistry) -> None:
    for i in range(1, 13):  # past v9: the zero-padded sort key keeps v10 after v9
        register(reg, f"run-{i}", promote=i % 3 == 0, status="candidate" if i % 2 else "rejected")
    versions = reg.list_versions(C)
    assert [v["version"] for v in versions] == list(range(1, 13))
    assert [v["run_id"] for v in versions] == [f"run-{i}" for i in range(1, 13)]
    assert champion_version(reg) == 12 and history(reg) == [3, 6, 9, 12]
    # And other contracts' items are not listed
    assert reg.list_versions("creditcard_benchmark") == []


# --- promotion, rollback, shadow -----------------------------------------------------------------


def test_promote_and_rollback_walk_the_history(reg: ModelRegistry) -> None:
    # Given v1, v2, v3 promoted in turn
    for i in (1, 2, 3):
        register(reg, f"run-{i}")
    assert history(reg) == [1, 2, 3]
    # When rolled back, Then v2 serves again and v3 is archived
    back = reg.rollback(C, reason="v3 alerts too much")
    assert back["version"] == 2 and back["status"] == "champion"
    assert champion_version(reg) == 2 and history(reg) == [1, 2]
    assert statuses(reg) == {1: "archived", 2: "champion", 3: "archived"}
    v2 = reg.get_version(C, 2)
    assert v2 is not None and v2["status_reason"] == "v3 alerts too much"
    # When rolled back again, Then two steps back: v1
    reg.rollback(C, reason="v2 too")
    assert champion_version(reg) == 1 and history(reg) == [1]
    assert statuses(reg) == {1: "champion", 2: "archived", 3: "archived"}
    # When rolled back once more, Then there is nothing earlier
    with pytest.raises(RegistryError, match="first champion"):
        reg.rollback(C, reason="again")
    assert champion_version(reg) == 1


def test_a_manual_promotion_is_pushed_on_the_history(reg: ModelRegistry) -> None:
    register(reg, "run-1")
    register(reg, "run-2", promote=False)
    # When v2 is promoted by hand
    reg.promote(C, 2, reason="reviewed")
    # Then it serves, v1 is archived, and a rollback returns to v1
    assert champion_version(reg) == 2 and history(reg) == [1, 2]
    assert statuses(reg) == {1: "archived", 2: "champion"}
    reg.rollback(C, reason="undo")
    assert champion_version(reg) == 1 and history(reg) == [1]


def test_rollback_needs_an_earlier_champion(reg: ModelRegistry) -> None:
    with pytest.raises(RegistryError, match="no champion"):
        reg.rollback(C, reason="nothing yet")
    register(reg, "run-1")
    with pytest.raises(RegistryError, match="first champion"):
        reg.rollback(C, reason="only one")
    assert champion_version(reg) == 1


def test_promote_refuses_unknown_versions_and_the_current_champion(reg: ModelRegistry) -> None:
    register(reg, "run-1")
    with pytest.raises(RegistryError, match="v9 is not registered"):
        reg.promote(C, 9, reason="typo")
    with pytest.raises(RegistryError, match="already the champion"):
        reg.promote(C, 1, reason="again")


def test_a_shadow_is_scored_beside_the_champion_without_serving(reg: ModelRegistry) -> None:
    register(reg, "run-1")
    register(reg, "run-2", promote=False)
    # When v2 is marked shadow
    doc = reg.promote(C, 2, reason="compare live", shadow=True)
    # Then it is a shadow and the champion has not changed
    assert doc["status"] == "shadow"
    assert statuses(reg) == {1: "champion", 2: "shadow"}
    assert champion_version(reg) == 1 and history(reg) == [1]
    # And the champion itself cannot be a shadow
    with pytest.raises(RegistryError, match="is the champion, not a shadow"):
        reg.promote(C, 1, reason="no", shadow=True)
    # And the champion pointer names it, where the scorers look
    assert (reg.champion_pointer(C) or {}).get("shadow") == 2
    # And a shadow can then be promoted, which ends its shadowing
    reg.promote(C, 2, reason="won")
    assert statuses(reg) == {1: "archived", 2: "champion"}
    assert "shadow" not in (reg.champion_pointer(C) or {})


def test_one_shadow_at_a_time_and_it_outlives_a_champion_change(reg: ModelRegistry) -> None:
    register(reg, "run-1")
    register(reg, "run-2", promote=False)
    register(reg, "run-3", promote=False)
    register(reg, "run-4", promote=False)
    reg.promote(C, 2, reason="try", shadow=True)
    # When another version becomes the shadow, Then the first goes back to candidate
    reg.promote(C, 3, reason="try another", shadow=True)
    assert statuses(reg) == {1: "champion", 2: "candidate", 3: "shadow", 4: "candidate"}
    # When the champion changes to a third version, Then the shadow is still shadowed
    reg.promote(C, 4, reason="manual")
    assert (reg.champion_pointer(C) or {}).get("shadow") == 3
    # And a shadow needs a champion, and a rejected version cannot be one
    register(reg, "run-5", promote=False, status="rejected")
    with pytest.raises(RegistryError, match="rejected"):
        reg.promote(C, 5, reason="no", shadow=True)


# --- failed runs ---------------------------------------------------------------------------------


def test_a_failed_run_is_recorded(reg: ModelRegistry) -> None:
    run = reg.record_failure(
        contract=C,
        run_id="run-x",
        error="TrainingDataError",
        reason="NO_POSITIVES: nothing to learn",
    )
    assert run["status"] == "failed"
    stored = reg.get_run(C, "run-x")
    assert stored is not None and stored["status"] == "failed"
    assert stored["error"] == "TrainingDataError" and stored["reason"].startswith("NO_POSITIVES")
    assert reg.list_versions(C) == [] and counter(reg) == 0
    assert [r["run_id"] for r in reg.list_runs(C)] == ["run-x"]


def test_the_alarm_that_started_a_run_is_kept_as_a_document(reg: ModelRegistry) -> None:
    trigger = {"alarm": "drift", "state": "ALARM", "at": "2026-12-02T10:00:00Z"}
    reg.record_failure(contract=C, run_id="run-t", error="E", reason="r", trigger=trigger)
    stored = reg.get_run(C, "run-t")
    assert stored is not None and stored["trigger"] == trigger  # a mapping, in either store


def test_record_failure_never_overwrites_a_registered_run(reg: ModelRegistry) -> None:
    register(reg, "run-1")
    # When a failure is recorded for a run that already registered its model (a late Catch)
    out = reg.record_failure(contract=C, run_id="run-1", error="States.Timeout", reason="late")
    # Then the registered run stands, and is what comes back
    stored = reg.get_run(C, "run-1")
    assert stored is not None and stored["status"] == "promoted" and stored["version"] == 1
    assert "error" not in stored
    assert out["status"] == "promoted" and out["version"] == 1


def test_a_run_that_failed_first_can_still_register(reg: ModelRegistry) -> None:
    # Given a failure recorded for a run (e.g. a step failed, then the execution was redriven)
    reg.record_failure(contract=C, run_id="run-1", error="E", reason="r")
    # When the run then registers, Then the run item becomes the registration's
    register(reg, "run-1")
    stored = reg.get_run(C, "run-1")
    assert stored is not None and stored["status"] == "promoted" and stored["version"] == 1


# --- serialisation -------------------------------------------------------------------------------


def test_items_round_trip_types() -> None:
    doc = {
        "pk": "MODEL#c",
        "n": 3,
        "x": 0.25,
        "whole_float": 2.0,
        "flag": True,
        "none": None,
        "text": "v",
        "metrics": {"auprc": 0.5, "nested": [1, 2]},
    }
    back = dynamo_store.from_item(dynamo_store.to_item(doc))
    assert back == doc
    assert isinstance(back["n"], int) and isinstance(back["whole_float"], float)
