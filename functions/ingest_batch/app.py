"""S3 ObjectCreated under landing/<contract>/: validate the file against its data contract, write
valid rows to curated/ (Parquet), rejected rows to quarantine/, a manifest to manifests/, and add
the contract's counters once. All rules live in fraudops_shared.batch_ingestion; this wires AWS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import settings
from fraudops_shared.adapters import (
    DynamoFileRegistry,
    S3ObjectStore,
    limits_from_env,
    zones_from_env,
)
from fraudops_shared.batch_ingestion import BatchIngestor, IngestResult, SourceObject
from fraudops_shared.observability import emit_ingest_metrics, logger, metrics, tracer


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def ingestor(bucket: str, timeout_seconds: float | None) -> BatchIngestor:
    """Adapters are cheap; clients are reused through the cached session's warm connections."""
    session = _session()
    zones = zones_from_env(default_bucket=bucket)
    return BatchIngestor(
        store=S3ObjectStore(session, zones.data_bucket),
        registry=DynamoFileRegistry(session.client("dynamodb"), settings.table_name()),
        zones=zones,
        limits=limits_from_env(timeout_seconds),
    )


def emit_metrics(result: IngestResult, now: datetime) -> None:
    emit_ingest_metrics(
        result.contract,
        rows_in=result.rows_in,
        valid=result.valid,
        rejected=result.rejected,
        rule_counts=result.rule_counts,
        max_event_time=result.max_event_time,
        now=now,
        extra={f"Files_{result.status}": 1},
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    timeout_s = remaining() / 1000 if remaining else None
    files = []
    for record in event.records:
        obj = SourceObject(
            bucket=record.s3.bucket.name,
            key=unquote_plus(record.s3.get_object.key),  # keys arrive URL-encoded
            version_id=record.s3.get_object.version_id,
            size=record.s3.get_object.size,
            etag=(record.s3.get_object.etag or "").strip('"') or None,
        )
        now = datetime.now(UTC)
        result = ingestor(obj.bucket, timeout_s).ingest(obj, owner=context.aws_request_id, now=now)
        emit_metrics(result, now)
        summary = {
            "key": obj.key,
            "contract": result.contract,
            "status": result.status,
            "sha256": result.sha256,
            "manifest": result.manifest_key,
            "rows_in": result.rows_in,
            "valid": result.valid,
            "rejected": result.rejected,
            "rule_counts": result.rule_counts,
        }
        logger.info("file ingested", extra=summary)
        files.append(summary)
    metrics.add_metric(name="FilesProcessed", unit=MetricUnit.Count, value=len(files))
    return {"files": files}
