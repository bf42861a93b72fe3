"""Training step 1: resolve the snapshot and config, build the time-split dataset in S3.

Data layer (pyarrow reads the snapshot's Parquet). A snapshot unfit for training raises
TrainingDataError, whose message the state machine's Catch records as the run's reason.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import logger, tracer
from fraudops_shared.training import steps
from fraudops_shared.training.documents import PrepareEvent, Run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: PrepareEvent, context: LambdaContext) -> Run:
    bucket = wiring.data_bucket()
    run = steps.prepare(
        event,
        blobs=bucket,
        files=bucket,
        catalog=wiring.snapshot_catalog(),
        code_version=settings.code_version(),
    )
    logger.info("dataset prepared", extra={"snapshot": run["snapshot"], **run["dataset"]["stats"]})
    return run
