"""`fraudops train` and `fraudops models`: start and follow the training state machine, read and
change the model registry of the deployed stack.

The registry logic is the shared layer's (``fraudops_shared.registry``), the same code the
registration function runs; this module finds the stack, talks to Step Functions and prints.
A manual promotion or rollback checks the target's ONNX artifact against its registered SHA-256
first and announces the new champion on the default bus, as the pipeline does.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fraudops import deploy
from fraudops.clients import client
from fraudops.errors import NoChampionError, UserError
from fraudops.paths import Layout
from fraudops_shared.aws.events import EventBus
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.aws.s3 import S3Bucket
from fraudops_shared.monitoring.promotion import Evidence, judge_shadow
from fraudops_shared.registry.models import ModelRegistry, RegistryError
from fraudops_shared.runtime.settings import TRAINING_EVENT_SOURCE
from fraudops_shared.training.artifacts import ArtifactError, Artifacts

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
POLL_SECONDS = 1.0


class TrainingCliError(UserError):
    """Something the user can fix: unknown version, a refused promotion."""


def execution_name(contract: str, now: datetime | None = None) -> str:
    """`<contract>-<UTC time>-<random>`: sortable, unique, and a valid execution name (the
    pipeline's run id)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{contract}-{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"[:80]


def start(
    layout: Layout,
    contract: str,
    *,
    snapshot_id: str | None = None,
    config: Mapping[str, Any] | None = None,
    promote: bool = True,
) -> str:
    outputs = deploy.outputs(layout, "TrainingStateMachineArn")
    request = {
        "contract": contract,
        "snapshot_id": snapshot_id,
        "config": dict(config or {}),
        "promote": promote,
    }
    resp = client(layout, "stepfunctions").start_execution(
        stateMachineArn=outputs["TrainingStateMachineArn"],
        name=execution_name(contract),
        input=json.dumps(request),
    )
    return str(resp["executionArn"])


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events, token = [], None
    while True:
        kwargs = {"executionArn": arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        events += page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return events


def progress_lines(events: list[dict[str, Any]], started: datetime) -> list[str]:
    """One line per state entered or left (Map iterations folded), with the time since start."""
    lines = []
    for event in events:
        kind = event["type"]
        at = event["timestamp"]
        offset = (at - started).total_seconds() if isinstance(at, datetime) else 0.0
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            lines.append(f"{offset:7.1f}s  > {name}")
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            lines.append(f"{offset:7.1f}s  < {name}")
        elif kind in ("TaskFailed", "LambdaFunctionFailed"):
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            lines.append(f"{offset:7.1f}s  ! {details.get('error', 'failed')}")
    return lines


def follow(
    layout: Layout,
    arn: str,
    *,
    timeout: float = 3600.0,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Poll the execution to its end, echoing new progress lines; returns its description."""
    sfn = client(layout, "stepfunctions")
    deadline = time.monotonic() + timeout
    shown = 0
    while True:
        desc = sfn.describe_execution(executionArn=arn)
        if echo is not None:
            lines = progress_lines(_history(sfn, arn), desc["startDate"])
            for line in lines[shown:]:
                echo(line)
            shown = len(lines)
        if desc["status"] in TERMINAL:
            return dict(desc)
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution still {desc['status']} after {timeout:.0f} s: {arn}")
        time.sleep(POLL_SECONDS)


def result(layout: Layout, desc: Mapping[str, Any]) -> dict[str, Any]:
    """The execution's outcome as one document: its summarized output when it succeeded, the
    registry's run record (error and reason) when it failed."""
    out: dict[str, Any] = {
        "execution_arn": desc["executionArn"],
        "run_id": desc["name"],
        "execution_status": desc["status"],
        "seconds": round(
            ((desc.get("stopDate") or datetime.now(UTC)) - desc["startDate"]).total_seconds(), 1
        ),
    }
    if desc["status"] == "SUCCEEDED":
        out.update(json.loads(desc.get("output") or "{}"))
        return out
    out["error"] = desc.get("error")
    out["reason"] = desc.get("cause")
    request = json.loads(desc.get("input") or "{}")
    run = _registry(layout).get_run(str(request.get("contract")), str(desc["name"]))
    out["status"] = "failed"
    out["run_record"] = run
    return out


def summary_line(res: Mapping[str, Any]) -> str:
    if res["execution_status"] != "SUCCEEDED":
        return f"training FAILED after {res['seconds']} s: {res.get('error')}: {res.get('reason')}"
    m = res.get("metrics") or {}
    gate = res.get("gate") or {}
    verdict = "gates passed" if gate.get("passed") else "; ".join(gate.get("reasons") or [])
    return (
        f"{res['model_id']} {res['status']} ({res['candidate']}, {res['seconds']} s): "
        f"AUPRC {m.get('auprc', float('nan')):.4f}, ROC-AUC {m.get('roc_auc', float('nan')):.4f}, "
        f"threshold {m.get('threshold', float('nan')):.4f}; {verdict}"
    )


# --- models -------------------------------------------------------------------------------------


def _registry(layout: Layout) -> ModelRegistry:
    table = deploy.outputs(layout, "StateTableName")["StateTableName"]
    return ModelRegistry(DynamoRegistryStore(client(layout, "dynamodb"), table))


def parse_version(ref: str, contract: str) -> int:
    """`3`, `v3` or `transactions-v3`."""
    text = ref.strip()
    if text.startswith(f"{contract}-"):
        text = text[len(contract) + 1 :]
    text = text.removeprefix("v")
    if not text.isdigit():
        raise TrainingCliError(f"not a version of {contract}: {ref!r} (use 3, v3 or {contract}-v3)")
    return int(text)


def list_models(layout: Layout, contract: str) -> list[dict[str, Any]]:
    return _registry(layout).list_versions(contract)


def show(layout: Layout, contract: str, ref: str) -> dict[str, Any]:
    record = _registry(layout).get_version(contract, parse_version(ref, contract))
    if record is None:
        raise TrainingCliError(f"{contract} has no version {ref}")
    return record


def verify_artifact(s3: Any, record: Mapping[str, Any]) -> None:
    """The registered ONNX bytes must still be there, unchanged, before anyone serves them."""
    try:  # reads the registered version and checks its SHA-256
        Artifacts(S3Bucket(s3, record["onnx"]["bucket"])).get(record["onnx"])
    except ArtifactError as exc:
        raise TrainingCliError(f"refusing: {record['model_id']}: {exc}") from None


def _announce(layout: Layout, record: Mapping[str, Any], trigger: str, reason: str) -> None:
    detail = {
        "event_type": "Model Promoted",
        "status": "champion",
        "model_id": record["model_id"],
        "version": record["version"],
        "contract": record["contract"],
        "trigger": trigger,
        "reason": reason,
        "onnx_sha256": record["onnx"]["sha256"],
    }
    EventBus(client(layout, "events")).put(TRAINING_EVENT_SOURCE, "Model Promoted", detail)


def live_evidence(layout: Layout, contract: str, target: Mapping[str, Any]) -> Evidence | None:
    """For a promotion of the current shadow: the quality watch's judgement of it against the
    champion on the same labelled decisions; None for any other version (no live evidence
    exists for a model that was never scored beside the champion)."""
    pointer = _registry(layout).champion_pointer(contract) or {}
    if pointer.get("shadow") is None or int(pointer["shadow"]) != int(target["version"]):
        return None
    from fraudops import monitor

    try:
        return judge_shadow(monitor.quality(layout))
    except monitor.MonitorCliError as exc:
        raise TrainingCliError(f"the live evidence could not be read: {exc}") from None


def promote(
    layout: Layout,
    contract: str,
    ref: str,
    *,
    reason: str,
    shadow: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Make ``ref`` the champion (or the shadow). Promoting the shadow needs live evidence that
    it is no worse than the champion; ``force`` overrides a refusal, and the promotion history
    records that it was forced and over what numbers."""
    target = show(layout, contract, ref)
    verify_artifact(client(layout, "s3"), target)
    evidence = None if shadow else live_evidence(layout, contract, target)
    if evidence is not None and not evidence.allowed:
        if not force:
            raise TrainingCliError(
                f"refused: {evidence.reason}. Promote anyway with --force (recorded)."
            )
        reason = f"{reason}; FORCED over live evidence: {evidence.reason}"
    elif evidence is not None:
        reason = f"{reason}; live evidence: {evidence.reason}"
    registry = _registry(layout)
    if shadow and registry.champion_pointer(contract) is None:
        raise NoChampionError(contract)  # a shadow is scored beside a champion
    try:
        record = registry.promote(contract, int(target["version"]), reason=reason, shadow=shadow)
    except RegistryError as exc:
        raise TrainingCliError(str(exc)) from None
    if not shadow:
        _announce(layout, record, "manual", reason)
    return record


def rollback(layout: Layout, contract: str, *, reason: str) -> dict[str, Any]:
    registry = _registry(layout)
    pointer = registry.champion_pointer(contract)
    if pointer is None:
        raise NoChampionError(contract)
    history = pointer.get("history") or []
    if len(history) >= 2:
        verify_artifact(client(layout, "s3"), show(layout, contract, str(history[-2]["version"])))
    try:
        record = registry.rollback(contract, reason=reason)
    except RegistryError as exc:
        raise TrainingCliError(str(exc)) from None
    _announce(layout, record, "rollback", reason)
    return record
