"""The decisions zone read by decision time (fraudops_shared.aws.monitoring.ZoneDecisions)
against moto: the days the range covers, the rows inside it, and objects written before the
range skipped unread."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudops_shared.aws.monitoring import ZoneDecisions
from fraudops_shared.lake.zones import Zones

BUCKET = "fraudops-unit-lake"
ZONE = "curated/decisions/"


@pytest.fixture
def s3(table: Any) -> Iterator[Any]:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client


def put_decisions(s3: Any, day: str, name: str, decided: list[datetime]) -> None:
    n = len(decided)
    table = pa.table({
        "transaction_id": [f"{name}-{i}" for i in range(n)],
        "decided_at": pa.array(decided, pa.timestamp("us", tz="UTC")),
        "model_id": ["transactions-v1"] * n,
        "score": [0.1] * n,
        "features": ['{"log_amount": 3.0}'] * n,
        "reasons": ["[]"] * n,
    })  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    s3.put_object(Bucket=BUCKET, Key=f"{ZONE}decided_date={day}/{name}.parquet",
                  Body=buf.getvalue())  # fmt: skip


def test_rows_decided_in_the_range_are_read_across_the_days_it_covers(s3: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    today, yesterday = now.date(), (now - timedelta(days=1)).date()
    put_decisions(s3, yesterday.isoformat(), "late", [now - timedelta(days=1, minutes=1)])
    put_decisions(s3, today.isoformat(), "a", [now - timedelta(minutes=m) for m in (1, 2, 30)])
    put_decisions(s3, today.isoformat(), "b", [now - timedelta(seconds=5), now])
    zone = ZoneDecisions(s3, Zones(data_bucket=BUCKET))
    start = now - timedelta(minutes=5)
    # the objects were written just now: every one is read, only rows in [start, now) kept
    chunks = list(zone.between(start - timedelta(days=1, minutes=2), now))
    rows = sorted(t for c in chunks for t in c["decided_at"])
    assert len(rows) == 5  # everything but the row decided exactly at `now` (end excluded)
    chunks = list(zone.between(start, now))
    got = sorted(t for c in chunks for t in c["decided_at"])
    assert got == [now - timedelta(minutes=2), now - timedelta(minutes=1),
                   now - timedelta(seconds=5)]  # fmt: skip
    assert set(chunks[0]) == {"decided_at", "model_id", "score", "features", "reasons"}


def test_objects_last_written_before_the_range_are_not_read(s3: Any) -> None:
    now = datetime.now(UTC)
    put_decisions(s3, now.date().isoformat(), "old", [now - timedelta(seconds=1)])
    zone = ZoneDecisions(s3, Zones(data_bucket=BUCKET))
    # a range that starts after the object was written cannot hold its decisions: not read
    later = now + timedelta(minutes=10)
    assert list(zone.between(later, later + timedelta(minutes=1))) == []
