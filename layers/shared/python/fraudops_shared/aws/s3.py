"""The data bucket in S3: the lake's object store (``lake.store.ObjectStore``), versioned blobs
for training artifacts (``training.artifacts.BlobStore``) and the reads a snapshot makes
(``lake.snapshots.LakeFiles``). Small on purpose: every decision lives in the domain modules."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.lake.snapshots import FrozenObject
from fraudops_shared.lake.store import ObjectMissing, SourceObject

if TYPE_CHECKING:
    import boto3
    import pyarrow as pa
    from mypy_boto3_s3 import S3Client

DOWNLOAD_CHUNK_BYTES = 1 << 20
DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys
# Parquet as Athena and pyarrow read it back: real timestamps (not Spark's INT96), UTC kept.
PARQUET_KWARGS = {"flavor": None, "version": "2.6", "coerce_timestamps": "us"}
_MISSING = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


class S3ObjectStore:
    """Reads sources from any bucket; writes only into the data bucket."""

    def __init__(self, client: S3Client, session: boto3.session.Session, data_bucket: str) -> None:
        self.s3, self.session, self.bucket = client, session, data_bucket

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
        import awswrangler as wr  # heavy (pandas): imported on first write, not at cold start
        import pandas as pd

        wr.s3.to_parquet(
            table.to_pandas(types_mapper=pd.ArrowDtype),  # Arrow types survive the round trip
            path=f"s3://{self.bucket}/{key}",
            index=False,
            use_threads=False,
            boto3_session=self.session,
            pyarrow_additional_kwargs=dict(PARQUET_KWARGS),
        )

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
