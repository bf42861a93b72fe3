"""The deployed stack on the tests' LocalStack: every trigger runs the real handler.

One deploy per session (cdklocal bootstrap + deploy, as `fraudops deploy` does it); the stack is
destroyed at the end. Waiting is bounded polling, never a bare sleep.
"""

from __future__ import annotations

import json
from typing import Any

from fraudops.clients import poll


def registry_item(aws: Any, outputs: dict[str, str], pk: str) -> list[dict[str, Any]]:
    resp = aws("dynamodb").query(
        TableName=outputs["StateTableName"],
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


def test_handler_logs_reach_cloudwatch(aws: Any, outputs: dict[str, str]) -> None:
    # Given a function invoked with a request it refuses (the registration step, unknown action)
    logs = aws("logs")
    name = next(
        f["FunctionName"]
        for page in aws("lambda").get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if "TrainingRegister" in f["FunctionName"]
    )
    # LocalStack writes to /aws/lambda/<name> whatever the function's LoggingConfig names
    group = f"/aws/lambda/{name}"
    resp = aws("lambda").invoke(FunctionName=name, Payload=json.dumps({"action": "x"}).encode())
    assert resp["FunctionError"] == "Unhandled"

    # Then its error log and the REPORT line reach CloudWatch Logs
    def lines() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []  # created with the first line the function writes
        messages = [e["message"] for e in events]
        reports = [m for m in messages if m.startswith("REPORT")]
        return messages if reports and any("unknown action" in m for m in messages) else []

    assert poll(lines)


def test_status_json_lists_the_deployed_resources(
    fraudops_json: Any, outputs: dict[str, str]
) -> None:
    status = fraudops_json("status", "--json")
    stack = status["stack"]
    assert stack["deployed"] is True
    assert outputs["DataBucketName"] in stack["resources"]["buckets"]
    assert outputs["TransactionStreamName"] in stack["resources"]["streams"]
    assert outputs["TrainingStateMachineArn"] in stack["resources"]["state_machines"]
    assert outputs["StateTableName"] in stack["resources"]["tables"]
    assert stack["resources"]["queues"]
