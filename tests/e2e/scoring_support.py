"""What the scoring and model-watch end-to-end tests share: transactions a test owns (its own
card ids), sent as a producer would, the decisions read back, and models registered and
promoted the way the pipeline and the CLI do."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fraudops import generator, scoring, training
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.registry.models import ModelRegistry
from tests.e2e.ledger import CONTRACT, accounts, as_json

FEATURES = feature_set(CONTRACT)


def scoring_counts(layout: Layout, outputs: dict[str, str]) -> dict[str, int]:
    return accounts(layout, outputs, "scoring")


def transactions(
    n: int, cards: int, seed: int, tag: str, drift: float = 0.0
) -> list[dict[str, Any]]:
    """``n`` generated transactions of ``cards`` cards this test owns, in event-time order, as a
    producer sends them (ISO times); ``drift`` as ``fraudops generate --drift``."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    rows = generator.generate_transactions(
        n, seed=seed, start=start, days=1, n_cards=cards, drift=drift
    )
    out = []
    for i, r in enumerate(rows.to_pylist()):
        r = {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in r.items()
            if k not in ("is_fraud", "label_time")
        }
        out.append({**r, "transaction_id": f"{tag}-{i:05d}", "card_id": f"{tag}-{r['card_id']}"})
    return out


def send_in_order(aws: Any, outputs: dict[str, str], rows: list[dict[str, Any]]) -> None:
    """Each card's transactions in event-time order, partitioned by card (what a processor
    does), 500 records a call, calls one after another."""
    for i in range(0, len(rows), 500):
        part = rows[i : i + 500]
        aws("kinesis").put_records(
            StreamName=outputs["TransactionStreamName"],
            Records=[{"Data": as_json(r), "PartitionKey": r["card_id"]} for r in part],
        )


def decisions_of(aws: Any, outputs: dict[str, str], ids: list[str]) -> dict[str, dict[str, Any]]:
    return scoring.decisions_by_id(aws("dynamodb"), outputs["DecisionsTableName"], ids)


def wait_decided(aws: Any, outputs: dict[str, str], ids: list[str], timeout: float = 240) -> dict:
    def all_there() -> dict[str, dict[str, Any]] | None:
        found = decisions_of(aws, outputs, ids)
        return found if len(found) == len(ids) else None

    found = poll(all_there, timeout=timeout, interval=2, what=f"{len(ids)} decisions")
    assert found is not None
    return found


def register(
    layout: Layout, aws: Any, outputs: dict[str, str], data: bytes, *, sha: str | None = None,
    baseline: dict[str, Any] | None = None, threshold: float = 0.5,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Register a model the way the pipeline's last step does (artifact in training/, record
    with its lineage and, when given, the baseline statistics drift is measured against), as a
    candidate."""
    run = f"e2e-scoring-{uuid.uuid4().hex[:8]}"
    bucket, key = outputs["DataBucketName"], f"training/{CONTRACT}/{run}/model.onnx"
    put = aws("s3").put_object(Bucket=bucket, Key=key, Body=data)
    registry = ModelRegistry(DynamoRegistryStore(aws("dynamodb"), outputs["StateTableName"]))
    record = {
        "contract": CONTRACT, "run_id": run, "status": "candidate",
        "status_reason": "registered by the scoring tests", "snapshot_id": "e2e",
        "feature_set": FEATURES.digest, "feature_set_version": FEATURES.version,
        "contract_version": "1.0.0", "threshold": threshold,
        "metrics": {"auprc": 0.01, "threshold": threshold, "decline_threshold": 0.95,
                    **(metrics or {})},
        "onnx": {"bucket": bucket, "key": key, "version_id": put.get("VersionId"),
                 "sha256": sha or hashlib.sha256(data).hexdigest()},
    }  # fmt: skip
    if baseline is not None:
        record["baseline"] = baseline
    return registry.register(record, promote=False)


def promote(layout: Layout, version: int) -> None:
    """As `fraudops models promote` does: artifact checked, pointer moved, event announced."""
    training.promote(layout, CONTRACT, str(version), reason="scoring tests")
