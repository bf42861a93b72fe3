"""`fraudops demo`: start LocalStack if needed, deploy, send one event through each trigger and
print what each Lambda did. It reads everything back from the deployed stack (the registry table,
the dead-letter queue, the execution, CloudWatch Logs), so what it prints is what happened."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fraudops import deploy, localstack
from fraudops.clients import client, poll
from fraudops.paths import Layout


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _registry(layout: Layout, table: str, pk: str) -> list[dict[str, Any]]:
    items = client(layout, "dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]
    return list(items)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: next(iter(v.values())) for k, v in item.items() if k not in ("payload",)}


def _last_report(layout: Layout, function: str) -> str:
    try:
        events = client(layout, "logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")
    except client(layout, "logs").exceptions.ResourceNotFoundException:
        return "(no logs yet)"
    reports = [e["message"].strip() for e in events["events"] if e["message"].startswith("REPORT")]
    return reports[-1] if reports else "(no REPORT line yet)"


def run(layout: Layout) -> int:
    started = time.monotonic()
    _step("LocalStack on the host")
    st = localstack.status(layout)
    if not st.running:
        st = localstack.start(layout)
        print(f"started on {st.endpoint} (pid {st.pid})")
    else:
        print(f"already running on {st.endpoint} (pid {st.pid})")

    _step("Deploy the CDK app (cdklocal bootstrap + deploy, then a completeness check)")
    outputs = deploy.deploy(layout)["outputs"]
    run_id = uuid.uuid4().hex[:8]

    _step("S3: upload a file under landing/transactions/")
    bucket, table = outputs["DataBucketName"], outputs["RegistryTableName"]
    key = f"landing/transactions/demo-{run_id}.csv"
    body = b"transaction_id,card_id,amount,currency\ndemo-1,card-1,42.10,EUR\n"
    client(layout, "s3").put_object(Bucket=bucket, Key=key, Body=body)
    print(f"put s3://{bucket}/{key} ({len(body)} bytes)")
    (arrival,) = poll(lambda: _registry(layout, table, f"OBJECT#{bucket}/{key}"), what="S3 arrival")
    print(f"ingest_batch recorded: {json.dumps(_plain(arrival), default=str)}")
    print(f"  {_last_report(layout, outputs['IngestBatchFunctionName'])}")

    _step("Kinesis: one good transaction and one malformed record")
    txn_id = f"demo-{run_id}"
    put = client(layout, "kinesis").put_records(
        StreamName=outputs["TransactionStreamName"],
        Records=[
            {
                "Data": json.dumps({"transaction_id": txn_id, "amount": 42.1}).encode(),
                "PartitionKey": "card-1",
            },
            {"Data": b"{not json", "PartitionKey": "card-1"},
        ],
    )
    bad_sequence = put["Records"][1]["SequenceNumber"]
    (txn,) = poll(lambda: _registry(layout, table, f"TXN#{txn_id}"), what="stream record")
    print(f"ingest_stream recorded: {json.dumps(_plain(txn), default=str)}")
    sqs = client(layout, "sqs")

    def dead_letter() -> dict[str, Any]:
        """The on-failure record of this run's malformed record (others are left alone)."""
        messages = sqs.receive_message(
            QueueUrl=outputs["StreamDLQUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            body: dict[str, Any] = json.loads(message["Body"])
            if body["KinesisBatchInfo"]["startSequenceNumber"] == bad_sequence:
                return body
        return {}

    failure = poll(dead_letter, timeout=60, what="dead letter")
    info, context = failure["KinesisBatchInfo"], failure["requestContext"]
    print(
        f"malformed record -> on-failure queue after {context['approximateInvokeCount']} attempts"
        f" ({context['condition']}), batch of {info['batchSize']}, sequence {bad_sequence}"
    )
    print(f"  {_last_report(layout, outputs['IngestStreamFunctionName'])}")

    _step("Step Functions: run the pipeline probe")
    sfn = client(layout, "stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=outputs["PipelineProbeStateMachineArn"],
        name=f"demo-{run_id}",
        input=json.dumps({"demo": run_id}),
    )["executionArn"]
    done = poll(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        what="execution",
    )
    print(f"execution {done['status']}: {done.get('output') or done.get('error')}")
    print(f"  {_last_report(layout, outputs['PipelineProbeFunctionName'])}")

    _step("Done")
    print(f"in {time.monotonic() - started:.1f} s. LocalStack keeps running: `fraudops status`, ")
    print("`fraudops down` to stop it.")
    return 0 if done["status"] == "SUCCEEDED" else 1
