"""The one CloudWatch dashboard of the platform (name `<stack>-DASHBOARD_SUFFIX`, unchanged since
it showed ingestion only): every figure the alarms read and the ones an operator looks at next.

Widget groups, top to bottom (each group opens with a text widget, its heading):
* alarm states: every alarm of `Monitoring`;
* ingestion: records in / valid / rejected, rejection rate, rejections by rule (a SEARCH over the
  `rule` dimension: the rules are a contract's, bounded by `MAX_RULE_DIMENSIONS`), freshness
  lag, dead letters (both on-failure paths) and iterator age, function errors and durations;
* scoring: decision latency p50/p99 (and maximum) per scorer, decisions by outcome with the
  alert rate (review + decline over decided, metric math);
* model: drift (DriftPSI, ScorePSI, and FeaturePSI per feature by SEARCH), live precision,
  recall, label coverage and alert rate of the champion and the shadow (the quality watch);
  training runs (the state machine's executions started / succeeded / failed).

Periods are the same on every stage (ALARM_PERIOD_SECONDS, the graphs' granularity): the stage
changes the watches' schedules and the alarms' periods, not the dashboard.

`fraudops dashboard` (fraudops/dashboard.py) renders this body to a self-contained HTML file.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from fraudops_shared.runtime import settings
from infra import constants as c
from infra.constructs.ingestion import Ingestion
from infra.constructs.model_watch import ModelWatch
from infra.constructs.monitoring import SOURCES, ingestion_metric, record_age
from infra.constructs.scoring import Scoring
from infra.constructs.training import Training

FULL = 24
HALF = 12
# the scorers as their metrics' `service` dimension names them
SCORERS: tuple[tuple[str, str], ...] = (("stream", c.FN_SCORE_STREAM), ("api", c.FN_SCORE_API))
OUTCOMES = ("approve", "review", "decline")
ALERT_OUTCOMES = ("review", "decline")
# The logical id the dashboard had when Monitoring built it (path Monitoring/Dashboard): kept, so
# an update of a deployed stack changes the body in place. A new logical id with the same
# DashboardName would create (overwrite) the dashboard, then delete the old resource: by name,
# the dashboard that was just written.
LOGICAL_ID = "MonitoringDashboard0C3675C6"


def metric(name: str, dims: dict[str, str], statistic: str, period_s: int, label: str) -> cw.Metric:
    """A metric of the project's namespace."""
    return cw.Metric(
        namespace=c.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=dims,
        statistic=statistic,
        period=Duration.seconds(period_s),
        label=label,
    )


def search(
    metric_name: str,
    dims: Sequence[str],
    terms: dict[str, str],
    stat: str,
    period_s: int,
    label: str,
) -> cw.MathExpression:
    """SEARCH over a dimension whose values are not known at synth (rules, features): exact
    matches on `terms`, the metric schema {namespace, dims}."""
    schema = ",".join((c.METRICS_NAMESPACE, *sorted(dims)))
    where = " ".join(f'{k}="{v}"' for k, v in sorted(terms.items()))
    return cw.MathExpression(
        expression=(
            f"SEARCH('{{{schema}}} MetricName=\"{metric_name}\" {where}', '{stat}', {period_s})"
        ),
        using_metrics={},
        label=label,
        period=Duration.seconds(period_s),
    )


def heading(markdown: str) -> cw.TextWidget:
    return cw.TextWidget(markdown=markdown, width=FULL, height=1)


class Dashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ingestion: Ingestion,
        scoring: Scoring,
        model_watch: ModelWatch,
        training: Training,
        alarms: Sequence[cw.IAlarm],
        contracts: Sequence[str] = c.MONITORED_CONTRACTS,
    ) -> None:
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name
        period = c.ALARM_PERIOD_SECONDS
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{stack_name}-{c.DASHBOARD_SUFFIX}",
            default_interval=Duration.hours(3),
        )
        resource = self.dashboard.node.default_child
        assert isinstance(resource, cw.CfnDashboard)
        resource.override_logical_id(LOGICAL_ID)
        add = self.dashboard.add_widgets

        # --- alarm states ---------------------------------------------------------------------
        add(cw.AlarmStatusWidget(title="Alarm states", alarms=list(alarms), width=FULL))

        # --- ingestion ------------------------------------------------------------------------
        add(heading("## Ingestion"))
        add(
            cw.GraphWidget(
                title="Records in / valid / rejected",
                left=[
                    ingestion_metric(name, s, k, "Sum").with_(label=f"{s.name}/{k} {label}")
                    for s in SOURCES
                    for k in contracts
                    for name, label in (
                        (c.METRIC_RECORDS_IN, "in"),
                        (c.METRIC_RECORDS_VALID, "valid"),
                        (c.METRIC_RECORDS_REJECTED, "rejected"),
                    )
                ],
                stacked=False,
                width=HALF,
            ),
            cw.GraphWidget(
                title="Rejected share of each file or batch (%, average)",
                left=[
                    ingestion_metric(c.METRIC_REJECTED_PERCENT, s, k, "Average").with_(
                        label=f"{s.name}/{k} rejected %"
                    )
                    for s in SOURCES
                    for k in contracts
                ],
                left_annotations=[
                    cw.HorizontalAnnotation(value=c.REJECTION_RATE_THRESHOLD_PERCENT, label="alarm")
                ],
                width=HALF,
            ),
        )
        add(
            cw.GraphWidget(
                title="Rejections by rule",
                left=[
                    search(
                        "RecordsRejectedByRule",
                        (c.METRIC_DIM_CONTRACT, "rule", c.METRIC_DIM_SERVICE),
                        {c.METRIC_DIM_SERVICE: s.service},
                        "Sum",
                        period,
                        f"{s.name}",
                    )
                    for s in SOURCES
                ],
                width=HALF,
            ),
            cw.GraphWidget(
                title="Freshness lag (s): average and max",
                left=[
                    ingestion_metric(c.METRIC_FRESHNESS_LAG, s, k, stat).with_(
                        label=f"{s.name}/{k} {stat}"
                    )
                    for s in SOURCES
                    for k in contracts
                    for stat in (c.FRESHNESS_LAG_STATISTIC, "Maximum")
                ],
                left_annotations=[
                    cw.HorizontalAnnotation(value=c.FRESHNESS_LAG_THRESHOLD_SECONDS, label="alarm")
                ],
                width=HALF,
            ),
        )
        dlq = Duration.seconds(c.DLQ_DEPTH_PERIOD_SECONDS)
        add(
            cw.GraphWidget(
                title="Dead letters and iterator age",
                left=[
                    ingestion.unaccounted.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", period=dlq, label="dead-letter queue depth"
                    ),
                    scoring.dlq.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", period=dlq, label="scoring dead letters"
                    ),
                    *(
                        metric(
                            "RecordsExpired",
                            {c.METRIC_DIM_SERVICE: fn},
                            "Sum",
                            period,
                            f"{who} records expired",
                        )
                        for who, fn in (
                            ("ingestion", c.FN_DLQ_ACCOUNTING),
                            ("scoring", c.FN_SCORE_DEAD_LETTERS),
                        )
                    ),
                ],
                right=[
                    record_age(fn).with_(label=f"{who} records' age on arrival (ms)")
                    for who, fn in (
                        ("ingestion", c.FN_INGEST_STREAM),
                        ("scoring", c.FN_SCORE_STREAM),
                    )
                ],
                width=HALF,
            ),
            cw.GraphWidget(
                title="Functions: errors and throttles",
                left=[
                    m
                    for who, fn in (
                        ("batch", ingestion.batch),
                        ("stream", ingestion.stream_fn),
                        ("score stream", scoring.stream_fn),
                        ("score api", scoring.api_fn),
                    )
                    for m in (
                        fn.function.metric_errors(statistic="Sum", label=f"{who} errors"),
                        fn.function.metric_throttles(statistic="Sum", label=f"{who} throttles"),
                    )
                ],
                width=HALF,
            ),
        )
        add(
            cw.GraphWidget(
                title="Ingestion functions: duration p95 and max (ms)",
                left=[
                    fn.function.metric_duration(statistic=stat, label=f"{who} {stat}")
                    for who, fn in (("batch", ingestion.batch), ("stream", ingestion.stream_fn))
                    for stat in ("p95", "Maximum")
                ],
                width=FULL,
            ),
        )

        # --- scoring --------------------------------------------------------------------------
        add(heading("## Scoring"))
        scored = {c.METRIC_DIM_CONTRACT: c.STREAM_CONTRACT}
        decided: dict[str, cw.IMetric] = {}
        outcomes: list[cw.IMetric] = []
        alert_rates: list[cw.IMetric] = []
        for who, fn in SCORERS:
            dims = {c.METRIC_DIM_SERVICE: fn, **scored}
            decided[who] = metric("RecordsDecided", dims, "Sum", period, f"{who} decided")
            using: dict[str, cw.IMetric] = {f"decided_{who}": decided[who]}
            for outcome in OUTCOMES:
                m = metric(
                    "Decisions", {**dims, "outcome": outcome}, "Sum", period, f"{who} {outcome}"
                )
                outcomes.append(m)
                if outcome in ALERT_OUTCOMES:
                    using[f"{outcome}_{who}"] = m
            alerts = " + ".join(f"FILL({o}_{who}, 0)" for o in ALERT_OUTCOMES)
            alert_rates.append(
                cw.MathExpression(
                    expression=f"IF(decided_{who} > 0, 100 * ({alerts}) / decided_{who}, 0)",
                    using_metrics=using,
                    label=f"{who} alert rate (%)",
                    period=Duration.seconds(period),
                )
            )
        add(
            cw.GraphWidget(
                title="Decision latency (ms): p50, p99 and max",
                left=[
                    metric(
                        "DecisionLatency",
                        {c.METRIC_DIM_SERVICE: fn, **scored},
                        stat,
                        period,
                        f"{who} {stat}",
                    )
                    for who, fn in SCORERS
                    for stat in ("p50", "p99", "Maximum")
                ],
                width=HALF,
            ),
            cw.GraphWidget(
                title="Decisions by outcome and alert rate",
                left=outcomes,
                right=alert_rates,
                right_y_axis=cw.YAxisProps(label="alert rate (%)", min=0, show_units=False),
                width=HALF,
            ),
        )

        # --- the model: drift, live quality, training ------------------------------------------
        add(heading("## Model"))
        drift_period = period
        drift_dims = {c.METRIC_DIM_SERVICE: c.FN_MONITOR_DRIFT, **scored}
        add(
            cw.GraphWidget(
                title="Drift (PSI): alarm metric and score",
                left=[
                    metric(
                        settings.METRIC_DRIFT_PSI,
                        drift_dims,
                        "Maximum",
                        drift_period,
                        "DriftPSI (alarm)",
                    ),
                    metric(
                        settings.METRIC_SCORE_PSI, drift_dims, "Maximum", drift_period, "ScorePSI"
                    ),
                ],
                left_annotations=[
                    cw.HorizontalAnnotation(value=c.DRIFT_PSI_THRESHOLD, label="alarm")
                ],
                width=HALF,
            ),
            cw.GraphWidget(
                title="Drift (PSI) per feature",
                left=[
                    search(
                        settings.METRIC_FEATURE_PSI,
                        (c.METRIC_DIM_CONTRACT, "feature", c.METRIC_DIM_SERVICE),
                        drift_dims,
                        "Maximum",
                        drift_period,
                        "",
                    )
                ],
                left_annotations=[
                    cw.HorizontalAnnotation(value=c.DRIFT_PSI_THRESHOLD, label="alarm")
                ],
                width=HALF,
            ),
        )
        quality_period = period

        def quality(name: str, short: str) -> list[cw.IMetric]:
            return [
                metric(
                    name,
                    {
                        c.METRIC_DIM_SERVICE: c.FN_MONITOR_QUALITY,
                        **scored,
                        "role": role,
                        "window": window,
                    },
                    "Average",
                    quality_period,
                    f"{role} {window} {short}",
                )
                for role in settings.QUALITY_ROLES
                for window in settings.QUALITY_WINDOWS
            ]

        add(
            cw.GraphWidget(
                title="Live precision and recall",
                left=[
                    *quality(settings.METRIC_LIVE_PRECISION, "precision"),
                    *quality(settings.METRIC_LIVE_RECALL, "recall"),
                ],
                left_y_axis=cw.YAxisProps(min=0, max=1, show_units=False),
                width=HALF,
            ),
            cw.GraphWidget(
                title="Label coverage and alert rate",
                left=[
                    *quality(settings.METRIC_LABEL_COVERAGE, "coverage"),
                    *quality(settings.METRIC_ALERT_RATE, "alert rate"),
                ],
                left_y_axis=cw.YAxisProps(min=0, show_units=False),
                width=HALF,
            ),
        )
        machine = training.state_machine
        add(
            cw.GraphWidget(
                title="Training runs",
                left=[
                    machine.metric_started(statistic="Sum", label="started"),
                    machine.metric_succeeded(statistic="Sum", label="succeeded"),
                    machine.metric_failed(statistic="Sum", label="failed"),
                    machine.metric_timed_out(statistic="Sum", label="timed out"),
                ],
                width=FULL,
            ),
        )
