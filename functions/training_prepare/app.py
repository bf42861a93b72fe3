"""Training step 1: resolve the snapshot and config, build the time-split dataset in S3.

Data layer (pyarrow reads the snapshot's Parquet). A snapshot unfit for training raises
TrainingDataError, whose message the state machine's Catch records as the run's reason.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import aws, settings, training_pipeline
from fraudops_shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    s3, ddb = aws.client("s3"), aws.client("dynamodb")
    run = training_pipeline.prepare(
        event,
        s3=s3,
        ddb=ddb,
        bucket=settings.data_bucket(),
        table=settings.table_name(),
        code_version=settings.code_version(),
    )
    logger.info("dataset prepared", extra={"snapshot": run["snapshot"], **run["dataset"]["stats"]})
    return run
