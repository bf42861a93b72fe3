"""The training pipeline's steps (fraudops_shared.training.steps) in process, over in-memory
adapters (a versioned data bucket, the snapshot catalog, the model registry): prepare -> train
(each candidate) -> evaluate -> register, and record_failure.

What is checked: the first model's lineage, ONNX parity, that the same snapshot, config and seed
give the same metrics and the same ONNX bytes (so a re-run does not beat its twin), that a
champion whose artifact is gone cannot be compared with, and that unfit inputs fail in prepare
with a stable code before anything is trained or registered.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from fraudops import generator
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.lake import snapshot_store
from fraudops_shared.lake.commits import Commit
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.training import onnx_model, steps
from fraudops_shared.training.config import resolve
from fraudops_shared.training.dataset import Dataset, TrainingDataError
from tests.unit.fakes import (
    Counters,
    MemoryBucket,
    MemoryCommitLog,
    MemoryFileClaims,
    MemoryRegistryStore,
    MemorySnapshotCatalog,
)

BUCKET = "fraudops-unit-data"
C = "transactions"
CODE_VERSION = "unit-test-code"
START = datetime(2026, 9, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
# Small candidates keep a run around a second; everything else is the default config.
OVERRIDES = {"candidates": {"hgb": {"params": {"max_iter": 30}}}}


class Env:
    """What the steps are wired to: the data bucket, the catalog, the registry."""

    def __init__(self) -> None:
        self.bucket = MemoryBucket(BUCKET)
        self.catalog = MemorySnapshotCatalog()
        self.log = MemoryCommitLog(Counters(), MemoryFileClaims(), {})
        self.registry = ModelRegistry(MemoryRegistryStore())

    def bytes_of(self, ref: dict[str, Any]) -> bytes:
        return self.bucket.get(ref["key"], ref["version_id"])


@pytest.fixture
def env() -> Env:
    return Env()


@cache
def parquet(rows: int, fraud_rate: float, seed: int) -> bytes:
    """Generated transactions as curated Parquet; labels arrive after ~2 days, so most rows of
    the 30 days are labelled and the newest are not."""
    table = generator.generate_transactions(
        rows, seed=seed, start=START, fraud_rate=fraud_rate, label_delay=timedelta(days=2)
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def take_snapshot(
    env: Env, *, rows: int = 20_000, fraud_rate: float = 0.01, seed: int = 7
) -> dict[str, Any]:
    """Land one curated file with its `ingested` manifest, then snapshot the contract (what
    `fraudops snapshot` does after an ingestion)."""
    key = f"curated/{C}/event_date=2026-09-01/part-{seed}.parquet"
    env.bucket.put(key, parquet(rows, fraud_rate, seed))
    manifest = {
        "status": "ingested",
        "contract": {"name": C, "version": "1.0.0"},
        "counts": {"rows_in": rows, "valid": rows, "rejected": 0},
        "outputs": {"curated": [key], "quarantine": [], "file": None},
    }
    manifest_key = f"manifests/{C}/{seed:064x}.json"
    env.bucket.put(manifest_key, json.dumps(manifest).encode())
    env.log.commit(Commit(f"file-{seed}", C, "s3", manifest_key, {"files": 1}), expires_at=0)
    return snapshot_now(env, NOW)


def snapshot_now(env: Env, now: datetime, labels_contract: str | None = None) -> dict[str, Any]:
    """`fraudops snapshot` on the committed data (with the label events, when asked)."""
    return snapshot_store.create_snapshot(
        env.bucket, env.log, env.catalog, bucket=BUCKET, contract=C,
        contract_version="1.0.0", now=now, labels_contract=labels_contract,
    )  # fmt: skip


def prepare(env: Env, run_id: str, **request: Any) -> Any:
    event: Any = {
        "input": {"contract": C, "config": OVERRIDES, **request},
        "run_id": run_id,
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:training:{run_id}",
    }
    return steps.prepare(
        event, blobs=env.bucket, files=env.bucket, catalog=env.catalog, code_version=CODE_VERSION
    )


def run_pipeline(env: Env, run_id: str, **request: Any) -> dict[str, Any]:
    """Every step in order, each getting what the state machine would pass it."""
    run = prepare(env, run_id, **request)
    trained = [
        steps.train({"run": run, "candidate": c}, blobs=env.bucket) for c in run["candidates"]
    ]
    evaluation = steps.evaluate(
        {"run": run, "trained": trained}, blobs=env.bucket, registry=env.registry
    )
    registered = steps.register(
        {"action": "register", "run": run, "evaluation": evaluation},
        blobs=env.bucket,
        registry=env.registry,
    )
    return {"run": run, "trained": trained, "evaluation": evaluation, "registered": registered}


def nothing_trained(env: Env) -> bool:
    return env.bucket.keys("training/") == [] and env.registry.list_versions(C) == []


# --- the first model -----------------------------------------------------------------------------


def test_the_first_run_registers_v1_as_champion_with_its_lineage(env: Env) -> None:
    # Given a snapshot of 20k generated transactions (1 % fraud)
    snap = take_snapshot(env)
    # When the pipeline runs on the latest snapshot
    out = run_pipeline(env, "run-1")
    run, evaluation, registered = out["run"], out["evaluation"], out["registered"]
    # Then v1 is registered and serves
    assert registered["status"] == "champion" and registered["event_type"] == "Model Promoted"
    assert registered["version"] == 1 and registered["model_id"] == f"{C}-v1"
    assert registered["champion_before"] is None and registered["gate"]["passed"]
    champ = env.registry.champion(C)
    assert champ is not None and champ["version"] == 1 and champ["run_id"] == "run-1"

    # And the record names the data it learned from
    assert champ["snapshot_id"] == snap["snapshot_id"] == run["snapshot"]["id"]
    assert champ["snapshot_hash"] == snap["content_hash"]
    assert champ["contract_version"] == "1.0.0"
    stored = Dataset.from_bytes(env.bytes_of(run["dataset"]))
    assert champ["dataset"]["digest"] == run["dataset"]["digest"] == stored.digest
    assert champ["dataset"]["stats"]["unlabelled"] > 0
    # And how it was made: features, code, candidate, parameters, seed, config
    fs = feature_set(C)
    assert champ["feature_set"] == fs.digest and champ["feature_set_version"] == fs.version
    assert champ["code_version"] == CODE_VERSION
    assert champ["candidate"] == evaluation["chosen"]
    config = resolve(OVERRIDES)
    assert champ["params"] == config.candidates[champ["candidate"]]["params"]
    assert champ["seed"] == config.seed and champ["config"] == config.as_dict()
    assert champ["execution_arn"].endswith(":run-1")

    # And how good it is, at which threshold
    metrics = champ["metrics"]
    assert metrics["auprc"] >= config.floor and 0.5 < metrics["roc_auc"] <= 1.0
    assert metrics["auprc"] == pytest.approx(evaluation["metrics"]["auprc"])
    assert 0.0 < champ["threshold"] < 1.0
    assert champ["threshold"] == pytest.approx(metrics["threshold"], abs=1e-6)
    assert set(champ["candidates"]) == {"hgb", "logreg"}

    # And the ONNX artifact's recorded SHA-256 is the stored object's
    onnx_bytes = env.bytes_of(champ["onnx"])
    assert hashlib.sha256(onnx_bytes).hexdigest() == champ["onnx"]["sha256"]
    assert registered["onnx_sha256"] == champ["onnx"]["sha256"]
    session = onnx_model.load(onnx_bytes, champ["onnx"]["sha256"])
    meta = onnx_model.metadata(session)
    assert meta["fraudops.feature_set"] == fs.digest
    assert meta["fraudops.features"].split(",") == fs.names
    assert "run-1" not in json.dumps(meta)  # the bytes name the data, never the run
    # And that model scores the holdout as evaluated
    scores = onnx_model.fraud_probability(session, stored.x_holdout)
    assert scores.shape == stored.y_holdout.shape and np.isfinite(scores).all()

    # And the drift baseline has bins per feature and for the score
    baseline = champ["baseline"]
    assert sorted(baseline["features"]) == sorted(fs.names)
    for stats in baseline["features"].values():
        assert len(stats["shares"]) == len(stats["edges"]) + 1
        assert sum(stats["shares"]) == pytest.approx(1.0)
    assert baseline["score"]["rows"] == len(stored.y_holdout)

    # And the export reproduces scikit-learn's scores
    parity = evaluation["parity"]
    assert parity["passed"] and parity["max_abs_diff"] <= 1e-4 and parity["decision_flips"] == 0
    assert champ["lineage"]["parity"] == parity

    # And the run item records the promotion; a late failure report cannot overwrite it
    late = steps.record_failure(
        {"input": {"contract": C}, "run_id": "run-1", "failure": {"Error": "X", "Cause": "late"}},
        registry=env.registry,
    )
    assert late["status"] == "promoted"
    assert env.registry.get_run(C, "run-1")["status"] == "promoted"  # type: ignore[index]


# --- reproducibility -----------------------------------------------------------------------------


def test_the_same_snapshot_config_and_seed_give_the_same_model(env: Env) -> None:
    snap = take_snapshot(env)
    # Given a first run that became the champion
    first = run_pipeline(env, "run-1", snapshot_id=snap["snapshot_id"])
    assert first["registered"]["status"] == "champion"
    # When a second run trains on the same snapshot with the same config and seed
    second = run_pipeline(env, "run-2", snapshot_id=snap["snapshot_id"])
    # Then the dataset, every candidate's metrics and every ONNX file are identical
    assert second["run"]["dataset"]["digest"] == first["run"]["dataset"]["digest"]
    assert second["evaluation"]["candidates"] == first["evaluation"]["candidates"]
    assert second["evaluation"]["metrics"] == first["evaluation"]["metrics"]
    for a, b in zip(first["trained"], second["trained"], strict=True):
        assert a["name"] == b["name"] and a["onnx"]["sha256"] == b["onnx"]["sha256"]
        assert a["reference_scores"]["sha256"] == b["reference_scores"]["sha256"]
        assert a["onnx"]["key"] != b["onnx"]["key"]  # each run writes under its own prefix
    # And the champion scored on this holdout has exactly the challenger's AUPRC
    champion = second["evaluation"]["champion"]
    assert champion["model_id"] == f"{C}-v1"
    assert champion["auprc"] == second["evaluation"]["metrics"]["auprc"]
    # So the twin does not beat the champion: registered as rejected, with that reason
    registered = second["registered"]
    assert registered["status"] == "rejected" and registered["event_type"] == "Model Rejected"
    assert registered["version"] == 2 and registered["champion_before"] == f"{C}-v1"
    assert "does not beat the champion" in registered["reason"]
    assert registered["onnx_sha256"] == first["registered"]["onnx_sha256"]
    v2 = env.registry.get_version(C, 2)
    assert v2 is not None and v2["status"] == "rejected"
    assert v2["gate"]["passed"] is False and "does not beat the champion" in v2["status_reason"]
    # And the champion did not move
    champ = env.registry.champion(C)
    assert champ is not None and champ["version"] == 1
    run = env.registry.get_run(C, "run-2")
    assert run is not None and run["status"] == "rejected" and run["version"] == 2


def test_a_champion_whose_artifact_is_gone_cannot_be_beaten_by_default(
    env: Env,
) -> None:
    take_snapshot(env)
    first = run_pipeline(env, "run-1")
    champ = env.registry.champion(C)
    assert champ is not None
    # Given the champion's ONNX object version is deleted from the bucket
    ref = champ["onnx"]
    env.bucket.delete_version(ref["key"], ref["version_id"])
    # When the next run evaluates
    second = run_pipeline(env, "run-2")
    # Then the champion could not be scored, and the gate says so
    assert second["evaluation"]["champion"] is None
    reasons = second["evaluation"]["gate"]["reasons"]
    assert len(reasons) == 1 and "cannot compare with the champion" in reasons[0]
    assert "artifact" in reasons[0] and f"{C}-v1" in reasons[0]
    # And the run is registered as rejected with that reason; v1 still serves
    registered = second["registered"]
    assert registered["status"] == "rejected" and "artifact" in registered["reason"]
    v2 = env.registry.get_version(C, 2)
    assert v2 is not None and "artifact" in v2["champion_comparison"]["problem"]
    current = env.registry.champion(C)
    assert current is not None and current["version"] == 1
    # (the challenger itself was fine: same metrics as the first run)
    assert second["evaluation"]["metrics"] == first["evaluation"]["metrics"]


def test_an_unpromotable_run_registers_a_candidate(env: Env) -> None:
    take_snapshot(env)
    # When a run passes the gate but was started with promote: false
    out = run_pipeline(env, "run-1", promote=False)
    # Then it is registered as a candidate and nothing serves
    assert out["registered"]["status"] == "candidate"
    assert out["registered"]["event_type"] == "Model Registered"
    assert "promote: false" in out["registered"]["reason"]
    assert env.registry.champion(C) is None


# --- production outcomes and automatic retraining ---------------------------------------------


def land_labels(env: Env, labels: list[tuple[str, bool, datetime]]) -> None:
    """Label events committed in the labels zone, as `fraudops labels` lands them."""
    import pyarrow as pa

    table = pa.table(
        {
            "label_id": [f"l-{i}" for i in range(len(labels))],
            "transaction_id": [t for t, _, _ in labels],
            "is_fraud": [f for _, f, _ in labels],
            "label_time": pa.array([at for _, _, at in labels], pa.timestamp("us", tz="UTC")),
            "source": ["chargeback"] * len(labels),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    key = "curated/labels/label_date=2026-10-30/part-0.parquet"
    env.bucket.put(key, buf.getvalue())
    manifest = {
        "status": "ingested",
        "contract": {"name": "labels", "version": "1.0.0"},
        "counts": {"rows_in": len(labels), "valid": len(labels), "rejected": 0},
        "outputs": {"curated": [key], "quarantine": [], "file": None},
    }
    manifest_key = f"manifests/labels/{'1' * 64}.json"
    env.bucket.put(manifest_key, json.dumps(manifest).encode())
    env.log.commit(Commit("file-labels", "labels", "s3", manifest_key, {"files": 1}), expires_at=0)


def test_labels_frozen_with_a_snapshot_reach_training_as_known_at_its_time(env: Env) -> None:
    # Given 20,000 transactions, the newest without a label yet
    table = pq.read_table(io.BytesIO(parquet(20_000, 0.01, 7)))
    unlabelled = [
        t
        for t, f in zip(
            table.column("transaction_id").to_pylist(),
            table.column("is_fraud").to_pylist(),
            strict=True,
        )
        if f is None
    ]
    assert len(unlabelled) >= 100
    # and chargebacks for 60 of them known before the snapshot, 40 labelled only after it
    before, after = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    land_labels(
        env,
        [(t, True, before) for t in unlabelled[:60]]
        + [(t, True, after) for t in unlabelled[60:100]],
    )
    # When a snapshot is taken with the label events and training prepares from it
    take_snapshot(env)
    snapshot = snapshot_now(env, NOW, labels_contract="labels")
    run = prepare(env, "run-1", snapshot_id=snapshot["snapshot_id"])
    # Then the snapshot froze the 100 events, and only the 60 known at its time were applied
    assert snapshot["labels"]["row_count"] == 100
    assert run["snapshot"]["labels_applied"] == 60
    plain_snapshot = snapshot_now(env, NOW - timedelta(seconds=1))
    plain = prepare(env, "run-2", snapshot_id=plain_snapshot["snapshot_id"])
    assert plain["snapshot"]["labels_applied"] == 0
    assert run["dataset"]["stats"]["labelled"] == plain["dataset"]["stats"]["labelled"] + 60
    # and a tampered label list is refused like tampered data
    doc = json.loads(env.bucket.get(snapshot["key"]))
    doc["labels"]["files"][0]["size"] += 1
    env.bucket.put(snapshot["key"], json.dumps(doc).encode())
    with pytest.raises(TrainingDataError, match=r"labels hash"):
        prepare(env, "run-3", snapshot_id=snapshot["snapshot_id"])


def test_an_automatic_retraining_goes_to_shadow_with_its_trigger_in_the_run(env: Env) -> None:
    # Given a weak champion (few boosting rounds)
    take_snapshot(env)
    weak = {"candidates": {"logreg": None, "hgb": {"params": {"max_iter": 3}}}}
    first = run_pipeline(env, "run-1", config=weak)
    assert first["registered"]["status"] == "champion"
    # When an alarm's retraining (target shadow, promote false) trains a better model
    trigger = {"alarm": "precision", "name": "FraudOps-precision", "state": "ALARM"}
    out = run_pipeline(env, "run-2", promote=False, target="shadow", trigger=trigger)
    # Then it is scored beside the champion, not served, and its run names the alarm
    assert out["registered"]["status"] == "shadow", out["registered"]["reason"]
    pointer, champion = env.registry.champion_pointer(C), env.registry.champion(C)
    run, version = env.registry.get_run(C, "run-2"), env.registry.get_version(C, 2)
    assert pointer and champion and run and version
    assert pointer["shadow"] == out["registered"]["version"] == 2
    assert champion["model_id"] == first["registered"]["model_id"]
    assert run["trigger"] == trigger and version["trigger"] == trigger


# --- unfit inputs fail in prepare ----------------------------------------------------------------


def failure_code(env: Env, **request: Any) -> TrainingDataError:
    with pytest.raises(TrainingDataError) as err:
        prepare(env, "run-bad", **request)
    return err.value


def test_no_snapshot_registered(env: Env) -> None:
    err = failure_code(env)
    assert err.code == "SNAPSHOT_NOT_FOUND" and "fraudops snapshot --contract" in str(err)
    assert nothing_trained(env)


def test_an_unknown_snapshot_id(env: Env) -> None:
    take_snapshot(env)
    err = failure_code(env, snapshot_id=f"{C}-20260101T000000Z-0123456789ab")
    assert err.code == "SNAPSHOT_NOT_FOUND" and "0123456789ab does not exist" in str(err)


def test_a_malformed_snapshot_id_is_not_found_not_corrupt(env: Env) -> None:
    err = failure_code(env, snapshot_id="nope")
    assert err.code == "SNAPSHOT_NOT_FOUND" and "not a snapshot id" in str(err)
    assert nothing_trained(env)


def test_a_snapshot_without_positive_labels(env: Env) -> None:
    take_snapshot(env, rows=3000, fraud_rate=0.0)
    err = failure_code(env)
    assert err.code == "NO_POSITIVES" and "no positive label" in str(err)
    assert nothing_trained(env)


def test_a_snapshot_with_too_few_rows(env: Env) -> None:
    take_snapshot(env, rows=600, fraud_rate=0.05)
    err = failure_code(env)
    assert err.code == "TOO_FEW_ROWS" and "at least 1000 are needed" in str(err)
    assert nothing_trained(env)


def test_other_unfit_requests(env: Env) -> None:
    snap = take_snapshot(env, rows=600, fraud_rate=0.05)
    # An unknown contract, a contract without features, a snapshot of another contract
    with pytest.raises(TrainingDataError) as err:
        steps.prepare(
            {"input": {"contract": "nope"}, "run_id": "r"},
            blobs=env.bucket, files=env.bucket, catalog=env.catalog, code_version=CODE_VERSION,
        )  # fmt: skip
    assert err.value.code == "UNKNOWN_CONTRACT"
    with pytest.raises(TrainingDataError) as err:
        steps.prepare(
            {"input": {"contract": "creditcard_benchmark", "snapshot_id": snap["snapshot_id"]},
             "run_id": "r"},
            blobs=env.bucket, files=env.bucket, catalog=env.catalog, code_version=CODE_VERSION,
        )  # fmt: skip
    assert err.value.code == "SNAPSHOT_CONTRACT_MISMATCH"
    # And a config typo is refused before any data is read
    from fraudops_shared.training.config import ConfigError

    with pytest.raises(ConfigError, match="unknown config keys"):
        prepare(env, "r", config={"seeed": 1})
    assert nothing_trained(env)


# --- failures are recorded -----------------------------------------------------------------------


def test_record_failure_reads_the_lambda_error_message(env: Env) -> None:
    take_snapshot(env, rows=3000, fraud_rate=0.0)
    # Given prepare failed, and Step Functions' Catch got the Lambda's error as its Cause
    with pytest.raises(TrainingDataError) as err:
        prepare(env, "run-f")
    cause = {
        "errorMessage": str(err.value),
        "errorType": "TrainingDataError",
        "requestId": "00000000-0000-0000-0000-000000000000",
        "stackTrace": ['  File "/var/task/app.py", line 27, in handler\n'],
    }
    event: Any = {
        "action": "record_failure",
        "input": {"contract": C, "config": {}},
        "failure": {"Error": "TrainingDataError", "Cause": json.dumps(cause)},
        "run_id": "run-f",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:training:run-f",
    }
    # When the failure is recorded
    out = steps.record_failure(event, registry=env.registry)
    # Then the reason is the exception's message, not the JSON around it
    assert out["event_type"] == "Training Failed" and out["status"] == "failed"
    assert out["error"] == "TrainingDataError" and out["reason"] == str(err.value)
    assert out["reason"].startswith("NO_POSITIVES: ")
    stored = env.registry.get_run(C, "run-f")
    assert stored is not None and stored["status"] == "failed"
    assert stored["reason"] == str(err.value) and stored["execution_arn"].endswith(":run-f")
    assert "trigger" not in stored  # started by hand: no alarm recorded
    # And a retraining an alarm started keeps that alarm in its failed run
    event["input"]["trigger"] = {"alarm": "drift", "state": "ALARM"}
    event["run_id"] = "run-g"
    steps.record_failure(event, registry=env.registry)
    failed = env.registry.get_run(C, "run-g")
    assert failed is not None and failed["trigger"] == {"alarm": "drift", "state": "ALARM"}


def test_record_failure_keeps_a_plain_cause_and_an_unknown_contract() -> None:
    # A service error's Cause is plain text; a non-dict JSON is kept as it is
    assert steps.failure_reason({"Error": "States.Timeout", "Cause": "took too long"}) == (
        "States.Timeout",
        "took too long",
    )
    assert steps.failure_reason({"Cause": "[1, 2]"}) == ("Unknown", "[1, 2]")
    assert steps.failure_reason({"Error": "E", "Cause": json.dumps({"x": 1})})[1] == '{"x": 1}'
    assert len(steps.failure_reason({"Cause": "x" * 5000})[1]) == 2000


def test_record_failure_without_a_contract(env: Env) -> None:
    out = steps.record_failure(
        {"input": {}, "run_id": "run-z", "failure": {"Error": "ConfigError", "Cause": "no"}},
        registry=env.registry,
    )
    assert out["contract"] == "unknown" and out["status"] == "failed"
    assert env.registry.get_run("unknown", "run-z") is not None
