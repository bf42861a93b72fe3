"""Snapshots (fraudops_shared.lake.snapshots, snapshot_store): only committed curated data, frozen
at exact versions, named by content; over in-memory adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudops_shared.lake import snapshot_store, snapshots
from fraudops_shared.lake.commits import Commit
from fraudops_shared.lake.snapshots import FrozenObject, SnapshotError
from tests.unit.fakes import (
    Counters,
    MemoryBucket,
    MemoryCommitLog,
    MemoryFileClaims,
    MemorySnapshotCatalog,
)

BUCKET = "fraudops-unit-data"
C = "transactions"
NOW = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def file_manifest(
    status: str, curated: list[str], valid: int, max_time: str | None = None
) -> dict[str, Any]:
    return {
        "status": status,
        "contract": {"name": C, "version": "1.0.0"},
        "counts": {"rows_in": valid + 1, "valid": valid, "rejected": 1},
        "outputs": {"curated": curated, "quarantine": [], "file": None},
        "max_event_time": max_time,
    }


def stream_manifest(
    batch_id: str, records: list[str], curated: list[str], n: int
) -> dict[str, Any]:
    return {
        "source": "kinesis",
        "batch_id": batch_id,
        "contract": C,
        "contract_version": "1.0.0",
        "kinesis_records": records,
        "counts": {"in_records": n, "curated": n, "quarantined": 0},
        "outputs": {"curated": curated, "quarantine": None},
    }


# --- pure ---------------------------------------------------------------------------------------


def test_only_manifests_with_curated_outputs_are_selected() -> None:
    # Given committed manifests: an ingested file, a whole-file quarantine, a stream batch and a
    # dead-letter batch
    manifests = {
        "m/a.json": file_manifest("ingested", ["c/a.parquet"], 10),
        "m/q.json": file_manifest("quarantined_file", [], 0),
        "m/stream/ok.json": stream_manifest("ok", ["s:1", "s:2"], ["c/ok.parquet"], 2),
        "m/stream/dlq-1.json": stream_manifest("dlq-1", ["s:7"], [], 0),
    }
    # When those with curated data are chosen, Then the file and the stream batch remain
    chosen = snapshots.with_curated(manifests)
    assert list(chosen) == ["m/a.json", "m/stream/ok.json"]
    assert snapshots.curated_keys(chosen) == ["c/a.parquet", "c/ok.parquet"]
    assert sum(snapshots.curated_rows(m) for m in chosen.values()) == 12


def objs() -> list[FrozenObject]:
    return [
        FrozenObject("curated/t/a.parquet", "v1", "e1", 100),
        FrozenObject("curated/t/b.parquet", "v2", "e2", 200),
    ]


def test_the_content_hash_is_stable_and_sensitive() -> None:
    # Given the same objects in another order, Then the hash is the same
    base = snapshots.content_hash(objs())
    assert snapshots.content_hash(list(reversed(objs()))) == base
    # When any field of one object changes, Then the hash changes
    a, b = objs()
    for changed in (
        FrozenObject(a.key, "v9", a.etag, a.size),
        FrozenObject(a.key, a.version_id, "e9", a.size),
        FrozenObject(a.key, a.version_id, a.etag, 101),
        FrozenObject("curated/t/z.parquet", a.version_id, a.etag, a.size),
    ):
        assert snapshots.content_hash([changed, b]) != base
    # And a missing object changes it too
    assert snapshots.content_hash([b]) != base


def test_the_snapshot_document_and_its_id() -> None:
    # Given one committed file manifest and one stream manifest
    manifests = {
        "m/a.json": file_manifest("ingested", ["c/a.parquet"], 10, "2025-02-01T00:00:00+00:00"),
        "m/stream/ok.json": stream_manifest("ok", ["s:1"], ["c/b.parquet"], 2),
    }
    # When the document is built
    doc = snapshots.build_snapshot(
        contract=C, contract_version="1.2.0", manifests=manifests, objects=objs(),
        bucket=BUCKET, now=NOW,
    )  # fmt: skip
    # Then it is named by time and content, and sums the manifests' curated rows
    digest = snapshots.content_hash(objs())
    assert doc["snapshot_id"] == f"{C}-20250301T120000Z-{digest[:12]}"
    assert doc["key"] == f"snapshots/{C}/{doc['snapshot_id']}.json"
    assert doc["created_at"] == "2025-03-01T12:00:00Z"
    assert doc["contract"] == {"name": C, "version": "1.2.0"}
    assert doc["data_contract_versions"] == ["1.0.0"]
    assert doc["row_count"] == 12 and doc["file_count"] == 2 and doc["total_bytes"] == 300
    assert doc["source_manifests"] == ["m/a.json", "m/stream/ok.json"]
    # And a bound that not every manifest states is left out rather than guessed
    assert doc["max_event_time"] is None and doc["min_event_time"] is None
    assert snapshots.contract_of(doc["snapshot_id"]) == C
    snapshots.verify(doc)


def test_an_empty_contract_is_an_error() -> None:
    with pytest.raises(SnapshotError, match="no committed curated data"):
        snapshots.build_snapshot(
            contract=C, contract_version="1.0.0", manifests={}, objects=[], bucket=BUCKET, now=NOW
        )


def test_a_tampered_document_fails_verification() -> None:
    doc = snapshots.build_snapshot(
        contract=C, contract_version="1", manifests={}, objects=objs(), bucket=BUCKET, now=NOW
    )
    doc["files"][0]["version_id"] = "other"
    with pytest.raises(SnapshotError, match="hash mismatch"):
        snapshots.verify(doc)


# --- over the ports -------------------------------------------------------------------------------


class Lake:
    """The data bucket, the commit log (what is committed) and the snapshot catalog."""

    def __init__(self) -> None:
        self.files = MemoryBucket(BUCKET)
        self.log = MemoryCommitLog(Counters(), MemoryFileClaims(), {})
        self.catalog = MemorySnapshotCatalog()

    def put_json(self, key: str, doc: dict[str, Any]) -> None:
        self.files.put(key, json.dumps(doc).encode())

    def commit(
        self, commit_id: str, manifest_key: str, staged: dict[str, str] | None = None
    ) -> None:
        self.log.commit(
            Commit(commit_id, C, "kinesis", manifest_key, {"in_records": 1},
                   staged=staged or {}),
            expires_at=0,
        )  # fmt: skip

    def snapshot(self, now: datetime | None = None, promote: bool = True) -> dict[str, Any]:
        return snapshot_store.create_snapshot(
            self.files, self.log, self.catalog, bucket=BUCKET, contract=C,
            contract_version="1.0.0", now=now, promoter=self.files if promote else None,
        )  # fmt: skip


@pytest.fixture
def lake() -> Lake:
    return Lake()


def land(lake: Lake) -> None:
    """An ingested file, a duplicate, a committed stream batch, and an uncommitted one."""
    lake.files.put(f"curated/{C}/d=1/a.parquet", b"aaaa")
    lake.files.put(f"curated/{C}/d=1/s1.parquet", b"ss")
    lake.files.put(f"_staging/orphan/curated/{C}/d=1/orphan.parquet", b"oo")
    lake.put_json(
        f"manifests/{C}/aa.json", file_manifest("ingested", [f"curated/{C}/d=1/a.parquet"], 7)
    )
    lake.commit("file-aa", f"manifests/{C}/aa.json")
    lake.put_json(f"manifests/{C}/aa.duplicate-1.json", file_manifest("duplicate", [], 0))
    committed = f"manifests/{C}/stream/s1.json"
    lake.put_json(
        committed, stream_manifest("s1", ["sh:1", "sh:2"], [f"curated/{C}/d=1/s1.parquet"], 3)
    )
    lake.commit("s1", committed)
    orphan = stream_manifest("orphan", ["sh:3"], [f"curated/{C}/d=1/orphan.parquet"], 1)
    lake.put_json(f"_staging/orphan/manifests/{C}/stream/orphan.json", orphan)


def test_a_snapshot_freezes_versions_and_is_registered(lake: Lake) -> None:
    # Given committed and uncommitted data
    land(lake)
    # When a snapshot is taken
    snap = lake.snapshot(now=NOW)
    # Then it holds the committed files only, at their current versions
    assert snap["row_count"] == 10
    assert [f["key"] for f in snap["files"]] == [
        f"curated/{C}/d=1/a.parquet",
        f"curated/{C}/d=1/s1.parquet",
    ]
    head = lake.files.head(f"curated/{C}/d=1/a.parquet")
    assert snap["files"][0]["version_id"] == head.version_id
    assert snap["files"][0]["etag"] == head.etag and snap["files"][0]["size"] == 4
    # And the catalog holds the summary
    latest = snapshot_store.latest_snapshot(lake.catalog, C)
    assert latest is not None and latest["row_count"] == 10
    assert latest["content_hash"] == snap["content_hash"] and latest["key"] == snap["key"]
    # And the document loads by id and by key
    files = lake.files
    assert snapshot_store.load_snapshot(files, snap["snapshot_id"])["files"] == snap["files"]
    assert snapshot_store.load_snapshot(files, snap["key"])["content_hash"] == snap["content_hash"]


def test_same_data_same_hash_and_an_overwrite_changes_it(lake: Lake) -> None:
    land(lake)
    first = lake.snapshot(now=NOW)
    # When nothing changed, Then a later snapshot has the same content hash
    later = NOW + timedelta(minutes=1)
    second = lake.snapshot(now=later)
    assert second["content_hash"] == first["content_hash"]
    assert second["snapshot_id"] != first["snapshot_id"]
    # When a curated key is overwritten (a new version), Then the hash differs
    lake.files.put(f"curated/{C}/d=1/a.parquet", b"bbbb")
    third = lake.snapshot(now=later + timedelta(minutes=1))
    assert third["content_hash"] != first["content_hash"]
    # And the first snapshot still names the old bytes
    old = snapshot_store.load_snapshot(lake.files, first["snapshot_id"])["files"][0]
    assert lake.files.get(old["key"], old["version_id"]) == b"aaaa"
    # And the latest snapshot is the third
    latest = snapshot_store.latest_snapshot(lake.catalog, C)
    assert latest is not None and latest["snapshot_id"] == third["snapshot_id"]
    assert latest["row_count"] == 10 and latest["contract_version"] == "1.0.0"


def test_nothing_committed_is_an_error_and_no_snapshot_is_registered(lake: Lake) -> None:
    # Given only a duplicate and an uncommitted stream batch
    lake.put_json(f"manifests/{C}/aa.duplicate-1.json", file_manifest("duplicate", [], 0))
    lake.put_json(
        f"_staging/o/manifests/{C}/stream/o.json", stream_manifest("o", ["x:1"], ["c/o.parquet"], 1)
    )
    # When a snapshot is asked for, Then it fails clearly and nothing is registered
    with pytest.raises(SnapshotError, match="no committed curated data"):
        lake.snapshot()
    assert snapshot_store.latest_snapshot(lake.catalog, C) is None


def test_a_committed_but_unpromoted_batch_is_finished_before_it_is_frozen(lake: Lake) -> None:
    # Given a stream batch that committed, then crashed before its promotion
    final = f"manifests/{C}/stream/late.json"
    data = f"curated/{C}/d=2/late.parquet"
    lake.files.put(f"_staging/late/{data}", b"ll")
    lake.files.put(
        f"_staging/late/{final}", json.dumps(stream_manifest("late", ["x:9"], [data], 4)).encode()
    )
    lake.commit(
        "late", final, staged={f"_staging/late/{data}": data, f"_staging/late/{final}": final}
    )
    # When a snapshot is taken without the right to promote, Then it refuses to leave it out
    with pytest.raises(SnapshotError, match="unpromoted"):
        lake.snapshot(promote=False)
    # When it may promote, Then it finishes the commit and includes the batch
    snap = lake.snapshot()
    assert [f["key"] for f in snap["files"]] == [data] and snap["row_count"] == 4
    assert lake.files.keys("_staging/") == [] and lake.log.records["late"].promoted
