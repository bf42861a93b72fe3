"""Kinesis transactions: validate each record against its contract, curate the valid ones (one
Parquet micro-batch per invocation), quarantine the rest with reasons, keep each transaction
once, and commit the counters exactly once. Rules: fraudops_shared.stream_ingestion. Curated
transactions are also forwarded to the scoring feed (fraudops_shared.scoring_feed), at least once.

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
from fraudops_shared import scoring_feed, settings
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


@cache
def _kinesis() -> Any:
    return _session().client("kinesis")


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


def forward(rows: list[dict[str, Any]], now: datetime) -> int:
    """Put the curated rows on the scoring feed; raises if some cannot be put (batch retried)."""
    stream = os.environ.get(scoring_feed.STREAM_ENV, "").strip()
    if not stream:
        # Explicitly not forwarding (e.g. tests of other behaviour): said loudly, not silently.
        logger.warning(f"{scoring_feed.STREAM_ENV} is not set: curated rows are not forwarded")
        return 0
    if not rows:
        return 0
    return scoring_feed.publish(_kinesis(), stream, rows, contract=contract(), now=now)


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
    # Publish to the scoring feed BEFORE the commit. After a commit, a redelivery curates nothing
    # (its records are marked done), so a crash or timeout between a commit and a later publish
    # would lose the feed copy of those rows for good. Published first, a failure anywhere after
    # it retries the batch and publishes the rows again: at least once, never lost; the consumer
    # dedupes by transaction_id. Only rows curated in THIS invocation are published: rows of an
    # already committed batch are skipped by the batch and are not re-published.
    forwarded = forward(batch.outcome.curated, now)
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
        extra={"ReplaysSkipped": outcome.skipped_committed, "RecordsForwarded": forwarded},
    )
    metrics.add_metric(name="KinesisRecords", unit=MetricUnit.Count, value=len(event["Records"]))
    logger.info(
        "stream batch",
        extra={
            "in": outcome.records_in,
            "curated": len(outcome.curated),
            "quarantined": len(outcome.rejected),
            "skipped": outcome.skipped_committed,
            "forwarded": forwarded,
            "rules": outcome.rule_counts(),
        },
    )
    return processor.response()
