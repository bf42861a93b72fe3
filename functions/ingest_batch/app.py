"""S3 ObjectCreated under landing/: record each object's arrival once in the registry table.

Seed of the batch-ingestion function; validation and curation come later.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import aws, ingestion, settings
from fraudops_shared.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    arrivals = [
        ingestion.arrival_from_s3(
            bucket=record.s3.bucket.name,
            raw_key=record.s3.get_object.key,
            size=record.s3.get_object.size,
            etag=record.s3.get_object.etag,
            version_id=record.s3.get_object.version_id,
            event_time=record.event_time,
            landing_prefix=settings.landing_prefix(),
        )
        for record in event.records
    ]
    counts = ingestion.record_arrivals(
        aws.dynamodb_table(settings.table_name()), arrivals, settings.record_ttl_days()
    )
    metrics.add_metric(name="ObjectsRecorded", unit=MetricUnit.Count, value=counts["recorded"])
    metrics.add_metric(name="DuplicateObjects", unit=MetricUnit.Count, value=counts["duplicates"])
    logger.info("arrivals recorded", extra={"keys": [a.key for a in arrivals], **counts})
    return counts
