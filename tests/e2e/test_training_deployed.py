"""The training pipeline on the deployed stack: its three paths (promotion, gate rejection, a
failure caught and recorded), reproducibility, the registry's lineage, the model events, the
bad inputs the issue lists, and manual promotion / rollback through `fraudops models`.

Tests in this module run in order and share the registry of the `transactions` contract:
the first run beats a chance-level champion promoted by the module and serves; later ones are
judged against it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fraudops import generator, ingest, snapshot
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.training import trainers
from tests.e2e.scoring_support import FEATURES, promote, register

pytestmark = pytest.mark.e2e

CONTRACT = "transactions"
# Small candidates keep each run to seconds; the benchmark trains the defaults on 285k rows.
FAST = {"candidates": {"hgb": {"params": {"max_iter": 60}}}}


def labelled_transactions(n: int, seed: int) -> Any:
    """`n` transactions over 40 days ending now, labels known up to 3 days ago, 1 % fraud."""
    end = datetime.now(UTC).replace(microsecond=0)
    return generator.generate_transactions(
        n,
        seed=seed,
        start=end - timedelta(days=40),
        days=40,
        fraud_rate=0.01,
        label_delay=timedelta(days=3),
        as_of=end,
    )


@pytest.fixture(scope="module")
def snapshot_id(ls_layout: Layout, tmp_path_factory: Any) -> str:
    """30,000 labelled transactions ingested through S3 and frozen in a snapshot."""
    path = generator.write_table(
        labelled_transactions(30_000, seed=11),
        Path(tmp_path_factory.mktemp("training")) / "train.parquet",
        "parquet",
    )
    assert ingest.ingest_file(ls_layout, path, CONTRACT, timeout=300)["manifest"]["status"] == (
        "ingested"
    )
    return str(snapshot.create(ls_layout, CONTRACT)["snapshot_id"])


def train(fraudops_json: Callable[..., Any], *args: str, returncode: int = 0) -> dict[str, Any]:
    return dict(fraudops_json("train", "--wait", "--json", *args, returncode=returncode))


def events(aws: Callable[..., Any], outputs: dict[str, str]) -> list[dict[str, Any]]:
    """Every model event delivered so far (received and deleted)."""
    sqs = aws("sqs")
    found: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(
            QueueUrl=outputs["ModelEventsQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not msgs:
            return found
        for m in msgs:
            found.append(json.loads(m["Body"]))
            sqs.delete_message(
                QueueUrl=outputs["ModelEventsQueueUrl"], ReceiptHandle=m["ReceiptHandle"]
            )


def wait_event(
    aws: Callable[..., Any], outputs: dict[str, str], seen: list[dict[str, Any]], run_id: str
) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        seen.extend(events(aws, outputs))
        return next((e for e in seen if e["detail"].get("run_id") == run_id), None)

    found = poll(find, timeout=30, what=f"model event of {run_id}")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def seen_events() -> list[dict[str, Any]]:
    return []


def chance_model() -> bytes:
    """A model of the deployed features fitted to coin-flip labels: it ranks no better than
    chance, so any model the pipeline trains on this module's data beats it."""
    table = labelled_transactions(2_000, seed=3)
    x = FEATURES.matrix(
        {c: table.column(c).to_numpy(zero_copy_only=False) for c in FEATURES.input_columns}
    )
    y = np.random.default_rng(3).integers(0, 2, len(x))
    params = {"C": 1.0, "max_iter": 1000}
    fit = trainers.fit("logistic_regression", "logistic_regression", params, 7, x, y)
    names = {"fraudops.features": ",".join(FEATURES.names)}
    return trainers.to_onnx(fit.model, len(FEATURES.names), names)


@pytest.fixture(scope="module")
def champion_before(ls_layout: Layout, aws: Any, outputs: dict[str, str]) -> str:
    """The champion this module's first run is judged against: a chance-level model promoted
    here, whatever earlier modules left serving (a retraining of theirs may have promoted a
    model as good as this module's, and the first run's verdict would be a coin flip)."""
    record = register(ls_layout, aws, outputs, chance_model())
    promote(ls_layout, int(record["version"]))
    return str(record["model_id"])


@pytest.fixture(scope="module")
def first(
    fraudops_json: Callable[..., Any], snapshot_id: str, champion_before: str
) -> dict[str, Any]:
    return train(fraudops_json, "--snapshot", snapshot_id, "--config", json.dumps(FAST))


def test_first_model_is_trained_gated_and_promoted(
    first: dict[str, Any],
    fraudops_json: Callable[..., Any],
    aws: Callable[..., Any],
    outputs: dict[str, str],
    seen_events: list[dict[str, Any]],
    snapshot_id: str,
    champion_before: str,
) -> None:
    # Given a snapshot of labelled transactions (and the champion of the moment, if any)
    # When the pipeline runs (the `first` fixture)
    # Then the best candidate passed parity and the gate, and serves as champion
    assert first["execution_status"] == "SUCCEEDED"
    assert first["status"] == "champion"
    assert first["gate"] == {"passed": True, "reasons": []}
    assert first["champion_before"] == champion_before
    assert first["parity"]["passed"] and first["parity"]["max_abs_diff"] <= 1e-4
    assert first["parity"]["decision_flips"] == 0
    assert set(first["candidates"]) == {"hgb", "logreg"}
    assert first["metrics"]["auprc"] > 0.2
    # and the registry holds its lineage
    record = fraudops_json("models", "show", first["model_id"], "--json")
    assert record["status"] == "champion"
    assert record["snapshot_id"] == snapshot_id and len(record["snapshot_hash"]) == 64
    assert record["contract_version"] == "1.0.0" and record["feature_set_version"] == 2
    assert record["code_version"] not in ("", "unknown")
    assert record["seed"] == record["config"]["seed"]
    # (the boosted trees with FAST's rounds, or the logistic model: which wins on the holdout
    # depends on the labels earlier modules delivered, which snapshots now carry)
    assert record["candidate"] in ("hgb", "logreg")
    assert record["params"]["max_iter"] == (60 if record["candidate"] == "hgb" else 2000)
    assert record["threshold"] == pytest.approx(first["metrics"]["threshold"], abs=1e-6)
    assert set(record["baseline"]["features"]) >= {"log_amount", "channel=ecom", "hour_utc"}
    assert sum(record["baseline"]["score"]["shares"]) == pytest.approx(1.0)
    assert record["dataset"]["stats"]["holdout_positives"] >= 5
    # and the artifact's bytes are the registered model's
    onnx = record["onnx"]
    body = aws("s3").get_object(
        Bucket=onnx["bucket"], Key=onnx["key"], VersionId=onnx["version_id"]
    )
    assert hashlib.sha256(body["Body"].read()).hexdigest() == onnx["sha256"] == first["onnx_sha256"]
    # and the promotion was announced on the bus
    event = wait_event(aws, outputs, seen_events, first["run_id"])
    assert event["source"] == "fraudops.training"
    assert event["detail-type"] == "Model Promoted"
    assert event["detail"]["model_id"] == first["model_id"]


def test_same_snapshot_params_and_seed_reproduce_the_model_which_the_gate_rejects(
    first: dict[str, Any],
    fraudops_json: Callable[..., Any],
    aws: Callable[..., Any],
    outputs: dict[str, str],
    seen_events: list[dict[str, Any]],
    snapshot_id: str,
) -> None:
    # Given the champion trained on this snapshot
    # When the pipeline runs again with the same snapshot, parameters and seed
    again = train(fraudops_json, "--snapshot", snapshot_id, "--config", json.dumps(FAST))
    # Then it builds the same model: same metrics, same ONNX bytes
    assert again["execution_status"] == "SUCCEEDED"
    assert again["onnx_sha256"] == first["onnx_sha256"]
    assert again["metrics"] == first["metrics"]
    assert again["candidates"] == first["candidates"]
    # and the gate rejects it: it does not beat the champion on the same holdout
    assert again["status"] == "rejected"
    assert again["champion_before"] == first["model_id"]
    assert any("does not beat the champion" in r for r in again["gate"]["reasons"])
    models = {m["model_id"]: m for m in fraudops_json("models", "list", "--json")}
    assert models[first["model_id"]]["status"] == "champion"
    assert models[again["model_id"]]["status"] == "rejected"
    assert wait_event(aws, outputs, seen_events, again["run_id"])["detail-type"] == (
        "Model Rejected"
    )


@pytest.mark.parametrize(
    ("args", "code", "contract"),
    [
        (["--snapshot", "transactions-20990101T000000Z-000000000000"], "SNAPSHOT_NOT_FOUND", None),
        (["--config", json.dumps({"min_rows": 10_000_000})], "TOO_FEW_ROWS", None),
        (["--contract", "creditcard_benchmark"], "SNAPSHOT_NOT_FOUND", "creditcard_benchmark"),
    ],
    ids=["unknown-snapshot", "too-few-rows", "no-snapshot-yet"],
)
def test_a_failure_is_caught_recorded_and_announced(
    first: dict[str, Any],
    fraudops_json: Callable[..., Any],
    aws: Callable[..., Any],
    outputs: dict[str, str],
    seen_events: list[dict[str, Any]],
    args: list[str],
    code: str,
    contract: str | None,
) -> None:
    # Given a request the data cannot satisfy
    contract = contract or CONTRACT
    before = fraudops_json("models", "list", "--contract", contract, "--json")
    # When the pipeline runs
    res = train(fraudops_json, *args, returncode=1)
    # Then the execution fails with the step's error and a reason a person can act on
    assert res["execution_status"] == "FAILED"
    assert res["error"] == "TrainingDataError"
    assert res["reason"].startswith(f"{code}: ")
    # and the registry records the run as failed, with that reason, and no model half-made
    assert res["run_record"]["status"] == "failed"
    assert res["run_record"]["reason"] == res["reason"]
    assert fraudops_json("models", "list", "--contract", contract, "--json") == before
    assert wait_event(aws, outputs, seen_events, res["run_id"])["detail-type"] == (
        "Training Failed"
    )


def test_a_snapshot_without_positive_labels_is_refused(
    ls_layout: Layout, fraudops_json: Callable[..., Any], tmp_path: Path
) -> None:
    # Given a benchmark snapshot whose rows are all genuine (Class 0)
    table = generator.generate_creditcard_benchmark(3_000, seed=5, fraud_rate=0.0)
    path = generator.write_table(table, tmp_path / "genuine.csv", "csv")
    landed = ingest.ingest_file(ls_layout, path, "creditcard_benchmark", timeout=180)
    assert landed["manifest"]["status"] == "ingested"
    sid = snapshot.create(ls_layout, "creditcard_benchmark")["snapshot_id"]
    # When the pipeline runs on it
    res = train(
        fraudops_json, "--contract", "creditcard_benchmark", "--snapshot", sid, returncode=1
    )
    # Then nothing is trained: the reason says there is no positive label
    assert res["reason"].startswith("NO_POSITIVES: ")
    assert fraudops_json("models", "list", "--contract", "creditcard_benchmark", "--json") == []


def test_manual_promotion_and_rollback(
    first: dict[str, Any], fraudops_json: Callable[..., Any]
) -> None:
    # Given the champion and a rejected version of the same snapshot
    models = fraudops_json("models", "list", "--json")
    rejected = next(m for m in models if m["status"] == "rejected")
    # When an operator promotes the rejected version
    promoted = fraudops_json("models", "promote", rejected["model_id"], "--json")
    # Then it serves and the former champion is archived
    assert promoted["status"] == "champion"
    status = {m["model_id"]: m["status"] for m in fraudops_json("models", "list", "--json")}
    assert status[first["model_id"]] == "archived"
    # When the operator rolls back
    rolled = fraudops_json("models", "rollback", "--json")
    # Then the first champion serves again
    assert rolled["model_id"] == first["model_id"]
    status = {m["model_id"]: m["status"] for m in fraudops_json("models", "list", "--json")}
    assert status[first["model_id"]] == "champion"
    assert status[rejected["model_id"]] == "archived"


def test_a_champion_whose_artifact_is_gone_cannot_be_beaten_blindly(
    first: dict[str, Any],
    fraudops_json: Callable[..., Any],
    aws: Callable[..., Any],
    snapshot_id: str,
) -> None:
    # Given the champion's ONNX artifact deleted from storage (that exact version)
    champion = fraudops_json("models", "show", first["model_id"], "--json")
    onnx = champion["onnx"]
    aws("s3").delete_object(Bucket=onnx["bucket"], Key=onnx["key"], VersionId=onnx["version_id"])
    # When a different model is trained
    other = {"candidates": {"hgb": {"params": {"max_iter": 80}}}}
    res = train(fraudops_json, "--snapshot", snapshot_id, "--config", json.dumps(other))
    # Then it is registered as rejected, with the reason, and the champion stays
    assert res["status"] == "rejected"
    assert any(
        "cannot compare with the champion" in r and "missing" in r for r in res["gate"]["reasons"]
    )
    status = {m["model_id"]: m["status"] for m in fraudops_json("models", "list", "--json")}
    assert status[first["model_id"]] == "champion"
