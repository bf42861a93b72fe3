"""The FraudOps stack's template: security settings, wiring and least privilege, one synth."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Token
from aws_cdk.assertions import Annotations, Match, Template

from fraudops_shared.contracts import load_contract
from fraudops_shared.runtime import settings
from infra import constants as c
from infra.stack import FraudOpsStack
from tests.infra.synth_support import (
    actions_of,
    as_list,
    layer_ids,
    leading_keys,
    object_resources,
    our_functions,
    policy_grants,
    resources,
    state_machine,
    state_table_id,
)


def _only(template: Template, cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {list(found)}"
    return next(iter(found.items()))


def _data_bucket(template: Template) -> tuple[str, dict[str, Any]]:
    buckets = resources(template, "AWS::S3::Bucket")
    [(lid, bucket)] = [
        (k, v) for k, v in buckets.items() if "LoggingConfiguration" in v["Properties"]
    ]
    return lid, bucket


def _statements(template: Template) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_every_bucket_is_encrypted_tls_only_private_and_versioned(template: Template) -> None:
    # Given the synthesized stack, When its buckets are inspected
    buckets = resources(template, "AWS::S3::Bucket")
    # Then each one has SSE, blocks all public access and keeps versions
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    # And each bucket policy denies non-TLS requests and TLS below 1.2
    policies = resources(template, "AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        denies = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
        ]
        conditions = json.dumps([d["Condition"] for d in denies])
        assert '"aws:SecureTransport": "false"' in conditions
        assert '"s3:TlsVersion": 1.2' in conditions


def test_data_bucket_logs_to_the_access_log_bucket(template: Template) -> None:
    # Given the data bucket, Then its server access logs go to the other bucket under a prefix
    _, bucket = _data_bucket(template)
    logging = bucket["Properties"]["LoggingConfiguration"]
    assert logging["LogFilePrefix"] == c.ACCESS_LOGS_PREFIX
    assert "Ref" in logging["DestinationBucketName"]


def test_landing_uploads_notify_the_batch_function(template: Template) -> None:
    # Given the bucket notifications custom resource
    _, notifications = _only(template, "Custom::S3BucketNotifications")
    config = notifications["Properties"]["NotificationConfiguration"]
    # Then exactly one Lambda notification: ObjectCreated filtered on the landing/ prefix
    [lambda_config] = config["LambdaFunctionConfigurations"]
    assert lambda_config["Events"] == ["s3:ObjectCreated:*"]
    assert lambda_config["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": c.LANDING_PREFIX}
    ]
    batch_fn = [k for k in our_functions(template) if "IngestBatch" in k]
    assert lambda_config["LambdaFunctionArn"] == {"Fn::GetAtt": [batch_fn[0], "Arn"]}


def test_streams_are_encrypted_and_provisioned(template: Template) -> None:
    # Given the transaction stream, the scoring feed and the decisions stream
    streams = resources(template, "AWS::Kinesis::Stream")
    assert len(streams) == 3
    sizes = {
        "TransactionStream": (c.STREAM_SHARD_COUNT, c.STREAM_RETENTION_HOURS),
        "ScoringFeed": (c.SCORING_FEED_SHARD_COUNT, c.SCORING_FEED_RETENTION_HOURS),
        "DecisionsStream": (c.DECISIONS_STREAM_SHARD_COUNT, c.DECISIONS_STREAM_RETENTION_HOURS),
    }
    for name, (shards, hours) in sizes.items():
        [props] = [v["Properties"] for k, v in streams.items() if name in k]
        # Then each is KMS-encrypted (aws/kinesis), provisioned and sized from constants
        assert props == {
            "ShardCount": shards,
            "RetentionPeriodHours": hours,
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        }


def test_only_the_stream_function_writes_the_scoring_feed_and_knows_its_name(
    template: Template,
) -> None:
    # Given the three streams and every role policy
    streams = resources(template, "AWS::Kinesis::Stream")
    feed_id, decisions_id, transactions_id = (
        next(k for k in streams if name in k)
        for name in ("ScoringFeed", "DecisionsStream", "TransactionStream")
    )
    writes = {"kinesis:PutRecord", "kinesis:PutRecords"}
    written: dict[str, set[str]] = {}
    for lid, statements in policy_grants(template).items():
        for s in statements:
            if actions_of([s]) & writes:
                # (each write statement is CDK's grantWrite: the puts and ListShards)
                assert actions_of([s]) == writes | {"kinesis:ListShards"}, lid
                written.setdefault(lid.split("Role")[0], set()).update(
                    r["Fn::GetAtt"][0] for r in as_list(s["Resource"])
                )
    # Then only the ingestion stream function puts records on the feed (curated rows), the
    # scorers put their decisions on the decisions stream, and the scoring API also lands what
    # it scored on the transaction stream; no one else writes any stream
    assert written == {
        "IngestionIngestStream": {feed_id},
        "ScoringScoreStream": {decisions_id},
        "ScoringScoreApi": {decisions_id, transactions_id},
    }
    # And the feed's name reaches it through SCORING_FEED_STREAM, and no other function
    for lid, fn in our_functions(template).items():
        env = fn["Properties"]["Environment"]["Variables"]
        if lid.startswith("IngestionIngestStream"):
            assert env[settings.SCORING_FEED_ENV] == {"Ref": feed_id}
        else:
            assert settings.SCORING_FEED_ENV not in env, lid


def test_stream_functions_read_the_contract_the_stack_names(template: Template) -> None:
    # The contract the transaction stream carries is set by the stack, and is a shipped contract
    for lid, fn in our_functions(template).items():
        if lid.startswith(("IngestionIngestStream", "IngestionDeadLetterAccounting")):
            env = fn["Properties"]["Environment"]["Variables"]
            assert env[settings.STREAM_CONTRACT_ENV] == settings.DEFAULT_STREAM_CONTRACT, lid
    assert load_contract(settings.DEFAULT_STREAM_CONTRACT).name == settings.DEFAULT_STREAM_CONTRACT


def test_stream_mapping_reports_partial_failures_bisects_and_sends_failures_to_sqs(
    template: Template,
) -> None:
    # Given the stream function's mapping of the transaction stream (not the scorer's mapping
    # of the feed: test_scoring_infra; the decisions stream's: test_decisions_stream)
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    stream_fn = next(k for k in our_functions(template) if k.startswith("IngestionIngestStream"))
    transactions = next(
        k for k in resources(template, "AWS::Kinesis::Stream") if "TransactionStream" in k
    )
    [props] = [
        v["Properties"]
        for v in mappings.values()
        if v["Properties"]["FunctionName"] == {"Ref": stream_fn}
        and v["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [transactions, "Arn"]}
    ]
    dlq_id = next(k for k in resources(template, "AWS::SQS::Queue") if "StreamDLQ" in k)
    # Then partial batch responses, bisection, bounded retries and age, on-failure to the DLQ
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == c.STREAM_RETRY_ATTEMPTS
    assert props["MaximumRecordAgeInSeconds"] == c.STREAM_MAX_RECORD_AGE_SECONDS
    assert props["BatchSize"] == c.STREAM_BATCH_SIZE
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    }


def test_queues_are_encrypted_and_tls_only(template: Template) -> None:
    # Given the stream's, the batch's, the unaccounted and the scoring feed's dead-letter
    # queues and the model-events queue
    queues = resources(template, "AWS::SQS::Queue")
    kinds = (
        "IngestionStreamDLQ",
        "IngestionBatchDLQ",
        "IngestionUnaccountedDLQ",
        "TrainingModelEvents",
        "ScoringScoringDLQ",
    )
    assert sorted(k[:-8] for k in queues) == sorted(kinds)  # less the 8-character hash
    [events_queue] = [k for k in queues if k.startswith("TrainingModelEvents")]
    # Then each is SSE-SQS encrypted
    assert all(q["Properties"]["SqsManagedSseEnabled"] is True for q in queues.values())
    # And each has one policy that denies every non-TLS request on it
    policies = resources(template, "AWS::SQS::QueuePolicy").values()
    assert sorted(q["Ref"] for p in policies for q in p["Properties"]["Queues"]) == sorted(queues)
    for policy in policies:
        [queue] = policy["Properties"]["Queues"]
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        [deny] = [s for s in statements if s["Effect"] == "Deny"]
        assert deny == {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Fn::GetAtt": [queue["Ref"], "Arn"]},
        }
        # And only the model-events queue allows anything: EventBridge delivering to it
        allows = [s for s in statements if s["Effect"] != "Deny"]
        if queue["Ref"] == events_queue:
            [allow] = allows
            assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        else:
            assert allows == [], queue


def test_dead_letters_are_drained_by_the_accounting_function(template: Template) -> None:
    # Given the mapping of the stream's DLQ (scoring's dead-letter function drains the scoring
    # DLQ: test_scoring_infra)
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    accounting = next(
        k for k in our_functions(template) if k.startswith("IngestionDeadLetterAccounting")
    )
    queues = resources(template, "AWS::SQS::Queue")
    dlq_id = next(k for k in queues if "StreamDLQ" in k)
    [sqs_esm] = [
        v["Properties"]
        for v in mappings.values()
        if v["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    ]
    unaccounted_id = next(k for k in queues if "Unaccounted" in k)
    # Then the accounting function reads it with partial batch responses, and what it cannot
    # handle moves on to the unaccounted queue
    assert sqs_esm["FunctionName"] == {"Ref": accounting}
    assert sqs_esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    redrive = queues[dlq_id]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [unaccounted_id, "Arn"]}
    assert redrive["maxReceiveCount"] == c.DLQ_ACCOUNTING_MAX_RECEIVES
    # And the visibility timeout outlasts the function
    assert queues[dlq_id]["Properties"]["VisibilityTimeout"] >= c.DLQ_ACCOUNTING_TIMEOUT_SECONDS


def test_the_one_state_machine_is_training_from_its_asl_file(template: Template) -> None:
    # Given the stack's state machines
    machines = resources(template, "AWS::StepFunctions::StateMachine")
    # Then there is one, training's, defined by its ASL file (details: test_training_infra)
    training_sm_id, training = state_machine(template, c.TRAINING_LOG_SUFFIX)
    assert set(machines) == {training_sm_id}
    assert json.loads(training["Properties"]["DefinitionString"]) == json.loads(
        c.TRAINING_ASL.read_text()
    )


def test_registry_table_settings(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [
                {"AttributeName": c.TABLE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": c.TABLE_SORT_KEY, "KeyType": "RANGE"},
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": c.TABLE_TTL_ATTRIBUTE, "Enabled": True},
        },
    )


# Each function's folder (its service name) and its layers, in the template's order. CDK sorts a
# function's layers by construct path (feature flag @aws-cdk/aws-lambda:recognizeLayerVersion),
# not in SharedLayers.with_extra's order: data sorts before deps, ml and onnx after it. shared is
# last either way, so it wins; a package two layers both carry is the same pin (test_layers).
FUNCTION_LAYERS = {
    "IngestionIngestBatch": (c.FN_INGEST_BATCH, ["data", "deps", "shared"]),
    "IngestionIngestStream": (c.FN_INGEST_STREAM, ["data", "deps", "shared"]),
    "IngestionDeadLetterAccounting": (c.FN_DLQ_ACCOUNTING, ["data", "deps", "shared"]),
    "TrainingPrepare": (c.FN_TRAINING_PREPARE, ["data", "deps", "shared"]),
    "TrainingTrain": (c.FN_TRAINING_TRAIN, ["deps", "ml", "shared"]),
    "TrainingEvaluate": (c.FN_TRAINING_EVALUATE, ["deps", "onnx", "shared"]),
    "TrainingRegister": (c.FN_TRAINING_REGISTER, ["deps", "shared"]),
    "ScoringScoreStream": (c.FN_SCORE_STREAM, ["deps", "onnx", "shared"]),
    "ScoringScoreApi": (c.FN_SCORE_API, ["deps", "onnx", "shared"]),
    "ScoringScoreDeadLetters": (c.FN_SCORE_DEAD_LETTERS, ["deps", "onnx", "shared"]),
    "ModelWatchMonitorDrift": (c.FN_MONITOR_DRIFT, ["data", "deps", "shared"]),
    "ModelWatchMonitorQuality": (c.FN_MONITOR_QUALITY, ["data", "deps", "shared"]),
    "RetrainingRetrainOnAlarm": (c.FN_RETRAIN_ON_ALARM, ["data", "deps", "shared"]),
}


def test_functions_have_their_layers_own_log_group_and_powertools_env(template: Template) -> None:
    # Given the project's functions and the five layers
    functions = our_functions(template)
    layers = layer_ids(template)
    log_groups = set(resources(template, "AWS::Logs::LogGroup"))
    assert len(resources(template, "AWS::Lambda::LayerVersion")) == len(layers) == 5
    by_construct = {
        prefix: next(lid for lid in functions if lid.startswith(prefix + "Function"))
        for prefix in FUNCTION_LAYERS
    }
    assert set(by_construct.values()) == set(functions)
    for prefix, (folder, roles) in FUNCTION_LAYERS.items():
        lid = by_construct[prefix]
        fn = functions[lid]
        props = fn["Properties"]
        # Then each has python3.12 x86_64, its own explicit log group, tracing
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["x86_64"]
        assert props["LoggingConfig"]["LogGroup"]["Ref"] in log_groups
        assert props["TracingConfig"] == {"Mode": "Active"}
        # And exactly its layers: the data layer (pandas/pyarrow) on ingestion and training's
        # prepare, ml on train, onnx on evaluate and the three scoring functions, deps and
        # shared on every function
        assert [ref["Ref"] for ref in props["Layers"]] == [layers[r] for r in roles], lid
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == c.METRICS_NAMESPACE
        assert env["POWERTOOLS_SERVICE_NAME"] == folder, lid
        assert "Ref" in env[settings.STATE_TABLE_ENV]


def test_ingestion_sizes_come_from_constants(template: Template) -> None:
    functions = our_functions(template)
    batch = next(v for k, v in functions.items() if k.startswith("IngestionIngestBatch"))
    stream = next(v for k, v in functions.items() if k.startswith("IngestionIngestStream"))
    assert batch["Properties"]["MemorySize"] == c.INGEST_BATCH_MEMORY_MB == 2048
    assert batch["Properties"]["Timeout"] == c.INGEST_BATCH_TIMEOUT_SECONDS == 900
    assert batch["Properties"]["EphemeralStorage"] == {"Size": c.INGEST_BATCH_EPHEMERAL_STORAGE_MB}
    assert stream["Properties"]["MemorySize"] == c.INGEST_STREAM_MEMORY_MB
    assert stream["Properties"]["Timeout"] == c.INGEST_STREAM_TIMEOUT_SECONDS
    assert "EphemeralStorage" not in stream["Properties"]


def test_ingestion_functions_know_the_zones(template: Template) -> None:
    # The names fraudops_shared.lake.zones.zones_from_env reads: bucket and every zone prefix
    for lid, fn in our_functions(template).items():
        if not lid.startswith("Ingestion"):
            continue
        env = fn["Properties"]["Environment"]["Variables"]
        assert env[settings.DATA_BUCKET_ENV] == {"Ref": _data_bucket(template)[0]}
        assert env[settings.PREFIX_ENVS["landing_prefix"]] == c.LANDING_PREFIX
        assert env[settings.PREFIX_ENVS["curated_prefix"]] == c.CURATED_PREFIX
        assert env[settings.PREFIX_ENVS["quarantine_prefix"]] == c.QUARANTINE_PREFIX
        assert env[settings.PREFIX_ENVS["manifest_prefix"]] == c.MANIFEST_PREFIX


def test_stream_batches_are_as_large_as_lambda_allows_and_in_shard_order() -> None:
    # A batch is one commit whatever its size (a shard checkpoint): up to Lambda's 10,000; the
    # checkpoint needs one batch per shard at a time
    assert c.STREAM_BATCH_SIZE == settings.MAX_STREAM_BATCH == 10_000
    assert c.STREAM_PARALLELIZATION_FACTOR == 1


def test_no_node_custom_resources(template: Template) -> None:
    # Given every function in the template (ours and CDK's), Then none needs Node.js
    runtimes = {
        f["Properties"].get("Runtime")
        for f in resources(template, "AWS::Lambda::Function").values()
    }
    assert all(r.startswith("python") for r in runtimes), runtimes
    assert not resources(template, "Custom::S3AutoDeleteObjects")
    assert not resources(template, "Custom::LogRetention")


def test_iam_has_no_wildcard_actions_and_star_resources_only_where_aws_requires(
    template: Template,
) -> None:
    star_ok_prefixes = ("xray:", "logs:")  # no resource-level permissions exist for these
    for statement in _statements(template):
        actions = as_list(statement["Action"])
        for action in actions:
            assert action != "*" and not action.endswith(":*"), statement
        if "*" in as_list(statement["Resource"]):
            assert all(a.startswith(star_ok_prefixes) for a in actions), statement


def test_each_function_can_do_only_its_job(template: Template) -> None:
    by_policy = policy_grants(template)

    def policy(prefix: str) -> list[dict[str, Any]]:
        return next(v for k, v in by_policy.items() if k.startswith(prefix))

    batch = policy("IngestionIngestBatch")
    stream = policy("IngestionIngestStream")
    dead = policy("IngestionDeadLetterAccounting")
    training_machine = policy("TrainingStateMachine")
    items = {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
    }
    # Then the batch function: its adapters' item calls, on its kinds of items only
    assert actions_of(batch, "dynamodb:") == items | {"dynamodb:DeleteItem"}
    assert leading_keys(batch) == {"FILE#*", "COMMIT#*", "COMMITTED#*", "KEYS#*", "ACCOUNT#*"}
    # And it reads landing/ (and the first copies and staged objects of its own commits),
    # writes its output zones, and deletes only staged objects
    assert actions_of(batch, "s3:") == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
    }
    zones = (c.CURATED_PREFIX, c.QUARANTINE_PREFIX, c.MANIFEST_PREFIX, c.STAGING_PREFIX)
    outputs = {"/" + p + "*" for p in zones}
    first_copies = {"/" + c.CURATED_PREFIX + "*", "/" + c.STAGING_PREFIX + "*"}
    assert object_resources(batch, "s3:GetObject") == {"/" + c.LANDING_PREFIX + "*"} | first_copies
    assert object_resources(batch, "s3:PutObject") == outputs
    assert object_resources(batch, "s3:DeleteObject") == {"/" + c.STAGING_PREFIX + "*"}
    # And its only other right: sending a failed event to its dead-letter queue
    assert {a.split(":")[0] for a in actions_of(batch)} == {"dynamodb", "s3", "sqs"}
    assert actions_of(batch, "sqs:") == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }  # fmt: skip (CDK's grantSendMessages)
    # And the stream function: checkpoints, commits, the index, counters; its ESM's needs
    assert actions_of(stream, "dynamodb:") == items
    assert leading_keys(stream) == {
        "CHECKPOINT#*", "SHARDLOG#*", "COMMIT#*", "COMMITTED#*", "KEYS#*", "ACCOUNT#*"
    }  # fmt: skip
    assert actions_of(stream, "s3:") == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
    }
    assert object_resources(stream, "s3:GetObject") == first_copies
    assert object_resources(stream, "s3:PutObject") == outputs
    assert "sqs:SendMessage" in actions_of(stream)
    assert {a.split(":")[0] for a in actions_of(stream)} == {"dynamodb", "sqs", "kinesis", "s3"}
    # And both stream consumers read exactly the two ingested streams (the transaction and the
    # decisions stream: mappings for one, shard read-back for the other), never the feed
    streams = resources(template, "AWS::Kinesis::Stream")
    ingested = {
        json.dumps({"Fn::GetAtt": [k, "Arn"]}, sort_keys=True)
        for k in streams
        if "TransactionStream" in k or "DecisionsStream" in k
    }
    for statements in (stream, dead):
        reads = [s for s in statements if "kinesis:GetRecords" in as_list(s["Action"])]
        assert len(reads) == 1
        assert {json.dumps(r, sort_keys=True) for r in as_list(reads[0]["Resource"])} == ingested
    # And the dead-letter function: no index, no checkpoint, no model
    assert leading_keys(dead) == {"FILE#*", "SHARDLOG#*", "COMMIT#*", "COMMITTED#*", "ACCOUNT#*"}
    # And no function may touch another's items: every grant on the state table is fenced by
    # key prefix; the only unfenced DynamoDB grants are on the decisions table: the two
    # scorers' and the scoring dead letters' batched read (test_scoring_infra)
    table_arn = {"Fn::GetAtt": [state_table_id(template), "Arn"]}
    decisions_arn = {
        "Fn::GetAtt": [
            next(k for k in resources(template, "AWS::DynamoDB::Table") if "Decisions" in k),
            "Arn",
        ]
    }
    on_decisions: set[str] = set()
    for lid, statements in by_policy.items():
        for s in statements:
            if not actions_of([s], "dynamodb:"):
                continue
            if s["Resource"] == table_arn:
                assert leading_keys([s]), lid
            else:
                assert s["Resource"] == decisions_arn and "Condition" not in s, lid
                on_decisions.add(lid.split("Role")[0])
    assert on_decisions == {"ScoringScoreStream", "ScoringScoreApi", "ScoringScoreDeadLetters"}
    # And only the model registry's writer may write MODEL# items (the champion pointer): the
    # scorers and evaluate read them, in statements of their own that allow no write
    item_writes = {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    }
    model_readers: set[str] = set()
    model_writers: set[str] = set()
    for lid, statements in by_policy.items():
        for s in statements:
            if "MODEL#*" in leading_keys([s]):
                writes = actions_of([s], "dynamodb:") & item_writes
                (model_writers if writes else model_readers).add(lid.split("Role")[0])
    assert model_writers == {"TrainingRegister"}, model_writers
    assert model_readers == {
        "TrainingEvaluate",
        "ScoringScoreStream",
        "ScoringScoreApi",
        "ModelWatchMonitorDrift",
        "ModelWatchMonitorQuality",
    }
    # And the training functions exactly what their steps call (the Training construct's
    # docstring): registry actions, and object actions with the key patterns of each
    read, write = (
        ("s3:GetObject", "s3:GetObjectVersion"),
        ("s3:PutObject", "s3:AbortMultipartUpload"),
    )
    training = {"/" + c.TRAINING_PREFIX + "*"}
    inputs = {"/" + c.SNAPSHOT_PREFIX + "*", "/" + c.CURATED_PREFIX + "*"}
    training_jobs: dict[str, tuple[set[str], dict[str, set[str]]]] = {
        # the latest snapshot; snapshot documents and curated objects in, the dataset out
        "TrainingPrepare": (
            {"dynamodb:Query"},
            {**dict.fromkeys(read, inputs), **dict.fromkeys(write, training)},
        ),
        # dataset in; ONNX and scikit-learn's holdout probabilities out
        "TrainingTrain": (set(), dict.fromkeys((*read, *write), training)),
        # champion pointer and record; models and dataset in, evaluation document out
        "TrainingEvaluate": ({"dynamodb:GetItem"}, dict.fromkeys((*read, *write), training)),
        # evaluation document in; one TransactWriteItems of Put and Update items (and reads)
        "TrainingRegister": (
            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
            dict.fromkeys(read, training),
        ),
    }
    data_bucket_arn = {"Fn::GetAtt": [_data_bucket(template)[0], "Arn"]}
    for prefix, (registry, objects) in training_jobs.items():
        statements = policy(prefix)
        assert actions_of(statements, "dynamodb:") == registry, prefix
        assert actions_of(statements, "s3:") == set(objects), prefix
        assert {a: object_resources(statements, a) for a in objects} == objects, prefix
        assert {a.split(":")[0] for a in actions_of(statements)} == (
            {"dynamodb", "s3"} if registry else {"s3"}
        ), prefix
        for s in statements:
            if actions_of([s], "dynamodb:"):
                assert s["Resource"] == table_arn, prefix
            if actions_of([s], "s3:"):
                assert all(r["Fn::Join"][1][0] == data_bucket_arn for r in as_list(s["Resource"]))
    # And no Scan anywhere; Query for prepare's latest snapshot, ingestion's index pages, shard
    # logs and committed manifests, and scoring's dead-letter function's commit ranges (the
    # scorers themselves read by key; counters are read by key)
    queriers = sorted(
        k.split("Role")[0] for k, v in by_policy.items() if "dynamodb:Query" in actions_of(v)
    )
    assert queriers == [
        "IngestionDeadLetterAccounting",
        "IngestionIngestBatch",
        "IngestionIngestStream",
        "RetrainingRetrainOnAlarm",  # committed manifests, for the snapshot it takes
        "ScoringScoreDeadLetters",
        "TrainingPrepare",
    ], queriers
    for statements in by_policy.values():
        assert "dynamodb:Scan" not in actions_of(statements)
    # And the state machine invokes training's functions and announces (resources:
    # test_training_infra)
    assert actions_of(training_machine) == {"lambda:InvokeFunction", "events:PutEvents"}


def test_outputs_have_stable_keys(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert set(outputs) == {
        c.OUT_STAGE,
        c.OUT_DATA_BUCKET,
        c.OUT_ACCESS_LOGS_BUCKET,
        c.OUT_STREAM_NAME,
        c.OUT_STREAM_ARN,
        c.OUT_DECISIONS_STREAM_NAME,
        c.OUT_DECISIONS_STREAM_ARN,
        c.OUT_SCORING_FEED_NAME,
        c.OUT_SCORING_FEED_ARN,
        c.OUT_DLQ_URL,
        c.OUT_DLQ_ARN,
        c.OUT_BATCH_DLQ_URL,
        c.OUT_UNACCOUNTED_DLQ_URL,
        c.OUT_DLQ_ACCOUNTING_FN,
        c.OUT_TABLE_NAME,
        c.OUT_INGEST_BATCH_FN,
        c.OUT_INGEST_STREAM_FN,
        c.OUT_DATA_LAYER_ARN,
        c.OUT_ALARM_TOPIC_ARN,
        c.OUT_DASHBOARD_NAME,
        c.OUT_TRAINING_STATE_MACHINE_ARN,
        c.OUT_MODEL_EVENTS_QUEUE_URL,
        c.OUT_ML_LAYER_ARN,
        c.OUT_ONNX_LAYER_ARN,
        c.OUT_DECISIONS_TABLE,
        c.OUT_SCORING_API_URL,
        c.OUT_SCORE_STREAM_FN,
        c.OUT_SCORE_API_FN,
        c.OUT_MONITOR_DRIFT_FN,
        c.OUT_MONITOR_QUALITY_FN,
        c.OUT_RETRAIN_FN,
    }
    assert outputs[c.OUT_STAGE]["Value"] == "local"
    # And the training ones name the training resources
    training_sm_id, _ = state_machine(template, c.TRAINING_LOG_SUFFIX)
    [events_queue] = [k for k in resources(template, "AWS::SQS::Queue") if "ModelEvents" in k]
    layers = layer_ids(template)
    assert {
        key: outputs[key]["Value"]
        for key in (
            c.OUT_TRAINING_STATE_MACHINE_ARN,
            c.OUT_MODEL_EVENTS_QUEUE_URL,
            c.OUT_ML_LAYER_ARN,
            c.OUT_ONNX_LAYER_ARN,
        )
    } == {
        c.OUT_TRAINING_STATE_MACHINE_ARN: {"Ref": training_sm_id},
        c.OUT_MODEL_EVENTS_QUEUE_URL: {"Ref": events_queue},
        c.OUT_ML_LAYER_ARN: {"Ref": layers["ml"]},
        c.OUT_ONNX_LAYER_ARN: {"Ref": layers["onnx"]},
    }
    feed_id = next(k for k in resources(template, "AWS::Kinesis::Stream") if "ScoringFeed" in k)
    assert outputs[c.OUT_SCORING_FEED_NAME]["Value"] == {"Ref": feed_id}
    assert outputs[c.OUT_SCORING_FEED_ARN]["Value"] == {"Fn::GetAtt": [feed_id, "Arn"]}
    # And the scoring ones name the scoring resources
    functions = our_functions(template)
    [decisions] = [k for k in resources(template, "AWS::DynamoDB::Table") if "Decisions" in k]
    [url] = resources(template, "AWS::Lambda::Url")
    assert {
        key: outputs[key]["Value"]
        for key in (
            c.OUT_DECISIONS_TABLE,
            c.OUT_SCORING_API_URL,
            c.OUT_SCORE_STREAM_FN,
            c.OUT_SCORE_API_FN,
        )
    } == {
        c.OUT_DECISIONS_TABLE: {"Ref": decisions},
        c.OUT_SCORING_API_URL: {"Fn::GetAtt": [url, "FunctionUrl"]},
        c.OUT_SCORE_STREAM_FN: {
            "Ref": next(k for k in functions if k.startswith("ScoringScoreStreamFunction"))
        },
        c.OUT_SCORE_API_FN: {
            "Ref": next(k for k in functions if k.startswith("ScoringScoreApiFunction"))
        },
    }


def test_stack_is_environment_agnostic(local_synth: tuple[FraudOpsStack, Template]) -> None:
    # Given the stack, Then account and region are deploy-time values, not synth-time look-ups
    stack, _ = local_synth
    assert Token.is_unresolved(stack.account)
    assert Token.is_unresolved(stack.region)


def test_cdk_nag_has_no_findings_and_every_acknowledgment_has_a_reason(
    local_synth: tuple[FraudOpsStack, Template], template: Template
) -> None:
    # Given the synth that ran cdk-nag's AwsSolutions pack (it raises on any finding)
    stack, _ = local_synth
    # Then no error annotations remain
    Annotations.from_stack(stack).has_no_error("*", Match.any_value())
    # And every acknowledgment written to the template carries a reason
    acknowledged = [
        rule
        for res in template.to_json()["Resources"].values()
        for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged
    assert all(r["id"].startswith("AwsSolutions-") and len(r["reason"]) > 30 for r in acknowledged)
