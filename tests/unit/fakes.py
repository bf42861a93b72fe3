"""In-memory adapters: each implements a port of the shared layer with the semantics its AWS
adapter has (versions, conditional writes, counters that move only at commit), so use cases and
handlers are tested without AWS. `tests/unit/aws/` runs the same behaviours against the AWS
adapters in moto, which keeps the two honest."""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fraudops_shared.ingestion.claims import RETRYABLE_OUTCOMES, Claim, ClaimLostError
from fraudops_shared.ingestion.dedupe import CommitRef, Page
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.lake.commits import Checkpoint, Commit, CommitConflict, CommitRecord
from fraudops_shared.lake.snapshots import FrozenObject
from fraudops_shared.lake.store import ObjectMissing, SourceObject
from fraudops_shared.registry.models import (
    Change,
    ConflictError,
    PutPointer,
    PutRun,
    PutVersion,
    SetCounter,
    SetStatus,
)

_versions = itertools.count(1)


@dataclass
class StoredObject:
    data: bytes
    version_id: str
    content_type: str = "application/octet-stream"

    @property
    def etag(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


class MemoryBucket:
    """A versioned bucket: the lake's ObjectStore, a BlobStore and the snapshot's LakeFiles.
    Other buckets (where files land) are other MemoryBucket instances in ``others``."""

    def __init__(self, bucket: str = "lake", others: Mapping[str, MemoryBucket] | None = None):
        self.bucket = bucket
        self.objects: dict[str, list[StoredObject]] = {}  # key -> versions, newest last
        self.others = dict(others or {})
        self.calls: dict[str, int] = {}

    def _count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    # --- writes -------------------------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self._count("put")
        obj = StoredObject(bytes(data), f"v{next(_versions)}", content_type)
        self.objects.setdefault(key, []).append(obj)
        return obj.version_id

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.put(key, data, content_type)

    def put_parquet(self, key: str, table: pa.Table) -> None:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        self.put(key, buf.getvalue(), "application/vnd.apache.parquet")

    def land(self, key: str, data: bytes) -> SourceObject:
        """An upload as a producer makes it; the object an S3 event would announce."""
        version = self.put(key, data)
        stored = self.objects[key][-1]
        return SourceObject(self.bucket, key, version, len(data), stored.etag)

    def copy(self, obj: SourceObject, dest_key: str) -> None:
        """Server side: no download."""
        source = self if obj.bucket == self.bucket else self.others[obj.bucket]
        self._count("copy")
        self.put(dest_key, source._version(obj.key, obj.version_id).data)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)

    def copy_within(self, source_key: str, dest_key: str) -> None:
        self._count("copy")
        self.put(dest_key, self._version(source_key, None).data)  # ObjectMissing if absent

    def exists(self, key: str) -> bool:
        self._count("head")
        return bool(self.objects.get(key))

    def read_curated(self, key: str) -> pa.Table:
        return pq.read_table(io.BytesIO(self.get(key)))

    def delete_version(self, key: str, version_id: str) -> None:
        self.objects[key] = [v for v in self.objects.get(key, []) if v.version_id != version_id]

    # --- reads --------------------------------------------------------------------------------

    def _version(self, key: str, version_id: str | None) -> StoredObject:
        versions = self.objects.get(key)
        if not versions:
            raise ObjectMissing(f"s3://{self.bucket}/{key} is missing (NoSuchKey)")
        if version_id is None:
            return versions[-1]
        for v in versions:
            if v.version_id == version_id:
                return v
        raise ObjectMissing(f"s3://{self.bucket}/{key} is missing (NoSuchVersion)")

    def get(self, key: str, version_id: str | None = None, bucket: str | None = None) -> bytes:
        self._count("get")
        if bucket and bucket != self.bucket:
            return self.others[bucket].get(key, version_id)
        return self._version(key, version_id).data

    def download(self, obj: SourceObject, dest: Path) -> str:
        data = (self if obj.bucket == self.bucket else self.others[obj.bucket]).get(
            obj.key, obj.version_id
        )
        dest.write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    def head(self, key: str) -> FrozenObject:
        self._count("head")
        stored = self._version(key, None)
        return FrozenObject(key, stored.version_id, stored.etag, len(stored.data))

    def list_keys(self, prefix: str) -> list[str]:
        self._count("list")
        return sorted(k for k in self.objects if k.startswith(prefix))

    # --- for assertions -----------------------------------------------------------------------

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def body(self, key: str) -> bytes:
        return self._version(key, None).data

    def table(self, key: str) -> pa.Table:
        return pq.read_table(io.BytesIO(self.body(key)))

    def rows(self, prefix: str) -> list[dict[str, Any]]:
        return [
            r
            for k in self.keys(prefix)
            if k.endswith(".parquet")
            for r in self.table(k).to_pylist()
        ]


# --- the state table -----------------------------------------------------------------------------


@dataclass
class Counters:
    """The ``ACCOUNT#<contract>#<source>`` items: counters that only move at commit."""

    accounts: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def add(self, contract: str, source: str, counts: Mapping[str, int]) -> None:
        if not counts:
            raise ValueError("a commit must add at least one counter")
        account = self.accounts.setdefault((contract, source), {})
        for name, value in counts.items():
            account[name] = account.get(name, 0) + value

    def of(self, contract: str, source: str) -> dict[str, int]:
        return dict(self.accounts.get((contract, source), {}))


@dataclass
class _FileClaim:
    status: str
    owner: str
    source_id: str
    source: dict[str, str]
    claimed_at: float
    attempt: int = 1
    manifest: str | None = None
    outcome: str | None = None
    commit_id: str | None = None


class MemoryFileClaims:
    """``ingestion.claims.FileClaims`` with the conditions of ``aws.dynamodb.DynamoFileClaims``;
    completed by ``MemoryCommitLog``."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], _FileClaim] = {}

    def claim(
        self, sha256: str, contract: str, source: SourceObject, owner: str, now: float, stale: float
    ) -> Claim:
        old = self.items.get((sha256, contract))
        src = {k: str(v) for k, v in source.as_dict().items() if v is not None}
        retry = (
            old is not None
            and old.status == "COMPLETED"
            and old.outcome in RETRYABLE_OUTCOMES
            and old.source_id != source.source_id
        )
        if (
            old is None
            or retry
            or (
                old.status == "IN_PROGRESS" and (old.owner == owner or old.claimed_at < now - stale)
            )
        ):
            attempt = (old.attempt if old else 1) + (1 if retry else 0)
            self.items[(sha256, contract)] = _FileClaim(
                "IN_PROGRESS", owner, source.source_id, src, int(now), attempt
            )
            return Claim("claimed", taken_over=old is not None and not retry, attempt=attempt)
        return Claim(
            "completed" if old.status == "COMPLETED" else "busy",
            source_id=old.source_id,
            manifest_key=old.manifest,
            source=dict(old.source),
            attempt=old.attempt,
            commit_id=old.commit_id,
        )

    def release(self, sha256: str, contract: str, owner: str) -> None:
        item = self.items.get((sha256, contract))
        if item is not None and item.status == "IN_PROGRESS" and item.owner == owner:
            del self.items[(sha256, contract)]


class MemoryCommitLog:
    """``lake.commits.CommitLog``: every condition of the DynamoDB transaction checked first
    (commit record absent, index heads unchanged, checkpoint unchanged, claim held), then all
    of it applied, or ``CommitConflict``/``ClaimLostError`` and nothing."""

    def __init__(self, counters: Counters, claims: MemoryFileClaims, heads: dict[str, int]) -> None:
        self.counters, self.claims, self.heads = counters, claims, heads
        self.records: dict[str, CommitRecord] = {}
        self.committed_keys: dict[str, dict[str, str]] = {}
        self.checkpoints: dict[tuple[str, str], Checkpoint] = {}
        self.shard_log: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
        self.commits = 0
        self.fail_next = 0  # the next N commits conflict (a concurrent writer)

    def commit(self, commit: Commit, *, expires_at: int) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise CommitConflict("simulated concurrent commit")
        if commit.commit_id in self.records:
            conflict = CommitConflict(f"{commit.commit_id} already committed")
            conflict.already_committed = True  # type: ignore[attr-defined]
            raise conflict
        for day, expected in commit.heads.items():
            if self.heads.get(f"{commit.contract}#{day}", 0) != expected:
                raise CommitConflict(f"head of {day} moved")
        pos = commit.position
        if pos is not None:
            current = self.checkpoints.get((pos.stream, pos.shard))
            if (current.last if current else None) != pos.expected:
                raise CommitConflict(f"checkpoint of {pos.shard} moved")
        done = commit.completion
        if done is not None:
            item = self.claims.items.get((done.sha256, commit.contract))
            if item is None or item.status != "IN_PROGRESS" or item.owner != done.owner:
                raise ClaimLostError(f"claim of {done.sha256[:16]} is no longer held")
        # all conditions hold: apply
        self.records[commit.commit_id] = CommitRecord(
            commit.commit_id, commit.contract, commit.source, commit.manifest_key,
            dict(commit.staged), not commit.staged, commit.curated,
            pos.first if pos else None, pos.last if pos else None,
            pos.stream if pos else None, pos.shard if pos else None, commit.dead_letter,
        )  # fmt: skip
        self.committed_keys.setdefault(commit.contract, {})[commit.manifest_key] = commit.commit_id
        self.counters.add(commit.contract, commit.source, commit.counts)
        for day in commit.heads:
            key = f"{commit.contract}#{day}"
            self.heads[key] = self.heads.get(key, 0) + 1
        if pos is not None:
            self.checkpoints[(pos.stream, pos.shard)] = Checkpoint(
                pos.last, commit.commit_id, not commit.staged
            )
            self.shard_log.setdefault((pos.stream, pos.shard), []).append(
                (int(pos.first), int(pos.last), commit.commit_id)
            )
        if done is not None:
            item = self.claims.items[(done.sha256, commit.contract)]
            item.status, item.manifest, item.outcome = (
                "COMPLETED",
                commit.manifest_key,
                done.outcome,
            )
            item.commit_id = commit.commit_id
        self.commits += 1

    def mark_promoted(self, commit: CommitRecord | Commit) -> None:
        record = self.records[commit.commit_id]
        self.records[commit.commit_id] = replace(record, promoted=True)
        if record.stream and record.shard:
            cp = self.checkpoints.get((record.stream, record.shard))
            if cp is not None and cp.commit_id == commit.commit_id:
                self.checkpoints[(record.stream, record.shard)] = replace(cp, promoted=True)

    def record(self, commit_id: str) -> CommitRecord | None:
        return self.records.get(commit_id)

    def checkpoint(self, stream: str, shard: str) -> Checkpoint | None:
        return self.checkpoints.get((stream, shard))

    def covered(self, stream: str, shard: str, first: str, last: str) -> list[tuple[int, int]]:
        return [
            (lo, hi)
            for lo, hi, _ in self.shard_log.get((stream, shard), [])
            if hi >= int(first) and lo <= int(last)
        ]

    def committed(self, contract: str) -> dict[str, str]:
        return dict(self.committed_keys.get(contract, {}))


class MemoryKeyIndex:
    """``ingestion.dedupe.KeyIndexStore``; its heads are the commit log's (one table)."""

    def __init__(self, log: MemoryCommitLog) -> None:
        self.log = log
        self.pages_by_day: dict[str, dict[str, Page]] = {}
        self.calls: dict[str, int] = {}

    def _count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    def heads(self, contract: str, days: Sequence[str]) -> dict[str, int]:
        self._count("heads")
        return {
            d: self.log.heads[f"{contract}#{d}"]
            for d in days
            if f"{contract}#{d}" in self.log.heads
        }

    def pages(self, contract: str, day: str, since_ms: int) -> list[Page]:
        self._count("pages")
        found = self.pages_by_day.get(f"{contract}#{day}", {})
        return [p for pid, p in sorted(found.items()) if p.written_at >= since_ms]

    def put_pages(self, contract: str, pages: Sequence[Page], expires_at: int) -> None:
        self._count("put_pages")
        for page in pages:
            self.pages_by_day.setdefault(f"{contract}#{page.day}", {})[page.page_id] = page

    def commits(self, commit_ids: Sequence[str]) -> dict[str, CommitRef]:
        self._count("commits")
        out = {}
        for cid in commit_ids:
            rec = self.log.records.get(cid)
            if rec is not None and not rec.dead_letter:
                out[cid] = CommitRef(cid, rec.manifest_key, rec.source, rec.curated)
        return out


class MemorySnapshotCatalog:
    def __init__(self) -> None:
        self.items: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def register(self, contract: str, created_at: str, summary: Mapping[str, Any]) -> None:
        sort_key = f"{created_at}#{summary['snapshot_id']}"
        entries = [e for e in self.items.get(contract, []) if e[0] != sort_key]
        entries.append((sort_key, {k: v for k, v in summary.items() if v is not None}))
        self.items[contract] = sorted(entries, key=lambda e: e[0])

    def latest(self, contract: str) -> dict[str, Any] | None:
        entries = self.items.get(contract)
        return dict(entries[-1][1]) if entries else None


class MemoryRegistryStore:
    """``registry.models.RegistryStore``: every change of a group checked first, then applied."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, int], dict[str, Any]] = {}
        self._pointers: dict[str, dict[str, Any]] = {}
        self._counters: dict[str, int] = {}
        self._runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_next: int = 0  # make the next N groups conflict (a concurrent writer)

    def version(self, contract: str, version: int) -> dict[str, Any] | None:
        found = self._versions.get((contract, version))
        return copy.deepcopy(found) if found else None

    def pointer(self, contract: str) -> dict[str, Any] | None:
        found = self._pointers.get(contract)
        return copy.deepcopy(found) if found else None

    def counter(self, contract: str) -> int:
        return self._counters.get(contract, 0)

    def run(self, contract: str, run_id: str) -> dict[str, Any] | None:
        found = self._runs.get((contract, run_id))
        return copy.deepcopy(found) if found else None

    def versions(self, contract: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for (c, _), v in sorted(self._versions.items()) if c == contract]

    def runs(self, contract: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for (c, _), r in sorted(self._runs.items()) if c == contract]

    def apply(self, changes: Sequence[Change]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConflictError("simulated concurrent change")
        for change in changes:
            if not self._holds(change):
                raise ConflictError(f"condition failed: {change}")
        for change in changes:
            self._apply(change)

    def _holds(self, change: Change) -> bool:
        if isinstance(change, SetCounter):
            return self._counters.get(change.contract, 0) == change.expected
        if isinstance(change, PutVersion):
            return (change.record["contract"], change.record["version"]) not in self._versions
        if isinstance(change, PutRun):
            old = self._runs.get((change.run["contract"], change.run["run_id"]))
            return old is None or old.get("version") is None
        if isinstance(change, PutPointer):
            current = self._pointers.get(change.contract)
            if change.expected is None:
                return current is None
            return current is not None and int(current["version"]) == change.expected
        found = self._versions.get((change.contract, change.version))
        return found is not None and (change.expected is None or found["status"] == change.expected)

    def _apply(self, change: Change) -> None:
        if isinstance(change, SetCounter):
            self._counters[change.contract] = change.version
        elif isinstance(change, PutVersion):
            record = copy.deepcopy(dict(change.record))
            self._versions[(record["contract"], record["version"])] = record
        elif isinstance(change, PutRun):
            self._runs[(change.run["contract"], change.run["run_id"])] = copy.deepcopy(
                dict(change.run)
            )
        elif isinstance(change, PutPointer):
            self._pointers[change.contract] = copy.deepcopy(dict(change.pointer))
        elif isinstance(change, SetStatus):
            record = self._versions[(change.contract, change.version)]
            record.update(status=change.status, updated_at=change.at, status_reason=change.reason)


# --- Kinesis ------------------------------------------------------------------------------------


class MemoryRecordSink:
    """PutRecords that accepts everything, or fails the entries a test scripts."""

    def __init__(
        self, failures: Sequence[Sequence[str | None]] = (), broken: Exception | None = None
    ) -> None:
        self.records: list[dict[str, Any]] = []
        self.calls = 0
        self.failures = [list(f) for f in failures]  # per call: an error code per entry
        self.broken = broken  # every call fails as a whole with this

    def put_records(self, entries: Sequence[dict[str, Any]]) -> list[str | None]:
        self.calls += 1
        if self.broken is not None:
            raise self.broken
        codes: list[str | None] = self.failures.pop(0) if self.failures else [None] * len(entries)
        codes = (codes + [None] * len(entries))[: len(entries)]
        self.records += [e for e, code in zip(entries, codes, strict=True) if not code]
        return codes


class MemoryShardReader:
    """A shard's retained records; reading back returns the range asked for."""

    def __init__(self, records: Sequence[KinesisRecord] = ()) -> None:
        self.records = list(records)

    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> list[KinesisRecord]:
        return [
            r
            for r in self.records
            if r.shard_id == shard_id and int(first) <= int(r.sequence_number) <= int(last)
        ]
