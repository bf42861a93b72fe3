"""Snapshots: the committed curated data of a contract, frozen at exact S3 object versions.

Training must name the bytes it learned from, and the curated zone keeps changing (new files,
retries that overwrite a key, orphans of batches that never committed). A snapshot therefore:

* reads only *committed* outputs: file manifests ``manifests/<contract>/<sha256>.json`` with
  status ``ingested`` (duplicates and whole-file quarantines have no curated data), and stream
  manifests ``manifests/<contract>/stream/<batch_id>.json`` whose first Kinesis record carries
  the ledger's commit mark pointing back at that very manifest (an orphan of a failed or
  re-bisected batch has no mark, or a mark naming another manifest); ``dlq-`` batches have none;
* records each curated object's VersionId, ETag and size, so a later overwrite of a key cannot
  change what the snapshot means;
* is named by its content: ``<contract>-<UTC timestamp>-<12 hex of the content hash>``, the hash
  over the sorted (key, version_id, etag, size) list, so the same data gives the same hash;
* is written to ``snapshots/<contract>/<snapshot_id>.json`` and registered in the registry table
  (``SNAPSHOT#<contract>`` / ``<created_at>#<snapshot_id>``), newest last in sort order.

Selection, hashing and the manifest are pure functions; the AWS calls are small ones beside them.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SNAPSHOT_VERSION = 1
SNAPSHOT_PREFIX = "snapshots/"
MANIFEST_PREFIX = "manifests/"
STREAM_FOLDER = "stream/"
DEAD_LETTER_PREFIX = "dlq-"
REGISTRY_PK_PREFIX = "SNAPSHOT#"
COMMITTED_SK = "COMMITTED"
IO_WORKERS = 16  # parallel GET/HEAD calls: manifests and objects are many and small


class SnapshotError(RuntimeError):
    """Nothing to snapshot, or a snapshot that does not match its own content hash."""


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


def contract_manifest_prefix(contract: str, manifest_prefix: str = MANIFEST_PREFIX) -> str:
    return f"{manifest_prefix}{contract}/"


def candidate_manifest_keys(
    keys: Iterable[str], contract: str, manifest_prefix: str = MANIFEST_PREFIX
) -> tuple[list[str], list[str]]:
    """(file manifest keys, stream manifest keys) that may hold curated outputs; duplicate
    manifests and dead-letter batches never do, so they are not even read."""
    prefix = contract_manifest_prefix(contract, manifest_prefix)
    files, streams = [], []
    for key in keys:
        if not key.startswith(prefix) or not key.endswith(".json"):
            continue
        rest = key[len(prefix) :]
        if rest.startswith(STREAM_FOLDER):
            batch = rest[len(STREAM_FOLDER) :]
            if "/" not in batch and not batch.startswith(DEAD_LETTER_PREFIX):
                streams.append(key)
        elif "/" not in rest and ".duplicate-" not in rest:
            files.append(key)
    return sorted(files), sorted(streams)


def first_record(manifest: Mapping[str, Any]) -> str | None:
    records = manifest.get("kinesis_records") or []
    return str(records[0]) if records else None


def committed_manifests(
    file_manifests: Mapping[str, Mapping[str, Any]],
    stream_manifests: Mapping[str, Mapping[str, Any]],
    commit_marks: Mapping[str, str],
) -> dict[str, Mapping[str, Any]]:
    """The manifests whose outputs are committed, by key.

    ``commit_marks`` maps a Kinesis record id to the manifest key its ``COMMITTED`` mark names."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for key, manifest in file_manifests.items():
        if manifest.get("status") == "ingested":
            chosen[key] = manifest
    for key, manifest in stream_manifests.items():
        if str(manifest.get("batch_id", "")).startswith(DEAD_LETTER_PREFIX):
            continue
        rid = first_record(manifest)
        if rid is not None and commit_marks.get(rid) == key:
            chosen[key] = manifest
    return dict(sorted(chosen.items()))


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
        raise SnapshotError(f"contract {contract!r} has no committed curated data to snapshot")
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
    """What the registry holds: everything but the file and manifest lists."""
    out = {k: snapshot.get(k) for k in SUMMARY_FIELDS}
    out["contract"] = snapshot["contract"]["name"]
    out["contract_version"] = snapshot["contract"]["version"]
    return out


def registry_item(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The registry item (DynamoDB attribute values) for ``snapshot``."""
    item: dict[str, Any] = {
        "pk": {"S": f"{REGISTRY_PK_PREFIX}{snapshot['contract']['name']}"},
        "sk": {"S": f"{snapshot['created_at']}#{snapshot['snapshot_id']}"},
    }
    for name, value in summary(snapshot).items():
        if value is None:
            continue
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
    return item


def from_registry_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in item.items():
        if name in ("pk", "sk"):
            continue
        out[name] = int(value["N"]) if "N" in value else value.get("S")
    for name in SUMMARY_FIELDS:
        out.setdefault(name, None)
    return out


def verify(snapshot: Mapping[str, Any]) -> None:
    """The file list must hash to the recorded content hash (a hand-edited or torn document)."""
    objects = [FrozenObject(**f) for f in snapshot.get("files", [])]
    if content_hash(objects) != snapshot.get("content_hash"):
        raise SnapshotError(f"snapshot {snapshot.get('snapshot_id')}: content hash mismatch")


# --- AWS ---------------------------------------------------------------------------------------


def _parallel[T, R](fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(IO_WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def get_json(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return dict(json.loads(s3.get_object(**kwargs)["Body"].read()))


def read_manifests(s3: Any, bucket: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    return dict(zip(keys, _parallel(lambda k: get_json(s3, bucket, k), keys), strict=True))


def read_commit_marks(dynamodb: Any, table: str, record_ids: Iterable[str]) -> dict[str, str]:
    """Kinesis record id -> the manifest key of its ``COMMITTED`` mark (absent: not committed)."""
    ids = list(dict.fromkeys(record_ids))
    marks: dict[str, str] = {}
    for start in range(0, len(ids), 100):
        keys = [
            {"pk": {"S": f"SEQ#{i}"}, "sk": {"S": COMMITTED_SK}} for i in ids[start : start + 100]
        ]
        request: dict[str, Any] = {
            table: {
                "Keys": keys,
                "ProjectionExpression": "pk, #m",
                "ExpressionAttributeNames": {"#m": "manifest"},
            }
        }
        while request:
            resp = dynamodb.batch_get_item(RequestItems=request)
            for item in resp["Responses"].get(table, []):
                marks[item["pk"]["S"][4:]] = item.get("manifest", {}).get("S", "")
            request = resp.get("UnprocessedKeys") or {}
    return marks


def freeze(s3: Any, bucket: str, keys: Sequence[str]) -> list[FrozenObject]:
    """HeadObject each key: the version that is current now is the one the snapshot means."""

    def head(key: str) -> FrozenObject:
        resp = s3.head_object(Bucket=bucket, Key=key)
        version = resp.get("VersionId")
        return FrozenObject(
            key=key,
            version_id=None if version in (None, "null") else str(version),
            etag=str(resp.get("ETag", "")).strip('"'),
            size=int(resp["ContentLength"]),
        )

    return _parallel(head, keys)


def collect(
    s3: Any, dynamodb: Any, bucket: str, table: str, contract: str,
    manifest_prefix: str = MANIFEST_PREFIX,
) -> dict[str, Mapping[str, Any]]:  # fmt: skip
    """The committed manifests of ``contract``, by key."""
    keys = list_keys(s3, bucket, contract_manifest_prefix(contract, manifest_prefix))
    file_keys, stream_keys = candidate_manifest_keys(keys, contract, manifest_prefix)
    files = read_manifests(s3, bucket, file_keys)
    streams = read_manifests(s3, bucket, stream_keys)
    firsts = [r for m in streams.values() if (r := first_record(m))]
    marks = read_commit_marks(dynamodb, table, firsts) if firsts else {}
    return committed_manifests(files, streams, marks)


def create_snapshot(
    s3: Any,
    dynamodb: Any,
    *,
    bucket: str,
    table: str,
    contract: str,
    contract_version: str,
    now: datetime | None = None,
    manifest_prefix: str = MANIFEST_PREFIX,
    snapshot_prefix: str = SNAPSHOT_PREFIX,
) -> dict[str, Any]:
    """Collect, freeze, write the document, then register it (a registered snapshot always has
    its document). The same data within the same second is the same snapshot, rewritten."""
    manifests = collect(s3, dynamodb, bucket, table, contract, manifest_prefix)
    objects = freeze(s3, bucket, curated_keys(manifests))
    snapshot = build_snapshot(
        contract=contract,
        contract_version=contract_version,
        manifests=manifests,
        objects=objects,
        bucket=bucket,
        now=now or datetime.now(UTC),
        snapshot_prefix=snapshot_prefix,
    )
    body = json.dumps(snapshot, indent=2, sort_keys=True).encode()
    put = s3.put_object(
        Bucket=bucket, Key=snapshot["key"], Body=body, ContentType="application/json"
    )
    snapshot["document_version_id"] = put.get("VersionId")
    dynamodb.put_item(TableName=table, Item=registry_item(snapshot))
    return snapshot


def load_snapshot(
    s3: Any, bucket: str, snapshot_id_or_key: str, snapshot_prefix: str = SNAPSHOT_PREFIX
) -> dict[str, Any]:
    """The snapshot document by id (``transactions-20250101T000000Z-0123456789ab``) or by key,
    checked against its content hash."""
    ref = snapshot_id_or_key
    key = ref if ref.endswith(".json") else snapshot_key(ref, snapshot_prefix)
    snapshot = get_json(s3, bucket, key)
    verify(snapshot)
    return snapshot


def latest_snapshot(dynamodb: Any, table: str, contract: str) -> dict[str, Any] | None:
    """The newest registered snapshot's summary (with ``key`` for load_snapshot), or None."""
    resp = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{REGISTRY_PK_PREFIX}{contract}"}},
        ScanIndexForward=False,
        Limit=1,
    )
    items = resp.get("Items") or []
    return from_registry_item(items[0]) if items else None


def read_table(
    s3: Any, bucket: str, snapshot: Mapping[str, Any], columns: list[str] | None = None
) -> Any:
    """The snapshot's rows as one pyarrow Table, each object read at its frozen version.

    Partition columns live in the keys only; their source column (the event time) is in the
    data, so nothing is lost."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(f: Mapping[str, Any]) -> Any:
        kwargs = {"Bucket": bucket, "Key": f["key"]}
        if f.get("version_id"):
            kwargs["VersionId"] = f["version_id"]
        body = s3.get_object(**kwargs)["Body"].read()
        return pq.read_table(io.BytesIO(body), columns=columns)

    tables = _parallel(read, list(snapshot["files"]))
    return pa.concat_tables(tables, promote_options="default")
