"""The on-failure queues of ingestion: a given-up stream batch is read back from its shard, kept
and counted as dead-lettered under its stream's contract (expired ones: expired_unrecoverable); a
file the batch function gave up on is kept whole and counted (``ingestion.dead_letters``). A
message that cannot be handled is reported in batchItemFailures and stays in its queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.contracts import load_contract
from fraudops_shared.ingestion import dead_files, dead_letters
from fraudops_shared.ingestion.dedupe import ttl_seconds
from fraudops_shared.lake.zones import zones_from_env
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> Any:
    message, zones, now = json.loads(record.body), zones_from_env(), datetime.now(UTC)
    store, log = wiring.object_store(zones.data_bucket), wiring.commit_log()
    if dead_files.is_file_failure(message):
        files = dead_files.account_dead_files(
            message, claims=wiring.file_claims(), log=log, store=store, zones=zones,
            owner=record.message_id, now=now, limits=settings.limits_from_env(),
        )  # fmt: skip
        logger.info("dead files accounted", extra={"files": files})
        return files
    spec = load_contract(settings.contract_of_stream_arn(message["KinesisBatchInfo"]["streamArn"]))
    summary = dead_letters.account_dead_letters(
        message, contract=spec, reader=wiring.shard_reader(), log=log, store=store, zones=zones,
        now=now, index_ttl_seconds=ttl_seconds(spec),
    )  # fmt: skip
    metrics.add_metric(name="RecordsDeadLettered", unit="Count", value=summary["dead_lettered"])
    metrics.add_metric(name="RecordsExpired", unit="Count", value=summary["expired_unrecoverable"])
    logger.info("dead letters accounted", extra=summary)
    return summary


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
