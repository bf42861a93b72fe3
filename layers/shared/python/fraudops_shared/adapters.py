"""AWS adapters of batch ingestion: S3 object store (Parquet through awswrangler) and the file
registry in DynamoDB. Small on purpose: every decision lives in ``batch_ingestion``; tests swap
these for moto-backed instances or fakes.

Registry items (pk / sk):
* ``FILE#<sha256>`` / ``CLAIM#<contract>``: ``status`` IN_PROGRESS|COMPLETED, ``owner`` (Lambda
  request id), ``source_id``, ``source`` (map), ``claimed_at`` (epoch s), ``manifest``;
* ``ACCOUNT#<contract>#s3`` / ``COUNTS``: counters, only changed with ADD in the same
  transaction that completes a claim.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
from botocore.exceptions import ClientError

from fraudops_shared.batch_ingestion import (
    SOURCE,
    Claim,
    ClaimLostError,
    Limits,
    SourceObject,
    Zones,
    partition_columns,
    write_partitioned,
)
from fraudops_shared.settings import required

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
DOWNLOAD_CHUNK_BYTES = 1 << 20
# Parquet as Athena and pyarrow read it back: real timestamps (not Spark's INT96), UTC kept.
PARQUET_KWARGS = {"flavor": None, "version": "2.6", "coerce_timestamps": "us"}


class S3ObjectStore:
    """Reads sources from any bucket; writes only into the data bucket."""

    def __init__(self, session: Any, data_bucket: str) -> None:
        self.session, self.bucket = session, data_bucket
        self.s3 = session.client("s3")

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
        source: dict[str, str] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            source["VersionId"] = obj.version_id
        self.s3.copy(source, self.bucket, dest_key)  # managed: multipart above 5 GB

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            objects = [{"Key": k} for k in keys[start : start + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoFileRegistry:
    """Claims of file contents and the s3 counters of each contract."""

    def __init__(self, client: Any, table: str, source: str = SOURCE) -> None:
        self.client, self.table, self.source = client, table, source

    @staticmethod
    def _key(sha256: str, contract: str) -> dict[str, Any]:
        return {"pk": _s(f"FILE#{sha256}"), "sk": _s(f"CLAIM#{contract}")}

    def claim(
        self, sha256: str, contract: str, source: SourceObject, owner: str, now: float, stale: float
    ) -> Claim:
        src = {k: _s(str(v)) for k, v in source.as_dict().items() if v is not None}
        try:
            resp = self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(sha256, contract),
                    "status": _s(IN_PROGRESS),
                    "owner": _s(owner),
                    "source_id": _s(source.source_id),
                    "source": {"M": src},
                    "claimed_at": {"N": str(int(now))},
                },
                # new, or unfinished and (ours: an async retry keeps its request id, or stale)
                ConditionExpression=(
                    "attribute_not_exists(pk) OR "
                    "(#s = :ip AND (#o = :owner OR claimed_at < :stale))"
                ),
                ExpressionAttributeNames={"#s": "status", "#o": "owner"},
                ExpressionAttributeValues={
                    ":ip": _s(IN_PROGRESS),
                    ":owner": _s(owner),
                    ":stale": {"N": str(int(now - stale))},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item: Any = err.response.get("Item")
            old: dict[str, Any] = item or self._get(sha256, contract)
            done = old.get("status", {}).get("S") == COMPLETED
            return Claim(
                "completed" if done else "busy",
                source_id=old.get("source_id", {}).get("S"),
                manifest_key=old.get("manifest", {}).get("S"),
                source={k: v["S"] for k, v in old.get("source", {}).get("M", {}).items()},
            )
        return Claim("claimed", taken_over=bool(resp.get("Attributes")))

    def _get(self, sha256: str, contract: str) -> dict[str, Any]:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(sha256, contract), ConsistentRead=True
        )
        return dict(resp.get("Item") or {})

    def complete(
        self, sha256: str, contract: str, owner: str, manifest_key: str, counts: dict[str, int]
    ) -> None:
        if not counts:
            raise ValueError("a completed claim must add at least one counter")
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":v{i}": {"N": str(v)} for i, v in enumerate(counts.values())}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(sha256, contract),
                            "UpdateExpression": "SET #s = :done, manifest = :m, counts = :c",
                            "ConditionExpression": "#s = :ip AND #o = :owner",
                            "ExpressionAttributeNames": {"#s": "status", "#o": "owner"},
                            "ExpressionAttributeValues": {
                                ":done": _s(COMPLETED),
                                ":ip": _s(IN_PROGRESS),
                                ":owner": _s(owner),
                                ":m": _s(manifest_key),
                                ":c": {"M": {k: {"N": str(v)} for k, v in counts.items()}},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {
                                "pk": _s(f"ACCOUNT#{contract}#{self.source}"),
                                "sk": _s("COUNTS"),
                            },
                            "UpdateExpression": "ADD "
                            + ", ".join(f"#c{i} :v{i}" for i in range(len(counts))),
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "TransactionCanceledException":
                raise ClaimLostError(
                    f"claim FILE#{sha256[:16]} of {contract} is no longer held by {owner}"
                ) from err
            raise

    def release(self, sha256: str, contract: str, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key(sha256, contract),
                ConditionExpression="#s = :ip AND #o = :owner",
                ExpressionAttributeNames={"#s": "status", "#o": "owner"},
                ExpressionAttributeValues={":ip": _s(IN_PROGRESS), ":owner": _s(owner)},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


# --- configuration from the environment the stack sets -------------------------------------------

DATA_BUCKET_ENV = "DATA_BUCKET"
PREFIX_ENVS = {
    "landing_prefix": "LANDING_PREFIX",
    "curated_prefix": "CURATED_PREFIX",
    "quarantine_prefix": "QUARANTINE_PREFIX",
    "manifest_prefix": "MANIFEST_PREFIX",
}
CSV_BLOCK_BYTES_ENV = "INGEST_CSV_BLOCK_BYTES"
CLAIM_STALE_SECONDS_ENV = "INGEST_CLAIM_STALE_SECONDS"


def zones_from_env(default_bucket: str | None = None) -> Zones:
    """DATA_BUCKET (else the bucket the event came from) and the zone prefixes."""
    bucket = os.environ.get(DATA_BUCKET_ENV, "").strip() or default_bucket
    if not bucket:
        bucket = required(DATA_BUCKET_ENV)
    defaults = Zones(data_bucket=bucket)
    prefixes = {
        attr: _slash(os.environ.get(env, "").strip() or getattr(defaults, attr))
        for attr, env in PREFIX_ENVS.items()
    }
    return Zones(data_bucket=bucket, **prefixes)


def limits_from_env(function_timeout_seconds: float | None = None) -> Limits:
    """A claim is stale once its holder cannot still be running: the function timeout (from
    the Lambda context; AWS sets no variable for it) plus a minute, unless configured."""
    defaults = Limits()
    stale = os.environ.get(CLAIM_STALE_SECONDS_ENV)
    if stale:
        stale_s = float(stale)
    elif function_timeout_seconds:
        stale_s = function_timeout_seconds + 60
    else:
        stale_s = defaults.claim_stale_after_seconds
    block = os.environ.get(CSV_BLOCK_BYTES_ENV)
    return Limits(
        csv_block_bytes=int(block) if block else defaults.csv_block_bytes,
        claim_stale_after_seconds=stale_s,
    )


def _slash(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


class StreamZoneWriter:
    """The stream's outputs at keys derived from the batch id (a retry overwrites), in the same
    curated schema as files, so one dataset holds both sources."""

    def __init__(self, store: S3ObjectStore, zones: Zones, contract: Any) -> None:
        self.store, self.zones, self.contract = store, zones, contract
        self.schema = contract.arrow_schema()
        for part in partition_columns(contract):
            if part not in self.schema.names:
                self.schema = self.schema.append(pa.field(part, pa.date32()))

    def write_curated(self, contract: str, batch_id: str, rows: list[dict[str, Any]]) -> list[str]:
        names = self.schema.names
        table = pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows], self.schema)
        return write_partitioned(self.store, self.zones, self.contract, table, f"stream-{batch_id}")

    def write_quarantine(self, contract: str, batch_id: str, rows: list[dict[str, Any]]) -> str:
        key = f"{self.zones.quarantine_prefix}{contract}/stream/{batch_id}.jsonl"
        body = "".join(json.dumps(r, default=str) + "\n" for r in rows).encode()
        self.store.put_bytes(key, body, "application/x-ndjson")
        return key

    def write_manifest(self, contract: str, batch_id: str, manifest: dict[str, Any]) -> str:
        key = f"{self.zones.manifest_prefix}{contract}/stream/{batch_id}.json"
        self.store.put_bytes(key, json.dumps(manifest, default=str).encode(), "application/json")
        return key
