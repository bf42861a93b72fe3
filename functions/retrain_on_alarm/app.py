"""Alarms that retrain: the alarm topic's notifications (SNS) start a guarded retraining, and the
training pipeline's end events (EventBridge) release the guard
(``fraudops_shared.monitoring.retrain``)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.monitoring.retrain import on_alarm, on_training_event, parse_alarm
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    guard = wiring.retrain_guard()
    if event.get("source") == settings.TRAINING_EVENT_SOURCE:
        released = on_training_event(event.get("detail") or {}, guard)
        logger.info("training ended", extra=released)
        return {"released": [released]}
    contract, trainer, results = settings.stream_contract(), wiring.trainer(), []
    for record in event.get("Records") or []:
        trigger = parse_alarm((record.get("Sns") or {}).get("Message") or "")
        if trigger is None:  # not an alarm's notification: said, never retried
            results.append({"action": "ignored", "reason": "not a CloudWatch alarm message"})
            continue
        results.append(on_alarm(
            trigger, contract, guard, trainer, time.time(),
            cooldown=settings.retrain_cooldown_seconds(), cap=settings.retrain_daily_cap(),
        ))  # fmt: skip
        logger.info("alarm handled", extra=results[-1])
    return {"results": results}
