"""The emulator's CloudFormation providers LocalStack community lacks, through the CFN API.

* ``AWS::CloudWatch::Dashboard`` (fraudops_emulator.cfn_dashboard): the dashboard exists after
  the deploy, follows updates, and goes away with the stack.
* Custom resources (fraudops_emulator.cfn_custom): the ServiceToken Lambda receives
  CloudFormation's request for Create, Update and Delete, its response's ``Data`` feeds
  ``Fn::GetAtt`` and a FAILED response (or a crashing function) fails the stack with the reason.

``cdk deploy`` goes through change sets, so the lifecycle tests use change sets; the failure
tests use ``create_stack``. The custom resource function records every request it receives to a
presigned S3 URL passed in its properties, so the tests can read exactly what it was sent.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

pytestmark = pytest.mark.integration

STACK_DEADLINE_S = 180.0
POLL_S = 1.0
WAIT = {"Delay": 1, "MaxAttempts": int(STACK_DEADLINE_S)}
FAKE_ROLE = "arn:aws:iam::000000000000:role/custom-resource-test"

# A custom resource function without dependencies: records the request it got (when the
# properties say where), then answers on ResponseURL the way cfn-response does.
HANDLER = """
import json
import urllib.request


def put(url, body):
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def handler(event, context):
    props = event["ResourceProperties"]
    record = (props.get("RecordTo") or {}).get(event["RequestType"])
    if record:
        put(record, event)
    if props.get("Raise") == "true":
        raise RuntimeError("greeter exploded before answering")
    answer = {
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "PhysicalResourceId": event.get("PhysicalResourceId") or "greeter-" + props["Name"],
    }
    if props.get("Fail") == "true" and event["RequestType"] != "Delete":
        answer.update(Status="FAILED", Reason=props["Reason"])
    else:
        answer.update(Status="SUCCESS", Data={"Greeting": "Hello, " + props["Name"]})
    put(event["ResponseURL"], answer)
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cfn(aws: Callable[..., Any]) -> Any:
    return aws("cloudformation")


@pytest.fixture
def stacks(cfn: Any) -> Iterator[list[str]]:
    """Stack names a test created; whatever is left of them is deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(ClientError):
            cfn.delete_stack(StackName=name)
    for name in names:
        with contextlib.suppress(ClientError, WaiterError):
            cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)


@pytest.fixture(scope="module")
def recorder(aws: Callable[..., Any]) -> Iterator[Any]:
    """A bucket the custom resource function writes the requests it receives to."""
    s3 = aws("s3")
    bucket = unique("cfn-recorder")
    s3.create_bucket(Bucket=bucket)
    yield _Recorder(s3, bucket)
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


class _Recorder:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def urls(self, run: str) -> dict[str, str]:
        """Presigned PUT URLs, one per request type, for the function to record to."""
        return {
            kind: self.s3.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": f"{run}/{kind}"}, ExpiresIn=900
            )
            for kind in ("Create", "Update", "Delete")
        }

    def request(self, run: str, kind: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=f"{run}/{kind}")["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in found}


def deploy_change_set(cfn: Any, stack: str, template: dict[str, Any], *, create: bool) -> None:
    """What ``cdk deploy`` does: create a change set, wait, execute it, wait for the stack."""
    change_set = unique("cs")
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=change_set,
        TemplateBody=json.dumps(template),
        ChangeSetType="CREATE" if create else "UPDATE",
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.get_waiter("change_set_create_complete").wait(
        StackName=stack, ChangeSetName=change_set, WaiterConfig=WAIT
    )
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set)
    waiter = "stack_create_complete" if create else "stack_update_complete"
    cfn.get_waiter(waiter).wait(StackName=stack, WaiterConfig=WAIT)


def wait_for_settled_status(cfn: Any, stack: str) -> str:
    """Poll until the stack is no longer in progress (bounded); return its status."""
    deadline = time.monotonic() + STACK_DEADLINE_S
    while True:
        status = str(cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])
        if not status.endswith("_IN_PROGRESS") or time.monotonic() >= deadline:
            return status
        time.sleep(POLL_S)


def failure_reasons(cfn: Any, stack: str, logical_id: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [
        e.get("ResourceStatusReason", "")
        for e in events
        if e["LogicalResourceId"] == logical_id and e["ResourceStatus"].endswith("_FAILED")
    ]


# -- AWS::CloudWatch::Dashboard -------------------------------------------------------------


def dashboard_template(body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"DashboardBody": json.dumps(body)}
    if name:
        props["DashboardName"] = name
    return {
        "Resources": {"Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": props}},
        "Outputs": {"BoardName": {"Value": {"Ref": "Board"}}},
    }


def test_dashboard_exists_after_create_stack_and_is_gone_after_delete(
    aws: Callable[..., Any], cfn: Any, stacks: list[str]
) -> None:
    # Given a stack with a dashboard that has no DashboardName
    cloudwatch = aws("cloudwatch")
    stack = unique("dash")
    stacks.append(stack)
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2,
                         "properties": {"markdown": "fraudops"}}]}  # fmt: skip

    # When it is created
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(dashboard_template(body)))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig=WAIT)

    # Then Ref is a CloudFormation-style generated name and the dashboard has the body
    name = outputs(cfn, stack)["BoardName"]
    assert name.startswith(f"{stack}-Board-")
    assert json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]) == body

    # When the stack is deleted
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=WAIT)

    # Then the dashboard is gone
    assert cloudwatch.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"] == []


def test_named_dashboard_follows_a_change_set_update(
    aws: Callable[..., Any], cfn: Any, stacks: list[str]
) -> None:
    # Given a named dashboard deployed through a change set
    cloudwatch = aws("cloudwatch")
    stack = unique("dash-cs")
    name = unique("fraudops-board")
    stacks.append(stack)
    deploy_change_set(cfn, stack, dashboard_template({"widgets": []}, name), create=True)
    assert outputs(cfn, stack)["BoardName"] == name

    # When a change set changes its body
    new_body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 3, "height": 3,
                             "properties": {"markdown": "v2"}}]}  # fmt: skip
    deploy_change_set(cfn, stack, dashboard_template(new_body, name), create=False)

    # Then the same dashboard has the new body
    assert json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]) == new_body


# -- Custom resources -----------------------------------------------------------------------


def custom_resource_template(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "GreeterFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": FAKE_ROLE,
                    "Timeout": 30,
                    "Code": {"ZipFile": HANDLER},
                },
            },
            "Greeter": {
                "Type": "Custom::Greeter",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["GreeterFunction", "Arn"]},
                    "ServiceTimeout": 60,
                    **properties,
                },
            },
        },
        "Outputs": {
            "Greeting": {"Value": {"Fn::GetAtt": ["Greeter", "Greeting"]}},
            "GreeterId": {"Value": {"Ref": "Greeter"}},
        },
    }


def test_custom_resource_lifecycle_through_change_sets(
    cfn: Any, recorder: _Recorder, stacks: list[str]
) -> None:
    # Given a Lambda-backed custom resource whose properties hold a boolean, a number and nesting
    stack = unique("custom")
    run = unique("run")
    stacks.append(stack)
    props = {
        "Name": "Ada",
        "Enabled": True,
        "Count": 3,
        "Nested": {"Items": [1, False, "x"]},
        "RecordTo": recorder.urls(run),
    }

    # When the stack is created through a change set
    deploy_change_set(cfn, stack, custom_resource_template(props), create=True)

    # Then the function got CloudFormation's Create request, every property a string
    create = recorder.request(run, "Create")
    assert create is not None, "the custom resource function was not invoked for Create"
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    assert create["RequestType"] == "Create"
    assert create["ResourceType"] == "Custom::Greeter"
    assert create["LogicalResourceId"] == "Greeter"
    assert create["StackId"] == stack_id
    assert create["ServiceToken"].startswith("arn:aws:lambda:")
    assert create["ResponseURL"].startswith("http")
    assert create["RequestId"]
    assert "PhysicalResourceId" not in create and "OldResourceProperties" not in create
    sent = create["ResourceProperties"]
    assert sent["ServiceToken"] == create["ServiceToken"]
    assert (sent["Name"], sent["Enabled"], sent["Count"]) == ("Ada", "true", "3")
    assert sent["Nested"] == {"Items": ["1", "false", "x"]}
    # and the response's Data feeds Fn::GetAtt, its PhysicalResourceId Ref
    assert outputs(cfn, stack) == {"Greeting": "Hello, Ada", "GreeterId": "greeter-Ada"}

    # When a change set changes a property
    deploy_change_set(
        cfn, stack, custom_resource_template({**props, "Name": "Grace"}), create=False
    )

    # Then the function got an Update with the old properties and the physical id
    update = recorder.request(run, "Update")
    assert update is not None, "the custom resource function was not invoked for Update"
    assert update["RequestType"] == "Update"
    assert update["PhysicalResourceId"] == "greeter-Ada"
    assert update["ResourceProperties"]["Name"] == "Grace"
    assert update["OldResourceProperties"]["Name"] == "Ada"
    assert update["OldResourceProperties"]["Enabled"] == "true"
    assert outputs(cfn, stack) == {"Greeting": "Hello, Grace", "GreeterId": "greeter-Ada"}

    # When the stack is deleted
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=WAIT)

    # Then the function got a Delete for the resource it created, with its last properties
    delete = recorder.request(run, "Delete")
    assert delete is not None, "the custom resource function was not invoked for Delete"
    assert delete["RequestType"] == "Delete"
    assert delete["PhysicalResourceId"] == "greeter-Ada"
    assert delete["ResourceProperties"]["Name"] == "Grace"


def test_custom_resource_failed_response_fails_the_stack_with_its_reason(
    cfn: Any, stacks: list[str]
) -> None:
    # Given a custom resource whose function answers FAILED with a reason
    stack = unique("custom-fail")
    reason = f"greeter refuses {uuid.uuid4().hex[:6]}"
    stacks.append(stack)
    template = custom_resource_template({"Name": "Bob", "Fail": True, "Reason": reason})

    # When the stack is created
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    status = wait_for_settled_status(cfn, stack)

    # Then the create failed and the stack events carry the function's reason
    assert status in ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"), status
    reasons = failure_reasons(cfn, stack, "Greeter")
    assert any(reason in r for r in reasons), reasons


def test_custom_resource_function_crash_fails_fast(cfn: Any, stacks: list[str]) -> None:
    # Given a custom resource whose function raises before it answers
    stack = unique("custom-crash")
    stacks.append(stack)
    template = custom_resource_template({"Name": "Eve", "Raise": True})

    # When the stack is created
    started = time.monotonic()
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    status = wait_for_settled_status(cfn, stack)

    # Then it fails well before the 60 s ServiceTimeout, saying what the function raised
    assert status in ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"), status
    assert time.monotonic() - started < 45
    reasons = failure_reasons(cfn, stack, "Greeter")
    assert any("greeter exploded before answering" in r for r in reasons), reasons
