"""Training artifacts in the data bucket: written at fixed keys per run, read back at the exact
version and checked against the SHA-256 recorded when they were written. No numpy here: the
registration function reads artifacts too and has no runtime layer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fraudops_shared.lake.store import ObjectMissing
from fraudops_shared.runtime.settings import TRAINING_PREFIX
from fraudops_shared.training.documents import ArtifactRef


class ArtifactError(RuntimeError):
    """An artifact that is missing or whose bytes are not the ones recorded."""


class BlobStore(Protocol):
    """One bucket of versioned objects (``aws.s3.S3Bucket``)."""

    bucket: str

    def put(self, key: str, data: bytes, content_type: str) -> str | None:
        """Write ``key``; return the new object's version id."""

    def get(self, key: str, version_id: str | None = None, bucket: str | None = None) -> bytes:
        """The bytes of ``key``; ``lake.store.ObjectMissing`` if there are none."""


@dataclass(frozen=True)
class Artifacts:
    """A blob store as an artifact store: put returns a reference with the SHA-256 and the
    version, get reads exactly that version and checks the hash."""

    store: BlobStore

    def put(self, key: str, data: bytes, content_type: str) -> ArtifactRef:
        return {
            "bucket": self.store.bucket,
            "key": key,
            "version_id": self.store.put(key, data, content_type),
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }

    def get(self, ref: Mapping[str, Any]) -> bytes:
        """Fails closed: a reference without a SHA-256 is refused before anything is read."""
        bucket = ref.get("bucket") or self.store.bucket
        expected = ref.get("sha256")
        if not isinstance(expected, str) or len(expected) != 64:
            raise ArtifactError(f"s3://{bucket}/{ref.get('key')}: no SHA-256 to check it against")
        try:
            data = self.store.get(ref["key"], ref.get("version_id"), bucket)
        except ObjectMissing as exc:
            raise ArtifactError(str(exc)) from None
        if hashlib.sha256(data).hexdigest() != expected:
            raise ArtifactError(f"s3://{bucket}/{ref['key']}: SHA-256 mismatch")
        return data


def run_prefix(contract: str, run_id: str) -> str:
    return f"{TRAINING_PREFIX}{contract}/{run_id}/"


def json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=float).encode()
