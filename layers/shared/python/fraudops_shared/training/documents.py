"""The documents the training state machine passes between its tasks
(state_machines/training.asl.json), typed: what each Lambda receives and returns.

They stay small JSON: S3 references with hashes (``ArtifactRef``), never arrays.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ArtifactRef(TypedDict):
    bucket: str
    key: str
    version_id: str | None
    sha256: str
    bytes: int


class ExecutionRequest(TypedDict, total=False):
    """The execution's input (``fraudops train``, or an alarm's retraining)."""

    contract: str
    snapshot_id: str | None
    config: dict[str, Any]
    promote: bool


class PrepareEvent(TypedDict):
    input: ExecutionRequest
    run_id: str  # the execution name
    execution_arn: NotRequired[str | None]


class SnapshotRef(TypedDict):
    id: str
    content_hash: str
    key: str
    row_count: int
    labels_applied: int  # rows whose label came from the label events frozen with the snapshot


class FeatureSetRef(TypedDict):
    digest: str
    version: int
    count: int


class DatasetRef(ArtifactRef):
    digest: str
    stats: dict[str, Any]


class CandidateSpec(TypedDict):
    name: str
    kind: str
    params: dict[str, Any]


class Run(TypedDict):
    """Prepare's output: what every later step receives as ``run``."""

    run_id: str
    execution_arn: str | None
    contract: str
    contract_version: str
    current_contract_version: str
    snapshot: SnapshotRef
    feature_set: FeatureSetRef
    dataset: DatasetRef
    config: dict[str, Any]
    promote: bool
    target: str  # champion | shadow (an automatic retraining's result)
    trigger: dict[str, Any] | None  # the alarm that started the run, if one did
    code_version: str
    candidates: list[CandidateSpec]


class TrainEvent(TypedDict):
    run: Run
    candidate: CandidateSpec


class Trained(TypedDict):
    """One Map iteration's output."""

    name: str
    kind: str
    params: dict[str, Any]
    fit_seconds: float
    iterations: int | None
    onnx: ArtifactRef
    reference_scores: ArtifactRef


class EvaluateEvent(TypedDict):
    run: Run
    trained: list[Trained]


class EvaluationSummary(TypedDict):
    """Evaluate's output (the full document is the ``evaluation`` artifact)."""

    evaluation: ArtifactRef
    chosen: str
    metrics: dict[str, Any]
    parity: dict[str, Any]
    gate: dict[str, Any]
    champion: dict[str, Any] | None
    candidates: dict[str, dict[str, Any]]


class RegisterEvent(TypedDict):
    action: NotRequired[str]  # "register" (the default)
    run: Run
    evaluation: EvaluationSummary


class Registered(TypedDict):
    """Register's output: the detail of the event Announce puts on the bus."""

    event_type: str
    status: str
    model_id: str
    version: int
    contract: str
    run_id: str
    snapshot_id: str
    candidate: str
    metrics: dict[str, Any]
    onnx_sha256: str
    gate: dict[str, Any]
    champion_before: str | None
    reason: str


class Failure(TypedDict, total=False):
    """A Catch's error output."""

    Error: str
    Cause: str


class FailureEvent(TypedDict):
    action: NotRequired[str]  # "record_failure"
    input: dict[str, Any]
    failure: Failure
    run_id: str
    execution_arn: NotRequired[str | None]


class FailureRecorded(TypedDict):
    event_type: str
    status: str
    contract: str
    run_id: str
    error: str
    reason: str
