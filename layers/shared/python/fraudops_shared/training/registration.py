"""Training step 4 and the Catch's recorder: register the evaluated model (with its lineage), or
record why a run failed. Imports no numpy: the registration function has no runtime layer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.training.artifacts import Artifacts, BlobStore
from fraudops_shared.training.documents import (
    FailureEvent,
    FailureRecorded,
    Registered,
    RegisterEvent,
)


def number(value: Any) -> float:
    x = float(value)
    return x if x == x else float("-inf")  # NaN ranks last


def rounded(doc: Mapping[str, Any] | None, digits: int = 6) -> dict[str, Any]:
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in (doc or {}).items()}


def register(event: RegisterEvent, *, blobs: BlobStore, registry: ModelRegistry) -> Registered:
    """One registry version for the chosen candidate: champion when the gate passed and the run
    may promote, candidate when it passed but may not, rejected (with the reasons) otherwise."""
    run, summary = event["run"], event["evaluation"]
    document = json.loads(Artifacts(blobs).get(summary["evaluation"]))
    chosen = next(c for c in document["candidates"] if c["name"] == document["chosen"])
    gate = document["gate"]
    promote = bool(gate["passed"] and run.get("promote", True))
    reasons = "; ".join(gate["reasons"])
    record = {
        "contract": run["contract"],
        "run_id": run["run_id"],
        "execution_arn": run.get("execution_arn"),
        "status": "candidate" if gate["passed"] else "rejected",
        "status_reason": (
            "gates passed"
            if promote
            else "gates passed; not promoted (promote: false)"
            if gate["passed"]
            else reasons
        ),
        "snapshot_id": run["snapshot"]["id"],
        "snapshot_hash": run["snapshot"]["content_hash"],
        "contract_version": run["contract_version"],
        "feature_set": run["feature_set"]["digest"],
        "feature_set_version": run["feature_set"]["version"],
        "code_version": run["code_version"],
        "candidate": chosen["name"],
        "kind": chosen["kind"],
        "params": chosen["params"],
        "seed": run["config"]["seed"],
        "config": run["config"],
        "metrics": rounded(chosen["metrics"]),
        "threshold": float(chosen["metrics"]["threshold"]),
        "auprc": number(chosen["metrics"]["auprc"]),
        "onnx": chosen["onnx"],
        "baseline": document["baseline"],
        "gate": gate,
        "champion_comparison": document["champion"] or {"problem": document["champion_problem"]},
        "candidates": {
            c["name"]: {"metrics": rounded(c["metrics"]), "parity": c["parity"]}
            for c in document["candidates"]
        },
        "dataset": {
            k: run["dataset"][k] for k in ("key", "version_id", "sha256", "digest", "stats")
        },
        "lineage": {
            "evaluation": summary["evaluation"],
            "parity": chosen["parity"],
            "reference_scores": chosen["reference_scores"],
            "fit_seconds": chosen["fit_seconds"],
            "iterations": chosen["iterations"],
        },
    }
    if run.get("trigger"):
        record["trigger"] = run["trigger"]
    version = registry.register(record, promote=promote)
    if gate["passed"] and run.get("target") == "shadow" and version["status"] == "candidate":
        version = _to_shadow(registry, version, run)
    # the status it was registered with (a retry may find it archived or shadowed since)
    registered_as = (version.get("history") or [{}])[0].get("status", version["status"])
    event_type = {
        "champion": "Model Promoted",
        "candidate": "Model Registered",
        "rejected": "Model Rejected",
    }.get(registered_as, "Model Registered")
    return {
        "event_type": event_type,
        "status": version["status"],
        "model_id": version["model_id"],
        "version": version["version"],
        "contract": run["contract"],
        "run_id": run["run_id"],
        "snapshot_id": run["snapshot"]["id"],
        "candidate": chosen["name"],
        "metrics": {
            k: version["metrics"].get(k)
            for k in (
                "auprc",
                "roc_auc",
                "precision",
                "recall",
                "precision_at_k",
                "threshold",
                "cost_per_1000",
            )
        },
        "onnx_sha256": chosen["onnx"]["sha256"],
        "gate": {"passed": gate["passed"], "reasons": gate["reasons"]},
        "champion_before": (document["champion"] or {}).get("model_id"),
        "reason": version.get("status_reason", ""),
    }


def _to_shadow(registry: ModelRegistry, version: dict[str, Any], run: Mapping[str, Any]) -> dict:
    """An automatic retraining's model is scored beside the champion first (a shadow), never
    served straight away; with no champion to shadow it stays a candidate."""
    if registry.champion_pointer(str(run["contract"])) is None:
        return version
    alarm = (run.get("trigger") or {}).get("alarm", "a request")
    shadowed = registry.promote(
        str(run["contract"]),
        int(version["version"]),
        shadow=True,
        reason=f"automatic retraining after {alarm}: shadow first",
    )
    return {**version, **shadowed, "history": version.get("history")}


# --- failure --------------------------------------------------------------------------------------


def failure_reason(failure: Mapping[str, Any]) -> tuple[str, str]:
    """(error, reason) from a Catch's ``{"Error", "Cause"}``: a Lambda's cause is the JSON of
    its exception (``errorMessage``), a service's is plain text."""
    error = str(failure.get("Error") or "Unknown")
    cause = failure.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        reason = str(parsed.get("errorMessage") or cause) if isinstance(parsed, dict) else cause
    except (TypeError, ValueError):
        reason = str(cause)
    return error, reason[:2000]


def record_failure(event: FailureEvent, *, registry: ModelRegistry) -> FailureRecorded:
    request = event.get("input") or {}
    error, reason = failure_reason(event.get("failure") or {})
    contract = str(request.get("contract") or "unknown")
    run = registry.record_failure(
        contract=contract,
        run_id=str(event["run_id"]),
        error=error,
        reason=reason,
        execution_arn=event.get("execution_arn"),
        trigger=request.get("trigger") if isinstance(request.get("trigger"), dict) else None,
    )
    return {
        "event_type": "Training Failed",
        "status": run.get("status", "failed"),
        "contract": contract,
        "run_id": str(event["run_id"]),
        "error": run.get("error", error),
        "reason": run.get("reason", reason),
    }
