"""The deployed stack on the tests' LocalStack: every trigger runs the real handler.

One deploy per session (cdklocal bootstrap + deploy, as `fraudops deploy` does it); the stack is
destroyed at the end. Waiting is bounded polling, never a bare sleep.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fraudops.clients import poll


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
    fraudops_json: Any, outputs: dict[str, str]
) -> None:
    status = fraudops_json("status", "--json")
    stack = status["stack"]
    assert stack["deployed"] is True
    assert outputs["DataBucketName"] in stack["resources"]["buckets"]
    assert outputs["TransactionStreamName"] in stack["resources"]["streams"]
    assert outputs["PipelineProbeStateMachineArn"] in stack["resources"]["state_machines"]
    assert outputs["RegistryTableName"] in stack["resources"]["tables"]
    assert stack["resources"]["queues"]
