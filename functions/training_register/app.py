"""Training step 4, and the Catch's recorder: register the chosen model (promoting it when the
gate passed), or record why the run failed. One function: both write the same registry items.
No runtime layer: nothing here imports numpy.
"""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.runtime.observability import logger, tracer
from fraudops_shared.training import registration
from fraudops_shared.training.documents import FailureEvent, RegisterEvent

ACTIONS = ("register", "record_failure")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event.get("action", "register")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    registry = wiring.model_registry()
    if action == "record_failure":
        failed = registration.record_failure(cast(FailureEvent, event), registry=registry)
        logger.warning("training run failed", extra=dict(failed))
        return dict(failed)
    result = registration.register(
        cast(RegisterEvent, event), blobs=wiring.data_bucket(), registry=registry
    )
    logger.info("model registered", extra=dict(result))
    return dict(result)
