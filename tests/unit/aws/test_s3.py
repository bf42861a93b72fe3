"""The S3 adapters against moto: the lake's object store (download with hash, Parquet that reads
back with its types, copy of an exact version, deletes) and the bucket as versioned blobs."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudops_shared.aws.s3 import S3Bucket, S3ObjectStore
from fraudops_shared.lake.store import ObjectMissing, SourceObject

BUCKET = "fraudops-unit-lake"


@pytest.fixture
def s3(table: Any) -> Iterator[Any]:
    """A versioned bucket inside the unit conftest's moto."""
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield client


def test_the_object_store_reads_exact_versions_and_writes_typed_parquet(
    s3: Any, tmp_path: Path
) -> None:
    store = S3ObjectStore(s3, BUCKET)
    first = s3.put_object(Bucket=BUCKET, Key="landing/t/a.csv", Body=b"one")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="landing/t/a.csv", Body=b"two")
    # When the first version is downloaded, Then its bytes and their SHA-256 come back
    obj = SourceObject(BUCKET, "landing/t/a.csv", first)
    assert store.download(obj, tmp_path / "x") == hashlib.sha256(b"one").hexdigest()
    assert (tmp_path / "x").read_bytes() == b"one"
    # And a copy takes that version too
    store.copy(obj, "quarantine/t/_files/a.csv")
    body = s3.get_object(Bucket=BUCKET, Key="quarantine/t/_files/a.csv")["Body"].read()
    assert body == b"one"
    # When a table is written as Parquet, Then it reads back with its types, UTC timestamps kept
    table = pa.table(
        {
            "id": pa.array(["0742"]),
            "at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        }
    )
    store.put_parquet("curated/t/p.parquet", table)
    raw = s3.get_object(Bucket=BUCKET, Key="curated/t/p.parquet")["Body"].read()
    back = pq.read_table(io.BytesIO(raw))
    assert back.column("id").to_pylist() == ["0742"]
    assert back.schema.field("at").type == pa.timestamp("us", tz="UTC")
    # And objects are copied inside the bucket, seen, read back as tables
    store.copy_within("curated/t/p.parquet", "curated/t/q.parquet")
    assert store.exists("curated/t/q.parquet") and not store.exists("curated/t/none")
    assert store.read_curated("curated/t/q.parquet").column("id").to_pylist() == ["0742"]
    store.delete(["curated/t/q.parquet"])
    # And deletes take many keys at once
    store.delete(["curated/t/p.parquet", "quarantine/t/_files/a.csv", "missing"])
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")


def test_the_bucket_as_blobs_keeps_versions_and_says_what_is_missing(s3: Any) -> None:
    bucket = S3Bucket(s3, BUCKET)
    v1 = bucket.put("training/a", b"one", "application/octet-stream")
    v2 = bucket.put("training/a", b"two", "application/octet-stream")
    assert v1 and v2 and v1 != v2
    assert bucket.get("training/a", v1) == b"one" and bucket.get("training/a") == b"two"
    head = bucket.head("training/a")
    assert (head.version_id, head.size) == (v2, 3)
    assert bucket.list_keys("training/") == ["training/a"]
    with pytest.raises(ObjectMissing, match="NoSuchKey"):
        bucket.get("training/none")
    with pytest.raises(ObjectMissing):
        bucket.get("training/a", "no-such-version")
