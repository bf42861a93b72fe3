"""The data lake's zones and the key of everything written into them.

Every key is a function of the content (a file's SHA-256) or of the batch (Kinesis sequence
numbers), so a retry rewrites the same objects instead of adding new ones. The CLI computes the
same keys to wait for a manifest, so these functions are the only place a key is spelled.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from fraudops_shared.runtime import settings
from fraudops_shared.runtime.settings import (
    CURATED_PREFIX,
    LANDING_PREFIX,
    MANIFEST_PREFIX,
    QUARANTINE_PREFIX,
    STREAM_FOLDER,
    UNKNOWN_CONTRACT,
    WHOLE_FILE_FOLDER,
)

HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class Zones:
    """Where things go in the data bucket; prefixes end with '/'."""

    data_bucket: str
    landing_prefix: str = LANDING_PREFIX
    curated_prefix: str = CURATED_PREFIX
    quarantine_prefix: str = QUARANTINE_PREFIX
    manifest_prefix: str = MANIFEST_PREFIX


def _slash(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


def zones_from_env(default_bucket: str | None = None) -> Zones:
    """DATA_BUCKET (else the bucket the event came from) and the zone prefixes."""
    bucket = os.environ.get(settings.DATA_BUCKET_ENV, "").strip() or default_bucket
    if not bucket:
        bucket = settings.required(settings.DATA_BUCKET_ENV)
    defaults = Zones(data_bucket=bucket)
    prefixes = {
        attr: _slash(os.environ.get(env, "").strip() or getattr(defaults, attr))
        for attr, env in settings.PREFIX_ENVS.items()
    }
    return Zones(data_bucket=bucket, **prefixes)


# --- landed objects -----------------------------------------------------------------------------


def source_id(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """What one S3 event points at: a re-delivered event has the same id."""
    return f"s3://{bucket}/{key}#{version_id or etag or ''}"


def landing_key(contract: str, name: str, landing_prefix: str = LANDING_PREFIX) -> str:
    return f"{landing_prefix}{contract}/{name}"


def parse_landing_key(key: str, landing_prefix: str = LANDING_PREFIX) -> tuple[str, str]:
    """``landing/<contract>/<...>/<name>`` -> (contract, name); anything else is unknown."""
    rest = key[len(landing_prefix) :] if key.startswith(landing_prefix) else key
    contract, sep, tail = rest.partition("/")
    if not sep or not contract or not tail:
        return UNKNOWN_CONTRACT, PurePosixPath(key).name or "object"
    return contract, PurePosixPath(tail).name or "object"


# --- files ----------------------------------------------------------------------------------------


def quarantine_rows_key(z: Zones, contract: str, sha: str, chunk: int) -> str:
    return f"{z.quarantine_prefix}{contract}/{sha[:16]}/part-{chunk:05d}.jsonl"


def quarantine_file_key(z: Zones, contract: str, sha: str, name: str) -> str:
    """Where a file quarantined whole is kept (an unknown contract has no `_files/` folder)."""
    folder = "" if contract == UNKNOWN_CONTRACT else WHOLE_FILE_FOLDER
    return f"{z.quarantine_prefix}{contract}/{folder}{sha[:16]}-{name}"


def manifest_key(z: Zones, contract: str, sha: str) -> str:
    return f"{z.manifest_prefix}{contract}/{sha}.json"


def duplicate_manifest_key(z: Zones, contract: str, sha: str, source: str) -> str:
    """A re-upload gets its own manifest beside the first one's, named by its own source id."""
    src = hashlib.sha256(source.encode()).hexdigest()[:16]
    return f"{z.manifest_prefix}{contract}/{sha}.duplicate-{src}.json"


def file_manifest_candidates(z: Zones, contract: str, sha: str, source: str) -> list[str]:
    """Where the batch function writes the manifest of one upload: a duplicate of earlier
    content, the first upload of the content, or a file that names no known contract."""
    return [
        duplicate_manifest_key(z, contract, sha, source),
        manifest_key(z, contract, sha),
        manifest_key(z, UNKNOWN_CONTRACT, sha),
    ]


# --- stream batches ------------------------------------------------------------------------------


def stream_quarantine_key(z: Zones, contract: str, batch_id: str) -> str:
    return f"{z.quarantine_prefix}{contract}/{STREAM_FOLDER}{batch_id}.jsonl"


def stream_manifest_key(z: Zones, contract: str, batch_id: str) -> str:
    return f"{z.manifest_prefix}{contract}/{STREAM_FOLDER}{batch_id}.json"


# --- curated partitions ---------------------------------------------------------------------------


def partition_columns(contract: Any) -> list[str]:
    """The contract's partition column names (``partition_by`` holds Partition objects)."""
    return [p if isinstance(p, str) else p.name for p in contract.partition_by or ()]


def partition_value(value: Any) -> str:
    """A partition value as Hive writes it in a key (null has its own spelling)."""
    if value is None:
        return HIVE_NULL_PARTITION
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def curated_key(z: Zones, contract: str, partition: dict[str, Any], stem: str) -> str:
    path = "".join(f"{col}={partition_value(v)}/" for col, v in partition.items())
    return f"{z.curated_prefix}{contract}/{path}{stem}.parquet"
