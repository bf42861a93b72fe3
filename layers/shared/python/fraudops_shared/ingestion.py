"""Domain rules of ingestion: which landing object belongs to which data contract, what a valid
stream record is, and how each arrival is recorded exactly once in the registry table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

from fraudops_shared import idempotency


class InvalidObjectKeyError(ValueError):
    """A landing object whose key does not name a data contract."""


class InvalidRecordError(ValueError):
    """A stream record that is not a JSON object with a `transaction_id`."""


@dataclass(frozen=True)
class ObjectArrival:
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    contract: str
    event_time: str

    def item(self, ttl_days: int) -> dict[str, Any]:
        # One item per object version: a re-delivered S3 event hits the same key.
        return {
            idempotency.PK: f"OBJECT#{self.bucket}/{self.key}",
            idempotency.SK: f"ARRIVAL#{self.version_id or self.etag}",
            "kind": "object_arrival",
            "bucket": self.bucket,
            "object_key": self.key,
            "size": self.size,
            "etag": self.etag,
            "version_id": self.version_id or "",
            "contract": self.contract,
            "event_time": self.event_time,
            "recorded_at": _now_iso(),
            idempotency.TTL_ATTRIBUTE: idempotency.expires_at(ttl_days),
        }


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    payload: dict[str, Any]
    sequence_number: str
    partition_key: str

    def item(self, ttl_days: int) -> dict[str, Any]:
        return {
            idempotency.PK: f"TXN#{self.transaction_id}",
            idempotency.SK: "STREAM",
            "kind": "stream_transaction",
            "transaction_id": self.transaction_id,
            "payload": self.payload,
            "sequence_number": self.sequence_number,
            "partition_key": self.partition_key,
            "recorded_at": _now_iso(),
            idempotency.TTL_ATTRIBUTE: idempotency.expires_at(ttl_days),
        }


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def contract_from_key(key: str, landing_prefix: str = "landing/") -> str:
    """`landing/<contract>/<anything>` -> `<contract>`; anything else is rejected."""
    if not key.startswith(landing_prefix):
        raise InvalidObjectKeyError(f"{key!r} is not under {landing_prefix!r}")
    contract, sep, rest = key[len(landing_prefix) :].partition("/")
    if not contract or not sep or not rest:
        raise InvalidObjectKeyError(f"{key!r} is not {landing_prefix}<contract>/<name>")
    return contract


def arrival_from_s3(
    bucket: str,
    raw_key: str,
    size: int,
    etag: str,
    version_id: str | None,
    event_time: str,
    landing_prefix: str = "landing/",
) -> ObjectArrival:
    """Build an arrival from S3 notification fields (keys arrive URL-encoded)."""
    key = unquote_plus(raw_key)
    return ObjectArrival(
        bucket=bucket,
        key=key,
        size=int(size),
        etag=etag.strip('"'),
        version_id=version_id,
        contract=contract_from_key(key, landing_prefix),
        event_time=event_time,
    )


def record_arrivals(table: Any, arrivals: list[ObjectArrival], ttl_days: int) -> dict[str, int]:
    """Record each arrival once; re-deliveries are counted, not written again."""
    counts = {"recorded": 0, "duplicates": 0}
    for arrival in arrivals:
        written = idempotency.put_once(table, arrival.item(ttl_days))
        counts["recorded" if written else "duplicates"] += 1
    return counts


def parse_transaction(data: bytes, sequence_number: str, partition_key: str) -> Transaction:
    """A stream record must be a JSON object with a non-empty string `transaction_id`."""
    try:
        # DynamoDB refuses floats: amounts become Decimal, exactly as written.
        body = json.loads(data, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidRecordError(f"record {sequence_number} is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise InvalidRecordError(f"record {sequence_number} is not a JSON object")
    txn_id = body.get("transaction_id")
    if not isinstance(txn_id, str) or not txn_id.strip():
        raise InvalidRecordError(f"record {sequence_number} has no transaction_id")
    return Transaction(txn_id.strip(), body, sequence_number, partition_key)


def record_transaction(table: Any, transaction: Transaction, ttl_days: int) -> bool:
    """True if written, False if this transaction was already recorded (a replay)."""
    return idempotency.put_once(table, transaction.item(ttl_days))
