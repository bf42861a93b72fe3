"""The one stage switch: `local` (LocalStack on the host) or `aws`, chosen without a code change.

Resolution order: env FRAUDOPS_STAGE, then context `fraudops:stage` (cdk.json or `-c`), then
`local`. Everything the stage changes is a field below, so differences stay few and visible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from aws_cdk import RemovalPolicy
from constructs import Construct

from infra import constants as c


@dataclass(frozen=True)
class StageConfig:
    """What differs between stages. Nothing else may read the stage name."""

    name: str
    # local: a throwaway emulator, delete data with the stack; aws: keep data on stack deletion.
    removal_policy: RemovalPolicy
    # No X-Ray daemon listens on a LocalStack host, so the Powertools Tracer stays quiet there.
    powertools_trace_disabled: bool
    # Data layer (pandas/pyarrow/awswrangler) of the ingestion functions: "built" from
    # layers/data/requirements.txt, or "managed" (AWS's AWS SDK for pandas layer, AWS only).
    # Both stages build it: trimmed and precompiled it fits Lambda's 250 MB with the other
    # layers, and the same bytes run locally and on AWS. Override: context fraudops:data-layer.
    data_layer: str = "built"
    # The signed scoring API's function timeout (see constants: a burst of cold starts on a
    # 2-core host is far slower than on AWS).
    score_api_timeout_seconds: int = c.SCORE_API_TIMEOUT_SECONDS
    # The period of the alarms on counts, errors and rates (ingestion and scoring).
    alarm_period_seconds: int = c.ALARM_PERIOD_SECONDS
    # How far behind a stream consumer may fall (RecordAgeMs), for how many 1-minute periods.
    iterator_age_threshold_ms: int = c.ITERATOR_AGE_THRESHOLD_MS
    iterator_age_evaluation_periods: int = c.ITERATOR_AGE_EVALUATION_PERIODS
    # The drift watch: how often it runs, over how many seconds of decisions, and the drift
    # alarm's period (shorter locally, so an end-to-end test sees the alarm in minutes).
    drift_schedule_minutes: int = c.DRIFT_SCHEDULE_MINUTES
    drift_window_seconds: int = c.DRIFT_WINDOW_SECONDS
    drift_alarm_period_seconds: int = c.DRIFT_ALARM_PERIOD_SECONDS
    # The quality watch: how often it runs, the precision alarm's period and the labelled alerts
    # a window needs before its precision counts.
    quality_schedule_minutes: int = c.QUALITY_SCHEDULE_MINUTES
    quality_alarm_period_seconds: int = c.QUALITY_ALARM_PERIOD_SECONDS
    min_labelled_alerts: int = c.MIN_LABELLED_ALERTS
    # Retraining from alarms: the cooldown after each start and the daily cap.
    retrain_cooldown_seconds: int = c.RETRAIN_COOLDOWN_SECONDS
    retrain_daily_cap: int = c.RETRAIN_DAILY_CAP

    @property
    def is_local(self) -> bool:
        return self.name == "local"


_STAGES = {
    "local": StageConfig(
        "local",
        RemovalPolicy.DESTROY,
        powertools_trace_disabled=True,
        score_api_timeout_seconds=c.SCORE_API_TIMEOUT_LOCAL_SECONDS,
        alarm_period_seconds=c.ALARM_PERIOD_LOCAL_SECONDS,
        iterator_age_threshold_ms=c.ITERATOR_AGE_THRESHOLD_LOCAL_MS,
        iterator_age_evaluation_periods=c.ITERATOR_AGE_EVALUATION_PERIODS_LOCAL,
        drift_schedule_minutes=c.DRIFT_SCHEDULE_LOCAL_MINUTES,
        drift_window_seconds=c.DRIFT_WINDOW_LOCAL_SECONDS,
        drift_alarm_period_seconds=c.DRIFT_ALARM_PERIOD_LOCAL_SECONDS,
        quality_schedule_minutes=c.QUALITY_SCHEDULE_LOCAL_MINUTES,
        quality_alarm_period_seconds=c.QUALITY_ALARM_PERIOD_LOCAL_SECONDS,
        min_labelled_alerts=c.MIN_LABELLED_ALERTS_LOCAL,
        retrain_cooldown_seconds=c.RETRAIN_COOLDOWN_LOCAL_SECONDS,
        retrain_daily_cap=c.RETRAIN_DAILY_CAP_LOCAL,
    ),
    "aws": StageConfig("aws", RemovalPolicy.RETAIN, powertools_trace_disabled=False),
}


def stage_name(scope: Construct) -> str:
    """The selected stage name; an unknown name fails synth instead of deploying a guess."""
    raw = os.environ.get(c.STAGE_ENV_VAR) or scope.node.try_get_context(c.STAGE_CONTEXT_KEY)
    name = str(raw or "local").strip().lower()
    if name not in _STAGES:
        raise ValueError(f"unknown stage {name!r}: set {c.STAGE_ENV_VAR} to one of {c.STAGES}")
    return name


def resolve_stage(scope: Construct) -> StageConfig:
    stage = _STAGES[stage_name(scope)]
    source = scope.node.try_get_context(c.DATA_LAYER_CONTEXT_KEY)
    if source is None:
        return stage
    source = str(source).strip().lower()
    if source not in c.DATA_LAYER_SOURCES:
        raise ValueError(
            f"unknown data layer source {source!r}: set {c.DATA_LAYER_CONTEXT_KEY} to one of "
            f"{c.DATA_LAYER_SOURCES}"
        )
    if source == "managed" and stage.is_local:
        raise ValueError(
            "the managed AWS SDK for pandas layer exists only in AWS accounts: LocalStack "
            "cannot serve it, the local stage always builds the data layer"
        )
    return replace(stage, data_layer=source)
