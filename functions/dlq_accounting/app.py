"""The stream's on-failure queue: the given-up records read back from the shard, kept in
quarantine with the failure reason, and counted as dead-lettered
(``fraudops_shared.ingestion.dead_letters``). A message that cannot be handled is reported in
batchItemFailures and stays in the queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
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
from fraudops_shared.ingestion.dead_letters import account_dead_letters
from fraudops_shared.lake.writer import ZoneWriter
from fraudops_shared.lake.zones import zones_from_env
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    spec, zones = load_contract(settings.stream_contract()), zones_from_env()
    summary = account_dead_letters(
        json.loads(record.body),
        contract_name=spec.name,
        reader=wiring.shard_reader(),
        ledger=wiring.stream_ledger(),
        zones=ZoneWriter(wiring.object_store(zones.data_bucket), zones, spec),
        now=datetime.now(UTC),
    )
    metrics.add_metric(
        name="RecordsDeadLettered", unit=MetricUnit.Count, value=summary["dead_lettered"]
    )
    logger.info("dead letters accounted", extra=summary)
    return summary


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
