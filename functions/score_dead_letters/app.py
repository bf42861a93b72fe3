"""The scoring feed's on-failure queue: a given-up batch is read back from its shard, kept under
parked/<contract>/dead/ and counted as dead-lettered (its expired records as
expired_unrecoverable) (``fraudops_shared.scoring.dead_letters``). A message that cannot be
handled stays in its queue (batchItemFailures) and is alarmed."""

from __future__ import annotations

import json
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
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import logger, metrics, tracer
from fraudops_shared.scoring.dead_letters import account_scoring_dead_letters

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> Any:
    summary = account_scoring_dead_letters(
        json.loads(record.body), contract=settings.stream_contract(),
        reader=wiring.shard_reader(), log=wiring.scoring_log(), parked=wiring.parked_store(),
        decisions=wiring.decision_store(),
    )  # fmt: skip
    metrics.add_metric(name="RecordsDecidedLate", unit="Count", value=summary["decided"])
    metrics.add_metric(name="RecordsDeadLettered", unit="Count", value=summary["dead_lettered"])
    metrics.add_metric(name="RecordsExpired", unit="Count", value=summary["expired_unrecoverable"])
    logger.info("scoring dead letters accounted", extra=summary)
    return summary


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
