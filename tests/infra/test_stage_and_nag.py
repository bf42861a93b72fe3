"""The stage switch changes only what it should; cdk-nag really stops a non-compliant synth."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from infra import constants as c
from infra.app_factory import build_app, cdk_json_context
from tests.infra.synth_support import synth


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {
        stage: dict(synth(tmp_path_factory.mktemp(f"cdk-{stage}"), stage)[1].to_json())
        for stage in c.STAGES
    }


def _normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The template without what the stage is allowed to change."""
    t = copy.deepcopy(template)
    t.pop("Description", None)
    t["Outputs"].pop(c.OUT_STAGE)
    for res in t["Resources"].values():
        res.pop("DeletionPolicy", None)
        res.pop("UpdateReplacePolicy", None)
        env = res.get("Properties", {}).get("Environment", {}).get("Variables", {})
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        for name in ("DRIFT_WINDOW_SECONDS", "QUALITY_MIN_LABELLED_ALERTS",
                     "RETRAIN_COOLDOWN_SECONDS", "RETRAIN_DAILY_CAP"):  # fmt: skip
            env.pop(name, None)
        if _is_score_api(res):
            res["Properties"].pop("Timeout")
        if res["Type"] == "AWS::Events::Rule":
            res["Properties"].pop("ScheduleExpression", None)
        if res["Type"] == "AWS::CloudWatch::Alarm":  # alarm periods are stage settings
            res["Properties"].pop("Period", None)
            for query in res["Properties"].get("Metrics", []):
                query.get("MetricStat", {}).pop("Period", None)
            if res["Properties"].get("MetricName") == c.METRIC_RECORD_AGE:  # how far behind
                for name in ("Threshold", "EvaluationPeriods", "AlarmDescription"):
                    res["Properties"].pop(name)
    return t


def _is_score_api(resource: dict[str, Any]) -> bool:
    return resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get(
        "Description", ""
    ).startswith("Scores one transaction per signed call")


def test_stages_differ_only_in_retention_tracing_and_the_local_timings(
    templates: dict[str, dict[str, Any]],
) -> None:
    # Given the local and aws templates, When the stage-owned settings are removed
    # Then nothing else differs: same resources, same properties, same asset hashes
    assert _normalized(templates["local"]) == _normalized(templates["aws"])


def test_local_destroys_data_and_aws_retains_it(templates: dict[str, dict[str, Any]]) -> None:
    data_types = {"AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Kinesis::Stream"}
    for stage, expected in (("local", "Delete"), ("aws", "Retain")):
        for res in templates[stage]["Resources"].values():
            if res["Type"] in data_types:
                assert res["DeletionPolicy"] == expected, (stage, res["Type"])
        assert templates[stage]["Outputs"][c.OUT_STAGE]["Value"] == stage


def test_tracer_quiet_only_on_local(templates: dict[str, dict[str, Any]]) -> None:
    for stage, expected in (("local", "true"), ("aws", "false")):
        values = {
            r["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"]
            for r in templates[stage]["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Environment")
        }
        assert values == {expected}


def test_unknown_stage_fails_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.STAGE_ENV_VAR, "prod-ish")
    with pytest.raises(ValueError, match="unknown stage"):
        build_app(context=cdk_json_context(), outdir=str(tmp_path))


def test_cdk_nag_stops_synth_on_an_unacknowledged_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app plus a queue without TLS enforcement (AwsSolutions-SQS4)
    monkeypatch.setenv(c.STAGE_ENV_VAR, "local")
    _, stack = build_app(context=cdk_json_context(), outdir=str(tmp_path))
    sqs.Queue(stack, "NonCompliant")
    # When synthesized, Then cdk-nag's findings interrupt synthesis
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4"):
        Template.from_stack(stack)


def test_the_scoring_api_times_out_sooner_on_aws_than_on_a_2_core_host(
    templates: dict[str, dict[str, Any]],
) -> None:
    for stage, expected in (
        ("local", c.SCORE_API_TIMEOUT_LOCAL_SECONDS),
        ("aws", c.SCORE_API_TIMEOUT_SECONDS),
    ):
        (timeout,) = [
            r["Properties"]["Timeout"] for r in templates[stage]["Resources"].values()
            if _is_score_api(r)
        ]  # fmt: skip
        assert timeout == expected, stage


def test_the_local_stage_watches_drift_sooner_and_over_a_shorter_window(
    templates: dict[str, dict[str, Any]],
) -> None:
    for stage, (minutes, window, period) in (
        ("local", (c.DRIFT_SCHEDULE_LOCAL_MINUTES, c.DRIFT_WINDOW_LOCAL_SECONDS,
                   c.DRIFT_ALARM_PERIOD_LOCAL_SECONDS)),
        ("aws", (c.DRIFT_SCHEDULE_MINUTES, c.DRIFT_WINDOW_SECONDS, c.DRIFT_ALARM_PERIOD_SECONDS)),
    ):  # fmt: skip
        resources = templates[stage]["Resources"].values()
        (schedule,) = [
            r["Properties"]["ScheduleExpression"] for r in resources
            if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"]
            and "drift" in r["Properties"].get("Description", "")
        ]  # fmt: skip
        unit = "minute" if minutes == 1 else "minutes"
        assert schedule == f"rate({minutes} {unit})", stage
        functions = [r["Properties"] for r in resources if r["Type"] == "AWS::Lambda::Function"]
        (env,) = [
            env
            for p in functions
            if "DRIFT_WINDOW_SECONDS" in (env := p.get("Environment", {}).get("Variables", {}))
        ]
        assert env["DRIFT_WINDOW_SECONDS"] == str(window), stage
        alarms = [r["Properties"] for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"]
        (alarm,) = [a for a in alarms if a.get("MetricName") == "DriftPSI"]
        assert alarm["Period"] == period, stage


def test_the_local_stage_retrains_and_judges_precision_on_short_settings(
    templates: dict[str, dict[str, Any]],
) -> None:
    for stage, (cooldown, cap, minimum, period) in (
        ("local", (c.RETRAIN_COOLDOWN_LOCAL_SECONDS, c.RETRAIN_DAILY_CAP_LOCAL,
                   c.MIN_LABELLED_ALERTS_LOCAL, c.QUALITY_ALARM_PERIOD_LOCAL_SECONDS)),
        ("aws", (c.RETRAIN_COOLDOWN_SECONDS, c.RETRAIN_DAILY_CAP, c.MIN_LABELLED_ALERTS,
                 c.QUALITY_ALARM_PERIOD_SECONDS)),
    ):  # fmt: skip
        resources = list(templates[stage]["Resources"].values())
        envs = [
            r["Properties"].get("Environment", {}).get("Variables", {})
            for r in resources
            if r["Type"] == "AWS::Lambda::Function"
        ]
        (retrain,) = [e for e in envs if "RETRAIN_COOLDOWN_SECONDS" in e]
        assert (retrain["RETRAIN_COOLDOWN_SECONDS"], retrain["RETRAIN_DAILY_CAP"]) == (
            str(cooldown), str(cap)), stage  # fmt: skip
        (quality,) = [e for e in envs if "QUALITY_MIN_LABELLED_ALERTS" in e]
        assert quality["QUALITY_MIN_LABELLED_ALERTS"] == str(minimum), stage
        (alarm,) = [
            r["Properties"] for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"
            and r["Properties"].get("MetricName") == "PrecisionShortfall"
        ]  # fmt: skip
        assert alarm["Period"] == period, stage


def test_the_local_stage_alarms_on_counts_and_errors_in_short_periods(
    templates: dict[str, dict[str, Any]],
) -> None:
    for stage, period in (("local", c.ALARM_PERIOD_LOCAL_SECONDS), ("aws", c.ALARM_PERIOD_SECONDS)):
        alarms = {
            r["Properties"]["AlarmName"].removeprefix(f"{c.STACK_NAME}-"): r["Properties"]
            for r in templates[stage]["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        }
        keys = (c.ALARM_BATCH_ERRORS, f"{c.ALARM_SCORING_ERRORS}-stream",
                f"{c.ALARM_MODEL_REJECTED}-api", f"{c.ALARM_EXPIRED_RECORDS}-scoring")  # fmt: skip
        for key in keys:
            assert alarms[key]["Period"] == period, (stage, key)
        assert alarms[f"{c.ALARM_REJECTION_RATE}-batch-transactions"]["Period"] == period, stage
        # And the consumers' lag alarms: 30 s behind for one period locally, 5 min for three
        age = alarms[c.ALARM_ITERATOR_AGE]
        assert (age["Threshold"], age["EvaluationPeriods"]) == (
            (c.ITERATOR_AGE_THRESHOLD_LOCAL_MS, c.ITERATOR_AGE_EVALUATION_PERIODS_LOCAL)
            if stage == "local" else
            (c.ITERATOR_AGE_THRESHOLD_MS, c.ITERATOR_AGE_EVALUATION_PERIODS)
        ), stage  # fmt: skip
