"""Training step 2 (one Map iteration per candidate): fit with scikit-learn, export to ONNX.

ML layer (scikit-learn, skl2onnx). Returns S3 references (ONNX model, scikit-learn's holdout
probabilities for the parity check), never arrays.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.runtime.observability import logger, tracer
from fraudops_shared.training import steps
from fraudops_shared.training.documents import Trained, TrainEvent


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: TrainEvent, context: LambdaContext) -> Trained:
    trained = steps.train(event, blobs=wiring.data_bucket())
    logger.info(
        "candidate trained",
        extra={  # `name` is a LogRecord attribute: it cannot be an extra key
            "candidate": trained["name"],
            "kind": trained["kind"],
            "fit_seconds": trained["fit_seconds"],
            "iterations": trained["iterations"],
        },
    )
    return trained
