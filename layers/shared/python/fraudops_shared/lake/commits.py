"""Commits: how a batch's outputs become part of the lake exactly once.

A batch (a landed file, a stream batch, a dead-lettered range) writes its curated Parquet under
``_staging/`` first, then *commits* in one DynamoDB transaction (``CommitLog.commit``): the
commit record (what was staged where, the manifest), the contract's counters, the committed
manifest's entry that snapshots list, the version heads of the dedupe index, and either the
file's claim or the shard's checkpoint. Only then are the staged objects *promoted* (copied to
their final ``curated/`` keys and deleted), and the commit marked promoted.

So a reader of ``curated/`` (Athena, Glue, a snapshot) never sees the output of a batch that
did not commit; a batch that fails before its commit leaves only staging objects, which a
lifecycle rule expires. A crash between the commit and the promotion is finished by whoever
next finds the commit unpromoted (the retry of the same batch, the next batch of the shard, the
dead-letter path, or a snapshot): promotion is idempotent (copy, then delete).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from fraudops_shared.lake.store import ObjectMissing, concurrency
from fraudops_shared.runtime.settings import STAGING_PREFIX

PROMOTE_WORKERS = 8  # copies at once (botocore's pool holds 10 connections)


class CommitConflict(RuntimeError):
    """The commit's conditions did not hold: someone committed the same shard range, the same
    file, or keys of the same months since we read. Nothing was committed: read again, retry."""


@dataclass(frozen=True)
class ShardPosition:
    """A stream commit moves the shard's checkpoint from ``expected`` to ``last``."""

    stream: str
    shard: str
    expected: str | None  # the checkpoint read (None: no commit of this shard yet)
    first: str  # the first and last sequence numbers this commit covers
    last: str


@dataclass(frozen=True)
class FileCompletion:
    """A file commit completes the content's claim, held by ``owner``, with its outcome
    (``ingested`` or ``quarantined_file:<rule>``: a fixable cause lets a renamed copy retry)."""

    sha256: str
    owner: str
    outcome: str = "ingested"


@dataclass(frozen=True)
class Commit:
    commit_id: str
    contract: str
    source: str  # "s3" or "kinesis"
    manifest_key: str
    counts: Mapping[str, int]
    staged: Mapping[str, str] = field(default_factory=dict)  # staging key -> final key
    curated: tuple[str, ...] = ()  # the final keys of the curated Parquet (a subset)
    heads: Mapping[str, int] = field(default_factory=dict)  # event day -> index version read
    position: ShardPosition | None = None
    completion: FileCompletion | None = None
    dead_letter: bool = False  # a dead-lettered range: counted, nothing curated


@dataclass(frozen=True)
class CommitRecord:
    """A commit as stored: enough to finish its promotion and to name it as an origin."""

    commit_id: str
    contract: str
    source: str
    manifest_key: str
    staged: Mapping[str, str]
    promoted: bool
    curated: tuple[str, ...] = ()
    first: str | None = None
    last: str | None = None
    stream: str | None = None
    shard: str | None = None
    dead_letter: bool = False


@dataclass(frozen=True)
class Checkpoint:
    """Where a shard stands: the last sequence number committed, and by which commit."""

    last: str
    commit_id: str
    promoted: bool


class CommitLog(Protocol):
    def commit(self, commit: Commit, *, expires_at: int) -> None:
        """All of it in one transaction, or nothing (``CommitConflict``)."""

    def mark_promoted(self, commit: CommitRecord | Commit) -> None: ...

    def record(self, commit_id: str) -> CommitRecord | None: ...

    def checkpoint(self, stream: str, shard: str) -> Checkpoint | None: ...

    def covered(self, stream: str, shard: str, first: str, last: str) -> list[tuple[int, int]]:
        """The sequence ranges of the shard's commits that overlap ``first..last``."""

    def committed(self, contract: str) -> dict[str, str]:
        """Every committed manifest key of the contract, with its commit id (what snapshots
        may read)."""


class Promoter(Protocol):
    def copy_within(self, source_key: str, dest_key: str) -> None:
        """``lake.store.ObjectMissing`` when the source is not there."""

    def delete(self, keys: list[str]) -> None: ...

    def exists(self, key: str) -> bool: ...


def staging_key(commit_id: str, final_key: str) -> str:
    """Where a curated object waits for its commit (outside ``curated/``)."""
    return f"{STAGING_PREFIX}{commit_id}/{final_key}"


def promote(store: Promoter, staged: Mapping[str, str]) -> int:
    """Copy each staged object to its curated key, then delete the staged copies; safe to run
    again after a crash (an object already moved is left as it is). Returns how many moved.

    A store that takes concurrent calls (``concurrency`` above 1) gets up to
    ``PROMOTE_WORKERS`` copies at once: every copy still ends before any staged object is
    deleted, so a crash at any point leaves each object staged, promoted or both."""
    pairs = sorted(staged.items())
    workers = min(PROMOTE_WORKERS, concurrency(store), len(pairs))
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="promote") as pool:
            results = list(pool.map(lambda pair: _copy_one(store, *pair), pairs))
    else:
        results = [_copy_one(store, source, dest) for source, dest in pairs]
    moved = [source for (source, _), copied in zip(pairs, results, strict=True) if copied]
    if moved:
        store.delete(moved)
    return len(moved)


def _copy_one(store: Promoter, source: str, dest: str) -> bool:
    """True when copied; False when an earlier promotion already moved it."""
    try:
        store.copy_within(source, dest)  # one call: no existence check first
    except ObjectMissing:
        if not store.exists(dest):  # only a crash after an earlier promotion gets here
            raise RuntimeError(f"committed output {dest} is neither staged nor promoted") from None
        return False
    return True


class Promotions(Protocol):
    def mark_promoted(self, commit: CommitRecord) -> None: ...


def finish(store: Promoter, log: Promotions, record: CommitRecord | None) -> bool:
    """Finish a committed but unpromoted commit (roll forward); True when there was one."""
    if record is None or record.promoted:
        return False
    promote(store, record.staged)
    log.mark_promoted(record)
    return True


def commit_summary(commit: Commit) -> dict[str, Any]:
    return {
        "commit_id": commit.commit_id,
        "source": commit.source,
        "manifest": commit.manifest_key,
        "counts": dict(commit.counts),
        "curated": list(commit.curated),
    }
