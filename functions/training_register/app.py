"""Training step 4, and the Catch's recorder: register the chosen model (promoting it when the
gate passed), or record why the run failed. One function: both write the same registry items.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import aws, settings, training_registration
from fraudops_shared.observability import logger, tracer

ACTIONS = ("register", "record_failure")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event.get("action", "register")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    s3, ddb = aws.client("s3"), aws.client("dynamodb")
    table = settings.table_name()
    if action == "record_failure":
        result = training_registration.record_failure(event, ddb=ddb, table=table)
        logger.warning("training run failed", extra=result)
        return result
    result = training_registration.register(
        event, s3=s3, ddb=ddb, bucket=settings.data_bucket(), table=table
    )
    logger.info("model registered", extra=result)
    return result
