"""Powertools Logger, Tracer and Metrics, created once per process and shared by all modules.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, set per function by the stack.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

if TYPE_CHECKING:
    from fraudops_shared.ingestion.batch import IngestResult
    from fraudops_shared.ingestion.stream import StreamBatch

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def emit_ingest_metrics(
    contract: str,
    *,
    rows_in: int,
    valid: int,
    rejected: int,
    rule_counts: dict[str, int],
    max_event_time: datetime | None,
    now: datetime,
    extra: dict[str, int] | None = None,
) -> None:
    """Per-contract figures as their own EMF document (dimension ``contract``), the same for the
    batch and the stream path, so one alarm covers both."""
    per_contract = EphemeralMetrics()
    per_contract.add_dimension(name="contract", value=contract)
    per_contract.add_metric(name="RecordsIn", unit=MetricUnit.Count, value=rows_in)
    per_contract.add_metric(name="RecordsValid", unit=MetricUnit.Count, value=valid)
    per_contract.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=rejected)
    for name, count in (extra or {}).items():
        per_contract.add_metric(name=name, unit=MetricUnit.Count, value=count)
    for rule, count in rule_counts.items():
        per_contract.add_metric(name=f"Rejected_{rule}", unit=MetricUnit.Count, value=count)
    if max_event_time is not None:
        lag = max(0.0, (now - max_event_time).total_seconds())
        per_contract.add_metric(name="FreshnessLagSeconds", unit=MetricUnit.Seconds, value=lag)
    per_contract.flush_metrics()


def emit_file_metrics(result: IngestResult, now: datetime) -> None:
    """A landed file's figures, with the file's outcome as ``Files_<status>``."""
    emit_ingest_metrics(
        result.contract,
        rows_in=result.rows_in,
        valid=result.valid,
        rejected=result.rejected,
        rule_counts=result.rule_counts,
        max_event_time=result.max_event_time,
        now=now,
        extra={f"Files_{result.status}": 1},
    )


def emit_stream_metrics(batch: StreamBatch, kinesis_records: int) -> None:
    """A stream batch's figures: the contract's, plus replays skipped and rows forwarded."""
    outcome = batch.outcome
    times = [r["event_time"] for r in outcome.curated if r.get("event_time")]
    emit_ingest_metrics(
        batch.contract_name,
        rows_in=outcome.records_in,
        valid=len(outcome.curated),
        rejected=len(outcome.rejected),
        rule_counts=outcome.rule_counts(),
        max_event_time=max(times) if times else None,
        now=batch.now,
        extra={"ReplaysSkipped": outcome.skipped_committed, "RecordsForwarded": batch.forwarded},
    )
    metrics.add_metric(name="KinesisRecords", unit=MetricUnit.Count, value=kinesis_records)
