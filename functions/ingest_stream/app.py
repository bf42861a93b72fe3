"""Kinesis transactions: each record must be JSON with a transaction_id; valid ones are written
once to the registry table, invalid ones are reported in batchItemFailures (and, after bisection
and retries, land in the on-failure queue). Later this stream also feeds real-time scoring."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import aws, ingestion, settings
from fraudops_shared.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


@tracer.capture_method
def record_handler(record: KinesisStreamRecord) -> bool:
    transaction = ingestion.parse_transaction(
        record.kinesis.data_as_bytes(),
        sequence_number=record.kinesis.sequence_number,
        partition_key=record.kinesis.partition_key,
    )
    written = ingestion.record_transaction(
        aws.dynamodb_table(settings.table_name()), transaction, settings.record_ttl_days()
    )
    metrics.add_metric(
        name="TransactionsRecorded" if written else "DuplicateTransactions",
        unit=MetricUnit.Count,
        value=1,
    )
    return written


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
