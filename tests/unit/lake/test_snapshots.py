"""Snapshots (fraudops_shared.lake.snapshots, snapshot_store): only committed curated data, frozen
at exact versions, named by content; over in-memory adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudops_shared.lake import snapshot_store, snapshots
from fraudops_shared.lake.snapshots import FrozenObject, SnapshotError
from tests.unit.fakes import MemoryBucket, MemoryLedger, MemorySnapshotCatalog

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


def test_candidates_skip_duplicates_dead_letters_and_other_contracts() -> None:
    # Given every kind of manifest key under the contract, and another contract's
    keys = [
        f"manifests/{C}/aa.json",
        f"manifests/{C}/aa.duplicate-0123456789abcdef.json",
        f"manifests/{C}/stream/shard-1-2.json",
        f"manifests/{C}/stream/dlq-xyz.json",
        f"manifests/{C}x/bb.json",
        f"manifests/{C}/notes.txt",
    ]
    # When the candidates are chosen; Then only first-file and non-dead-letter stream manifests
    files, streams = snapshots.candidate_manifest_keys(keys, C)
    assert files == [f"manifests/{C}/aa.json"]
    assert streams == [f"manifests/{C}/stream/shard-1-2.json"]


def test_only_committed_manifests_are_selected() -> None:
    # Given an ingested file, a quarantined file, a duplicate, and three stream batches:
    # committed, orphaned (no mark), and re-bisected (the mark names another manifest)
    files = {
        "m/a.json": file_manifest("ingested", ["c/a.parquet"], 10),
        "m/q.json": file_manifest("quarantined_file", [], 0),
        "m/d.json": file_manifest("duplicate", [], 0),
    }
    streams = {
        "m/stream/ok.json": stream_manifest("ok", ["s:1", "s:2"], ["c/ok.parquet"], 2),
        "m/stream/orphan.json": stream_manifest("orphan", ["s:9"], ["c/orphan.parquet"], 1),
        "m/stream/old.json": stream_manifest("old", ["s:5", "s:6"], ["c/old.parquet"], 2),
        "m/stream/dlq-1.json": stream_manifest("dlq-1", ["s:7"], [], 0),
    }
    marks = {"s:1": "m/stream/ok.json", "s:5": "m/stream/new.json", "s:7": "m/stream/dlq-1.json"}
    # When the committed ones are selected
    chosen = snapshots.committed_manifests(files, streams, marks)
    # Then only the ingested file and the committed batch remain, with their curated keys
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
    """The data bucket, the stream ledger (its commit marks) and the snapshot catalog."""

    def __init__(self) -> None:
        self.files = MemoryBucket(BUCKET)
        self.ledger = MemoryLedger()
        self.catalog = MemorySnapshotCatalog()

    def put_json(self, key: str, doc: dict[str, Any]) -> None:
        self.files.put(key, json.dumps(doc).encode())

    def snapshot(self, now: datetime | None = None) -> dict[str, Any]:
        return snapshot_store.create_snapshot(
            self.files, self.ledger, self.catalog, bucket=BUCKET, contract=C,
            contract_version="1.0.0", now=now,
        )  # fmt: skip


@pytest.fixture
def lake() -> Lake:
    return Lake()


def land(lake: Lake) -> None:
    """An ingested file, a duplicate, a committed stream batch, and an orphaned one."""
    lake.files.put(f"curated/{C}/d=1/a.parquet", b"aaaa")
    lake.files.put(f"curated/{C}/d=1/s1.parquet", b"ss")
    lake.files.put(f"curated/{C}/d=1/orphan.parquet", b"oo")
    lake.put_json(
        f"manifests/{C}/aa.json", file_manifest("ingested", [f"curated/{C}/d=1/a.parquet"], 7)
    )
    lake.put_json(f"manifests/{C}/aa.duplicate-1.json", file_manifest("duplicate", [], 0))
    committed = f"manifests/{C}/stream/s1.json"
    lake.put_json(
        committed, stream_manifest("s1", ["sh:1", "sh:2"], [f"curated/{C}/d=1/s1.parquet"], 3)
    )
    orphan = stream_manifest("orphan", ["sh:3"], [f"curated/{C}/d=1/orphan.parquet"], 1)
    lake.put_json(f"manifests/{C}/stream/orphan.json", orphan)
    lake.ledger.commit(
        C, ["sh:1", "sh:2"], {"in_records": 3, "curated": 3, "quarantined": 0}, committed
    )


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
    # Given only a duplicate and an orphaned stream batch
    lake.put_json(f"manifests/{C}/aa.duplicate-1.json", file_manifest("duplicate", [], 0))
    lake.put_json(f"manifests/{C}/stream/o.json", stream_manifest("o", ["x:1"], ["c/o.parquet"], 1))
    # When a snapshot is asked for, Then it fails clearly and nothing is registered
    with pytest.raises(SnapshotError, match="no committed curated data"):
        lake.snapshot()
    assert snapshot_store.latest_snapshot(lake.catalog, C) is None
