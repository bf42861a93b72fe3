"""What the end-to-end tests read the deployed stack's accounting through: the counters per
contract and source (``in = curated + quarantined + dead_lettered [+ expired_unrecoverable]``),
their deltas, and the curated zone as any reader of the prefix (Athena, Glue) would see it."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fraudops import deploy, generator
from fraudops.clients import poll
from fraudops.paths import Layout

CONTRACT = "transactions"
TERMS = ("in_records", "curated", "quarantined", "dead_lettered", "expired_unrecoverable")


def accounts(layout: Layout, outputs: dict[str, str], source: str) -> dict[str, int]:
    counts = deploy.ingestion_accounts(layout, outputs["StateTableName"])
    return dict(counts.get(CONTRACT, {}).get(source, {}))


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in TERMS}


def balanced(d: dict[str, int]) -> bool:
    """The accounting equation on a delta: every record that came in is in exactly one place."""
    return d["in_records"] == sum(d[k] for k in TERMS[1:])


def transactions(n: int, seed: int) -> pa.Table:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    return generator.generate_transactions(n, seed=seed, start=start, days=2)


def as_json(row: dict[str, Any]) -> bytes:
    return json.dumps(row, default=lambda v: v.isoformat()).encode()


def put_stream(
    aws: Any, outputs: dict[str, str], records: Sequence[bytes], key: str = "card"
) -> None:
    aws("kinesis").put_records(
        StreamName=outputs["TransactionStreamName"],
        Records=[{"Data": r, "PartitionKey": key} for r in records],
    )


def wait_stream(
    layout: Layout, outputs: dict[str, str], before: dict[str, int], n: int, timeout: float = 120
) -> dict[str, int]:
    """The delta once ``n`` more records were counted in (bounded polling)."""

    def counted() -> dict[str, int] | None:
        d = delta(accounts(layout, outputs, "kinesis"), before)
        return d if d["in_records"] >= n else None

    found = poll(counted, timeout=timeout, what=f"{n} stream records accounted")
    assert found is not None
    return found


def curated_zone(aws: Any, bucket: str) -> pa.Table:
    """Every Parquet object under ``curated/<contract>/``: what a reader of the prefix reads."""
    s3 = aws("s3")
    tables = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"curated/{CONTRACT}/"
    ):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            tables.append(pq.read_table(io.BytesIO(body)).select(["transaction_id"]))
    empty = pa.table({"transaction_id": pa.array([], pa.string())})
    return pa.concat_tables(tables) if tables else empty


def quarantined(aws: Any, bucket: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    s3 = aws("s3")
    return [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    ]
