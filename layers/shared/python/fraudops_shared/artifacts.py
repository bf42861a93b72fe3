"""Training artifacts in the data bucket: written at fixed keys per run, read back at the exact
S3 version and checked against the SHA-256 recorded when they were written. No numpy here: the
registration function reads artifacts too and has no runtime layer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

TRAINING_PREFIX = "training/"
EVENT_SOURCE = "fraudops.training"


class ArtifactError(RuntimeError):
    """An artifact that is missing or whose bytes are not the ones recorded."""


@dataclass(frozen=True)
class Artifacts:
    """The data bucket as an artifact store: put returns a reference with the SHA-256 and the
    S3 version, get reads exactly that version and checks the hash."""

    s3: Any
    bucket: str

    def put(self, key: str, data: bytes, content_type: str) -> dict[str, Any]:
        resp = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return {
            "bucket": self.bucket,
            "key": key,
            "version_id": resp.get("VersionId"),
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }

    def get(self, ref: Mapping[str, Any]) -> bytes:
        kwargs = {"Bucket": ref.get("bucket") or self.bucket, "Key": ref["key"]}
        if ref.get("version_id"):
            kwargs["VersionId"] = ref["version_id"]
        try:
            data: bytes = self.s3.get_object(**kwargs)["Body"].read()
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound", "AccessDenied"):
                raise ArtifactError(
                    f"s3://{kwargs['Bucket']}/{ref['key']} is missing ({code})"
                ) from None
            raise
        if ref.get("sha256") and hashlib.sha256(data).hexdigest() != ref["sha256"]:
            raise ArtifactError(f"s3://{kwargs['Bucket']}/{ref['key']}: SHA-256 mismatch")
        return data


def run_prefix(contract: str, run_id: str) -> str:
    return f"{TRAINING_PREFIX}{contract}/{run_id}/"


def json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=float).encode()
