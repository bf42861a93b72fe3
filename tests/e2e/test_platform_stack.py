"""The deployed stack on the tests' LocalStack: every trigger runs the real handler.

One deploy per session (cdklocal bootstrap + deploy, as `fraudops deploy` does it); the stack is
destroyed at the end. Waiting is bounded polling, never a bare sleep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fraudops import deploy
from fraudops.clients import poll
from fraudops.paths import Layout


@pytest.fixture(scope="module")
def stack(ls_layout: Layout) -> Iterator[dict[str, Any]]:
    resources = deploy.deploy(ls_layout)
    yield resources
    deploy.destroy(ls_layout)


@pytest.fixture(scope="module")
def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return dict(stack["outputs"])


def registry_item(aws: Any, outputs: dict[str, str], pk: str) -> list[dict[str, Any]]:
    resp = aws("dynamodb").query(
        TableName=outputs["RegistryTableName"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return list(resp["Items"])


def test_every_template_resource_exists(stack: dict[str, Any]) -> None:
    # Given the deploy (which already checks every template resource), Then the stack is
    # complete and names its data resources
    assert stack["status"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
    resources = stack["resources"]
    for kind in ("buckets", "streams", "state_machines", "tables", "queues", "functions"):
        assert resources.get(kind), kind


def test_bucket_notification_was_really_configured(aws: Any, outputs: dict[str, str]) -> None:
    # The custom resource LocalStack community skips: the bucket must notify the ingest Lambda
    config = aws("s3").get_bucket_notification_configuration(Bucket=outputs["DataBucketName"])
    (lambda_config,) = config["LambdaFunctionConfigurations"]
    assert lambda_config["LambdaFunctionArn"].endswith(outputs["IngestBatchFunctionName"])
    assert lambda_config["Filter"]["Key"]["FilterRules"] == [
        {"Name": "Prefix", "Value": "landing/"}
    ]


def test_s3_upload_runs_the_batch_ingest_handler(aws: Any, outputs: dict[str, str]) -> None:
    # Given a file landed for the transactions contract
    bucket = outputs["DataBucketName"]
    key = f"landing/transactions/e2e-{uuid.uuid4().hex[:8]}.csv"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=b"transaction_id,amount\nt-1,12.50\n")
    # When the notification reaches the handler, Then it records the arrival with its contract
    (item,) = poll(lambda: registry_item(aws, outputs, f"OBJECT#{bucket}/{key}"))
    assert item["contract"]["S"] == "transactions"
    assert int(item["size"]["N"]) == len(b"transaction_id,amount\nt-1,12.50\n")


def test_kinesis_put_runs_the_stream_handler_with_partial_failures(
    aws: Any, outputs: dict[str, str]
) -> None:
    kinesis, sqs = aws("kinesis"), aws("sqs")
    stream = outputs["TransactionStreamName"]
    good_id = f"txn-{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    # Given a batch with a good record, the same record again (at-least-once) and a poison one
    kinesis.put_records(
        StreamName=stream,
        Records=[
            {
                "Data": json.dumps({"transaction_id": good_id, "amount": 10}).encode(),
                "PartitionKey": "a",
            },
            {
                "Data": json.dumps({"transaction_id": good_id, "amount": 10}).encode(),
                "PartitionKey": "a",
            },
            {"Data": f"not json {marker}".encode(), "PartitionKey": "a"},
        ],
    )
    # Then the good transaction is recorded exactly once
    items = poll(lambda: registry_item(aws, outputs, f"TXN#{good_id}"))
    assert len(items) == 1

    # And the poison record ends in the on-failure queue after bisection and retries
    def failure() -> dict[str, Any] | None:
        for msg in sqs.receive_message(
            QueueUrl=outputs["StreamDLQUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            body = json.loads(msg["Body"])
            sqs.delete_message(QueueUrl=outputs["StreamDLQUrl"], ReceiptHandle=msg["ReceiptHandle"])
            return body  # type: ignore[no-any-return]
        return None

    body = poll(failure, timeout=60)
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = body["KinesisBatchInfo"]
    assert info["batchSize"] == 1, "bisection should isolate the poison record"
    assert info["streamArn"] == outputs["TransactionStreamArn"]


def test_state_machine_runs_the_probe_lambda(aws: Any, outputs: dict[str, str]) -> None:
    sfn = aws("stepfunctions")
    # When the state machine is executed
    execution = sfn.start_execution(
        stateMachineArn=outputs["PipelineProbeStateMachineArn"],
        name=f"e2e-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"probe": "e2e"}),
    )
    # Then it succeeds with the Lambda's summary of the registry table
    done = poll(
        lambda: (
            (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"]
            != "RUNNING"
            and d
        )
    )
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["summary"]["table"] == outputs["RegistryTableName"]
    assert output["summary"]["healthy"] is True


def test_handler_logs_reach_cloudwatch(aws: Any, outputs: dict[str, str]) -> None:
    logs = aws("logs")
    name = outputs["PipelineProbeFunctionName"]
    aws("lambda").invoke(FunctionName=name, Payload=json.dumps({"probe": "logs"}).encode())

    def reports() -> list[str]:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        return [e["message"] for e in events if e["message"].startswith("REPORT")]

    assert poll(reports)


def test_status_json_lists_the_deployed_resources(
    ls_layout: Layout, outputs: dict[str, str]
) -> None:
    env = {
        **os.environ,
        "FRAUDOPS_PORT": str(ls_layout.port),
        "FRAUDOPS_STATE_DIR": str(ls_layout.state_dir),
    }
    done = subprocess.run(
        [sys.executable, "-m", "fraudops.cli", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    stack = json.loads(done.stdout)["stack"]
    assert stack["deployed"] is True
    assert outputs["DataBucketName"] in stack["resources"]["buckets"]
    assert outputs["TransactionStreamName"] in stack["resources"]["streams"]
    assert outputs["PipelineProbeStateMachineArn"] in stack["resources"]["state_machines"]
    assert outputs["RegistryTableName"] in stack["resources"]["tables"]
    assert stack["resources"]["queues"]
