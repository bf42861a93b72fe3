"""Monitoring of ingestion: alarms on data quality, freshness, dead letters and stream lag, and an
encrypted SNS topic they notify (the dashboard that shows them: infra/constructs/dashboard.py).

The metric contract (ingestion's side is Powertools EMF): namespace `METRICS_NAMESPACE`,
dimensions exactly {`service`: function folder, `contract`: data contract name}, metrics
`RecordsIn`, `RecordsValid`, `RecordsRejected` (Count) and `FreshnessLagSeconds` (Seconds, one
datapoint per file or batch: now minus the newest event time in it). A CloudWatch metric is
identified by its full dimension set, so alarms are per (function, contract); the contracts
watched are `MONITORED_CONTRACTS`.

Alarms (names `<stack>-<kind>[-<source>-<contract>]`, thresholds in infra/constants.py):
* rejection-rate: 100 * RecordsRejected / RecordsIn (metric math, Sum per period) above the
  threshold percent; no records in a period is not an alarm;
* freshness-lag: FreshnessLagSeconds p95 above the threshold for N periods;
* stream-dead-letters: visible messages in the unaccounted queue > 0 (dead-letter messages the
  accounting function could not handle; the handled ones are counted as dead_lettered);
* stream-iterator-age: the stream function's IteratorAge (AWS/Lambda, Maximum): how far its event
  source mapping is behind the tip of the stream.
Missing data never breaches: no traffic is not an incident these alarms describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from fraudops_shared.runtime.settings import METRIC_DRIFT_PSI, METRIC_PRECISION_SHORTFALL
from infra import constants as c
from infra.constructs.ingestion import Ingestion
from infra.constructs.model_watch import ModelWatch
from infra.constructs.scoring import Scoring
from infra.stage import StageConfig

CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")


@dataclass(frozen=True)
class Source:
    """One ingestion function as its metrics name it."""

    name: str  # short name used in alarm names: batch, stream
    service: str  # the Powertools service dimension: the function folder


SOURCES: tuple[Source, ...] = (
    Source("batch", c.FN_INGEST_BATCH),
    Source("stream", c.FN_INGEST_STREAM),
)


def ingestion_metric(
    name: str, source: Source, contract: str, statistic: str, period_s: int = c.ALARM_PERIOD_SECONDS
) -> cw.Metric:
    return cw.Metric(
        namespace=c.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={c.METRIC_DIM_SERVICE: source.service, c.METRIC_DIM_CONTRACT: contract},
        statistic=statistic,
        period=Duration.seconds(period_s),
    )


def record_age(service: str, period_s: int = c.ITERATOR_AGE_PERIOD_SECONDS) -> cw.Metric:
    """How far a stream consumer is behind (the oldest record of its batches, on arrival)."""
    return cw.Metric(
        namespace=c.METRICS_NAMESPACE,
        metric_name=c.METRIC_RECORD_AGE,
        dimensions_map={c.METRIC_DIM_SERVICE: service},
        statistic="Maximum",
        period=Duration.seconds(period_s),
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ingestion: Ingestion,
        scoring: Scoring,
        model_watch: ModelWatch,
        stage: StageConfig,
        contracts: Sequence[str] = c.MONITORED_CONTRACTS,
    ) -> None:
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name

        # --- where alarms go ------------------------------------------------------------------
        # A customer-managed key: CloudWatch can only publish to an encrypted topic whose key
        # policy lets it use the key, and the AWS-managed aws/sns key's policy cannot be changed.
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description="fraudops: encrypts the alarm topic; CloudWatch may use it to publish",
            enable_key_rotation=True,
            removal_policy=stage.removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishEncrypted",
                principals=[CLOUDWATCH],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="fraudops alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[CLOUDWATCH],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )
        action = cw_actions.SnsAction(self.topic)

        # --- alarms ---------------------------------------------------------------------------
        self.alarms: dict[str, cw.Alarm] = {}

        def add(
            key: str, metric: cw.IMetric, description: str, threshold: float, periods: int
        ) -> cw.Alarm:
            alarm = cw.Alarm(
                self,
                f"Alarm-{key}",
                alarm_name=f"{stack_name}-{key}",
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms[key] = alarm
            return alarm

        # the period of the alarms on counts and errors: a stage setting (60 s locally, so an
        # end-to-end test sees each alarm fire and clear in minutes)
        period_s = stage.alarm_period_seconds
        period = Duration.seconds(period_s)
        for source in SOURCES:
            for contract in contracts:
                if source.name == "stream" and contract != c.STREAM_CONTRACT:
                    continue  # no stream carries it: an alarm that could never fire
                add(
                    f"{c.ALARM_REJECTION_RATE}-{source.name}-{contract}",
                    ingestion_metric(
                        c.METRIC_REJECTED_PERCENT, source, contract, "Average", period_s
                    ),
                    f"On average more than {c.REJECTION_RATE_THRESHOLD_PERCENT:g}% of the records "
                    f"of each {contract} file or batch {source.name} ingestion read in one alarm "
                    "period were rejected (quarantined): look at quarantine/ and the "
                    "RecordsRejectedByRule metric.",
                    c.REJECTION_RATE_THRESHOLD_PERCENT,
                    c.REJECTION_RATE_EVALUATION_PERIODS,
                )
                if contract not in c.FRESHNESS_CONTRACTS:
                    continue
                add(
                    f"{c.ALARM_FRESHNESS_LAG}-{source.name}-{contract}",
                    ingestion_metric(
                        c.METRIC_FRESHNESS_LAG,
                        source,
                        contract,
                        c.FRESHNESS_LAG_STATISTIC,
                        period_s,
                    ),
                    f"{c.FRESHNESS_LAG_STATISTIC} of the {contract} data's age when {source.name} "
                    f"ingestion handled it exceeded {c.FRESHNESS_LAG_THRESHOLD_SECONDS} s for "
                    f"{c.FRESHNESS_LAG_EVALUATION_PERIODS} periods: producers or ingestion are "
                    "late.",
                    c.FRESHNESS_LAG_THRESHOLD_SECONDS,
                    c.FRESHNESS_LAG_EVALUATION_PERIODS,
                )

        dlq_depth = ingestion.unaccounted.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=Duration.seconds(c.DLQ_DEPTH_PERIOD_SECONDS)
        )
        add(
            c.ALARM_DLQ_DEPTH,
            dlq_depth,
            "A given-up batch or file the accounting functions could not keep within the "
            "queue's receive limit waits in the unaccounted queue: neither kept nor counted. "
            "Fix the cause (their logs), then redrive it to its on-failure queue "
            "(StartMessageMoveTask) before the stream's retention expires its records.",
            c.DLQ_DEPTH_THRESHOLD,
            1,
        )
        add(
            c.ALARM_BATCH_ERRORS,
            ingestion.batch.function.metric_errors(statistic="Sum", period=period),
            "A landed file failed the batch function (an error, a timeout): Lambda retries it, "
            "then hands it to the batch on-failure queue, where it is kept and counted.",
            c.INGEST_BATCH_ERRORS_THRESHOLD,
            1,
        )
        # one simple alarm per source (LocalStack evaluates simple alarms only, not metric
        # math: docs/decisions.md), so the same alarms fire on both stages
        for name, service in (
            ("ingestion", c.FN_DLQ_ACCOUNTING),
            ("scoring", c.FN_SCORE_DEAD_LETTERS),
        ):
            add(
                f"{c.ALARM_EXPIRED_RECORDS}-{name}",
                cw.Metric(
                    namespace=c.METRICS_NAMESPACE,
                    metric_name="RecordsExpired",
                    dimensions_map={c.METRIC_DIM_SERVICE: service},
                    statistic="Sum",
                    period=period,
                ),
                f"Records of a given-up {name} batch had expired from the shard before they "
                "could be read back: counted as expired_unrecoverable, their content is lost.",
                0,
                1,
            )
        add(
            c.ALARM_ITERATOR_AGE,
            record_age(c.FN_INGEST_STREAM),
            f"Stream ingestion got records more than {stage.iterator_age_threshold_ms // 1000} s "
            f"old ({c.METRIC_RECORD_AGE}, like Lambda's IteratorAge): it cannot keep up, is "
            "paused, or a batch keeps failing.",
            stage.iterator_age_threshold_ms,
            stage.iterator_age_evaluation_periods,
        )

        # --- scoring -----------------------------------------------------------------------
        scorers = (("stream", scoring.stream_fn, c.FN_SCORE_STREAM),
                   ("api", scoring.api_fn, c.FN_SCORE_API))  # fmt: skip
        for name, scorer, _ in scorers:
            add(
                f"{c.ALARM_SCORING_ERRORS}-{name}",
                scorer.function.metric_errors(statistic="Sum", period=period),
                f"The scoring {name} function failed (an error or a timeout, not a bad record: "
                "those are parked or answered 400): feed batches are retried, then "
                "dead-lettered; API callers get 503.",
                0,
                1,
            )
        scoring_age_ms = min(c.SCORING_ITERATOR_AGE_THRESHOLD_MS, stage.iterator_age_threshold_ms)
        add(
            c.ALARM_SCORING_ITERATOR_AGE,
            record_age(c.FN_SCORE_STREAM),
            f"Scoring got feed records more than {scoring_age_ms // 1000} s old "
            f"({c.METRIC_RECORD_AGE}, like Lambda's IteratorAge): decisions come late.",
            scoring_age_ms,
            stage.iterator_age_evaluation_periods,
        )
        for name, _, service in scorers:
            add(
                f"{c.ALARM_MODEL_REJECTED}-{name}",
                cw.Metric(
                    namespace=c.METRICS_NAMESPACE,
                    metric_name="ModelRejected",
                    dimensions_map={
                        c.METRIC_DIM_SERVICE: service,
                        c.METRIC_DIM_CONTRACT: c.STREAM_CONTRACT,
                    },
                    statistic="Sum",
                    period=period,
                ),
                f"A promoted model was refused by the {name} scorer (its artifact's SHA-256 did "
                "not match, its feature set is not the deployed one, or it would not load): the "
                "last verified champion keeps serving. See the scorer's log for the reason.",
                0,
                1,
            )

        # --- the model's inputs and scores ---------------------------------------------------
        add(
            c.ALARM_DRIFT,
            cw.Metric(
                namespace=c.METRICS_NAMESPACE,
                metric_name=METRIC_DRIFT_PSI,
                dimensions_map={
                    c.METRIC_DIM_SERVICE: c.FN_MONITOR_DRIFT,
                    c.METRIC_DIM_CONTRACT: c.STREAM_CONTRACT,
                },
                statistic="Maximum",
                period=Duration.seconds(stage.drift_alarm_period_seconds),
            ),
            f"The champion's recent decisions drifted from its training data: PSI above "
            f"{c.DRIFT_PSI_THRESHOLD:g} on the score or one of the model's most important "
            f"features (the drift watch, {model_watch.drift_fn.function.function_name}; "
            "FeaturePSI per feature says which). Retrain on recent data, or look for a broken "
            "upstream field.",
            c.DRIFT_PSI_THRESHOLD,
            1,
        )

        add(
            c.ALARM_PRECISION,
            cw.Metric(
                namespace=c.METRICS_NAMESPACE,
                metric_name=METRIC_PRECISION_SHORTFALL,
                dimensions_map={
                    c.METRIC_DIM_SERVICE: c.FN_MONITOR_QUALITY,
                    c.METRIC_DIM_CONTRACT: c.STREAM_CONTRACT,
                    "role": "champion",
                    "window": "hourly",
                },
                statistic="Maximum",
                period=Duration.seconds(stage.quality_alarm_period_seconds),
            ),
            "The champion's live precision over the last hour of labelled alerts fell below its "
            f"floor: its holdout precision at its review threshold minus {c.PRECISION_MARGIN:g} "
            f"(the quality watch, {model_watch.quality_fn.function.function_name}; counted only "
            "with the stage's minimum of labelled alerts). Too many alerts are "
            "genuine: look at LivePrecision per window and at drift; retraining may follow.",
            0,
            1,
        )
