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
``shard:sequence[:index]``), ``_published_at``. Each record's partition key is its card id.

Records are put KPL-aggregated (``ingestion.kpl``): a batch's rows are grouped into one of
``SLOTS`` slots by a stable hash of the card id and packed into aggregates of up to ~950 KB, each
put with the slot as its partition key, so every transaction of a card lands on the same shard
and a 10,000-row batch is one PutRecords call instead of twenty. The consumer de-aggregates
(``kpl.deaggregate``) and orders by ``event_time``, not by arrival (a retried entry can come after
a later one). ``Feed(aggregate=False)`` puts one record per row.

Plain Python over a record sink port (``RecordSink``; the Kinesis adapter is
``fraudops_shared.aws.kinesis.KinesisRecordSink``), so it is tested without AWS.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from fraudops_shared.ingestion import kpl
from fraudops_shared.runtime.observability import logger

PARTITION_COLUMN = "card_id"
SLOTS = 16  # aggregate partition keys: more than the feed will have shards
MAX_AGGREGATE_BYTES = 950_000  # under Kinesis' 1 MiB record, with room for the KPL framing
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


# One encoder: ``json.dumps`` with any option builds a new encoder per call (a third of the cost).
_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))


def to_entry(row: dict[str, Any], *, contract: ContractId, now: datetime) -> dict[str, Any]:
    """One PutRecords entry for a curated row."""
    body = {
        **row,
        "_contract": contract.name,
        "_contract_version": contract.version,
        "_record_id": row.get("_record_id"),
        "_published_at": now.isoformat(),
    }
    data = _ENCODER.encode(body).encode()
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
    put_entries(
        sink,
        [to_entry(r, contract=contract, now=now) for r in rows],
        attempts=attempts,
        sleep=sleep,
    )
    return len(rows)


def put_entries(
    sink: RecordSink,
    entries: Sequence[dict[str, Any]],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Every entry accepted, or PublishError: only failed entries are sent again."""
    pending = list(entries)
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


def slot(card: str) -> int:
    """A stable slot of a card (crc32: the same in every process and release)."""
    return zlib.crc32(card.encode("utf-8")) % SLOTS


def aggregate_entries(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-row entries packed into KPL aggregates by slot, order kept within a slot."""
    by_slot: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        by_slot.setdefault(slot(entry["PartitionKey"]), []).append(entry)
    out = []
    for number, group in sorted(by_slot.items()):
        packed: list[tuple[str, bytes]] = []
        size = 0
        for entry in group:
            n = len(entry["Data"]) + len(entry["PartitionKey"]) + 16
            if packed and size + n > MAX_AGGREGATE_BYTES:
                out.append({"Data": kpl.aggregate(packed), "PartitionKey": f"slot-{number:02d}"})
                packed, size = [], 0
            packed.append((entry["PartitionKey"], entry["Data"]))
            size += n
        if packed:
            out.append({"Data": kpl.aggregate(packed), "PartitionKey": f"slot-{number:02d}"})
    return out


class Feed:
    """The scoring feed of one contract (the stream use case's ``ScoringFeed`` port)."""

    def __init__(self, sink: RecordSink, contract: ContractId, *, aggregate: bool = True) -> None:
        self.sink, self.contract, self.aggregate = sink, contract, aggregate

    def publish(self, rows: Sequence[dict[str, Any]], *, now: datetime) -> int:
        if not self.aggregate:
            return publish(self.sink, rows, contract=self.contract, now=now)
        entries = [to_entry(r, contract=self.contract, now=now) for r in rows]
        put_entries(self.sink, aggregate_entries(entries))
        return len(rows)
