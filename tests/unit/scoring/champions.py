"""Champions for the scoring tests: small real models trained on generated transactions with
the contract's feature set (as the training pipeline would), their registry records, and an
in-memory registry serving them (``MemoryModelSource``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np

from fraudops import generator
from fraudops_shared.features.transforms import FeatureSet, feature_set
from fraudops_shared.training import trainers
from fraudops_shared.training.artifacts import ArtifactError

CONTRACT = "transactions"
START = datetime(2026, 11, 20, tzinfo=UTC)
PARAMS = {
    "logistic_regression": {"C": 1.0, "max_iter": 500},
    "hist_gradient_boosting": {"max_iter": 30, "max_leaf_nodes": 15, "learning_rate": 0.1},
}


def features() -> FeatureSet:
    return feature_set(CONTRACT)


@cache
def model_bytes(kind: str = "logistic_regression", seed: int = 5) -> bytes:
    fs = features()
    table = generator.generate_transactions(
        4000, seed=seed, start=START, days=5, fraud_rate=0.05, as_of=START + timedelta(days=90)
    )
    columns = {c: table.column(c).to_numpy(zero_copy_only=False) for c in fs.input_columns}
    x = fs.matrix(columns)
    y = np.asarray(table.column("is_fraud").fill_null(False).to_pylist(), dtype=int)
    fit = trainers.fit(kind, kind, PARAMS[kind], 7, x, y)
    return trainers.to_onnx(fit.model, len(fs.names), {"fraudops.features": ",".join(fs.names)})


def record(
    version: int, data: bytes, *, threshold: float = 0.5, decline: float | None = 0.9,
    digest: str | None = None, sha: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A registry version record as registration writes it (the fields scoring reads)."""
    return {
        "contract": CONTRACT,
        "version": version,
        "model_id": f"{CONTRACT}-v{version}",
        "status": "champion",
        "feature_set": features().digest if digest is None else digest,
        "threshold": threshold,
        "metrics": {"decline_threshold": decline},
        "onnx": {
            "bucket": "lake",
            "key": f"training/{CONTRACT}/v{version}/model.onnx",
            "version_id": f"obj-{version}",
            "sha256": hashlib.sha256(data).hexdigest() if sha is None else sha,
        },
    }


class MemoryModelSource:
    """The registry's pointer and versions, and the artifacts' bytes (hash-checked like
    ``training.artifacts.Artifacts``); ``reads`` counts pointer reads."""

    def __init__(self) -> None:
        self.pointer_doc: dict[str, Any] | None = None
        self.versions: dict[int, dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}
        self.reads = 0
        self.unreachable: set[int] = set()  # versions whose artifact read fails (store down)

    def add(self, rec: dict[str, Any], data: bytes) -> None:
        self.versions[int(rec["version"])] = rec
        self.blobs[rec["onnx"]["key"]] = data

    def promote(self, version: int, shadow: int | None = None) -> None:
        """Like the registry's pointer: the version, the shadow and the promotion stack."""
        history = list((self.pointer_doc or {}).get("history") or [])
        history.append({"version": version, "at": f"t{len(history)}", "reason": "test"})
        self.pointer_doc = {"version": version, "shadow": shadow, "history": history}

    def pointer(self, contract: str) -> Mapping[str, Any] | None:
        self.reads += 1
        return self.pointer_doc

    def version(self, contract: str, version: int) -> Mapping[str, Any] | None:
        return self.versions.get(version)

    def artifact(self, ref: Mapping[str, Any]) -> bytes:
        if any(self.versions[v]["onnx"]["key"] == ref.get("key") for v in self.unreachable):
            raise ConnectionError("Could not connect to the endpoint URL")  # as botocore's
        sha = ref.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64:
            raise ArtifactError("no SHA-256 to check it against")
        data = self.blobs[ref["key"]]
        if hashlib.sha256(data).hexdigest() != sha:
            raise ArtifactError("SHA-256 mismatch")
        return data


def transaction(i: int, card: str = "card_a", at: datetime | None = None, **kw: Any) -> dict:
    """A valid transaction as the feed (or an API client) sends it: JSON values."""
    when = at or (START + timedelta(days=6, minutes=i))
    return {
        "transaction_id": f"t-{i:05d}",
        "event_time": when.isoformat(),
        "card_id": card,
        "customer_id": "cus_1",
        "merchant_id": f"m_{i % 7}",
        "mcc": "5411",
        "amount": 10.0 + i,
        "currency": "EUR",
        "country": "DE",
        "merchant_country": "DE",
        "channel": "pos",
        "entry_mode": "chip",
        "card_present": True,
        "device_id": None,
        "ip_country": None,
        **kw,
    }
