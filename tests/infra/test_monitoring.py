"""Monitoring: every alarm on the right metric and threshold, an encrypted topic CloudWatch can
publish to, and a dashboard that shows the same figures."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra import constants as c
from tests.infra.synth_support import resources


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    """Alarm properties by the part of the name after the stack name."""
    out = {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        assert props["AlarmName"].startswith(c.STACK_NAME + "-")
        out[props["AlarmName"][len(c.STACK_NAME) + 1 :]] = props
    return out


def _topic_id(template: Template) -> str:
    [topic_id] = resources(template, "AWS::SNS::Topic")
    return topic_id


def _dims(props: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in props["Dimensions"]}


def test_alarm_set_is_per_source_and_contract_plus_the_stream_and_scoring_ones(
    template: Template,
) -> None:
    names = set(_alarms(template))
    expected = (
        # rejection rate where a source reads the contract (the stream: transactions only),
        # freshness where the contract has a wall-clock event time (not creditcard_benchmark)
        {
            f"{c.ALARM_REJECTION_RATE}-batch-transactions",
            f"{c.ALARM_REJECTION_RATE}-batch-creditcard_benchmark",
            f"{c.ALARM_REJECTION_RATE}-stream-transactions",
            f"{c.ALARM_FRESHNESS_LAG}-batch-transactions",
            f"{c.ALARM_FRESHNESS_LAG}-stream-transactions",
        }
        | {c.ALARM_DLQ_DEPTH, c.ALARM_ITERATOR_AGE, c.ALARM_BATCH_ERRORS}
        | {f"{c.ALARM_EXPIRED_RECORDS}-{k}" for k in ("ingestion", "scoring")}
        # scoring's (their metrics and thresholds: test_scoring_infra)
        | {
            f"{a}-{k}"
            for a in (c.ALARM_SCORING_ERRORS, c.ALARM_MODEL_REJECTED)
            for k in ("stream", "api")
        }
        | {c.ALARM_SCORING_ITERATOR_AGE}
        # the model watch's (test_model_watch_infra)
        | {c.ALARM_DRIFT, c.ALARM_PRECISION}
    )
    assert names == expected


def test_every_alarm_notifies_the_topic_and_ignores_missing_data(template: Template) -> None:
    topic = {"Ref": _topic_id(template)}
    for name, props in _alarms(template).items():
        assert props["AlarmActions"] == [topic], name
        assert props["OKActions"] == [topic], name
        assert props["TreatMissingData"] == "notBreaching", name
        assert props["ComparisonOperator"] == "GreaterThanThreshold", name
        description = props["AlarmDescription"]
        text = description if isinstance(description, str) else str(description["Fn::Join"][1])
        assert len(text) > 40, name


def test_rejection_rate_is_a_simple_alarm_on_the_published_share(template: Template) -> None:
    # a simple alarm (LocalStack evaluates no metric math): the average over the period of each
    # file's or batch's rejected share, which the ingestion functions publish themselves
    props = _alarms(template)[f"{c.ALARM_REJECTION_RATE}-stream-transactions"]
    assert "Metrics" not in props
    assert props["MetricName"] == c.METRIC_REJECTED_PERCENT
    assert props["Namespace"] == c.METRICS_NAMESPACE
    assert props["Statistic"] == "Average" and props["Period"] == c.ALARM_PERIOD_LOCAL_SECONDS
    assert props["Threshold"] == c.REJECTION_RATE_THRESHOLD_PERCENT
    assert props["EvaluationPeriods"] == c.REJECTION_RATE_EVALUATION_PERIODS
    assert _dims(props) == {
        c.METRIC_DIM_SERVICE: c.FN_INGEST_STREAM,
        c.METRIC_DIM_CONTRACT: "transactions",
    }


def test_freshness_lag_alarm_averages_the_lag_of_the_periods_files_and_batches(
    template: Template,
) -> None:
    props = _alarms(template)[f"{c.ALARM_FRESHNESS_LAG}-batch-transactions"]
    assert props["MetricName"] == c.METRIC_FRESHNESS_LAG
    assert props["Namespace"] == c.METRICS_NAMESPACE
    # a simple statistic: LocalStack evaluates no percentile (ExtendedStatistic) alarm
    assert props["Statistic"] == c.FRESHNESS_LAG_STATISTIC == "Average"
    assert "ExtendedStatistic" not in props
    assert props["Threshold"] == c.FRESHNESS_LAG_THRESHOLD_SECONDS
    assert props["EvaluationPeriods"] == c.FRESHNESS_LAG_EVALUATION_PERIODS
    assert _dims(props) == {
        c.METRIC_DIM_SERVICE: c.FN_INGEST_BATCH,
        c.METRIC_DIM_CONTRACT: "transactions",
    }


def test_dead_letter_depth_alarm_watches_the_unaccounted_queue(template: Template) -> None:
    # The stream DLQ is drained by the accounting function; what it cannot handle is the alarm
    props = _alarms(template)[c.ALARM_DLQ_DEPTH]
    [dlq_id] = [k for k in resources(template, "AWS::SQS::Queue") if "Unaccounted" in k]
    assert props["Namespace"] == "AWS/SQS"
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Statistic"] == "Maximum"
    assert props["Threshold"] == 0 and props["EvaluationPeriods"] == 1
    assert props["Period"] == c.DLQ_DEPTH_PERIOD_SECONDS
    assert _dims(props) == {"QueueName": {"Fn::GetAtt": [dlq_id, "QueueName"]}}


def test_iterator_age_alarms_watch_the_age_the_stream_consumers_publish(
    template: Template,
) -> None:
    # LocalStack publishes no Lambda IteratorAge: the consumers publish their batches' oldest
    # record's age on arrival, and the alarms (local stage: 30 s, one period) read that
    for key, service in (
        (c.ALARM_ITERATOR_AGE, c.FN_INGEST_STREAM),
        (c.ALARM_SCORING_ITERATOR_AGE, c.FN_SCORE_STREAM),
    ):
        props = _alarms(template)[key]
        assert props["Namespace"] == c.METRICS_NAMESPACE
        assert props["MetricName"] == c.METRIC_RECORD_AGE
        assert props["Statistic"] == "Maximum"
        assert props["Threshold"] == c.ITERATOR_AGE_THRESHOLD_LOCAL_MS
        assert props["EvaluationPeriods"] == c.ITERATOR_AGE_EVALUATION_PERIODS_LOCAL
        assert _dims(props) == {c.METRIC_DIM_SERVICE: service}


def test_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use(template: Template) -> None:
    [(key_id, key)] = resources(template, "AWS::KMS::Key").items()
    [topic] = resources(template, "AWS::SNS::Topic").values()
    # Then the topic uses the customer-managed key (aws/sns could not be shared with CloudWatch)
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    [cw] = [s for s in statements if s.get("Sid") == "CloudWatchAlarmsPublishEncrypted"]
    assert cw["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(cw["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    # And its policy refuses non-TLS publishing, lets only this account's CloudWatch publish
    [policy] = resources(template, "AWS::SNS::TopicPolicy").values()
    stmts = policy["Properties"]["PolicyDocument"]["Statement"]
    [deny] = [s for s in stmts if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [allow] = [s for s in stmts if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def _dashboard_body(template: Template) -> str:
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"{c.STACK_NAME}-{c.DASHBOARD_SUFFIX}"
    return json.dumps(dashboard["Properties"]["DashboardBody"])


def test_dashboard_shows_the_alarmed_metrics(template: Template) -> None:
    body = _dashboard_body(template)
    for needle in (
        c.METRIC_RECORDS_IN,
        c.METRIC_RECORDS_VALID,
        c.METRIC_RECORDS_REJECTED,
        c.METRIC_FRESHNESS_LAG,
        "ApproximateNumberOfMessagesVisible",
        c.METRIC_RECORD_AGE,
        c.METRIC_REJECTED_PERCENT,
        "Rejected share",
        '\\"type\\":\\"alarm\\"',  # the alarm status widget
    ):
        assert needle in body, needle
    # And every alarm appears in the status widget
    for alarm_id in resources(template, "AWS::CloudWatch::Alarm"):
        assert f'"Fn::GetAtt": ["{alarm_id}", "Arn"]' in body, alarm_id
