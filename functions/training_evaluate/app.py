"""Training step 3: score the ONNX exports on the holdout (onnxruntime, no scikit-learn), check
parity, choose the threshold by cost, compare with the champion, apply the gate.

ONNX layer (onnxruntime, numpy): the same runtime the scoring function serves with.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.runtime.observability import logger, tracer
from fraudops_shared.training import steps
from fraudops_shared.training.documents import EvaluateEvent, EvaluationSummary


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: EvaluateEvent, context: LambdaContext) -> EvaluationSummary:
    result = steps.evaluate(event, blobs=wiring.data_bucket(), registry=wiring.model_registry())
    logger.info("candidates evaluated", extra={"chosen": result["chosen"], "gate": result["gate"]})
    return result
