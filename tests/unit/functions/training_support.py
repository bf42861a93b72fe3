"""Shared by the training handlers' tests: a snapshot in the fake lake, and each handler loaded
once (module scope in each test file)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fraudops_shared.lake import snapshot_store
from fraudops_shared.lake.commits import Commit
from tests.unit.support import FakeAws
from tests.unit.training.test_steps import BUCKET, NOW, OVERRIDES, C, parquet


def take_snapshot(aws: FakeAws, *, rows: int = 20_000, fraud_rate: float = 0.01) -> dict:
    """One curated file and its manifest in the fake data bucket, snapshotted."""
    import json

    key = f"curated/{C}/event_date=2026-09-01/part-0.parquet"
    aws.bucket.put(key, parquet(rows, fraud_rate, 7))
    manifest = {
        "status": "ingested",
        "contract": {"name": C, "version": "1.0.0"},
        "counts": {"rows_in": rows, "valid": rows, "rejected": 0},
        "outputs": {"curated": [key], "quarantine": [], "file": None},
    }
    manifest_key = f"manifests/{C}/{'0' * 64}.json"
    aws.bucket.put(manifest_key, json.dumps(manifest).encode())
    aws.log.commit(Commit("file-0", C, "s3", manifest_key, {"files": 1}), expires_at=0)
    return snapshot_store.create_snapshot(
        aws.bucket, aws.log, aws.catalog, bucket=aws.bucket.bucket, contract=C,
        contract_version="1.0.0", now=NOW - timedelta(days=1),
    )  # fmt: skip


def prepare_event(run_id: str = "run-1", **request: Any) -> dict[str, Any]:
    return {
        "input": {"contract": C, "config": OVERRIDES, **request},
        "run_id": run_id,
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:training:{run_id}",
    }


__all__ = ["BUCKET", "C", "prepare_event", "take_snapshot"]
