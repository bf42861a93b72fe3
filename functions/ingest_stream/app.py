"""Kinesis transactions: validate each record against its contract, curate the valid ones (one
Parquet micro-batch per invocation), quarantine the rest with reasons, keep each transaction
once, and commit the counters exactly once. Rules: fraudops_shared.stream_ingestion.

Partial batch responses: a record whose processing hits an AWS error is reported in
batchItemFailures (retried, bisected, then dead-lettered); bad data never fails a record.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import settings
from fraudops_shared.adapters import S3ObjectStore, StreamZoneWriter, zones_from_env
from fraudops_shared.contracts import Contract, load_contract
from fraudops_shared.ledger import DynamoClaims, DynamoLedger
from fraudops_shared.observability import emit_ingest_metrics, logger, metrics, tracer
from fraudops_shared.stream_ingestion import KinesisRecord, StreamBatch, Verdict
from fraudops_shared.validation import validate_records

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def contract() -> Contract:
    return load_contract(os.environ.get("STREAM_CONTRACT", "transactions"))


def to_domain(record: KinesisStreamRecord) -> KinesisRecord:
    return KinesisRecord(
        shard_id=record.event_id.split(":", 1)[0],
        sequence_number=record.kinesis.sequence_number,
        partition_key=record.kinesis.partition_key,
        data=record.kinesis.data_as_bytes(),
    )


def stream_batch(records: list[KinesisRecord], now: datetime) -> StreamBatch:
    session, spec = _session(), contract()
    zones = zones_from_env()
    dynamodb = session.client("dynamodb")

    def validate(decoded: list[Any]) -> list[Verdict]:
        return [(r.valid_row, r.rules, r.reasons) for r in validate_records(spec, decoded, now=now)]

    return StreamBatch(
        records,
        contract_name=spec.name,
        contract_version=spec.version,
        unique_key=spec.unique_key,
        validate=validate,
        claims=DynamoClaims(dynamodb, settings.table_name()),
        ledger=DynamoLedger(dynamodb, settings.table_name(), "kinesis"),
        zones=StreamZoneWriter(S3ObjectStore(session, zones.data_bucket), zones, spec),
        now=now,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    batch = stream_batch([to_domain(KinesisStreamRecord(r)) for r in event["Records"]], now)

    def record_handler(record: KinesisStreamRecord) -> None:
        batch.add(to_domain(record))

    with processor(event["Records"], record_handler, lambda_context=context):
        processor.process()
    outcome = batch.commit()  # raises on an AWS error: the whole batch is retried
    times = [r["event_time"] for r in outcome.curated if r.get("event_time")]
    emit_ingest_metrics(
        batch.contract_name,
        rows_in=outcome.records_in,
        valid=len(outcome.curated),
        rejected=len(outcome.rejected),
        rule_counts=outcome.rule_counts(),
        max_event_time=max(times) if times else None,
        now=now,
        extra={"ReplaysSkipped": outcome.skipped_committed},
    )
    metrics.add_metric(name="KinesisRecords", unit=MetricUnit.Count, value=len(event["Records"]))
    logger.info(
        "stream batch",
        extra={
            "in": outcome.records_in,
            "curated": len(outcome.curated),
            "quarantined": len(outcome.rejected),
            "skipped": outcome.skipped_committed,
            "rules": outcome.rule_counts(),
        },
    )
    return processor.response()
