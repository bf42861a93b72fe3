"""Kinesis records against their stream's contract (``settings.contract_of_stream``): valid ones
curated once (the transaction stream's sent on to scoring), the others quarantined, the shard's
checkpoint committed with the counters (``ingestion.stream``). Bad data fails no record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.contracts import load_contract
from fraudops_shared.ingestion.dedupe import ttl_seconds
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.ingestion.scoring_feed import Feed
from fraudops_shared.ingestion.stream import StreamIngestion
from fraudops_shared.lake.zones import zones_from_env
from fraudops_shared.runtime import observability, settings
from fraudops_shared.runtime.observability import emit_stream_metrics, logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


def ingestion(stream_arn: str, now: datetime) -> StreamIngestion:
    contract, zones, feed = settings.contract_of_stream_arn(stream_arn), zones_from_env(), None
    spec, scored = load_contract(contract), contract == settings.stream_contract()
    if scored and (stream := settings.scoring_feed()):  # only transactions are scored
        feed = Feed(wiring.record_sink(stream), spec)
    elif scored:  # explicitly not forwarding: said loudly, not silently
        logger.warning(f"{settings.SCORING_FEED_ENV} is not set: curated rows are not forwarded")
    return StreamIngestion(
        spec,
        stream=settings.stream_name_of(stream_arn),
        store=wiring.object_store(zones.data_bucket),
        zones=zones,
        log=wiring.commit_log(),
        index_store=wiring.key_index(),
        feed=feed,
        now=now,
        index_ttl_seconds=ttl_seconds(spec),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
@observability.stream_consumer(settings.FN_INGEST_STREAM)  # how far behind; fault injection
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    now, records = datetime.now(UTC), event["Records"]
    batch = ingestion(records[0]["eventSourceARN"] if records else "stream/none", now)
    add = lambda record: batch.add(KinesisRecord.from_lambda_event(record.raw_event))  # noqa: E731
    with processor(records, add, lambda_context=context):
        processor.process()
    result = batch.finish()  # publish, then commit
    emit_stream_metrics(batch.contract.name, result, kinesis_records=len(records), now=now)
    logger.info("stream batch", extra=result.summary())
    return processor.response()
