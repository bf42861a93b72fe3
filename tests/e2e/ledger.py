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
from fraudops_shared.runtime.settings import SOURCE_KINESIS
from fraudops_shared.runtime.settings import balanced as accounting_balanced

CONTRACT = "transactions"
TERMS = ("in_records", "curated", "quarantined", "dead_lettered", "expired_unrecoverable")


def accounts(
    layout: Layout, outputs: dict[str, str], source: str, contract: str = CONTRACT
) -> dict[str, int]:
    counts = deploy.ingestion_accounts(layout, outputs["StateTableName"])
    return dict(counts.get(contract, {}).get(source, {}))


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in TERMS}


def balanced(d: dict[str, int], source: str = SOURCE_KINESIS) -> bool:
    """The accounting equation on a delta: every record that came in is in exactly one place
    (ingestion's outcomes for either ingestion source, scoring's for ``SOURCE_SCORING``)."""
    return accounting_balanced(source, d)


def transactions(n: int, seed: int) -> pa.Table:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    return generator.generate_transactions(n, seed=seed, start=start, days=2)


def as_json(row: dict[str, Any]) -> bytes:
    return json.dumps(row, default=lambda v: v.isoformat()).encode()


def put_stream(
    aws: Any,
    outputs: dict[str, str],
    records: Sequence[bytes],
    key: str = "card",
    stream_output: str = "TransactionStreamName",
) -> None:
    """Put the records on the stream the output ``stream_output`` names (one PutRecords)."""
    aws("kinesis").put_records(
        StreamName=outputs[stream_output],
        Records=[{"Data": r, "PartitionKey": key} for r in records],
    )


def wait_stream(
    layout: Layout,
    outputs: dict[str, str],
    before: dict[str, int],
    n: int,
    timeout: float = 120,
    contract: str = CONTRACT,
) -> dict[str, int]:
    """The delta of ``ACCOUNT#<contract>#kinesis`` once ``n`` more records were counted in
    (bounded polling)."""

    def counted() -> dict[str, int] | None:
        d = delta(accounts(layout, outputs, "kinesis", contract), before)
        return d if d["in_records"] >= n else None

    found = poll(counted, timeout=timeout, what=f"{n} {contract} stream records accounted")
    assert found is not None
    return found


def curated_zone(aws: Any, bucket: str, contract: str = CONTRACT) -> pa.Table:
    """The keys (``transaction_id``) of every Parquet object under ``curated/<contract>/``: what
    a reader of the prefix reads."""
    s3 = aws("s3")
    tables = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"curated/{contract}/"
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
