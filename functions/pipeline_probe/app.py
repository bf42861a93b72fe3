"""Invoked by the pipeline-probe state machine: returns a summary the Choice state branches on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import aws, probe, settings
from fraudops_shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = probe.run_probe(aws.dynamodb_table(settings.table_name()), event)
    logger.info("probe finished", extra=summary)
    return summary
