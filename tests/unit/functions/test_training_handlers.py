"""The four training handlers through their entry points, chained as the state machine chains
them (state_machines/training.asl.json), wired to in-memory adapters: prepare -> train (each
candidate) -> evaluate -> register; and register's record_failure action for the Catch."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.unit.functions.training_support import C, prepare_event, take_snapshot
from tests.unit.support import FakeAws, FakeLambdaContext, load_handler


@pytest.fixture(scope="module")
def handlers() -> dict[str, ModuleType]:
    """Module scope: imported before sockets go off (the X-Ray SDK opens one at import)."""
    return {
        step: load_handler(f"training_{step}")
        for step in ("prepare", "train", "evaluate", "register")
    }


def test_the_handlers_train_register_and_promote_the_first_model(
    handlers: dict[str, ModuleType], fake_aws: FakeAws, lambda_context: FakeLambdaContext
) -> None:
    snap = take_snapshot(fake_aws)
    # When each handler gets what the state machine passes it
    run = handlers["prepare"].handler(prepare_event(), lambda_context)
    trained = [
        handlers["train"].handler({"run": run, "candidate": c}, lambda_context)
        for c in run["candidates"]
    ]
    evaluation = handlers["evaluate"].handler({"run": run, "trained": trained}, lambda_context)
    registered = handlers["register"].handler(
        {"action": "register", "run": run, "evaluation": evaluation}, lambda_context
    )
    # Then prepare read the latest snapshot and stamped the code version it was deployed with
    assert (
        run["snapshot"]["id"] == snap["snapshot_id"] and run["code_version"] == "0123456789abcdef"
    )
    assert [t["name"] for t in trained] == ["hgb", "logreg"]
    # And the first model is registered as the champion, its ONNX in the data bucket
    assert registered["status"] == "champion" and registered["version"] == 1
    champion = fake_aws.registry.pointer(C)
    assert champion is not None and champion["version"] == 1
    onnx = fake_aws.registry.version(C, 1)["onnx"]  # type: ignore[index]
    assert fake_aws.bucket.get(onnx["key"], onnx["version_id"])[:2] == b"\x08\x08"


def test_register_records_a_failure_and_refuses_unknown_actions(
    handlers: dict[str, ModuleType], fake_aws: FakeAws, lambda_context: FakeLambdaContext
) -> None:
    event: dict[str, Any] = {
        "action": "record_failure",
        "input": {"contract": C},
        "failure": {"Error": "TrainingDataError", "Cause": '{"errorMessage": "NO_LABELS: none"}'},
        "run_id": "run-f",
    }
    out = handlers["register"].handler(event, lambda_context)
    assert (out["event_type"], out["reason"]) == ("Training Failed", "NO_LABELS: none")
    assert fake_aws.registry.run(C, "run-f")["status"] == "failed"  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown action"):
        handlers["register"].handler({"action": "delete_everything"}, lambda_context)


def test_prepare_fails_with_a_stable_code_when_there_is_no_snapshot(
    handlers: dict[str, ModuleType], fake_aws: FakeAws, lambda_context: FakeLambdaContext
) -> None:
    from fraudops_shared.training.dataset import TrainingDataError

    with pytest.raises(TrainingDataError) as err:
        handlers["prepare"].handler(prepare_event(), lambda_context)
    assert err.value.code == "SNAPSHOT_NOT_FOUND" and fake_aws.bucket.keys("training/") == []
