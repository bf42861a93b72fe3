"""The data bucket in S3: the lake's object store (``lake.store.ObjectStore``), versioned blobs
for training artifacts (``training.artifacts.BlobStore``) and the reads a snapshot makes
(``lake.snapshots.LakeFiles``). Small on purpose: every decision lives in the domain modules."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.lake.snapshots import FrozenObject
from fraudops_shared.lake.store import ObjectMissing, SourceObject

if TYPE_CHECKING:
    import pyarrow as pa
    from mypy_boto3_s3 import S3Client

DOWNLOAD_CHUNK_BYTES = 1 << 20
DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys
# Parquet as Athena and pyarrow read it back: real timestamps (not Spark's INT96), UTC kept.
PARQUET_KWARGS: dict[str, Any] = {
    "version": "2.6",
    "coerce_timestamps": "us",
    "compression": "snappy",
}
_MISSING = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


class S3ObjectStore:
    """Reads sources from any bucket; writes only into the data bucket. Takes concurrent calls
    (boto3 clients are thread-safe): the lake writes and promotes several objects at once."""

    concurrency = 8

    def __init__(self, client: S3Client, data_bucket: str) -> None:
        self.s3, self.bucket = client, data_bucket

    def download(self, obj: SourceObject, dest: Path) -> str:
        kwargs: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            kwargs["VersionId"] = obj.version_id  # the exact bytes the event announced
        body = self.s3.get_object(**kwargs)["Body"]
        digest = hashlib.sha256()
        with dest.open("wb") as fh:
            for block in body.iter_chunks(DOWNLOAD_CHUNK_BYTES):
                digest.update(block)
                fh.write(block)
        return digest.hexdigest()

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_parquet(self, key: str, table: pa.Table) -> None:
        """One PutObject of the table written by pyarrow from Arrow (no pandas on the way)."""
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf, **PARQUET_KWARGS)
        self.put_bytes(key, buf.getvalue(), "application/vnd.apache.parquet")

    def read_curated(self, key: str) -> pa.Table:
        import pyarrow.parquet as pq

        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return pq.read_table(io.BytesIO(body))

    def copy_within(self, source_key: str, dest_key: str) -> None:
        try:
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=dest_key,
                CopySource={"Bucket": self.bucket, "Key": source_key},
            )
        except ClientError as err:
            if error_code(err) in _MISSING:
                raise ObjectMissing(f"s3://{self.bucket}/{source_key} is missing") from None
            raise

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if error_code(err) in _MISSING:
                return False
            raise
        return True

    def copy(self, obj: SourceObject, dest_key: str) -> None:
        source: Any = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            source["VersionId"] = obj.version_id
        self.s3.copy(source, self.bucket, dest_key)  # managed: multipart above 5 GB

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            objects: Any = [{"Key": k} for k in keys[start : start + DELETE_BATCH]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})


class S3Bucket:
    """One bucket as versioned blobs: training artifacts and the snapshot reads."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.s3, self.bucket = client, bucket

    def put(self, key: str, data: bytes, content_type: str) -> str | None:
        """Write ``key``; the new object's VersionId (None on an unversioned bucket)."""
        resp = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return resp.get("VersionId")

    def get(self, key: str, version_id: str | None = None, bucket: str | None = None) -> bytes:
        """The bytes of ``key`` (at ``version_id``); ObjectMissing when there are none."""
        kwargs: dict[str, Any] = {"Bucket": bucket or self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            data: bytes = self.s3.get_object(**kwargs)["Body"].read()
        except ClientError as err:
            code = error_code(err)
            if code in (*_MISSING, "AccessDenied"):
                raise ObjectMissing(f"s3://{kwargs['Bucket']}/{key} is missing ({code})") from None
            raise
        return data

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def head(self, key: str) -> FrozenObject:
        """The version of ``key`` that is current now, with its ETag and size."""
        resp = self.s3.head_object(Bucket=self.bucket, Key=key)
        version = resp.get("VersionId")
        return FrozenObject(
            key=key,
            version_id=None if version in (None, "null") else str(version),
            etag=str(resp.get("ETag", "")).strip('"'),
            size=int(resp["ContentLength"]),
        )
