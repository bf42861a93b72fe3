"""The quality watch, on a schedule: the champion's and the shadow's recent decisions against the
labels known so far (joined exactly once at read time), as live precision, recall, alert rate,
AUPRC and label coverage per window; the precision alarm reads PrecisionShortfall
(``fraudops_shared.monitoring.quality_watch``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.monitoring.quality_watch import watch
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import EmfQualityMetrics, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = watch(
        settings.stream_contract(),
        wiring.registry_champions(),
        wiring.zone_decisions(),
        wiring.zone_labels(),
        EmfQualityMetrics(),
        datetime.now(UTC),
        windows=settings.QUALITY_WINDOWS,
        min_alerts=settings.min_labelled_alerts(),
        margin=settings.precision_margin(),
        horizon_days=settings.label_horizon_days(),
        fixed_floor=settings.precision_floor(),
    )
    summary = report.summary()
    logger.info("quality watched", extra={"status": summary["status"], "labels": summary["labels"]})
    return summary
