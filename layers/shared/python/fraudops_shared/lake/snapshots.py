"""Snapshots: the committed curated data of a contract, frozen at exact S3 object versions.

Training must name the bytes it learned from, and the curated zone keeps changing (new files,
retries that overwrite a key, orphans of batches that never committed). A snapshot therefore:

* reads only *committed* outputs: the manifests the commit log lists as committed, files and
  stream batches alike (``lake.commits``); a batch that never committed is not listed, and its
  outputs never left ``_staging/``; a commit not yet promoted is finished first;
* records each curated object's VersionId, ETag and size, so a later overwrite of a key cannot
  change what the snapshot means;
* is named by its content: ``<contract>-<UTC timestamp>-<12 hex of the content hash>``, the hash
  over the sorted (key, version_id, etag, size) list, so the same data gives the same hash;
* is written to ``snapshots/<contract>/<snapshot_id>.json`` and registered in the snapshot
  catalog (the state table), newest last.

Selection, hashing and the document are pure functions here; reading and writing them is
``lake.snapshot_store``, over ports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fraudops_shared.runtime.settings import SNAPSHOT_PREFIX

SNAPSHOT_VERSION = 1


class SnapshotError(RuntimeError):
    """Nothing to snapshot, or a snapshot that does not match its own content hash."""


class EmptySnapshotError(SnapshotError):
    """The contract has no committed curated data: nothing to snapshot yet."""

    def __init__(self, contract: str) -> None:
        super().__init__(f"contract {contract!r} has no committed curated data to snapshot")
        self.contract = contract


@dataclass(frozen=True)
class FrozenObject:
    """One curated object at one exact version."""

    key: str
    version_id: str | None
    etag: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "size": self.size,
        }


# --- pure: keys and selection -------------------------------------------------------------------


def with_curated(manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The committed manifests that hold curated outputs (whole-file quarantines, duplicates
    and dead-letter commits hold none), by key."""
    return {
        key: m for key, m in sorted(manifests.items()) if (m.get("outputs") or {}).get("curated")
    }


def curated_keys(manifests: Mapping[str, Mapping[str, Any]]) -> list[str]:
    keys = {k for m in manifests.values() for k in (m.get("outputs") or {}).get("curated") or []}
    return sorted(keys)


def curated_rows(manifest: Mapping[str, Any]) -> int:
    """Valid rows of a file manifest, curated rows of a stream manifest."""
    counts = manifest.get("counts") or {}
    return int(counts.get("valid", counts.get("curated", 0)) or 0)


# --- pure: hashing and the snapshot document ---------------------------------------------------


def content_hash(objects: Iterable[FrozenObject]) -> str:
    """SHA-256 over the sorted (key, version_id, etag, size) list: independent of order and of
    when the snapshot is taken, sensitive to any byte that changed (a new version or ETag)."""
    rows = sorted((o.key, o.version_id or "", o.etag, o.size) for o in objects)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def snapshot_id(contract: str, created_at: datetime, digest: str) -> str:
    return f"{contract}-{created_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest[:12]}"


def contract_of(snapshot_id_: str) -> str:
    """``<contract>-<timestamp>-<hash>`` -> contract (contract names may hold '-')."""
    parts = snapshot_id_.rsplit("-", 2)
    if len(parts) != 3:
        raise SnapshotError(f"not a snapshot id: {snapshot_id_!r}")
    return parts[0]


def snapshot_key(snapshot_id_: str, snapshot_prefix: str = SNAPSHOT_PREFIX) -> str:
    return f"{snapshot_prefix}{contract_of(snapshot_id_)}/{snapshot_id_}.json"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def data_contract_version(manifest: Mapping[str, Any]) -> str | None:
    """The contract version the data was validated with (file and stream manifests differ)."""
    contract = manifest.get("contract")
    version = contract.get("version") if isinstance(contract, dict) else None
    version = version or manifest.get("contract_version")
    return str(version) if version else None


def _event_time_bounds(
    manifests: Mapping[str, Mapping[str, Any]],
) -> tuple[str | None, str | None]:
    """Bounds only when every contributing manifest states them (file manifests state the max;
    stream manifests state neither today): a partial bound would be silently wrong."""
    contributing = [m for m in manifests.values() if (m.get("outputs") or {}).get("curated")]
    mins = [m.get("min_event_time") for m in contributing]
    maxs = [m.get("max_event_time") for m in contributing]
    low = min(str(v) for v in mins) if mins and all(mins) else None
    high = max(str(v) for v in maxs) if maxs and all(maxs) else None
    return low, high


def build_snapshot(
    *,
    contract: str,
    contract_version: str,
    manifests: Mapping[str, Mapping[str, Any]],
    objects: Sequence[FrozenObject],
    bucket: str,
    now: datetime,
    snapshot_prefix: str = SNAPSHOT_PREFIX,
) -> dict[str, Any]:
    """The snapshot document; refuses an empty one (training on nothing is a mistake upstream)."""
    if not objects:
        raise EmptySnapshotError(contract)
    created = now.astimezone(UTC).replace(microsecond=0)
    digest = content_hash(objects)
    sid = snapshot_id(contract, created, digest)
    low, high = _event_time_bounds(manifests)
    versions = sorted({v for m in manifests.values() if (v := data_contract_version(m))})
    return {
        "snapshot_version": SNAPSHOT_VERSION,
        "snapshot_id": sid,
        "key": f"{snapshot_prefix}{contract}/{sid}.json",
        "bucket": bucket,
        "contract": {"name": contract, "version": contract_version},
        "data_contract_versions": versions,
        "created_at": _iso(created),
        "content_hash": digest,
        "row_count": sum(curated_rows(m) for m in manifests.values()),
        "file_count": len(objects),
        "total_bytes": sum(o.size for o in objects),
        "min_event_time": low,
        "max_event_time": high,
        "files": [o.as_dict() for o in sorted(objects, key=lambda o: o.key)],
        "source_manifests": sorted(manifests),
    }


SUMMARY_FIELDS = (
    "snapshot_id",
    "key",
    "bucket",
    "created_at",
    "content_hash",
    "row_count",
    "file_count",
    "total_bytes",
    "min_event_time",
    "max_event_time",
)


def summary(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """What the snapshot catalog holds: everything but the file and manifest lists."""
    out = {k: snapshot.get(k) for k in SUMMARY_FIELDS}
    out["contract"] = snapshot["contract"]["name"]
    out["contract_version"] = snapshot["contract"]["version"]
    return out


def labels_part(
    contract: str, manifests: Mapping[str, Mapping[str, Any]], objects: Sequence[FrozenObject]
) -> dict[str, Any]:
    """The label events known when a snapshot is taken, frozen with it (``labels`` in the
    document): training applies those labelled at or before ``created_at``, so a snapshot
    taken later carries the labels known at its time, and the same snapshot always the same."""
    return {
        "contract": contract,
        "content_hash": content_hash(objects),
        "row_count": sum(curated_rows(m) for m in manifests.values()),
        "files": [o.as_dict() for o in sorted(objects, key=lambda o: o.key)],
        "source_manifests": sorted(manifests),
    }


def verify(snapshot: Mapping[str, Any]) -> None:
    """The file lists must hash to the recorded content hashes (a hand-edited or torn
    document): the data's, and the frozen labels' when the snapshot carries them."""
    objects = [FrozenObject(**f) for f in snapshot.get("files", [])]
    if content_hash(objects) != snapshot.get("content_hash"):
        raise SnapshotError(f"snapshot {snapshot.get('snapshot_id')}: content hash mismatch")
    labels = snapshot.get("labels")
    if labels is not None:
        frozen = [FrozenObject(**f) for f in labels.get("files", [])]
        if content_hash(frozen) != labels.get("content_hash"):
            raise SnapshotError(f"snapshot {snapshot.get('snapshot_id')}: labels hash mismatch")
