"""Retraining from alarms on the synthesized template: the function hears the alarm topic and
the training pipeline's end events, and may do only what a guarded retraining needs."""

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


def _fn(template: Template) -> str:
    [lid] = [k for k in our_functions(template) if k.startswith("RetrainingRetrainOnAlarm")]
    return lid


def _statements(template: Template) -> list[dict[str, Any]]:
    [statements] = [
        v for k, v in policy_grants(template).items() if k.startswith("RetrainingRetrainOnAlarm")
    ]
    return statements


def test_the_function_is_subscribed_to_the_alarm_topic_and_hears_training_ends(
    template: Template,
) -> None:
    fn = _fn(template)
    [sub] = [
        s["Properties"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Endpoint"] == {"Fn::GetAtt": [fn, "Arn"]}
    ]
    assert sub["Protocol"] == "lambda"
    assert sub["TopicArn"]["Ref"].startswith("MonitoringAlarmTopic")
    [rule] = [
        r["Properties"]
        for k, r in resources(template, "AWS::Events::Rule").items()
        if k.startswith("RetrainingTrainingEnded")
    ]
    assert rule["EventPattern"] == {"source": [c.TRAINING_EVENT_SOURCE]}
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [fn, "Arn"]}]
    env = our_functions(template)[fn]["Properties"]["Environment"]["Variables"]
    assert env[settings.RETRAIN_COOLDOWN_ENV] == str(c.RETRAIN_COOLDOWN_LOCAL_SECONDS)
    assert env[settings.RETRAIN_DAILY_CAP_ENV] == str(c.RETRAIN_DAILY_CAP_LOCAL)
    assert env[settings.TRAINING_STATE_MACHINE_ENV]["Ref"].startswith("TrainingStateMachine")


def test_the_function_may_take_the_guard_snapshot_and_start_training_only(
    template: Template,
) -> None:
    statements = _statements(template)
    assert leading_keys(statements) == {
        f"{p}*" for p in (settings.PK_RETRAIN, settings.PK_COMMITTED, settings.PK_COMMIT,
                          settings.PK_SNAPSHOT)
    }  # fmt: skip
    by_key = {k: actions_of([s], "dynamodb:") for s in statements for k in leading_keys([s])}
    assert by_key[f"{settings.PK_RETRAIN}*"] == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert by_key[f"{settings.PK_SNAPSHOT}*"] == {"dynamodb:PutItem"}
    contract = c.STREAM_CONTRACT
    assert object_resources(statements, "s3:PutObject") == {f"/{c.SNAPSHOT_PREFIX}*"}
    assert object_resources(statements, "s3:GetObject") == {
        f"/{c.MANIFEST_PREFIX}{contract}/*", f"/{c.CURATED_PREFIX}{contract}/*",
    }  # fmt: skip
    assert actions_of(statements, "states:") == {
        "states:StartExecution",
        "states:DescribeExecution",
    }
    [start] = [s for s in statements if "states:StartExecution" in as_list(s["Action"])]
    assert start["Resource"]["Ref"].startswith("TrainingStateMachine")
    assert {a.split(":")[0] for a in actions_of(statements)} == {"dynamodb", "s3", "states"}
