"""The model watch on the synthesized template: the drift watch's schedule, its least-privilege
role, and the drift alarm reading exactly the metric the watch emits."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from fraudops_shared.runtime import settings
from infra import constants as c
from tests.infra.synth_support import (
    actions_of,
    as_list,
    leading_keys,
    object_resources,
    our_functions,
    policy_grants,
    resources,
)

DECISIONS_ZONE = f"{c.CURATED_PREFIX}{settings.DECISIONS_CONTRACT}/"


def _drift_fn(template: Template) -> str:
    [lid] = [k for k in our_functions(template) if k.startswith("ModelWatchMonitorDriftFunction")]
    return lid


def _policy(template: Template) -> list[dict[str, Any]]:
    [statements] = [
        v for k, v in policy_grants(template).items() if k.startswith("ModelWatchMonitorDriftRole")
    ]
    return statements


def test_the_drift_watch_runs_on_a_schedule_with_its_window_and_threshold(
    template: Template,
) -> None:
    fn = _drift_fn(template)
    [rule] = [
        r["Properties"]
        for k, r in resources(template, "AWS::Events::Rule").items()
        if k.startswith("ModelWatchDriftSchedule")
    ]
    assert rule["ScheduleExpression"] == f"rate({c.DRIFT_SCHEDULE_LOCAL_MINUTES} minute)"
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [fn, "Arn"]}]
    env = our_functions(template)[fn]["Properties"]["Environment"]["Variables"]
    assert env[settings.DRIFT_WINDOW_SECONDS_ENV] == str(c.DRIFT_WINDOW_LOCAL_SECONDS)
    assert env[settings.DRIFT_THRESHOLD_ENV] == str(c.DRIFT_PSI_THRESHOLD)
    assert env[settings.STREAM_CONTRACT_ENV] == c.STREAM_CONTRACT


def test_the_drift_watch_reads_only_model_records_artifacts_and_the_decisions_zone(
    template: Template,
) -> None:
    statements = _policy(template)
    # DynamoDB: GetItem on MODEL# items only (the champion pointer and version records)
    assert actions_of(statements, "dynamodb:") == {"dynamodb:GetItem"}
    assert leading_keys(statements) == {f"{settings.PK_MODEL}*"}
    # S3: objects of the decisions zone and model artifacts (exact versions), read only; the
    # bucket listed under the decisions zone only
    assert actions_of(statements, "s3:") == {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}
    assert object_resources(statements, "s3:GetObject") == {
        f"/{DECISIONS_ZONE}*",
        f"/{c.TRAINING_PREFIX}*",
    }
    assert object_resources(statements, "s3:GetObjectVersion") == {f"/{c.TRAINING_PREFIX}*"}
    [listing] = [s for s in statements if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{DECISIONS_ZONE}*"]}}
    # and nothing else: no writes anywhere, no other service
    assert {a.split(":")[0] for a in actions_of(statements)} == {"dynamodb", "s3"}


def test_the_drift_alarm_reads_the_watchs_metric_at_the_local_period(template: Template) -> None:
    [alarm] = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"].endswith(f"-{c.ALARM_DRIFT}")
    ]
    assert alarm["Namespace"] == c.METRICS_NAMESPACE
    assert alarm["MetricName"] == settings.METRIC_DRIFT_PSI
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        c.METRIC_DIM_SERVICE: c.FN_MONITOR_DRIFT,
        c.METRIC_DIM_CONTRACT: c.STREAM_CONTRACT,
    }
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Period"] == c.DRIFT_ALARM_PERIOD_LOCAL_SECONDS
    assert alarm["Threshold"] == c.DRIFT_PSI_THRESHOLD
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"


# --- the quality watch ---------------------------------------------------------------------------

LABELS_ZONE = f"{c.CURATED_PREFIX}{settings.LABELS_CONTRACT}/"


def _quality_fn(template: Template) -> str:
    [lid] = [k for k in our_functions(template) if k.startswith("ModelWatchMonitorQuality")]
    return lid


def test_the_quality_watch_runs_on_a_schedule_with_its_minimum_margin_and_horizon(
    template: Template,
) -> None:
    fn = _quality_fn(template)
    [rule] = [
        r["Properties"]
        for k, r in resources(template, "AWS::Events::Rule").items()
        if k.startswith("ModelWatchQualitySchedule")
    ]
    assert rule["ScheduleExpression"] == f"rate({c.QUALITY_SCHEDULE_LOCAL_MINUTES} minute)"
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [fn, "Arn"]}]
    env = our_functions(template)[fn]["Properties"]["Environment"]["Variables"]
    assert env[settings.MIN_LABELLED_ALERTS_ENV] == str(c.MIN_LABELLED_ALERTS_LOCAL)
    assert env[settings.PRECISION_MARGIN_ENV] == str(c.PRECISION_MARGIN)
    assert env[settings.LABEL_HORIZON_DAYS_ENV] == str(c.LABEL_HORIZON_DAYS)
    assert settings.PRECISION_FLOOR_ENV not in env  # the floor follows each champion


def test_the_quality_watch_reads_only_model_records_and_the_decisions_and_labels_zones(
    template: Template,
) -> None:
    [statements] = [
        v for k, v in policy_grants(template).items() if k.startswith("ModelWatchMonitorQuality")
    ]
    assert actions_of(statements, "dynamodb:") == {"dynamodb:GetItem"}
    assert leading_keys(statements) == {f"{settings.PK_MODEL}*"}
    assert actions_of(statements, "s3:") == {"s3:GetObject", "s3:ListBucket"}
    assert object_resources(statements, "s3:GetObject") == {
        f"/{DECISIONS_ZONE}*",
        f"/{LABELS_ZONE}*",
    }
    prefixes = sorted(
        p
        for s in statements
        if "s3:ListBucket" in as_list(s["Action"])
        for p in s["Condition"]["StringLike"]["s3:prefix"]
    )
    assert prefixes == sorted([f"{DECISIONS_ZONE}*", f"{LABELS_ZONE}*"])
    assert {a.split(":")[0] for a in actions_of(statements)} == {"dynamodb", "s3"}


def test_the_precision_alarm_reads_the_champions_hourly_shortfall_at_the_local_period(
    template: Template,
) -> None:
    [alarm] = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"].endswith(f"-{c.ALARM_PRECISION}")
    ]
    assert alarm["MetricName"] == settings.METRIC_PRECISION_SHORTFALL
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        c.METRIC_DIM_SERVICE: c.FN_MONITOR_QUALITY,
        c.METRIC_DIM_CONTRACT: c.STREAM_CONTRACT,
        "role": "champion",
        "window": "hourly",
    }
    assert alarm["Statistic"] == "Maximum" and alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Period"] == c.QUALITY_ALARM_PERIOD_LOCAL_SECONDS
    assert alarm["TreatMissingData"] == "notBreaching"
