"""The drift watch, on a schedule: PSI of the champion's recent decisions (the decisions zone)
against the baseline stored with it at training, per feature and for the score, published as
metrics; the drift alarm reads DriftPSI (``fraudops_shared.monitoring.drift_watch``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.monitoring.drift_watch import watch
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import EmfDriftMetrics, logger, tracer

MAX_WINDOW_SECONDS = 7 * 86_400


def window_of(event: dict[str, Any]) -> int:
    """The schedule's runs use the deployed window; a manual run may ask for another one
    (``{"window_seconds": N}``, 1 s to 7 days)."""
    asked = event.get("window_seconds") if isinstance(event, dict) else None
    if isinstance(asked, int) and not isinstance(asked, bool) and 0 < asked <= MAX_WINDOW_SECONDS:
        return asked
    return settings.drift_window_seconds()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    contract = settings.stream_contract()
    report = watch(
        contract,
        feature_set(contract).names,
        wiring.registry_champions(),
        wiring.zone_decisions(),
        EmfDriftMetrics(),
        datetime.now(UTC),
        window_of(event),
        threshold=settings.drift_threshold(),
    )
    summary = report.summary()
    logger.info("drift watched", extra={k: v for k, v in summary.items() if k != "features"})
    return summary
