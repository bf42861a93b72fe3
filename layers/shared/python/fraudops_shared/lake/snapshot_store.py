"""Taking, finding and reading snapshots (``lake.snapshots`` holds the pure rules) over three
ports: the data bucket's files, the stream commit marks and the snapshot catalog. The adapters
are ``aws.s3.S3Bucket`` and ``aws.dynamodb.DynamoSnapshotCatalog``; tests use fakes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

from fraudops_shared.lake.commits import CommitRecord, Promoter, finish
from fraudops_shared.lake.snapshots import (
    SUMMARY_FIELDS,
    FrozenObject,
    SnapshotError,
    build_snapshot,
    curated_keys,
    labels_part,
    snapshot_key,
    summary,
    verify,
    with_curated,
)
from fraudops_shared.runtime.settings import LABELS_CONTRACT, SNAPSHOT_PREFIX

IO_WORKERS = 16  # parallel GET/HEAD calls: manifests and objects are many and small


class LakeFiles(Protocol):
    def list_keys(self, prefix: str) -> list[str]: ...

    def get(self, key: str, version_id: str | None = None) -> bytes:
        """The bytes of ``key`` (at ``version_id``); ``lake.store.ObjectMissing`` if none."""

    def head(self, key: str) -> FrozenObject:
        """The version of ``key`` that is current now."""

    def put(self, key: str, data: bytes, content_type: str) -> str | None:
        """Write ``key``; return its new version id."""


class Commits(Protocol):
    def committed(self, contract: str) -> dict[str, str]:
        """Every committed manifest key of the contract, with its commit id."""

    def record(self, commit_id: str) -> CommitRecord | None: ...

    def mark_promoted(self, commit: CommitRecord) -> None: ...


class SnapshotCatalog(Protocol):
    def register(self, contract: str, created_at: str, summary: Mapping[str, Any]) -> None: ...

    def latest(self, contract: str) -> dict[str, Any] | None: ...


def _parallel[T, R](fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(IO_WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))


def get_json(files: LakeFiles, key: str, version_id: str | None = None) -> dict[str, Any]:
    return dict(json.loads(files.get(key, version_id)))


def read_manifests(files: LakeFiles, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    return dict(zip(keys, _parallel(lambda k: get_json(files, k), keys), strict=True))


def freeze(files: LakeFiles, keys: Sequence[str]) -> list[FrozenObject]:
    """The version of each key that is current now is the one the snapshot means."""
    return _parallel(files.head, keys)


def collect(
    files: LakeFiles, commits: Commits, contract: str, promoter: Promoter | None = None
) -> dict[str, Mapping[str, Any]]:
    """The committed manifests of ``contract`` that hold curated outputs, by key. A commit that
    was never promoted (its writer crashed after committing) is finished first when a promoter
    is given, else it is an error: a snapshot never silently leaves committed data out."""
    committed = commits.committed(contract)
    present = set(files.list_keys(_common_prefix(committed)))
    for key, commit_id in sorted(committed.items()):
        if key in present:
            continue
        record = commits.record(commit_id)
        if promoter is None or record is None:
            raise SnapshotError(f"committed manifest {key} is not in the lake (unpromoted commit)")
        finish(promoter, commits, record)
    return with_curated(read_manifests(files, sorted(committed)))


def _common_prefix(keys: Iterable[str]) -> str:
    listed = sorted(keys)
    if not listed:
        return "\uffff"  # nothing can match
    first, last = listed[0], listed[-1]
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def create_snapshot(
    files: LakeFiles,
    commits: Commits,
    catalog: SnapshotCatalog,
    *,
    bucket: str,
    contract: str,
    contract_version: str,
    now: datetime | None = None,
    promoter: Promoter | None = None,
    snapshot_prefix: str = SNAPSHOT_PREFIX,
    labels_contract: str | None = None,
) -> dict[str, Any]:
    """Collect, freeze, write the document, then register it (a registered snapshot always has
    its document). The same data within the same second is the same snapshot, rewritten.
    With ``labels_contract``, the label events committed so far are frozen with it."""
    manifests = collect(files, commits, contract, promoter)
    objects = freeze(files, curated_keys(manifests))
    labels = None
    if labels_contract is not None:
        label_manifests = collect(files, commits, labels_contract, promoter)
        frozen = freeze(files, curated_keys(label_manifests))
        labels = labels_part(labels_contract, label_manifests, frozen)
    snapshot = build_snapshot(
        contract=contract,
        contract_version=contract_version,
        manifests=manifests,
        objects=objects,
        bucket=bucket,
        now=now or datetime.now(UTC),
        snapshot_prefix=snapshot_prefix,
    )
    if labels is not None:
        snapshot["labels"] = labels
    body = json.dumps(snapshot, indent=2, sort_keys=True).encode()
    snapshot["document_version_id"] = files.put(snapshot["key"], body, "application/json")
    catalog.register(contract, snapshot["created_at"], summary(snapshot))
    return snapshot


def load_snapshot(
    files: LakeFiles, snapshot_id_or_key: str, snapshot_prefix: str = SNAPSHOT_PREFIX
) -> dict[str, Any]:
    """The snapshot document by id (``transactions-20250101T000000Z-0123456789ab``) or by key,
    checked against its content hash."""
    ref = snapshot_id_or_key
    key = ref if ref.endswith(".json") else snapshot_key(ref, snapshot_prefix)
    snapshot = get_json(files, key)
    verify(snapshot)
    return snapshot


def latest_snapshot(catalog: SnapshotCatalog, contract: str) -> dict[str, Any] | None:
    """The newest registered snapshot's summary (with ``key`` for load_snapshot), or None."""
    found = catalog.latest(contract)
    if found is None:
        return None
    return {**{name: None for name in SUMMARY_FIELDS}, **found}


def read_table(
    files: LakeFiles, snapshot: Mapping[str, Any], columns: list[str] | None = None
) -> Any:
    """The snapshot's rows as one pyarrow Table, each object read at its frozen version.

    Partition columns live in the keys only; their source column (the event time) is in the
    data, so nothing is lost."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(f: Mapping[str, Any]) -> Any:
        body = files.get(f["key"], f.get("version_id"))
        return pq.read_table(io.BytesIO(body), columns=columns)

    tables = _parallel(read, list(snapshot["files"]))
    return pa.concat_tables(tables, promote_options="default")


def labels_contract_for(labels_arrive_later: bool) -> str | None:
    """Where a contract's late labels come from: the ``labels`` contract's events, frozen with
    each snapshot, for a contract whose label arrives later; none otherwise."""
    return LABELS_CONTRACT if labels_arrive_later else None


def read_labels(files: LakeFiles, snapshot: Mapping[str, Any]) -> Any:
    """The label events frozen with the snapshot (None when it carries none), at their frozen
    versions."""
    labels = snapshot.get("labels")
    if not labels or not labels.get("files"):
        return None
    return read_table(files, labels)
