"""The scoring feed: curated (validated) transactions forwarded to a second Kinesis stream, which
the real-time scoring function consumes.

Delivery to the feed is AT LEAST ONCE. The stream function publishes a batch's curated rows
before it commits the batch, so a failure after publishing (the commit, a timeout, a crash)
retries the batch and publishes the same transactions again; a publish that fails part-way is
retried the same way. Nothing is ever lost, but a transaction may arrive more than once:
**the consumer must be idempotent on ``transaction_id``** (the contract's unique key).

Each record is one JSON object: the curated row (timestamps as ISO-8601 with their UTC offset)
plus lineage and contract fields, all prefixed with ``_`` so they never clash with a contract
column: ``_contract``, ``_contract_version``, ``_record_id`` (the source Kinesis user record,
``shard:sequence[:index]``), ``_published_at``. The partition key is the card id, so one card's
transactions land on one shard in the order they were published (PutRecords keeps request order
per shard; a retried entry can come after a later one of the same card, so the consumer orders by
``event_time``, not by arrival).

Plain Python over a record sink port (``RecordSink``; the Kinesis adapter is
``fraudops_shared.aws.kinesis.KinesisRecordSink``), so it is tested without AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from fraudops_shared.runtime.observability import logger

PARTITION_COLUMN = "card_id"
# PutRecords limits: 500 entries and 5 MiB (data + partition keys) per request; 1 MiB per entry.
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024
# Failed entries (throttling, internal errors) are retried with exponential backoff, bounded:
# 0.1 + 0.2 + 0.4 + 0.8 s of waiting over 5 attempts, well inside the stream function's timeout.
ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 2.0


class RecordSink(Protocol):
    def put_records(self, entries: Sequence[dict[str, Any]]) -> list[str | None]:
        """One PutRecords call; the error code of each entry, None for the ones accepted. An
        error of the whole call (after the client's own retries) propagates."""


class ContractId(Protocol):
    """What the feed needs of a contract (fraudops_shared.contracts.Contract has it)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...


class PublishError(RuntimeError):
    """Some entries still failed after every attempt; raising fails the invocation, so the batch
    is retried (and, at worst, dead-lettered) instead of silently dropping transactions."""

    def __init__(self, failed: int, attempts: int, errors: dict[str, int]) -> None:
        super().__init__(
            f"{failed} record(s) not accepted by the scoring feed after {attempts} attempts: "
            + ", ".join(f"{code} x{n}" for code, n in sorted(errors.items()))
        )
        self.failed, self.attempts, self.errors = failed, attempts, errors


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def to_entry(row: dict[str, Any], *, contract: ContractId, now: datetime) -> dict[str, Any]:
    """One PutRecords entry for a curated row."""
    body = {
        **row,
        "_contract": contract.name,
        "_contract_version": contract.version,
        "_record_id": row.get("_record_id"),
        "_published_at": now.isoformat(),
    }
    data = json.dumps(body, default=_json_default, separators=(",", ":")).encode()
    # A row without a card id (another contract) still needs a key: its source record's, else
    # its own lineage id.
    key = str(row.get(PARTITION_COLUMN) or row.get("_partition_key") or row.get("_record_id"))
    return {"Data": data, "PartitionKey": key}


def _size(entry: dict[str, Any]) -> int:
    return len(entry["Data"]) + len(entry["PartitionKey"].encode())


def chunks(entries: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive groups within both PutRecords limits, order kept."""
    group: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        n = _size(entry)
        if n > MAX_BYTES_PER_RECORD:
            # cannot be published ever; failing makes the batch retry, then dead-letter it
            raise ValueError(f"a scoring-feed record of {n} bytes exceeds the 1 MiB limit")
        if group and (len(group) == MAX_RECORDS_PER_CALL or size + n > MAX_BYTES_PER_CALL):
            yield group
            group, size = [], 0
        group.append(entry)
        size += n
    if group:
        yield group


def publish(
    sink: RecordSink,
    rows: Sequence[dict[str, Any]],
    *,
    contract: ContractId,
    now: datetime,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Put every row on the feed; return how many were put. Only the entries a call reports as
    failed are sent again, after a growing pause; raise PublishError if some still fail after
    ``attempts`` calls."""
    pending = [to_entry(r, contract=contract, now=now) for r in rows]
    errors: dict[str, int] = {}
    for attempt in range(attempts):
        if not pending:
            break
        if attempt:
            sleep(min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
        failed: list[dict[str, Any]] = []
        errors = {}
        for group in chunks(pending):
            for entry, code in zip(group, sink.put_records(group), strict=True):
                if code:
                    failed.append(entry)
                    errors[code] = errors.get(code, 0) + 1
        if failed:
            logger.warning(
                "scoring feed: entries failed, retrying them",
                extra={"attempt": attempt + 1, "failed": len(failed), "errors": errors},
            )
        pending = failed
    if pending:
        raise PublishError(len(pending), attempts, errors)
    return len(rows)


class Feed:
    """The scoring feed of one contract (the stream use case's ``ScoringFeed`` port)."""

    def __init__(self, sink: RecordSink, contract: ContractId) -> None:
        self.sink, self.contract = sink, contract

    def publish(self, rows: Sequence[dict[str, Any]], *, now: datetime) -> int:
        return publish(self.sink, rows, contract=self.contract, now=now)
