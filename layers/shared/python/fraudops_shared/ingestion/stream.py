"""Stream ingestion: Kinesis records to curated and quarantined rows, each transaction kept once,
with a handful of AWS calls per batch whatever its size.

Delivery from Kinesis is at least once; a batch can be retried whole or bisected. The rules
that keep every record counted exactly once:

* per shard, a *checkpoint* (the last sequence number committed) moves in the same DynamoDB
  transaction as the batch's counters, its commit record and the dedupe index's heads, as Kafka
  Streams and Flink commit offsets with their output. A redelivered record at or below the
  checkpoint is skipped; a retry after a lost response changes nothing. This needs the shard's
  records in order: the event source mapping's ParallelizationFactor is 1 (scale by shards; a
  reshard gives child shards checkpoints of their own, and Lambda finishes a parent before its
  children);
* every record is decoded and validated on its own terms: one that cannot be (not JSON, nested
  too deep, not UTF-8, a broken KPL aggregate, any exception at all) is quarantined with a rule
  and the exception text, and never fails its neighbours;
* a transaction whose key was already curated by any route (a file, an earlier batch) is
  quarantined as ``duplicate_key`` naming where the first copy is (``ingestion.dedupe``);
* outputs are staged and promoted after the commit (``lake.commits``): ``curated/`` never shows
  a batch that did not commit;
* curated rows are published to the scoring feed BEFORE the commit: after a commit, a redelivery
  curates nothing, so a crash between the commit and a later publish would lose the feed copy
  for good. Published first, a failure anywhere after it retries the batch and publishes again:
  at least once, never lost; the scoring side is idempotent per transaction.

Decoding builds one Arrow table of the batch, validation runs once over it (vectorised), and the
curated Parquet is written from Arrow: a 10,000-record batch is one pass, not 10,000.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.schema import Contract
from fraudops_shared.contracts.validation import validate_batch
from fraudops_shared.ingestion.dedupe import (
    CommitRef,
    DedupeIndex,
    KeyIndexStore,
    bumped,
    check_table,
    pages_for,
)
from fraudops_shared.ingestion.records import (
    KinesisRecord,
    Rejected,
    ScoringFeed,
    UserRecord,
    count_rules,
)
from fraudops_shared.ingestion.stream_records import (
    as_text,
    decode,
    split,
    unprocessable,
)
from fraudops_shared.ingestion.stream_table import records_table
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.commits import (
    Commit,
    CommitConflict,
    CommitLog,
    ShardPosition,
    finish,
    promote,
)
from fraudops_shared.lake.store import ObjectStore
from fraudops_shared.lake.writer import StagedOutputs
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import SOURCE_KINESIS

SOURCE = SOURCE_KINESIS
MANIFEST_VERSION = 2
COMMIT_ATTEMPTS = 5  # dedupe-index conflicts with concurrent writers, re-checked each time


@dataclass
class StreamResult:
    """What one invocation did; the manifest is the durable form of the same facts."""

    curated: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped_committed: int = 0  # Kinesis records at or below the shard's checkpoint
    forwarded: int = 0
    duplicates: int = 0
    commit_id: str | None = None
    max_event_time: datetime | None = None
    attempts: int = 0

    @property
    def records_in(self) -> int:
        return len(self.curated) + len(self.rejected)

    def rule_counts(self) -> dict[str, int]:
        return count_rules(self.rejected)

    def summary(self) -> dict[str, Any]:
        return {
            "in": self.records_in,
            "curated": len(self.curated),
            "quarantined": len(self.rejected),
            "duplicates": self.duplicates,
            "skipped": self.skipped_committed,
            "forwarded": self.forwarded,
            "commit": self.commit_id,
            "rules": self.rule_counts(),
        }


class StreamIngestion:
    """One invocation's records of one shard: ``add`` each (never raises for bad data), then
    ``finish`` (raises only for AWS errors: the batch is retried)."""

    def __init__(
        self,
        contract: Contract,
        *,
        stream: str,
        store: ObjectStore,
        zones: Zones,
        log: CommitLog,
        index_store: KeyIndexStore | None,
        index: DedupeIndex | None = None,
        feed: ScoringFeed | None = None,
        now: datetime,
        index_ttl_seconds: int,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.contract, self.stream, self.store, self.zones = contract, stream, store, zones
        self.log, self.feed, self.now, self.clock_ms = log, feed, now, clock_ms
        self.key = contract.unique_key
        self.index_store = index_store
        if index is None and index_store is not None and self.key:
            index = DedupeIndex(index_store, contract.name, self.key)
        self.index = index
        self.ttl = index_ttl_seconds
        self.result = StreamResult()
        self.checkpoints: dict[str, str | None] = {}  # shard -> the last sequence committed
        self.kinesis: list[KinesisRecord] = []
        self.values: list[Any] = []
        self.users: list[UserRecord] = []

    # --- per record -------------------------------------------------------------------------------

    def _checkpoint(self, shard: str) -> str | None:
        if shard not in self.checkpoints:
            cp = self.log.checkpoint(self.stream, shard)
            if cp is not None and not cp.promoted:  # a crash after the last commit: finish it
                finish(self.store, self.log, self.log.record(cp.commit_id))
            self.checkpoints[shard] = cp.last if cp is not None else None
        return self.checkpoints[shard]

    def add(self, record: KinesisRecord) -> None:
        """Take one Kinesis record: skipped if committed, else split and decoded."""
        done = self._checkpoint(record.shard_id)
        if done is not None and int(record.sequence_number) <= int(done):
            self.result.skipped_committed += 1
            return
        self.kinesis.append(record)
        parts, broken = split(record)
        if broken is not None:
            self.result.rejected.append(broken)
        for part in parts:
            value, rejected = decode(part)
            if rejected is not None:
                self.result.rejected.append(rejected)
            else:
                self.users.append(part)
                self.values.append(value)

    # --- the batch --------------------------------------------------------------------------------

    def finish(self) -> StreamResult:
        if not self.kinesis:
            return self.result
        shards = {r.shard_id for r in self.kinesis}
        if len(shards) != 1:  # an event source mapping sends one shard per invocation
            raise ValueError(f"records of {len(shards)} shards in one batch: {sorted(shards)}")
        valid, positions = self._validate()
        first, last = self.kinesis[0], self.kinesis[-1]
        shard = first.shard_id
        # sequence numbers are per stream (and LocalStack numbers two new streams alike)
        commit_id = f"{self.stream}-{shard}-{first.sequence_number}-{last.sequence_number}"
        base_rejected = list(self.result.rejected)
        written_at = self.clock_ms()  # one page id per day across attempts: a retry overwrites
        published: set[str] = set()
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            self.result.attempts = attempt
            kept, kept_pos, dups, heads, days_hashes = self._dedupe(valid, positions)
            self.result.rejected = base_rejected + dups
            self.result.duplicates = len(dups)
            outputs = StagedOutputs(self.store, self.zones, self.contract, commit_id)
            commit = self._stage(outputs, commit_id, kept, kept_pos, heads, shard)
            pages = pages_for(commit_id, days_hashes, written_at) if self.index else []
            if pages and self.index_store is not None:
                self.index_store.put_pages(self.contract.name, pages, self._expires())
            self._publish(published)
            try:
                self.log.commit(commit, expires_at=self._expires())
            except CommitConflict:
                moved = self.log.checkpoint(self.stream, shard)
                if (moved.last if moved else None) != self.checkpoints.get(shard):
                    raise  # another invocation committed this shard's records: Lambda retries
                if self.index is None:
                    raise
                self.index.forget_heads()  # another writer committed keys of the same days
                continue
            if self.index is not None:
                ref = CommitRef(commit_id, commit.manifest_key, SOURCE, commit.curated)
                self.index.learn(ref, pages, bumped(heads, days_hashes))
            promote(self.store, commit.staged)
            self.log.mark_promoted(commit)
            self.result.commit_id = commit_id
            return self.result
        raise CommitConflict(f"{commit_id}: still conflicting after {COMMIT_ATTEMPTS} attempts")

    def _expires(self) -> int:
        return int(self.now.timestamp()) + self.ttl

    def _validate(self) -> tuple[pa.Table, list[int]]:
        """Validate every decoded value in one vectorised pass; if that pass itself fails
        (a value no rule anticipated), each value alone, so one cannot sink the others."""
        try:
            valid, positions, rejected = self._validate_values(list(range(len(self.values))))
        except Exception:
            valid, positions, rejected = self._validate_each()
        self.result.rejected += rejected
        return valid, positions

    def _validate_values(self, which: list[int]) -> tuple[pa.Table, list[int], list[Rejected]]:
        values = [self.values[i] for i in which]
        table, kept, refused = records_table(self.contract, values)
        rejected = [
            Rejected(
                self.users[which[p]].record_id, rules, reasons, as_text(self.users[which[p]].data)
            )
            for p, (rules, reasons) in sorted(refused.items())
        ]
        report = validate_batch(self.contract, table, now=self.now)
        bad = {}
        for row in report.rejected.select(["row_number", "rules", "reasons"]).to_pylist():
            bad[int(row["row_number"])] = (row["rules"], row["reasons"])
        good = [which[kept[r]] for r in range(len(kept)) if r not in bad]
        for r, (rules, reasons) in sorted(bad.items()):
            user = self.users[which[kept[r]]]
            kept_as = as_text(user.data)
            rejected.append(Rejected(user.record_id, list(rules), list(reasons), kept_as))
        return report.valid, good, rejected

    def _validate_each(self) -> tuple[pa.Table, list[int], list[Rejected]]:
        tables, positions, rejected = [], [], []
        for i in range(len(self.values)):
            try:
                table, good, rej = self._validate_values([i])
            except Exception as err:
                rejected.append(unprocessable(self.users[i].record_id, err, self.users[i].data))
                continue
            tables.append(table)
            positions += good
            rejected += rej
        schema = self.contract.curated_schema()
        valid = pa.concat_tables(tables) if tables else schema.empty_table()
        return valid, positions, rejected

    def _dedupe(
        self, valid: pa.Table, positions: list[int]
    ) -> tuple[pa.Table, list[int], list[Rejected], dict[str, int], dict[str, np.ndarray]]:
        """Drop the rows whose key another commit curated; return the kept rows, their
        positions, the duplicates (rejected), the heads to commit on and the kept hashes."""
        if self.index is None or not valid.num_rows:
            return valid, positions, [], {}, {}
        day_col = self.contract.partition_columns[0] if self.contract.partition_columns else None
        check = check_table(self.index, valid, day_column=day_col, reader=self.store)
        dups = []
        for row in np.flatnonzero(check.duplicate).tolist():
            user = self.users[positions[row]]
            reason = check.reasons[row]
            dups.append(Rejected(user.record_id, ["duplicate_key"], [reason], as_text(user.data)))
        keep = ~check.duplicate
        kept = valid.filter(pa.array(keep)) if check.duplicate.any() else valid
        kept_pos = [p for p, k in zip(positions, keep.tolist(), strict=True) if k]
        by_day = check.kept_by_day()
        heads = {d: self.index.known_heads.get(d, 0) for d in by_day}
        return kept, kept_pos, dups, heads, by_day

    def _stage(
        self,
        outputs: StagedOutputs,
        commit_id: str,
        kept: pa.Table,
        kept_pos: list[int],
        heads: dict[str, int],
        shard: str,
    ) -> Commit:
        rejected = self.result.rejected
        z, name = self.zones, self.contract.name
        curated = outputs.curated(kept, f"stream-{commit_id}")
        quarantine = None
        if rejected:
            rows = [r.as_dict() for r in rejected]
            quarantine = outputs.rows(lake_keys.stream_quarantine_key(z, name, commit_id), rows)
        counts = {
            "in_records": kept.num_rows + len(rejected),
            "curated": kept.num_rows,
            "quarantined": len(rejected),
        }
        first, last = self.kinesis[0], self.kinesis[-1]
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "source": SOURCE,
            "commit_id": commit_id,
            "batch_id": commit_id,
            "contract": name,
            "contract_version": self.contract.version,
            "kinesis": {
                "stream": self.stream,
                "shard": shard,
                "first": first.sequence_number,
                "last": last.sequence_number,
                "records": len(self.kinesis),
                "skipped_committed": self.result.skipped_committed,
            },
            "counts": counts,
            "duplicates": self.result.duplicates,
            "rule_counts": count_rules(rejected),
            "outputs": {"curated": curated, "quarantine": quarantine},
            "ingested_at": self.now.isoformat(),
        }
        manifest_key = outputs.document(lake_keys.stream_manifest_key(z, name, commit_id), manifest)
        self.result.curated = json_ready(kept)  # what the feed carries
        for row, pos in zip(self.result.curated, kept_pos, strict=True):
            row["_record_id"] = self.users[pos].record_id
            row["_partition_key"] = self.users[pos].partition_key
        times = kept.column(self.contract.event_time) if kept.num_rows else None
        if times is not None and pa.types.is_timestamp(times.type):
            self.result.max_event_time = pc.max(times).as_py()
        cp = self.checkpoints.get(shard)
        return Commit(
            commit_id=commit_id,
            contract=name,
            source=SOURCE,
            manifest_key=manifest_key,
            counts=counts,
            staged=dict(outputs.staged),
            curated=tuple(outputs.curated_keys),
            heads=heads,
            position=ShardPosition(
                self.stream,
                shard,
                cp,
                first.sequence_number,
                last.sequence_number,
            ),
        )

    def _publish(self, published: set[str]) -> None:
        """The curated rows not yet published (a retried attempt publishes only new ones)."""
        if self.feed is None:
            return
        rows = [r for r in self.result.curated if r["_record_id"] not in published]
        if rows:
            self.result.forwarded += self.feed.publish(rows, now=self.now)
            published.update(r["_record_id"] for r in rows)


def json_ready(table: pa.Table) -> list[dict[str, Any]]:
    """A curated table's rows with every value JSON can carry as it is: timestamps as ISO-8601
    text with their UTC offset (converted in Arrow, not row by row), dates as ISO dates,
    decimals as floats. What the feed carries, so encoding it is plain ``json.dumps``."""
    columns = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        kind = col.type
        if pa.types.is_timestamp(kind):
            utc = col.cast(pa.timestamp(kind.unit, "UTC")) if kind.tz != "UTC" else col
            col = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S+00:00")
        elif pa.types.is_date(kind):
            col = col.cast(pa.string())
        elif pa.types.is_decimal(kind):
            col = col.cast(pa.float64())
        columns[name] = col
    return pa.table(columns).to_pylist() if columns else []
