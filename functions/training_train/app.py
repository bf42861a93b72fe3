"""Training step 2 (one Map iteration per candidate): fit with scikit-learn, export to ONNX.

ML layer (scikit-learn, skl2onnx). Returns S3 references (ONNX model, scikit-learn's holdout
probabilities for the parity check), never arrays.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from fraudops_shared import aws, settings, training_pipeline
from fraudops_shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trained = training_pipeline.train(event, s3=aws.client("s3"), bucket=settings.data_bucket())
    logger.info(
        "candidate trained",
        extra={  # `name` is a LogRecord attribute: it cannot be an extra key
            "candidate": trained["name"],
            **{k: trained[k] for k in ("kind", "fit_seconds", "iterations")},
        },
    )
    return trained
