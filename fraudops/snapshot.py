"""`fraudops snapshot --contract NAME`: freeze a contract's committed curated data for training.

The logic lives in the shared layer (``fraudops_shared.lake.snapshot_store``) so that the
training Lambda loads snapshots with the same code; this wrapper finds the deployed stack, wires
the adapters and prints.
"""

from __future__ import annotations

from typing import Any

from fraudops import deploy
from fraudops.clients import client
from fraudops.paths import Layout
from fraudops_shared import contracts
from fraudops_shared.aws.commit_log import DynamoCommitLog
from fraudops_shared.aws.dynamodb import DynamoSnapshotCatalog
from fraudops_shared.aws.s3 import S3Bucket, S3ObjectStore
from fraudops_shared.lake import snapshot_store
from fraudops_shared.lake.snapshots import EmptySnapshotError, SnapshotError

__all__ = ["EmptySnapshotError", "SnapshotError", "create", "summary_line"]


def create(layout: Layout, contract: str) -> dict[str, Any]:
    """Snapshot ``contract`` on the deployed stack; raises SnapshotError when there is no data
    (UnknownContractError, StackNotDeployedError for the others)."""
    spec = contracts.load_contract(contract)
    outputs = deploy.outputs(layout, "DataBucketName", "StateTableName")
    bucket, table = outputs["DataBucketName"], outputs["StateTableName"]
    ddb, s3 = client(layout, "dynamodb"), client(layout, "s3")
    return snapshot_store.create_snapshot(
        S3Bucket(s3, bucket),
        DynamoCommitLog(ddb, table),
        DynamoSnapshotCatalog(ddb, table),
        bucket=bucket,
        contract=contract,
        contract_version=spec.version,
        promoter=S3ObjectStore(s3, bucket),  # a commit its writer could not promote is finished
        labels_contract=snapshot_store.labels_contract_for(spec.labels_arrive_later),
    )


def summary_line(snapshot: dict[str, Any]) -> str:
    """One human line for the CLI."""
    return (
        f"snapshot {snapshot['snapshot_id']}: {snapshot['row_count']} rows in "
        f"{snapshot['file_count']} files from {len(snapshot['source_manifests'])} manifests "
        f"(contract {snapshot['contract']['name']} {snapshot['contract']['version']}); "
        + (
            f"{snapshot['labels']['row_count']} label events frozen with it; "
            if snapshot.get("labels")
            else ""
        )
        + f"s3://{snapshot['bucket']}/{snapshot['key']}"
    )
