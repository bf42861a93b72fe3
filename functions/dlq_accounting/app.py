"""The stream's on-failure queue: read the given-up records back from the shard, keep them in
quarantine with the failure reason, and count them as dead-lettered (fraudops_shared.dead_letters).
A message that cannot be handled is reported in batchItemFailures and stays in the queue."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import settings
from fraudops_shared.adapters import S3ObjectStore, StreamZoneWriter, zones_from_env
from fraudops_shared.contracts import load_contract
from fraudops_shared.dead_letters import account_dead_letters
from fraudops_shared.kinesis_reader import BotoShardReader
from fraudops_shared.ledger import DynamoLedger
from fraudops_shared.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    session = _session()
    spec = load_contract(os.environ.get("STREAM_CONTRACT", "transactions"))
    zones = zones_from_env()
    summary = account_dead_letters(
        json.loads(record.body),
        contract_name=spec.name,
        reader=BotoShardReader(session.client("kinesis")),
        ledger=DynamoLedger(session.client("dynamodb"), settings.table_name(), "kinesis"),
        zones=StreamZoneWriter(S3ObjectStore(session, zones.data_bucket), zones, spec),
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
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
