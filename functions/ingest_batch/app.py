"""S3 ObjectCreated under landing/<contract>/: each file validated against its data contract and
the dedupe index, valid rows staged then promoted to curated/ (Parquet) at the commit, rejected
rows to quarantine/, a manifest, the counters added once (``fraudops_shared.ingestion.batch``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.ingestion.batch import BatchIngestor
from fraudops_shared.lake.store import SourceObject
from fraudops_shared.lake.zones import zones_from_env
from fraudops_shared.runtime.faults import inject
from fraudops_shared.runtime.observability import emit_file_metrics, logger, metrics, tracer
from fraudops_shared.runtime.settings import FN_INGEST_BATCH, limits_from_env


def ingestor(bucket: str, timeout_seconds: float | None) -> BatchIngestor:
    zones = zones_from_env(default_bucket=bucket)
    return BatchIngestor(
        store=wiring.object_store(zones.data_bucket),
        claims=wiring.file_claims(),
        log=wiring.commit_log(),
        index_store=wiring.key_index(),
        zones=zones,
        limits=limits_from_env(timeout_seconds),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    inject(FN_INGEST_BATCH)  # off unless the deployment asks (runtime.faults)
    timeout_s = context.get_remaining_time_in_millis() / 1000
    files = []
    for record in event.get("Records", []):
        obj, now = SourceObject.from_s3_event(record), datetime.now(UTC)
        result = ingestor(obj.bucket, timeout_s).ingest(obj, owner=context.aws_request_id, now=now)
        emit_file_metrics(result, now)
        summary = {"key": obj.key, **result.summary()}
        logger.info("file ingested", extra=summary)
        files.append(summary)
    metrics.add_metric(name="FilesProcessed", unit=MetricUnit.Count, value=len(files))
    return {"files": files}
