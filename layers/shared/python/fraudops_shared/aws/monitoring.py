"""Monitoring's AWS adapters: the decisions zone read by decision time (S3 + Parquet) and the
registry's champion records (read only)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudops_shared.aws.s3 import S3Bucket
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.zones import Zones
from fraudops_shared.monitoring.drift_watch import COLUMNS
from fraudops_shared.monitoring.labels import LABEL_COLUMNS
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.runtime.settings import DECISIONS_CONTRACT, LABELS_CONTRACT
from fraudops_shared.training.artifacts import Artifacts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DECISION_DATE = "decided_date"  # the decisions contract's partition column
LABEL_DATE = "label_date"  # the labels contract's partition column


def _partition_objects(
    s3: S3Client, bucket: str, prefix: str, since: datetime | None = None
) -> list[str]:
    """The Parquet objects under one partition's prefix (last written at or after ``since``)."""
    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**kwargs)
        keys += [
            o["Key"]
            for o in page.get("Contents", [])
            if o["Key"].endswith(".parquet") and (since is None or o["LastModified"] >= since)
        ]
        if not page.get("IsTruncated"):
            return sorted(keys)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


class ZoneDecisions:
    """Decisions of the curated decisions zone decided in a time range.

    Objects land in the curated zone only after their commit, so everything listed is
    committed, exactly once. An object last written before the range starts holds no decision
    made in it (a decision is written after it is made), so it is skipped unread: a watch over
    the last minutes reads the last minutes' micro-batches, not the whole day."""

    def __init__(self, client: S3Client, zones: Zones) -> None:
        self.s3, self.zones = client, zones

    def between(
        self, start: datetime, end: datetime, columns: Sequence[str] = COLUMNS
    ) -> Iterator[Mapping[str, Sequence[Any]]]:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        day, last = start.date(), end.date()
        while day <= last:
            prefix = (
                f"{self.zones.curated_prefix}{DECISIONS_CONTRACT}/"
                f"{DECISION_DATE}={lake_keys.partition_value(day)}/"
            )
            for key in _partition_objects(self.s3, self.zones.data_bucket, prefix, start):
                body = self.s3.get_object(Bucket=self.zones.data_bucket, Key=key)["Body"].read()
                wanted = list(dict.fromkeys([*columns, "decided_at"]))
                table = pq.read_table(io.BytesIO(body), columns=wanted)
                yield _in_range(table, start, end).select(list(columns)).to_pydict()
            day += timedelta(days=1)


class ZoneLabels:
    """Label events of the curated labels zone, by label date (every object of the days from
    ``start`` to today: labels are old by nature, their objects' write times say nothing)."""

    def __init__(self, client: S3Client, zones: Zones) -> None:
        self.s3, self.zones = client, zones

    def since(self, start: datetime) -> Iterator[Mapping[str, Sequence[Any]]]:
        day, last = start.astimezone(UTC).date(), datetime.now(UTC).date()
        while day <= last:
            prefix = (
                f"{self.zones.curated_prefix}{LABELS_CONTRACT}/"
                f"{LABEL_DATE}={lake_keys.partition_value(day)}/"
            )
            for key in _partition_objects(self.s3, self.zones.data_bucket, prefix):
                body = self.s3.get_object(Bucket=self.zones.data_bucket, Key=key)["Body"].read()
                yield pq.read_table(io.BytesIO(body), columns=list(LABEL_COLUMNS)).to_pydict()
            day += timedelta(days=1)


def _in_range(table: pa.Table, start: datetime, end: datetime) -> pa.Table:
    at = table.column("decided_at")
    unit = at.type.unit if pa.types.is_timestamp(at.type) else "us"
    lo = pa.scalar(start, type=pa.timestamp(unit, tz="UTC"))
    hi = pa.scalar(end, type=pa.timestamp(unit, tz="UTC"))
    at = at.cast(pa.timestamp(unit, tz="UTC"))
    return table.filter(pc.and_(pc.greater_equal(at, lo), pc.less(at, hi)))


class RegistryChampions:
    """The champion pointer and version records, and artifacts read at their exact version and
    checked against their SHA-256 (``monitoring.drift_watch.ChampionRecords``)."""

    def __init__(self, registry: ModelRegistry, s3: S3Client) -> None:
        self.registry, self.s3 = registry, s3

    def artifact(self, ref: Mapping[str, Any]) -> bytes:
        return Artifacts(S3Bucket(self.s3, str(ref.get("bucket") or ""))).get(ref)

    def pointer(self, contract: str) -> Mapping[str, Any] | None:
        return self.registry.champion_pointer(contract)

    def version(self, contract: str, version: int) -> Mapping[str, Any] | None:
        return self.registry.get_version(contract, version)
