"""Powertools Logger, Tracer and Metrics, created once per process and shared by all modules;
and the metric contract of ingestion.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, set per function by the stack.

Metric names come from a fixed set, never from data: per contract `RecordsIn`, `RecordsValid`,
`RecordsRejected`, `RejectedPercent`, `FreshnessLagSeconds` and the named extras of each path;
per rule `RecordsRejectedByRule` with a `rule` dimension holding a rule id (ids are the
contract's rule names and column names, e.g. `not_null:card_id`; a value that does not look like
one is counted as `other`), at most `MAX_RULE_DIMENSIONS` rules per document (the rest as
`other`). A producer cannot create custom metrics by sending odd field names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from fraudops_shared.runtime.faults import inject
from fraudops_shared.runtime.settings import (
    METRIC_ALERT_RATE,
    METRIC_DRIFT_PSI,
    METRIC_FEATURE_PSI,
    METRIC_LABEL_CORRECTIONS,
    METRIC_LABEL_COVERAGE,
    METRIC_LABELLED_ALERTS,
    METRIC_LABELS_MATCHED,
    METRIC_LABELS_UNMATCHED,
    METRIC_LIVE_AUPRC,
    METRIC_LIVE_PRECISION,
    METRIC_LIVE_RECALL,
    METRIC_PRECISION_SHORTFALL,
    METRIC_SCORE_PSI,
)

if TYPE_CHECKING:
    from fraudops_shared.ingestion.batch import IngestResult
    from fraudops_shared.ingestion.stream import StreamResult
    from fraudops_shared.monitoring.drift_watch import DriftReport
    from fraudops_shared.monitoring.quality_watch import QualityReport

Handler = TypeVar("Handler", bound=Callable[..., Any])
logger = Logger()
tracer = Tracer()
metrics = Metrics()

MAX_RULE_DIMENSIONS = 20
RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,40}(:[a-z][a-z0-9_]{0,63})?$")
BY_RULE = "RecordsRejectedByRule"


def rule_dimensions(rule_counts: dict[str, int]) -> dict[str, int]:
    """Rule ids as a bounded set of dimension values."""
    out: dict[str, int] = {}
    for rule, count in sorted(rule_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        name = rule if RULE_ID.match(rule) and len(out) < MAX_RULE_DIMENSIONS - 1 else "other"
        out[name] = out.get(name, 0) + count
    return out


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
    batch and the stream path, so one alarm covers both; the rules each in one of their own."""
    per_contract = EphemeralMetrics()
    per_contract.add_dimension(name="contract", value=contract)
    per_contract.add_metric(name="RecordsIn", unit=MetricUnit.Count, value=rows_in)
    per_contract.add_metric(name="RecordsValid", unit=MetricUnit.Count, value=valid)
    per_contract.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=rejected)
    if rows_in > 0:  # the rejection-rate alarm's figure (a simple alarm: no metric math)
        per_contract.add_metric(name="RejectedPercent", unit=MetricUnit.Percent,
                                value=100.0 * rejected / rows_in)  # fmt: skip
    for name, count in (extra or {}).items():
        per_contract.add_metric(name=name, unit=MetricUnit.Count, value=count)
    if max_event_time is not None:
        lag = max(0.0, (now - max_event_time).total_seconds())
        per_contract.add_metric(name="FreshnessLagSeconds", unit=MetricUnit.Seconds, value=lag)
    per_contract.flush_metrics()
    for rule, count in rule_dimensions(rule_counts).items():
        by_rule = EphemeralMetrics()
        by_rule.add_dimension(name="contract", value=contract)
        by_rule.add_dimension(name="rule", value=rule)
        by_rule.add_metric(name=BY_RULE, unit=MetricUnit.Count, value=count)
        by_rule.flush_metrics()


FILE_STATUSES = ("ingested", "quarantined_file", "duplicate", "already_ingested")


def emit_file_metrics(result: IngestResult, now: datetime) -> None:
    """A landed file's figures (a file quarantined whole counts the rows it held, rejected),
    with the file's outcome as ``Files_<status>``."""
    status = result.status if result.status in FILE_STATUSES else "other"
    emit_ingest_metrics(
        result.contract,
        rows_in=result.rows_in,
        valid=result.valid,
        rejected=result.rejected,
        rule_counts=result.rule_counts,
        max_event_time=result.max_event_time,
        now=now,
        extra={f"Files_{status}": 1},
    )


def emit_stream_metrics(
    contract: str, result: StreamResult, *, kinesis_records: int, now: datetime
) -> None:
    """A stream batch's figures: the contract's, plus replays skipped, duplicates, rows
    forwarded and commit attempts."""
    emit_ingest_metrics(
        contract,
        rows_in=result.records_in,
        valid=len(result.curated),
        rejected=len(result.rejected),
        rule_counts=result.rule_counts(),
        max_event_time=result.max_event_time,
        now=now,
        extra={
            "ReplaysSkipped": result.skipped_committed,
            "RecordsForwarded": result.forwarded,
            "DuplicateKeys": result.duplicates,
            "CommitAttempts": result.attempts,
        },
    )
    metrics.add_metric(name="KinesisRecords", unit=MetricUnit.Count, value=kinesis_records)


def stream_consumer(function: str) -> Callable[[Handler], Handler]:
    """A Kinesis consumer's handler, wrapped: first the age of the batch's oldest record when it
    arrived here (``RecordAgeMs``, from Kinesis' arrival time: how far behind the consumer is;
    Lambda's IteratorAge says much the same on AWS, but LocalStack never publishes it, so one
    metric serves both stages), then fault injection (``runtime.faults``). A batch that then
    fails is retried older, and says so each time."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def consumer(event: dict[str, Any], context: Any) -> Any:
            arrivals = [
                float(r["kinesis"]["approximateArrivalTimestamp"])
                for r in event.get("Records") or []
                if isinstance(r.get("kinesis"), dict)
                and r["kinesis"].get("approximateArrivalTimestamp")
            ]
            if arrivals:
                age_ms = max(0.0, (datetime.now(UTC).timestamp() - min(arrivals)) * 1000)
                metrics.add_metric(name="RecordAgeMs", unit=MetricUnit.Milliseconds, value=age_ms)
            inject(function)
            return handler(event, context)

        return cast("Handler", consumer)

    return wrap


# --- scoring: the metric contract the scoring alarms and the dashboard read ---------------------
OUTCOMES = ("approve", "review", "decline")
API_OUTCOMES = (
    *OUTCOMES,
    "duplicate",
    "invalid_transaction",
    "too_large",
    "no_champion",
    "model_unavailable",
    "busy",
)


def emit_scoring_metrics(
    contract: str,
    *,
    outcomes: dict[str, int],
    parked: int,
    latency_ms: float | None,
    champion: int | None,
    shadow: int | None,
    refused: int,
    loads: int,
) -> None:
    """A scored batch (or replay): decisions by outcome, parked records, the batch's decision
    latency, the model versions in use, refused models (the model-rejected alarm) and loads."""
    per_contract = EphemeralMetrics()
    per_contract.add_dimension(name="contract", value=contract)
    per_contract.add_metric(name="RecordsDecided", unit=MetricUnit.Count,
                            value=sum(outcomes.values()))  # fmt: skip
    per_contract.add_metric(name="RecordsParked", unit=MetricUnit.Count, value=parked)
    per_contract.add_metric(name="ModelRejected", unit=MetricUnit.Count, value=refused)
    per_contract.add_metric(name="ModelLoads", unit=MetricUnit.Count, value=loads)
    if latency_ms is not None:
        per_contract.add_metric(name="DecisionLatency", unit=MetricUnit.Milliseconds,
                                value=latency_ms)  # fmt: skip
    if champion is not None:
        per_contract.add_metric(name="ChampionVersion", unit=MetricUnit.NoUnit, value=champion)
    if shadow is not None:
        per_contract.add_metric(name="ShadowVersion", unit=MetricUnit.NoUnit, value=shadow)
    per_contract.flush_metrics()
    for outcome in OUTCOMES:
        by_outcome = EphemeralMetrics()
        by_outcome.add_dimension(name="contract", value=contract)
        by_outcome.add_dimension(name="outcome", value=outcome)
        by_outcome.add_metric(name="Decisions", unit=MetricUnit.Count,
                              value=outcomes.get(outcome, 0))  # fmt: skip
        by_outcome.flush_metrics()


def emit_refusals(contract: str, count: int) -> None:
    doc = EphemeralMetrics()
    doc.add_dimension(name="contract", value=contract)
    doc.add_metric(name="ModelRejected", unit=MetricUnit.Count, value=count)
    doc.flush_metrics()


def emit_api_metrics(contract: str, *, outcome: str | None, latency_ms: float) -> None:
    """One API call: its outcome (a fixed word) and its latency."""
    doc = EphemeralMetrics()
    doc.add_dimension(name="contract", value=contract)
    doc.add_dimension(name="outcome", value=outcome if outcome in API_OUTCOMES else "other")
    doc.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
    doc.add_metric(name="ApiLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    doc.flush_metrics()


def feature_dimension(name: str) -> str:
    """A feature's name as a metric dimension value: one-hot names (``channel=pos``) with ':'
    for '=' (LocalStack's ListMetrics splits stored dimensions on '=' and fails on such a
    value, which breaks every SEARCH; measured), at most 250 characters."""
    return name.replace("=", ":")[:250]


def emit_drift_metrics(contract: str, report: DriftReport) -> None:
    """One watch: nothing but the window's decision count when there is nothing to compare
    (no datapoint is not a zero: the alarm treats missing data as not breaching)."""
    doc = EphemeralMetrics()
    doc.add_dimension(name="contract", value=contract)
    result = report.result
    doc.add_metric(name="DriftWindowDecisions", unit=MetricUnit.Count,
                   value=result.rows if result is not None else 0)  # fmt: skip
    if (psi := report.alarm_psi) is not None:
        doc.add_metric(name=METRIC_DRIFT_PSI, unit=MetricUnit.NoUnit, value=psi)
    if result is not None and result.score.psi is not None:
        doc.add_metric(name=METRIC_SCORE_PSI, unit=MetricUnit.NoUnit, value=result.score.psi)
    doc.flush_metrics()
    for name, drift in result.features.items() if result is not None else ():
        if drift.psi is None:
            continue
        per_feature = EphemeralMetrics()
        per_feature.add_dimension(name="contract", value=contract)
        per_feature.add_dimension(name="feature", value=feature_dimension(name))
        per_feature.add_metric(name=METRIC_FEATURE_PSI, unit=MetricUnit.NoUnit, value=drift.psi)
        per_feature.flush_metrics()


class EmfDriftMetrics:
    """The drift watch's metrics port, as Powertools EMF log lines."""

    def publish(self, contract: str, report: DriftReport) -> None:
        emit_drift_metrics(contract, report)


# --- model quality: what the precision alarm and the dashboard read -----------------------------
def emit_quality_metrics(contract: str, report: QualityReport) -> None:
    """One quality watch: the label join's counts per contract, then per (role, window) the
    figures it could support (a None figure is no datapoint, never a zero)."""
    doc = EphemeralMetrics()
    doc.add_dimension(name="contract", value=contract)
    matching = report.matching.as_dict() if report.matching else {}
    for name, value in (
        (METRIC_LABELS_MATCHED, matching.get("matched", 0)),
        (METRIC_LABELS_UNMATCHED, matching.get("unmatched", 0)),
        (METRIC_LABEL_CORRECTIONS, report.labels.get("corrections", 0)),
    ):
        doc.add_metric(name=name, unit=MetricUnit.Count, value=value)
    doc.flush_metrics()
    for w in report.windows:
        per = EphemeralMetrics()
        per.add_dimension(name="contract", value=contract)
        per.add_dimension(name="role", value=w.role)
        per.add_dimension(name="window", value=w.window)
        per.add_metric(name=METRIC_LABEL_COVERAGE, unit=MetricUnit.NoUnit, value=w.coverage)
        per.add_metric(name=METRIC_LABELLED_ALERTS, unit=MetricUnit.Count, value=w.labelled_alerts)
        for name, figure in (
            (METRIC_ALERT_RATE, w.alert_rate),
            (METRIC_LIVE_PRECISION, w.precision),
            (METRIC_LIVE_RECALL, w.recall),
            (METRIC_LIVE_AUPRC, w.auprc),
            (METRIC_PRECISION_SHORTFALL, w.shortfall),
        ):
            if figure is not None:
                per.add_metric(name=name, unit=MetricUnit.NoUnit, value=figure)
        per.flush_metrics()


class EmfQualityMetrics:
    """The quality watch's metrics port, as Powertools EMF log lines."""

    def publish(self, contract: str, report: QualityReport) -> None:
        emit_quality_metrics(contract, report)
