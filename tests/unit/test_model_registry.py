"""The model registry in DynamoDB (moto): versions, the champion pointer and its history,
rejection, idempotent registration, rollback, shadows and failed runs."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from fraudops_shared import model_registry as registry
from fraudops_shared.model_registry import RegistryError

TABLE = "fraudops-unit-registry"
C = "transactions"


@pytest.fixture
def ddb(table: Any) -> Any:
    """A DynamoDB client on the empty registry table (pk/sk) of the unit conftest."""
    return boto3.client("dynamodb")


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


def counter(ddb: Any) -> int:
    item = ddb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"MODEL#{C}"}, "sk": {"S": "COUNTER"}}
    ).get("Item")
    return int(item["latest"]["N"]) if item else 0


def statuses(ddb: Any) -> dict[int, str]:
    return {v["version"]: v["status"] for v in registry.list_versions(ddb, TABLE, C)}


def champion_version(ddb: Any) -> int | None:
    champ = registry.champion(ddb, TABLE, C)
    return None if champ is None else int(champ["version"])


def history(ddb: Any) -> list[int]:
    pointer = registry.champion_pointer(ddb, TABLE, C)
    return [int(h["version"]) for h in (pointer or {}).get("history", [])]


def register(ddb: Any, run_id: str, *, promote: bool = True, **kwargs: Any) -> dict:
    return registry.register(ddb, TABLE, record(run_id, **kwargs), promote=promote)


# --- registration --------------------------------------------------------------------------------


def test_the_first_promoted_registration_is_v1_and_champion(ddb: Any) -> None:
    # Given an empty registry, When the first run registers with promote
    doc = register(ddb, "run-1")
    # Then it is v1, the champion, and the counter says 1
    assert doc["version"] == 1 and doc["model_id"] == f"{C}-v1" and doc["status"] == "champion"
    assert counter(ddb) == 1 and champion_version(ddb) == 1 and history(ddb) == [1]
    # And the stored record round-trips its lineage (nested documents and numbers)
    champ = registry.champion(ddb, TABLE, C)
    assert champ is not None
    assert champ["metrics"] == {"auprc": 0.5, "roc_auc": 0.9, "threshold": 0.625}
    assert champ["params"] == {"max_iter": 30, "class_weight": "balanced"}
    assert champ["onnx"]["sha256"] == "ab" * 32 and champ["threshold"] == 0.625
    assert champ["seed"] == 20261127 and isinstance(champ["seed"], int)
    assert champ["history"][0]["status"] == "champion"
    # And the run item says how the run ended
    run = registry.get_run(ddb, TABLE, C, "run-1")
    assert run is not None
    assert (run["status"], run["version"], run["model_id"]) == ("promoted", 1, f"{C}-v1")


def test_an_unpromoted_registration_is_a_candidate(ddb: Any) -> None:
    doc = register(ddb, "run-1", promote=False)
    assert doc["status"] == "candidate" and champion_version(ddb) is None
    assert registry.get_run(ddb, TABLE, C, "run-1")["status"] == "registered"  # type: ignore[index]


def test_a_second_promotion_archives_the_first(ddb: Any) -> None:
    register(ddb, "run-1")
    # When a second run is promoted
    doc = register(ddb, "run-2", auprc=0.6)
    # Then it is v2 and the champion, and v1 is archived with the reason
    assert doc["version"] == 2 and champion_version(ddb) == 2
    assert statuses(ddb) == {1: "archived", 2: "champion"}
    v1 = registry.get_version(ddb, TABLE, C, 1)
    assert v1 is not None and v1["status_reason"] == "replaced by v2"
    assert history(ddb) == [1, 2]


def test_a_rejected_registration_does_not_move_the_champion(ddb: Any) -> None:
    register(ddb, "run-1")
    # When a run is registered as rejected (the gate failed)
    doc = register(ddb, "run-2", status="rejected", promote=False)
    # Then it gets a version but the champion and its history stay
    assert doc["version"] == 2 and doc["status"] == "rejected"
    assert statuses(ddb) == {1: "champion", 2: "rejected"}
    assert champion_version(ddb) == 1 and history(ddb) == [1]
    run = registry.get_run(ddb, TABLE, C, "run-2")
    assert run is not None and run["status"] == "rejected"
    assert run["reason"] == "does not beat the champion"


def test_registering_the_same_run_twice_returns_the_same_version(ddb: Any) -> None:
    first = register(ddb, "run-1")
    # When the register step is retried (a Lambda retry of the same execution)
    again = register(ddb, "run-1")
    # Then the same version comes back and nothing moved
    assert again["version"] == first["version"] == 1
    assert again["model_id"] == first["model_id"]
    assert counter(ddb) == 1 and list(statuses(ddb)) == [1]
    assert history(ddb) == [1]
    # And the next run still gets v2
    assert register(ddb, "run-2")["version"] == 2 and counter(ddb) == 2


def test_list_versions_is_in_version_order(ddb: Any) -> None:
    for i in range(1, 13):  # past v9: the zero-padded sort key keeps v10 after v9
        register(ddb, f"run-{i}", promote=i % 3 == 0, status="candidate" if i % 2 else "rejected")
    versions = registry.list_versions(ddb, TABLE, C)
    assert [v["version"] for v in versions] == list(range(1, 13))
    assert [v["run_id"] for v in versions] == [f"run-{i}" for i in range(1, 13)]
    assert champion_version(ddb) == 12 and history(ddb) == [3, 6, 9, 12]
    # And other contracts' items are not listed
    assert registry.list_versions(ddb, TABLE, "creditcard_benchmark") == []


# --- promotion, rollback, shadow -----------------------------------------------------------------


def test_promote_and_rollback_walk_the_history(ddb: Any) -> None:
    # Given v1, v2, v3 promoted in turn
    for i in (1, 2, 3):
        register(ddb, f"run-{i}")
    assert history(ddb) == [1, 2, 3]
    # When rolled back, Then v2 serves again and v3 is archived
    back = registry.rollback(ddb, TABLE, C, reason="v3 alerts too much")
    assert back["version"] == 2 and back["status"] == "champion"
    assert champion_version(ddb) == 2 and history(ddb) == [1, 2]
    assert statuses(ddb) == {1: "archived", 2: "champion", 3: "archived"}
    v2 = registry.get_version(ddb, TABLE, C, 2)
    assert v2 is not None and v2["status_reason"] == "v3 alerts too much"
    # When rolled back again, Then two steps back: v1
    registry.rollback(ddb, TABLE, C, reason="v2 too")
    assert champion_version(ddb) == 1 and history(ddb) == [1]
    assert statuses(ddb) == {1: "champion", 2: "archived", 3: "archived"}
    # When rolled back once more, Then there is nothing earlier
    with pytest.raises(RegistryError, match="first champion"):
        registry.rollback(ddb, TABLE, C, reason="again")
    assert champion_version(ddb) == 1


def test_a_manual_promotion_is_pushed_on_the_history(ddb: Any) -> None:
    register(ddb, "run-1")
    register(ddb, "run-2", promote=False)
    # When v2 is promoted by hand
    registry.promote(ddb, TABLE, C, 2, reason="reviewed")
    # Then it serves, v1 is archived, and a rollback returns to v1
    assert champion_version(ddb) == 2 and history(ddb) == [1, 2]
    assert statuses(ddb) == {1: "archived", 2: "champion"}
    registry.rollback(ddb, TABLE, C, reason="undo")
    assert champion_version(ddb) == 1 and history(ddb) == [1]


def test_rollback_needs_an_earlier_champion(ddb: Any) -> None:
    with pytest.raises(RegistryError, match="no champion"):
        registry.rollback(ddb, TABLE, C, reason="nothing yet")
    register(ddb, "run-1")
    with pytest.raises(RegistryError, match="first champion"):
        registry.rollback(ddb, TABLE, C, reason="only one")
    assert champion_version(ddb) == 1


def test_promote_refuses_unknown_versions_and_the_current_champion(ddb: Any) -> None:
    register(ddb, "run-1")
    with pytest.raises(RegistryError, match="v9 is not registered"):
        registry.promote(ddb, TABLE, C, 9, reason="typo")
    with pytest.raises(RegistryError, match="already the champion"):
        registry.promote(ddb, TABLE, C, 1, reason="again")


def test_a_shadow_is_scored_beside_the_champion_without_serving(ddb: Any) -> None:
    register(ddb, "run-1")
    register(ddb, "run-2", promote=False)
    # When v2 is marked shadow
    doc = registry.promote(ddb, TABLE, C, 2, reason="compare live", shadow=True)
    # Then it is a shadow and the champion has not changed
    assert doc["status"] == "shadow"
    assert statuses(ddb) == {1: "champion", 2: "shadow"}
    assert champion_version(ddb) == 1 and history(ddb) == [1]
    # And the champion itself cannot be a shadow
    with pytest.raises(RegistryError, match="is the champion, not a shadow"):
        registry.promote(ddb, TABLE, C, 1, reason="no", shadow=True)
    # And a shadow can then be promoted
    registry.promote(ddb, TABLE, C, 2, reason="won")
    assert statuses(ddb) == {1: "archived", 2: "champion"}


# --- failed runs ---------------------------------------------------------------------------------


def test_a_failed_run_is_recorded(ddb: Any) -> None:
    run = registry.record_failure(
        ddb,
        TABLE,
        contract=C,
        run_id="run-x",
        error="TrainingDataError",
        reason="NO_POSITIVES: nothing to learn",
    )
    assert run["status"] == "failed"
    stored = registry.get_run(ddb, TABLE, C, "run-x")
    assert stored is not None and stored["status"] == "failed"
    assert stored["error"] == "TrainingDataError" and stored["reason"].startswith("NO_POSITIVES")
    assert registry.list_versions(ddb, TABLE, C) == [] and counter(ddb) == 0
    assert [r["run_id"] for r in registry.list_runs(ddb, TABLE, C)] == ["run-x"]


def test_record_failure_never_overwrites_a_registered_run(ddb: Any) -> None:
    register(ddb, "run-1")
    # When a failure is recorded for a run that already registered its model (a late Catch)
    out = registry.record_failure(
        ddb, TABLE, contract=C, run_id="run-1", error="States.Timeout", reason="late"
    )
    # Then the registered run stands, and is what comes back
    stored = registry.get_run(ddb, TABLE, C, "run-1")
    assert stored is not None and stored["status"] == "promoted" and stored["version"] == 1
    assert "error" not in stored
    assert out["status"] == "promoted" and out["version"] == 1


def test_a_run_that_failed_first_can_still_register(ddb: Any) -> None:
    # Given a failure recorded for a run (e.g. a step failed, then the execution was redriven)
    registry.record_failure(ddb, TABLE, contract=C, run_id="run-1", error="E", reason="r")
    # When the run then registers, Then the run item becomes the registration's
    register(ddb, "run-1")
    stored = registry.get_run(ddb, TABLE, C, "run-1")
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
    back = registry.from_item(registry.to_item(doc))
    assert back == doc
    assert isinstance(back["n"], int) and isinstance(back["whole_float"], float)
