"""The training pipeline's steps, one per Lambda of state_machines/training.asl.json.

prepare -> train (one per candidate, in a Map) -> evaluate -> register, and record_failure for
the Catch. Each step takes and returns small JSON documents (S3 references with hashes, never
arrays) and writes its artifacts under ``training/<contract>/<run id>/`` at fixed keys, so a
retried step overwrites its own output instead of leaving a second copy. The run id is the
Step Functions execution name.

The steps import the heavy libraries only where they run: pyarrow in prepare (data layer),
scikit-learn and skl2onnx in train (ml layer), onnxruntime in evaluate (onnx layer). Register and
record_failure live in ``training.registration`` (no numpy: that function has no runtime layer).
Each step takes its ports (the data bucket as blobs, the snapshot catalog, the model registry)
and a typed document (``training.documents``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from fraudops_shared.contracts import UnknownContractError, load_contract
from fraudops_shared.features.transforms import NotTrainableError, feature_set
from fraudops_shared.lake import snapshot_store
from fraudops_shared.lake.snapshots import SnapshotError, contract_of
from fraudops_shared.lake.store import ObjectMissing
from fraudops_shared.monitoring.labels import resolve as resolve_labels
from fraudops_shared.registry.models import ModelRegistry, RegistryError
from fraudops_shared.training import evaluation
from fraudops_shared.training.artifacts import (
    ArtifactError,
    Artifacts,
    BlobStore,
    json_bytes,
    run_prefix,
)
from fraudops_shared.training.config import ConfigError, TrainingConfig, resolve
from fraudops_shared.training.dataset import (
    Dataset,
    TrainingDataError,
    build_dataset,
    columns_of,
)
from fraudops_shared.training.documents import (
    DatasetRef,
    EvaluateEvent,
    EvaluationSummary,
    PrepareEvent,
    Run,
    Trained,
    TrainEvent,
)
from fraudops_shared.training.registration import (  # step 4 and the Catch's recorder
    failure_reason,
    number,
    record_failure,
    register,
    rounded,
)

# --- prepare ------------------------------------------------------------------------------------


def prepare(
    event: PrepareEvent,
    *,
    blobs: BlobStore,
    files: snapshot_store.LakeFiles,
    catalog: snapshot_store.SnapshotCatalog,
    code_version: str,
) -> Run:
    """Resolve config and snapshot, build the time-split dataset, store it; the returned
    document is what every later step receives as ``run``."""
    request: dict[str, Any] = dict(event.get("input") or {})
    contract = request.get("contract")
    if not isinstance(contract, str) or not contract:
        raise ConfigError("the execution input needs a contract name")
    try:
        spec = load_contract(contract)
        features = feature_set(contract)
    except UnknownContractError as exc:
        raise TrainingDataError("UNKNOWN_CONTRACT", str(exc)) from None
    except NotTrainableError as exc:
        raise TrainingDataError("NOT_TRAINABLE", str(exc)) from None
    config = resolve(request.get("config"))
    snapshot_ref = request.get("snapshot_id")
    if snapshot_ref:
        try:
            contract_of(str(snapshot_ref))
        except SnapshotError as exc:
            raise TrainingDataError("SNAPSHOT_NOT_FOUND", str(exc)) from None
        try:
            snapshot = snapshot_store.load_snapshot(files, str(snapshot_ref))
        except SnapshotError as exc:
            raise TrainingDataError("SNAPSHOT_CORRUPT", str(exc)) from None
        except ObjectMissing:
            raise TrainingDataError(
                "SNAPSHOT_NOT_FOUND", f"snapshot {snapshot_ref} does not exist"
            ) from None
        if snapshot["contract"]["name"] != contract:
            raise TrainingDataError(
                "SNAPSHOT_CONTRACT_MISMATCH",
                f"snapshot {snapshot_ref} holds {snapshot['contract']['name']}, not {contract}",
            )
    else:
        latest = snapshot_store.latest_snapshot(catalog, contract)
        if latest is None:
            raise TrainingDataError(
                "SNAPSHOT_NOT_FOUND",
                f"no snapshot of {contract} is registered: take one with "
                f"`fraudops snapshot --contract {contract}`",
            )
        snapshot = snapshot_store.load_snapshot(files, latest["key"])
    wanted = list(dict.fromkeys([*features.input_columns, features.label, features.event_time,
                                 *([spec.unique_key] if spec.unique_key else [])]))  # fmt: skip
    table_ = snapshot_store.read_table(files, snapshot, columns=wanted)
    columns = columns_of(table_, wanted)
    labelled = _apply_labels(files, snapshot, spec, columns)
    dataset = build_dataset(columns, features, config)
    run_id = str(event["run_id"])
    ref = Artifacts(blobs).put(
        f"{run_prefix(contract, run_id)}dataset.npz", dataset.to_bytes(), "application/x-npz"
    )
    return {
        "run_id": run_id,
        "execution_arn": event.get("execution_arn"),
        "contract": contract,
        "contract_version": snapshot["contract"]["version"],
        "current_contract_version": spec.version,
        "snapshot": {
            "id": snapshot["snapshot_id"],
            "content_hash": snapshot["content_hash"],
            "key": snapshot["key"],
            "row_count": snapshot["row_count"],
            "labels_applied": labelled,
        },
        "feature_set": {
            "digest": features.digest,
            "version": features.version,
            "count": len(features.names),
        },
        "dataset": DatasetRef(**ref, digest=dataset.digest, stats=dataset.stats),
        "config": config.as_dict(),
        "promote": bool(request.get("promote", True)),
        # an automatic retraining's result goes to shadow, not champion (monitoring.retrain),
        # and its run record names the alarm that started it
        "target": "shadow" if request.get("target") == "shadow" else "champion",
        "trigger": request.get("trigger") if isinstance(request.get("trigger"), dict) else None,
        "code_version": code_version,
        "candidates": [
            {"name": name, "kind": c["kind"], "params": c.get("params", {})}
            for name, c in config.candidates.items()
        ],
    }


def _apply_labels(
    files: snapshot_store.LakeFiles, snapshot: Mapping[str, Any], spec: Any, columns: dict
) -> int:
    """The label events frozen with the snapshot, as of its time, over the rows' own labels:
    a transaction with a verdict known at ``created_at`` takes it (production outcomes reach
    retraining); a later event, or one for a transaction not in the snapshot, changes nothing.
    Returns how many rows took a verdict."""
    table = snapshot_store.read_labels(files, snapshot)
    if table is None or spec.label is None or spec.unique_key not in columns:
        return 0
    as_of = datetime.fromisoformat(str(snapshot["created_at"]).replace("Z", "+00:00"))
    events = table.to_pydict()
    keep = [i for i, at in enumerate(events["label_time"]) if at is not None and at <= as_of]
    book = resolve_labels([{k: [v[i] for i in keep] for k, v in events.items()}])
    label = np.array(columns[spec.label], dtype=object)
    applied = 0
    for row, txn in enumerate(columns[spec.unique_key]):
        verdict = book.verdict(str(txn))
        if verdict is not None:
            label[row] = verdict
            applied += 1
    columns[spec.label] = label
    return applied


def _dataset(artifacts: Artifacts, run: Run) -> Dataset:
    dataset = Dataset.from_bytes(artifacts.get(run["dataset"]), run["dataset"].get("stats"))
    if dataset.digest != run["dataset"]["digest"]:
        raise ArtifactError("the stored dataset's arrays do not match the recorded digest")
    return dataset


# --- train (one candidate) ----------------------------------------------------------------------


def train(event: TrainEvent, *, blobs: BlobStore) -> Trained:
    """Fit one candidate, keep scikit-learn's holdout probabilities (the parity reference) and
    the ONNX export; the ONNX metadata names the data, never the run, so it is reproducible."""
    from fraudops_shared.training import trainers

    run, candidate = event["run"], event["candidate"]
    artifacts = Artifacts(blobs)
    dataset = _dataset(artifacts, run)
    seed = int(run["config"]["seed"])
    trained = trainers.fit(
        candidate["name"],
        candidate["kind"],
        candidate.get("params") or {},
        seed,
        dataset.x_train,
        dataset.y_train,
    )
    reference = trainers.fraud_probability(trained.model, dataset.x_holdout)
    onnx_bytes = trainers.to_onnx(
        trained.model,
        dataset.x_train.shape[1],
        {
            "fraudops.contract": run["contract"],
            "fraudops.feature_set": run["feature_set"]["digest"],
            "fraudops.features": ",".join(dataset.feature_names),
            "fraudops.snapshot_hash": run["snapshot"]["content_hash"],
            "fraudops.candidate": candidate["name"],
        },
    )
    prefix = f"{run_prefix(run['contract'], run['run_id'])}{candidate['name']}/"
    buf = _npy(reference)
    return {
        "name": candidate["name"],
        "kind": candidate["kind"],
        "params": trained.params,
        "fit_seconds": round(trained.fit_seconds, 3),
        "iterations": trained.iterations,
        "onnx": artifacts.put(f"{prefix}model.onnx", onnx_bytes, "application/onnx"),
        "reference_scores": artifacts.put(f"{prefix}sklearn_holdout.npy", buf, "application/x-npy"),
    }


def _npy(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.asarray(array, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


def _from_npy(data: bytes) -> np.ndarray:
    import io

    return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))


# --- evaluate -----------------------------------------------------------------------------------


def _champion_on_holdout(
    registry: ModelRegistry,
    artifacts: Artifacts,
    run: Run,
    dataset: Dataset,
    config: TrainingConfig,
    costs: evaluation.Costs,
) -> tuple[dict[str, Any] | None, str | None]:
    """(the champion's metrics on this holdout, None) or (None, why it could not be scored);
    (None, None) when there is no champion yet."""
    from fraudops_shared.training import onnx_model

    try:
        champion = registry.champion(run["contract"])
    except RegistryError as exc:
        return None, str(exc)
    if champion is None:
        return None, None
    who = champion["model_id"]
    if champion.get("feature_set") != run["feature_set"]["digest"]:
        return None, (
            f"{who} was trained on feature set {str(champion.get('feature_set'))[:12]}, this "
            f"run uses {run['feature_set']['digest'][:12]}: not comparable on the same holdout"
        )
    try:
        data = artifacts.get(champion["onnx"])
        session = onnx_model.load(data, champion["onnx"]["sha256"])
    except (ArtifactError, onnx_model.ModelIntegrityError) as exc:
        return None, f"{who}'s artifact cannot be used: {exc}"
    scores = onnx_model.fraud_probability(session, dataset.x_holdout)
    metrics = evaluation.evaluate_scores(
        dataset.y_holdout,
        scores,
        costs=costs,
        k=config.precision_k,
        threshold=float(champion["threshold"]),
    )
    return {"model_id": who, "version": champion["version"], **metrics}, None


def evaluate(
    event: EvaluateEvent, *, blobs: BlobStore, registry: ModelRegistry
) -> EvaluationSummary:
    """Score every candidate's ONNX export on the holdout, check it against scikit-learn,
    choose the threshold by cost, pick the best faithful candidate, compare it with the
    champion on the same holdout and apply the gate. The full result (with the baseline
    statistics) goes to S3; the state machine gets a summary and its reference."""
    from fraudops_shared.training import onnx_model

    run, trained = event["run"], list(event["trained"])
    config = TrainingConfig(**run["config"])  # resolved and checked by prepare
    artifacts = Artifacts(blobs)
    dataset = _dataset(artifacts, run)
    costs = evaluation.Costs(config.cost_missed_fraud, config.cost_false_alarm)
    results: list[dict[str, Any]] = []
    scores_of: dict[str, np.ndarray] = {}
    for cand in trained:
        session = onnx_model.load(artifacts.get(cand["onnx"]), cand["onnx"]["sha256"])
        scores = onnx_model.fraud_probability(session, dataset.x_holdout)
        reference = _from_npy(artifacts.get(cand["reference_scores"]))
        metrics = evaluation.evaluate_scores(
            dataset.y_holdout, scores, costs=costs, k=config.precision_k
        )
        par = evaluation.parity(reference, scores, metrics["threshold"], config.parity_tolerance)
        results.append({**cand, "metrics": metrics, "parity": par.as_dict()})
        scores_of[cand["name"]] = scores
    faithful = [r for r in results if r["parity"]["passed"]] or results
    # the best primary metric; ties go to the lower cost, then to the order of the config
    best = min(
        faithful,
        key=lambda r: (-number(r["metrics"][config.metric]), r["metrics"]["expected_cost"]),
    )
    champion, problem = _champion_on_holdout(registry, artifacts, run, dataset, config, costs)
    verdict = evaluation.gate(
        best["metrics"],
        metric=config.metric,
        floor=config.floor,
        min_improvement=config.min_improvement,
        champion=champion,
        champion_problem=problem,
        parity_passed=best["parity"]["passed"],
    )
    baseline = evaluation.baseline_statistics(
        dataset.x_train,
        dataset.feature_names,
        scores_of[best["name"]],
        best["metrics"]["threshold"],
        config.baseline_bins,
    )
    document = {
        "run_id": run["run_id"],
        "chosen": best["name"],
        "candidates": results,
        "champion": champion,
        "champion_problem": problem,
        "gate": verdict.as_dict(),
        "baseline": baseline,
        "feature_names": dataset.feature_names,
    }
    ref = artifacts.put(
        f"{run_prefix(run['contract'], run['run_id'])}evaluation.json",
        json_bytes(document),
        "application/json",
    )
    return {
        "evaluation": ref,
        "chosen": best["name"],
        "metrics": rounded(best["metrics"]),
        "parity": best["parity"],
        "gate": verdict.as_dict(),
        "champion": rounded(champion) if champion else None,
        "candidates": {r["name"]: rounded(r["metrics"]) for r in results},
    }


__all__ = ["evaluate", "failure_reason", "prepare", "record_failure", "register", "train"]
