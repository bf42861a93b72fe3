"""`fraudops ingest`: the CLI uploads where the batch function listens and waits for exactly the
manifest keys the function writes (fraudops_shared.lake.zones spells them for both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fraudops import ingest
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.store import SourceObject
from tests.unit.fakes import MemoryBucket
from tests.unit.ingestion.files import BUCKET, CONTRACT, Lake, csv_bytes, row


@pytest.fixture
def lake() -> Lake:
    return Lake(store=MemoryBucket(BUCKET))


class S3Client:
    """The one call `ingest_file` makes without waiting, on an in-memory bucket."""

    def __init__(self, bucket: MemoryBucket) -> None:
        self.bucket = bucket

    def put_object(self, Bucket: str, Key: str, Body: Any) -> dict[str, Any]:
        obj = self.bucket.land(Key, Body.read())
        return {"VersionId": obj.version_id, "ETag": f'"{obj.etag}"'}


def test_the_cli_waits_for_the_keys_the_function_writes(lake: Lake, tmp_path: Path) -> None:
    # Given a local file uploaded by `fraudops ingest` (no waiting: no function runs here)
    local = tmp_path / "cli.csv"
    local.write_bytes(csv_bytes([row(1)]))
    up = ingest.ingest_file(
        None,  # type: ignore[arg-type]
        local,
        CONTRACT,
        wait=False,
        bucket=BUCKET,
        s3=S3Client(lake.store),
    )
    assert up["key"] == f"landing/{CONTRACT}/cli.csv"
    # Then the manifest keys it would wait for are the ones the function writes
    obj = SourceObject(BUCKET, up["key"], up["version_id"])
    result = lake.ingest(obj)
    assert result.sha256 == up["sha256"]
    source = lake_keys.source_id(BUCKET, up["key"], up["version_id"], None)
    candidates = lake_keys.file_manifest_candidates(lake.zones, CONTRACT, up["sha256"], source)
    assert result.manifest_key in candidates
    assert lake_keys.duplicate_manifest_key(lake.zones, CONTRACT, result.sha256, obj.source_id) in (
        candidates
    )
