"""Kinesis transactions against their contract: valid ones curated and forwarded to the scoring
feed, the others quarantined with reasons, each transaction kept once, counters committed once
(``fraudops_shared.ingestion.stream``). Bad data never fails a record; AWS errors do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.contracts import load_contract
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.ingestion.scoring_feed import Feed
from fraudops_shared.ingestion.stream import StreamBatch
from fraudops_shared.lake.writer import ZoneWriter
from fraudops_shared.lake.zones import zones_from_env
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import emit_stream_metrics, logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


def stream_batch(records: list[KinesisRecord], now: datetime) -> StreamBatch:
    spec, zones, feed = load_contract(settings.stream_contract()), zones_from_env(), None
    if stream := settings.scoring_feed():
        feed = Feed(wiring.record_sink(stream), spec)
    else:  # explicitly not forwarding: said loudly, not silently
        logger.warning(f"{settings.SCORING_FEED_ENV} is not set: curated rows are not forwarded")
    return StreamBatch.for_contract(
        records,
        spec,
        claims=wiring.transaction_claims(),
        ledger=wiring.stream_ledger(),
        zones=ZoneWriter(wiring.object_store(zones.data_bucket), zones, spec),
        now=now,
        feed=feed,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = [KinesisRecord.from_lambda_event(r) for r in event["Records"]]
    batch = stream_batch(records, now=datetime.now(UTC))

    def add(record: KinesisStreamRecord) -> None:
        batch.add(KinesisRecord.from_lambda_event(record.raw_event))

    with processor(event["Records"], add, lambda_context=context):
        processor.process()
    batch.finish()  # publish, then commit; raises on an AWS error: the whole batch is retried
    emit_stream_metrics(batch, kinesis_records=len(event["Records"]))
    logger.info("stream batch", extra=batch.summary())
    return processor.response()
