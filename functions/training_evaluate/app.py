"""Training step 3: score the ONNX exports on the holdout (onnxruntime, no scikit-learn), check
parity, choose the threshold by cost, compare with the champion, apply the gate.

ONNX layer (onnxruntime, numpy): the same runtime the scoring function serves with.
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
    result = training_pipeline.evaluate(
        event, s3=s3, ddb=ddb, bucket=settings.data_bucket(), table=settings.table_name()
    )
    logger.info("candidates evaluated", extra={"chosen": result["chosen"], "gate": result["gate"]})
    return result
