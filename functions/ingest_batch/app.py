"""S3 ObjectCreated under landing/<contract>/: each file validated against its data contract,
valid rows to curated/ (Parquet), rejected rows to quarantine/, a manifest to manifests/, and the
contract's counters added once. The rules are ``fraudops_shared.ingestion.batch``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.ingestion.batch import BatchIngestor
from fraudops_shared.lake.store import SourceObject
from fraudops_shared.lake.zones import zones_from_env
from fraudops_shared.runtime.observability import emit_file_metrics, logger, metrics, tracer
from fraudops_shared.runtime.settings import limits_from_env


def ingestor(bucket: str, timeout_seconds: float | None) -> BatchIngestor:
    zones = zones_from_env(default_bucket=bucket)
    return BatchIngestor(
        store=wiring.object_store(zones.data_bucket),
        claims=wiring.file_claims(),
        zones=zones,
        limits=limits_from_env(timeout_seconds),
    )


def source(record: Any) -> SourceObject:
    obj = record.s3.get_object
    return SourceObject(
        bucket=record.s3.bucket.name,
        key=unquote_plus(obj.key),  # keys arrive URL-encoded
        version_id=obj.version_id,
        size=obj.size,
        etag=(obj.etag or "").strip('"') or None,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    timeout_s = context.get_remaining_time_in_millis() / 1000
    files = []
    for record in event.records:
        obj, now = source(record), datetime.now(UTC)
        result = ingestor(obj.bucket, timeout_s).ingest(obj, owner=context.aws_request_id, now=now)
        emit_file_metrics(result, now)
        summary = {"key": obj.key, **result.summary()}
        logger.info("file ingested", extra=summary)
        files.append(summary)
    metrics.add_metric(name="FilesProcessed", unit=MetricUnit.Count, value=len(files))
    return {"files": files}
