"""Scoring in the template: the decisions table, the two scorers (onnx layer only, the settings
names the shared layer reads), the signed API (AWS_IAM, never NONE), the feed's mapping and its
on-failure queue (drained by the scoring dead-letter function), the replay on `Model Promoted`,
least privilege per function, and the alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from fraudops_shared.runtime import observability, settings
from infra import constants as c
from tests.infra.synth_support import (
    actions_of,
    as_list,
    layer_ids,
    leading_keys,
    object_resources,
    our_functions,
    policy_grants,
    resources,
    state_table_id,
)

SCORERS = {"ScoringScoreStream": c.FN_SCORE_STREAM, "ScoringScoreApi": c.FN_SCORE_API}
# What onnxruntime-only scoring must not carry: the data layer's and the ml layer's packages
HEAVY_PACKAGES = ("pyarrow", "pandas", "sklearn", "scipy")
DEFAULT_BUS = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":events:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":event-bus/default",
        ],
    ]
}


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _function_id(template: Template, construct: str) -> str:
    [lid] = [k for k in our_functions(template) if k.startswith(construct + "Function")]
    return lid


def _policy(template: Template, construct: str) -> list[dict[str, Any]]:
    """A function's role policy, logs and X-Ray aside."""
    [statements] = [
        v for k, v in policy_grants(template).items() if k.startswith(construct + "Role")
    ]
    return statements


def _one(template: Template, cfn_type: str, name: str) -> str:
    [lid] = [k for k in resources(template, cfn_type) if name in k]
    return lid


def _decisions_table(template: Template) -> str:
    return _one(template, "AWS::DynamoDB::Table", "ScoringDecisions")


def _stream(template: Template, name: str) -> str:
    return _one(template, "AWS::Kinesis::Stream", name)


def _data_bucket(template: Template) -> str:
    [lid] = [
        k
        for k, v in resources(template, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in v["Properties"]
    ]
    return lid


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    """Alarm properties by the part of the name after the stack name."""
    return {
        a["Properties"]["AlarmName"].removeprefix(f"{c.STACK_NAME}-"): a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }


# --- the decisions table -------------------------------------------------------------------------


def test_decisions_table_is_keyed_by_transaction_on_demand_encrypted_recoverable_with_ttl(
    template: Template,
) -> None:
    props = resources(template, "AWS::DynamoDB::Table")[_decisions_table(template)]["Properties"]
    # Then one string hash key (the transaction id), on demand, SSE, PITR, expiry by TTL
    assert props == {
        "AttributeDefinitions": [{"AttributeName": c.DECISIONS_TABLE_KEY, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": c.DECISIONS_TABLE_KEY, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {
            "AttributeName": c.DECISIONS_TTL_ATTRIBUTE,
            "Enabled": True,
        },
    }
    assert (c.DECISIONS_TABLE_KEY, c.DECISIONS_TTL_ATTRIBUTE) == ("transaction_id", "expires_at")


# --- the functions -------------------------------------------------------------------------------


def test_scorers_get_deps_onnx_and_shared_layers_only(template: Template) -> None:
    layers = layer_ids(template)
    for construct, folder in SCORERS.items():
        props = our_functions(template)[_function_id(template, construct)]["Properties"]
        # Then exactly deps, onnx and shared (CDK's order, test_stack): no data, no ml layer
        assert [ref["Ref"] for ref in props["Layers"]] == [
            layers["deps"],
            layers["onnx"],
            layers["shared"],
        ], construct
        assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == folder


def test_a_scorers_package_has_onnxruntime_and_no_pandas_pyarrow_or_scikit_learn(
    template: Template, built_layers: dict[str, Path]
) -> None:
    # Given what Lambda puts on a scorer's sys.path: its code and its layers, as built
    role_of = {lid: role for role, lid in layer_ids(template).items()}
    for construct, folder in SCORERS.items():
        props = our_functions(template)[_function_id(template, construct)]["Properties"]
        roots = [c.FUNCTIONS_DIR / folder] + [
            built_layers[role_of[ref["Ref"]]] for ref in props["Layers"]
        ]
        top_level = {p.name for root in roots for p in root.iterdir()}
        # Then onnxruntime is there, and none of the data or ml layer's packages
        assert "onnxruntime" in top_level, construct
        assert not top_level & set(HEAVY_PACKAGES), (construct, top_level & set(HEAVY_PACKAGES))


def test_scorers_read_the_settings_names_of_the_shared_layer(template: Template) -> None:
    state, decisions = state_table_id(template), _decisions_table(template)
    common = {
        settings.STATE_TABLE_ENV: {"Ref": state},
        settings.DATA_BUCKET_ENV: {"Ref": _data_bucket(template)},
        settings.STREAM_CONTRACT_ENV: c.STREAM_CONTRACT,
        settings.DECISIONS_TABLE_ENV: {"Ref": decisions},
        settings.DECISIONS_STREAM_ENV: {"Ref": _stream(template, "DecisionsStream")},
    }
    own = {
        "ScoringScoreStream": {},
        # the API lands what it scored on the transaction stream
        "ScoringScoreApi": {
            settings.TRANSACTION_STREAM_ENV: {"Ref": _stream(template, "TransactionStream")}
        },
    }
    for construct in SCORERS:
        env = our_functions(template)[_function_id(template, construct)]["Properties"][
            "Environment"
        ]["Variables"]
        # Then beside Powertools' settings, exactly these (no SCORING_FEED_STREAM: the mapping
        # brings the feed's records)
        assert {k: v for k, v in env.items() if not k.startswith("POWERTOOLS_")} == {
            **common,
            **own[construct],
        }, construct
    assert c.STREAM_CONTRACT == settings.DEFAULT_STREAM_CONTRACT


def test_scorers_are_sized_from_constants(template: Template) -> None:
    sizes = {
        "ScoringScoreStream": (c.SCORE_STREAM_MEMORY_MB, c.SCORE_STREAM_TIMEOUT_SECONDS),
        "ScoringScoreApi": (c.SCORE_API_MEMORY_MB, c.SCORE_API_TIMEOUT_LOCAL_SECONDS),
    }
    for construct, (memory, timeout) in sizes.items():
        props = our_functions(template)[_function_id(template, construct)]["Properties"]
        assert (props["MemorySize"], props["Timeout"]) == (memory, timeout), construct
        assert "EphemeralStorage" not in props, construct


# --- the signed API ------------------------------------------------------------------------------


def test_the_api_is_a_function_url_with_iam_auth_and_no_one_else_may_invoke_it(
    template: Template,
) -> None:
    api = _function_id(template, "ScoringScoreApi")
    # Then the stack has one function URL, the API's, with AWS_IAM: SigV4-signed calls only
    urls = resources(template, "AWS::Lambda::Url")
    assert [u["Properties"] for u in urls.values()] == [
        {"AuthType": "AWS_IAM", "TargetFunctionArn": _arn(api)}
    ]
    # And no resource policy opens it (a public URL needs AuthType NONE and a permission for
    # principal "*"): no Lambda permission names the API at all
    for lid, permission in resources(template, "AWS::Lambda::Permission").items():
        assert permission["Properties"]["FunctionName"] not in (_arn(api), {"Ref": api}), lid
    # And its URL is the ScoringApiUrl output
    [url_id] = urls
    outputs = template.find_outputs(c.OUT_SCORING_API_URL)
    assert outputs[c.OUT_SCORING_API_URL]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


# --- the feed ------------------------------------------------------------------------------------


def test_the_feed_mapping_reports_partial_failures_bisects_and_gives_up_to_the_scoring_dlq(
    template: Template,
) -> None:
    feed = _stream(template, "ScoringFeed")
    dlq = _one(template, "AWS::SQS::Queue", "ScoringScoringDLQ")
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == _arn(feed)
    ]
    # Then the feed feeds the stream scorer: partial batch responses, bisection, bounded retries
    # and age, one batch per shard at a time, from the oldest record, on-failure to its queue
    assert mapping == {
        "FunctionName": {"Ref": _function_id(template, "ScoringScoreStream")},
        "EventSourceArn": _arn(feed),
        "BatchSize": c.SCORE_STREAM_BATCH_SIZE,
        "MaximumBatchingWindowInSeconds": c.SCORE_STREAM_MAX_BATCHING_WINDOW_SECONDS,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": c.SCORE_STREAM_RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": c.STREAM_MAX_RECORD_AGE_SECONDS,
        "ParallelizationFactor": c.STREAM_PARALLELIZATION_FACTOR,
        "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {"OnFailure": {"Destination": _arn(dlq)}},
    }
    # And the queue is SSE-SQS encrypted, keeps a given-up batch's pointer for 14 days, hides a
    # message while its accounting function may run, and hands what it cannot handle on to the
    # alarmed "unaccounted" queue
    props = resources(template, "AWS::SQS::Queue")[dlq]["Properties"]
    assert props == {
        "MessageRetentionPeriod": c.STREAM_DLQ_RETENTION_DAYS * 24 * 3600,
        "SqsManagedSseEnabled": True,
        "VisibilityTimeout": 6 * c.DLQ_ACCOUNTING_TIMEOUT_SECONDS,
        "RedrivePolicy": {
            "deadLetterTargetArn": {"Fn::GetAtt": [props["RedrivePolicy"]["deadLetterTargetArn"]
                                                   ["Fn::GetAtt"][0], "Arn"]},
            "maxReceiveCount": c.DLQ_ACCOUNTING_MAX_RECEIVES,
        },
    }  # fmt: skip
    assert props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].startswith(
        "IngestionUnaccountedDLQ"
    )


def test_the_api_has_no_mapping(template: Template) -> None:
    api = {"Ref": _function_id(template, "ScoringScoreApi")}
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["FunctionName"] != api


def test_model_promoted_replays_the_parked_records_on_the_stream_scorer(
    template: Template,
) -> None:
    stream_fn = _function_id(template, "ScoringScoreStream")
    [(rule_id, rule)] = [
        (k, v["Properties"])
        for k, v in resources(template, "AWS::Events::Rule").items()
        if v["Properties"].get("EventPattern", {}).get("detail-type") == ["Model Promoted"]
    ]
    # Then the training source's Model Promoted events, on the default bus, invoke the stream
    # scorer (retried twice by EventBridge)
    assert rule["EventPattern"] == {
        "source": [c.TRAINING_EVENT_SOURCE],
        "detail-type": ["Model Promoted"],
    }
    assert "EventBusName" not in rule
    assert rule["State"] == "ENABLED"
    assert rule["Targets"] == [
        {"Arn": _arn(stream_fn), "Id": "Target0", "RetryPolicy": {"MaximumRetryAttempts": 2}}
    ]
    # And EventBridge may invoke it for this rule only: the scorer's one permission
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == _arn(stream_fn)
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": _arn(stream_fn),
            "Principal": "events.amazonaws.com",
            "SourceArn": _arn(rule_id),
        }
    ]


# --- least privilege -----------------------------------------------------------------------------


def _by_service(statements: list[dict[str, Any]]) -> set[str]:
    return {a.split(":")[0] for a in actions_of(statements)}


def test_scorers_state_table_grants_are_fenced_and_model_items_read_only(
    template: Template,
) -> None:
    state = _arn(state_table_id(template))
    for construct in SCORERS:
        on_state = [s for s in _policy(template, construct) if s["Resource"] == state]
        # Then on the state table: card states (batched reads, puts), the champion pointer and
        # model records (GetItem only), and for the stream scorer alone its checkpoints and
        # counters, each under its own prefixes
        expected = [
            (
                ["dynamodb:BatchGetItem", "dynamodb:PutItem"],
                {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CARD#*"]}},
            ),
            (
                ["dynamodb:GetItem"],
                {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["MODEL#*"]}},
            ),
        ]
        if construct == "ScoringScoreStream":
            expected.append(
                (
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                    {
                        "ForAllValues:StringLike": {
                            "dynamodb:LeadingKeys": ["SCORING#*", "ACCOUNT#*"]
                        }
                    },
                )
            )
        got = sorted((sorted(as_list(s["Action"])), s["Condition"]) for s in on_state)
        assert got == sorted(expected), construct
    # (the prefixes are the shared layer's, the ones its adapters build keys with)
    assert [settings.PK_CARD, settings.PK_SCORING, settings.PK_ACCOUNT, settings.PK_MODEL] == [
        "CARD#",
        "SCORING#",
        "ACCOUNT#",
        "MODEL#",
    ]


def test_scorers_use_the_decisions_table_as_their_adapters_do_and_delete_nothing(
    template: Template,
) -> None:
    decisions = _arn(_decisions_table(template))
    for construct in SCORERS:
        statements = _policy(template, construct)
        # Then exactly one grant on the decisions table: batched reads, and batched writes (the
        # stream) or one conditional put (the API)
        on_decisions = [s for s in statements if s["Resource"] == decisions]
        stream = construct == "ScoringScoreStream"
        write = "dynamodb:BatchWriteItem" if stream else "dynamodb:PutItem"
        assert [sorted(as_list(s["Action"])) for s in on_decisions] == [
            sorted(["dynamodb:BatchGetItem", write])
        ], construct
        assert "Condition" not in on_decisions[0]
        # And no DynamoDB grant but these statements (no Query, Scan or DeleteItem)
        count = 4 if construct == "ScoringScoreStream" else 3
        assert len([s for s in statements if actions_of([s], "dynamodb:")]) == count, construct
        assert not actions_of(statements) & {
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:Scan",
        }, construct
    # And no other function has any grant on the decisions table but the scoring dead letters'
    # batched read (what a dead invocation stored counts as decided)
    for lid, statements in policy_grants(template).items():
        if lid.split("Role")[0] in SCORERS:
            continue
        for s in statements:
            if decisions in as_list(s["Resource"]):
                assert lid.startswith("ScoringScoreDeadLetters"), lid
                assert as_list(s["Action"]) == ["dynamodb:BatchGetItem"], lid


def test_scorers_read_models_and_only_the_stream_scorer_keeps_parked_records(
    template: Template,
) -> None:
    bucket = _arn(_data_bucket(template))
    read, write = (
        ("s3:GetObject", "s3:GetObjectVersion"),
        ("s3:PutObject", "s3:AbortMultipartUpload"),
    )
    training, parked = f"/{c.TRAINING_PREFIX}*", f"/{c.PARKED_PREFIX}*"
    expected = {
        # artifacts under training/; parked/ read, written, retired (copy, then delete), listed
        "ScoringScoreStream": {
            **{a: {training, parked} for a in read},
            **{a: {parked} for a in (*write, "s3:DeleteObject")},
        },
        # artifacts under training/, nothing else
        "ScoringScoreApi": {a: {training} for a in read},
    }
    for construct, objects in expected.items():
        statements = _policy(template, construct)
        object_actions = actions_of(statements, "s3:") - {"s3:ListBucket"}
        assert object_actions == set(objects), construct
        assert {a: object_resources(statements, a) for a in objects} == objects, construct
        # And every object grant is in the data bucket
        for s in statements:
            if actions_of([s], "s3:") and "s3:ListBucket" not in as_list(s["Action"]):
                for r in as_list(s["Resource"]):
                    assert r["Fn::Join"][1][0] == bucket, construct
    # And only the stream scorer lists the bucket, under parked/ only
    lists = {
        construct: [
            s for s in _policy(template, construct) if "s3:ListBucket" in as_list(s["Action"])
        ]
        for construct in SCORERS
    }
    assert lists["ScoringScoreApi"] == []
    assert lists["ScoringScoreStream"] == [
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": [f"{c.PARKED_PREFIX}*"]}},
            "Effect": "Allow",
            "Resource": bucket,
        }
    ]


def test_scorers_write_decisions_the_api_also_transactions_the_stream_scorer_reads_the_feed(
    template: Template,
) -> None:
    decisions, transactions, feed = (
        _stream(template, n) for n in ("DecisionsStream", "TransactionStream", "ScoringFeed")
    )
    writes = {"kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards"}
    expected_writes = {
        "ScoringScoreStream": {decisions},
        "ScoringScoreApi": {decisions, transactions},
    }
    for construct, streams in expected_writes.items():
        statements = _policy(template, construct)
        put = [s for s in statements if "kinesis:PutRecords" in as_list(s["Action"])]
        # Then one write statement (CDK's grantWrite) on exactly its streams
        assert [set(as_list(s["Action"])) for s in put] == [writes], construct
        assert {r["Fn::GetAtt"][0] for r in as_list(put[0]["Resource"])} == streams, construct
        # And reads: the stream scorer its feed (its mapping's grant), the API none
        reads = [s for s in statements if "kinesis:GetRecords" in as_list(s["Action"])]
        if construct == "ScoringScoreStream":
            assert [s["Resource"] for s in reads] == [_arn(feed)]
        else:
            assert reads == []
        assert all(s in put or s in reads for s in statements if actions_of([s], "kinesis:")), (
            construct
        )


def test_scorers_put_events_on_the_default_bus_only_and_nothing_else(template: Template) -> None:
    dlq = _arn(_one(template, "AWS::SQS::Queue", "ScoringScoringDLQ"))
    for construct in SCORERS:
        statements = _policy(template, construct)
        # Then PutEvents, on the default bus of its account and region
        events = [s for s in statements if actions_of([s], "events:")]
        assert [(s["Action"], s["Resource"]) for s in events] == [
            ("events:PutEvents", DEFAULT_BUS)
        ], construct
        # And no other service but the ones above; the stream scorer's mapping may send a
        # given-up batch's pointer to the scoring DLQ (CDK's grant), the API nothing
        if construct == "ScoringScoreStream":
            assert _by_service(statements) == {"dynamodb", "s3", "kinesis", "events", "sqs"}
            sqs = [s for s in statements if actions_of([s], "sqs:")]
            assert [(sorted(as_list(s["Action"])), s["Resource"]) for s in sqs] == [
                (["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"], dlq)
            ]
        else:
            assert _by_service(statements) == {"dynamodb", "s3", "kinesis", "events"}


# --- alarms --------------------------------------------------------------------------------------


def test_scoring_alarms_watch_both_scorers_with_the_constants_thresholds(
    template: Template,
) -> None:
    alarms = _alarms(template)
    [topic] = resources(template, "AWS::SNS::Topic")
    stream_fn = _function_id(template, "ScoringScoreStream")
    api_fn = _function_id(template, "ScoringScoreApi")
    scorers = {"stream": (stream_fn, c.FN_SCORE_STREAM), "api": (api_fn, c.FN_SCORE_API)}
    names = [
        *(f"{kind}-{k}" for kind in (c.ALARM_SCORING_ERRORS, c.ALARM_MODEL_REJECTED)
          for k in scorers),
        c.ALARM_SCORING_ITERATOR_AGE,
    ]  # fmt: skip
    # Then they exist, notify the topic (alarm and OK), and ignore missing data
    for name in names:
        props = alarms[name]
        assert props["AlarmActions"] == [{"Ref": topic}], name
        assert props["OKActions"] == [{"Ref": topic}], name
        assert props["ComparisonOperator"] == "GreaterThanThreshold", name
        assert props["TreatMissingData"] == "notBreaching", name
    # And scoring-errors-<scorer>: any Errors of that scorer in a (local) period, one simple
    # alarm each (LocalStack evaluates no metric math)
    for key, (fn, folder) in scorers.items():
        errors = alarms[f"{c.ALARM_SCORING_ERRORS}-{key}"]
        assert (errors["Threshold"], errors["EvaluationPeriods"]) == (0, 1)
        assert {k: errors[k] for k in ("Namespace", "MetricName", "Statistic", "Period")} == {
            "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum",
            "Period": c.ALARM_PERIOD_LOCAL_SECONDS,
        }  # fmt: skip
        assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn}}]
        # And model-rejected-<scorer>: any ModelRejected of that scorer (Sum per period), in the
        # project's namespace with the metric contract's dimensions (the test below)
        rejected = alarms[f"{c.ALARM_MODEL_REJECTED}-{key}"]
        assert (rejected["Threshold"], rejected["EvaluationPeriods"]) == (0, 1)
        assert (rejected["Namespace"], rejected["MetricName"], rejected["Statistic"]) == (
            c.METRICS_NAMESPACE, "ModelRejected", "Sum")  # fmt: skip
        assert rejected["Period"] == c.ALARM_PERIOD_LOCAL_SECONDS
        assert sorted(rejected["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": c.METRIC_DIM_CONTRACT, "Value": c.STREAM_CONTRACT},
            {"Name": c.METRIC_DIM_SERVICE, "Value": folder},
        ]
    # And scoring-iterator-age: the stream scorer behind the feed by more than the threshold
    age = alarms[c.ALARM_SCORING_ITERATOR_AGE]
    # (the age the scorer publishes of its batches' oldest record: LocalStack has no IteratorAge)
    assert {k: age[k] for k in ("Namespace", "MetricName", "Statistic", "Period")} == {
        "Namespace": c.METRICS_NAMESPACE,
        "MetricName": c.METRIC_RECORD_AGE,
        "Statistic": "Maximum",
        "Period": c.ITERATOR_AGE_PERIOD_SECONDS,
    }
    assert age["Dimensions"] == [{"Name": c.METRIC_DIM_SERVICE, "Value": c.FN_SCORE_STREAM}]
    # the local stage's threshold (30 s) is below scoring's own (60 s on AWS)
    assert c.SCORING_ITERATOR_AGE_THRESHOLD_MS == 60_000
    assert age["Threshold"] == c.ITERATOR_AGE_THRESHOLD_LOCAL_MS
    assert age["EvaluationPeriods"] == c.ITERATOR_AGE_EVALUATION_PERIODS_LOCAL


def _watched_metrics(props: dict[str, Any]) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    """(namespace, metric name, dimensions) of every metric an alarm reads; a dimension's value
    as JSON (a literal or a reference such as {"Fn::GetAtt": [queue, "QueueName"]})."""
    stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
    if "MetricName" in props:
        stats.append(props)
    return {
        (
            m["Namespace"],
            m["MetricName"],
            frozenset((d["Name"], json.dumps(d["Value"], sort_keys=True)) for d in m["Dimensions"]),
        )
        for m in stats
    }


@pytest.mark.parametrize("construct", list(SCORERS))
def test_model_rejected_watches_the_metric_each_scorer_really_emits(
    template: Template,
    construct: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the scorer's deployed Powertools settings (its service name is a dimension of every
    # EMF document it writes) and the shared layer's emitters of a refused model: the batch
    # figures for the stream scorer, the API's own refusals for the API
    env = our_functions(template)[_function_id(template, construct)]["Properties"]["Environment"][
        "Variables"
    ]
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.setenv(name, env[name])
    contract = env[settings.STREAM_CONTRACT_ENV]
    capsys.readouterr()
    if construct == "ScoringScoreStream":
        observability.emit_scoring_metrics(
            contract, outcomes={}, parked=0, latency_ms=None, champion=None, shadow=None,
            refused=1, loads=0,
        )  # fmt: skip
    else:
        observability.emit_refusals(contract, 1)
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    emitted = {
        (
            d["Namespace"],
            m["Name"],
            frozenset((k, json.dumps(doc[k])) for dims in d["Dimensions"] for k in dims),
        )
        for doc in docs
        for d in doc["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
        if m["Name"] == "ModelRejected"
    }
    # Then the model-rejected alarm reads exactly that metric (a dimension more or less is
    # another metric, which the alarm would never see)
    assert emitted, docs
    key = "stream" if construct == "ScoringScoreStream" else "api"
    assert emitted <= _watched_metrics(_alarms(template)[f"{c.ALARM_MODEL_REJECTED}-{key}"])


# --- the feed's given-up batches -----------------------------------------------------------------


def test_the_scoring_dlq_is_drained_by_the_scoring_dead_letter_function(template: Template) -> None:
    dlq = _one(template, "AWS::SQS::Queue", "ScoringScoringDLQ")
    fn = _function_id(template, "ScoringScoreDeadLetters")
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == _arn(dlq)
    ]
    # Then one mapping reads the queue, with partial batch responses, for the dead-letter
    # function, sized as ingestion's accounting function
    assert mapping == {
        "FunctionName": {"Ref": fn},
        "EventSourceArn": _arn(dlq),
        "BatchSize": c.DLQ_ACCOUNTING_BATCH_SIZE,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    props = our_functions(template)[fn]["Properties"]
    assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == c.FN_SCORE_DEAD_LETTERS
    assert (props["MemorySize"], props["Timeout"]) == (
        c.DLQ_ACCOUNTING_MEMORY_MB,
        c.DLQ_ACCOUNTING_TIMEOUT_SECONDS,
    )


def test_the_scoring_dead_letter_function_reads_back_parks_and_counts_nothing_more(
    template: Template,
) -> None:
    statements = _policy(template, "ScoringScoreDeadLetters")
    state = _arn(state_table_id(template))
    feed = _arn(_stream(template, "ScoringFeed"))
    dlq = _arn(_one(template, "AWS::SQS::Queue", "ScoringScoringDLQ"))
    # Then its scoring log (commit ranges by Query, counters) under SCORING# and ACCOUNT# only,
    # and batched reads of the decisions (what a dead invocation stored counts as decided)
    dynamo = [s for s in statements if actions_of([s], "dynamodb:")]
    decisions = _arn(_decisions_table(template))
    assert [(sorted(as_list(s["Action"])), s["Resource"]) for s in dynamo] == [
        (["dynamodb:BatchGetItem"], decisions),
        (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"], state),
    ]
    assert leading_keys(dynamo[1:]) == {"SCORING#*", "ACCOUNT#*"}
    # And it reads the feed back (no put on any stream), writes parked/ only, and consumes the
    # scoring DLQ
    kinesis = [s for s in statements if actions_of([s], "kinesis:")]
    assert [s["Resource"] for s in kinesis] == [feed]
    assert "kinesis:GetRecords" in actions_of(kinesis)
    assert not actions_of(kinesis) & {"kinesis:PutRecord", "kinesis:PutRecords"}
    assert actions_of(statements, "s3:") == {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert object_resources(statements, "s3:PutObject") == {f"/{c.PARKED_PREFIX}*"}
    sqs = [s for s in statements if actions_of([s], "sqs:")]
    assert [s["Resource"] for s in sqs] == [dlq]
    assert _by_service(statements) == {"dynamodb", "kinesis", "s3", "sqs"}


def test_the_scoring_dlq_hides_a_message_as_long_as_its_function_may_run(
    template: Template,
) -> None:
    dlq = resources(template, "AWS::SQS::Queue")[_one(template, "AWS::SQS::Queue", "ScoringDLQ")]
    fn = our_functions(template)[_function_id(template, "ScoringScoreDeadLetters")]
    visibility = dlq["Properties"].get("VisibilityTimeout", 30)  # SQS's default
    assert visibility >= fn["Properties"]["Timeout"]


def test_a_scoring_dead_letter_that_cannot_be_handled_is_alarmed(template: Template) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    dlq = _one(template, "AWS::SQS::Queue", "ScoringDLQ")
    redrive = queues[dlq]["Properties"].get("RedrivePolicy", {})
    behind = {redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]} if redrive else set()
    watched = {
        json.loads(value)["Fn::GetAtt"][0]
        for props in _alarms(template).values()
        for _, _, dims in _watched_metrics(props)
        for name, value in dims
        if name == "QueueName"
    }
    assert watched & ({dlq} | behind)
