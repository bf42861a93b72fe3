"""The object store port of the lake: what ingestion reads and writes, in S3 terms but without
S3 (the adapter is ``fraudops_shared.aws.s3.S3ObjectStore``; tests use an in-memory store)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

from fraudops_shared.lake.zones import source_id

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class SourceObject:
    """One landed object, at the exact version an event announced."""

    bucket: str
    key: str
    version_id: str | None = None
    size: int | None = None
    etag: str | None = None

    @classmethod
    def from_s3_event(cls, record: Mapping[str, Any]) -> SourceObject:
        """One record of an S3 event notification (keys arrive URL-encoded)."""
        s3 = record["s3"]
        obj = s3["object"]
        return cls(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            version_id=obj.get("versionId"),
            size=obj.get("size"),
            etag=(obj.get("eTag") or "").strip('"') or None,
        )

    @property
    def source_id(self) -> str:
        """What one S3 event points at: a re-delivered event has the same id."""
        return source_id(self.bucket, self.key, self.version_id, self.etag)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "size": self.size,
            "etag": self.etag,
        }


class ObjectStore(Protocol):
    def download(self, obj: SourceObject, dest: Path) -> str:
        """Stream the object to ``dest``; return the SHA-256 (hex) of its bytes."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Write an object in the data bucket."""

    def put_parquet(self, key: str, table: pa.Table) -> None:
        """Write ``table`` as one Parquet object at ``key`` (overwrites)."""

    def copy(self, obj: SourceObject, dest_key: str) -> None:
        """Copy the source object (its exact version) into the data bucket."""

    def delete(self, keys: list[str]) -> None:
        """Delete objects of the data bucket (missing ones are fine)."""

    def copy_within(self, source_key: str, dest_key: str) -> None:
        """Copy an object of the data bucket to another key of it (server side)."""

    def exists(self, key: str) -> bool:
        """Whether the data bucket has ``key``."""

    def read_curated(self, key: str) -> pa.Table:
        """A Parquet object of the data bucket as a table."""


def concurrency(store: Any) -> int:
    """How many calls a store takes at once: its ``concurrency`` attribute, 1 unless it says
    more (the in-memory stores of the tests do not)."""
    value = getattr(store, "concurrency", 1)
    return value if isinstance(value, int) and value > 1 else 1


class ObjectMissing(LookupError):
    """The object (or that version of it) does not exist."""
