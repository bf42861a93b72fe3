"""Stream ingestion: Kinesis records to curated and quarantined rows, each transaction kept once.

Delivery from Kinesis is at least once, and a batch can be retried whole, bisected, or partly
checkpointed. The rules that keep every record counted exactly once:

* a Kinesis record is identified by ``<shard>:<sequence>``; a KPL aggregate is split into user
  records ``<shard>:<sequence>:<index>``, an identity that survives every retry;
* a valid transaction *claims* its unique key with that identity; a claim held by another
  identity means the transaction was delivered twice: the copy is quarantined as
  ``duplicate_key`` (kept, counted, never curated twice);
* a batch's outputs (one curated Parquet file, one quarantine file) are written at keys derived
  from the batch, then *committed* in one DynamoDB transaction that adds the counters and marks
  every Kinesis record of the batch as done; a record already marked done is skipped on
  re-delivery, so a retry after a lost response changes nothing. Files of a batch that failed
  before its commit are orphans: snapshots read only committed manifests.

Curated rows are published to the scoring feed BEFORE the commit (``StreamBatch.finish``): after
a commit, a redelivery curates nothing (its records are marked done), so a crash between a commit
and a later publish would lose the feed copy of those rows for good. Published first, a failure
anywhere after it retries the batch and publishes the rows again: at least once, never lost; the
consumer dedupes by transaction id.

Everything here is plain Python over small ports (``ingestion.records``), so it is tested
without AWS; the adapters are in ``fraudops_shared.aws``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from fraudops_shared.contracts.schema import Contract
from fraudops_shared.contracts.validation import validate_records
from fraudops_shared.ingestion import kpl
from fraudops_shared.ingestion.records import (
    BatchOutcome,
    Claims,
    KinesisRecord,
    Ledger,
    Rejected,
    ScoringFeed,
    UserRecord,
    Validator,
    Verdict,
    ZoneWriter,
    count_rules,
)
from fraudops_shared.runtime.settings import MAX_RECORDS_PER_COMMIT, SOURCE_KINESIS

SOURCE = SOURCE_KINESIS


def contract_validator(contract: Contract, now: datetime) -> Validator:
    """The contract's validation of decoded records, as the stream batch asks for it."""

    def validate(records: list[Any]) -> list[Verdict]:
        results = validate_records(contract, records, now=now)
        return [(r.valid_row, r.rules, r.reasons) for r in results]

    return validate


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def split(record: KinesisRecord) -> tuple[list[UserRecord], Rejected | None]:
    """KPL de-aggregation; a corrupted aggregate is kept whole as one rejected record."""
    if not kpl.is_aggregated(record.data):
        return [
            UserRecord(record.record_id, record.record_id, record.partition_key, record.data)
        ], None
    try:
        parts = kpl.deaggregate(record.data, record.partition_key)
    except kpl.AggregateError as err:
        return [], Rejected(record.record_id, ["kpl_aggregate"], [str(err)], _text(record.data))
    return [
        UserRecord(f"{record.record_id}:{i}", record.record_id, key, data)
        for i, (key, data) in enumerate(parts)
    ], None


def decode(records: Sequence[UserRecord], validate: Validator) -> dict[str, Verdict]:
    """JSON-decode and validate user records in one vectorized pass, keyed by record id."""
    verdicts: dict[str, Verdict] = {}
    decoded: list[Any] = []
    ids: list[str] = []
    for rec in records:
        try:
            decoded.append(json.loads(rec.data))
            ids.append(rec.record_id)
        except (UnicodeDecodeError, ValueError) as err:
            verdicts[rec.record_id] = (None, ["malformed_json"], [f"not JSON: {err}"])
    for rid, verdict in zip(ids, validate(decoded) if decoded else [], strict=True):
        verdicts[rid] = verdict
    return verdicts


def classify(
    records: Iterable[UserRecord],
    verdicts: dict[str, Verdict],
    *,
    contract_name: str,
    unique_key: Sequence[str],
    claims: Claims,
) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """Apply verdicts and de-duplicate by claims. Only a claim (an AWS call) can raise."""
    curated: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for rec in records:
        row, rules, reasons = verdicts[rec.record_id]
        if row is None:
            rejected.append(Rejected(rec.record_id, rules, reasons, _text(rec.data)))
            continue
        key = "|".join(str(row[k]) for k in unique_key)
        owner = claims.claim(f"TXN#{contract_name}#{key}", rec.record_id) if key else None
        if owner is not None:
            rejected.append(
                Rejected(
                    rec.record_id,
                    ["duplicate_key"],
                    [f"{'/'.join(unique_key)}={key} was already ingested from record {owner}"],
                    _text(rec.data),
                )
            )
            continue
        curated.append({**row, "_record_id": rec.record_id, "_partition_key": rec.partition_key})
    return curated, rejected


def batch_id(records: Sequence[KinesisRecord]) -> str:
    """Deterministic for the same records: shard, first and last sequence number."""
    first, last = records[0], records[-1]
    return f"{first.shard_id}-{first.sequence_number}-{last.sequence_number}"


class StreamBatch:
    """One invocation's records: ``add`` each (per-record failures are the caller's partial
    batch response), then ``commit`` the records that were added."""

    def __init__(
        self,
        records: Sequence[KinesisRecord],
        *,
        contract_name: str,
        contract_version: str,
        unique_key: str | Sequence[str] | None,
        validate: Validator,
        claims: Claims,
        ledger: Ledger,
        zones: ZoneWriter,
        now: datetime,
        feed: ScoringFeed | None = None,
    ) -> None:
        self.contract_name, self.contract_version = contract_name, contract_version
        # a contract names one key column, several, or none
        self.unique_key = (unique_key,) if isinstance(unique_key, str) else tuple(unique_key or ())
        self.validate = validate
        self.claims, self.ledger, self.zones, self.now = claims, ledger, zones, now
        self.feed = feed
        self.forwarded = 0
        self.done = ledger.committed([r.record_id for r in records]) if records else set()
        self.accepted: list[KinesisRecord] = []
        self.outcome = BatchOutcome()
        self.by_record: dict[str, tuple[list[dict[str, Any]], list[Rejected]]] = {}
        # Split and validate everything up front (pure, vectorized); add() then only claims.
        self.parts: dict[str, tuple[list[UserRecord], Rejected | None]] = {
            r.record_id: split(r) for r in records if r.record_id not in self.done
        }
        users = [u for parts, _ in self.parts.values() for u in parts]
        self.verdicts = decode(users, validate)

    @classmethod
    def for_contract(
        cls,
        records: Sequence[KinesisRecord],
        contract: Contract,
        *,
        claims: Claims,
        ledger: Ledger,
        zones: ZoneWriter,
        now: datetime,
        feed: ScoringFeed | None = None,
    ) -> StreamBatch:
        """A batch validated against ``contract`` (its name, version, key and rules)."""
        return cls(
            records,
            contract_name=contract.name,
            contract_version=contract.version,
            unique_key=contract.unique_key,
            validate=contract_validator(contract, now),
            claims=claims,
            ledger=ledger,
            zones=zones,
            now=now,
            feed=feed,
        )

    def add(self, record: KinesisRecord) -> None:
        """Classify one Kinesis record; raises only for infrastructure errors (retry it)."""
        if record.record_id in self.done:
            self.outcome.skipped_committed += 1
            return
        parts, broken = self.parts[record.record_id]
        curated, rejected = classify(
            parts,
            self.verdicts,
            contract_name=self.contract_name,
            unique_key=self.unique_key,
            claims=self.claims,
        )
        rejected = rejected + ([broken] if broken else [])
        self.outcome.curated.extend(curated)
        self.outcome.rejected.extend(rejected)
        self.by_record[record.record_id] = (curated, rejected)
        self.accepted.append(record)

    def summary(self) -> dict[str, Any]:
        """The batch in one log line."""
        outcome = self.outcome
        return {
            "in": outcome.records_in,
            "curated": len(outcome.curated),
            "quarantined": len(outcome.rejected),
            "skipped": outcome.skipped_committed,
            "forwarded": self.forwarded,
            "rules": outcome.rule_counts(),
        }

    def finish(self) -> BatchOutcome:
        """Publish the rows curated by THIS invocation to the scoring feed, then commit (see the
        module docstring for why in that order). Rows of an already committed batch were
        skipped by ``add`` and are not published again. Raises on an AWS error: the whole
        batch is retried."""
        if self.feed is not None and self.outcome.curated:
            self.forwarded = self.feed.publish(self.outcome.curated, now=self.now)
        return self.commit()

    def commit(self) -> BatchOutcome:
        """Write and commit the added records in groups of at most MAX_RECORDS_PER_COMMIT
        Kinesis records (DynamoDB's transaction limit): each group has its own files, manifest
        and commit, so a failure between groups leaves every committed group whole."""
        for start in range(0, len(self.accepted), MAX_RECORDS_PER_COMMIT):
            self._commit_group(self.accepted[start : start + MAX_RECORDS_PER_COMMIT])
        return self.outcome

    def _commit_group(self, group: list[KinesisRecord]) -> None:
        name, bid = self.contract_name, batch_id(group)
        curated = [row for r in group for row in self.by_record[r.record_id][0]]
        rejected = [rej for r in group for rej in self.by_record[r.record_id][1]]
        outputs: dict[str, Any] = {"curated": [], "quarantine": None}
        if curated:
            outputs["curated"] = self.zones.write_curated(name, bid, curated)
        if rejected:
            rows = [r.as_dict() for r in rejected]
            outputs["quarantine"] = self.zones.write_quarantine(name, bid, rows)
        counts = {
            "in_records": len(curated) + len(rejected),
            "curated": len(curated),
            "quarantined": len(rejected),
        }
        record_ids = [r.record_id for r in group]
        manifest = {
            "source": SOURCE,
            "batch_id": bid,
            "contract": name,
            "contract_version": self.contract_version,
            "kinesis_records": record_ids,
            "counts": counts,
            "rule_counts": count_rules(rejected),
            "outputs": outputs,
            "ingested_at": self.now.isoformat(),
        }
        manifest_key = self.zones.write_manifest(name, bid, manifest)
        self.ledger.commit(name, record_ids, counts, manifest_key)
