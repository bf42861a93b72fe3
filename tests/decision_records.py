"""Decision records as the scorers put them on the decisions stream: one JSON object per decision,
valid against ``contracts/specs/decisions.yaml`` unless a test spoils a field. Shared by the unit
and end-to-end tests of decision ingestion."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

FEATURE_SET = hashlib.sha256(b"fraudops test feature set").hexdigest()  # 64 lowercase hex


def decision(transaction_id: str, now: datetime | None = None, **spoiled: Any) -> dict[str, Any]:
    """A valid decision for ``transaction_id``, decided a minute before ``now`` (so well within
    the contract's freshness window); keyword arguments override (spoil) fields."""
    decided_at = (now or datetime.now(UTC)) - timedelta(minutes=1)
    row: dict[str, Any] = {
        "transaction_id": transaction_id,
        "decided_at": decided_at.isoformat(),
        "event_time": (decided_at - timedelta(seconds=2)).isoformat(),
        "source": "stream",
        "model_id": "transactions-v1",
        "model_version": 1,
        "feature_set": FEATURE_SET,
        "score": 0.62,
        "outcome": "review",
        "review_threshold": 0.5,
        "decline_threshold": 0.9,
        "reasons": json.dumps([{"feature": "amount", "value": 412.5, "contribution": 0.31}]),
        "features": json.dumps({"amount": 412.5, "card_present": 0}),
        "latency_ms": 4.2,
        "amount": 412.5,
        "shadow_model_id": None,
        "shadow_score": None,
        "shadow_outcome": None,
    }
    return {**row, **spoiled}


def as_bytes(row: dict[str, Any]) -> bytes:
    return json.dumps(row).encode()
