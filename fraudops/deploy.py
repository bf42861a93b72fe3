"""Deploy the CDK app to the host LocalStack with cdklocal, and read back what was deployed.

The CDK CLI makes no network call but to LocalStack: notices, telemetry, version checks and
metadata are off (cdk.json and the environment below), and ``CDK_HOME`` is project-local so a
stale account cache in ``~/.cdk`` cannot point the template at another account's asset bucket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from fraudops import localstack
from fraudops.clients import REGION, client
from fraudops.errors import StackNotDeployedError, UserError
from fraudops.paths import Layout

ACCOUNT = "000000000000"

# CloudFormation types reported by `fraudops status`, under a readable name.
RESOURCE_KINDS = {
    "AWS::S3::Bucket": "buckets",
    "AWS::Kinesis::Stream": "streams",
    "AWS::StepFunctions::StateMachine": "state_machines",
    "AWS::DynamoDB::Table": "tables",
    "AWS::SQS::Queue": "queues",
    "AWS::Lambda::Function": "functions",
    "AWS::CloudWatch::Alarm": "alarms",
    "AWS::CloudWatch::Dashboard": "dashboards",
}


class DeployError(UserError):
    pass


def stack_name() -> str:
    from infra.constants import STACK_NAME

    return str(STACK_NAME)


def cdk_env(layout: Layout) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AWS_ENDPOINT_URL": layout.endpoint,
            "AWS_ENDPOINT_URL_S3": layout.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENVAR_ALLOWLIST": "AWS_REGION,AWS_DEFAULT_REGION,AWS_ENDPOINT_URL_S3",
            "CDK_HOME": str(layout.state_dir / "cdk-home"),
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "FRAUDOPS_STAGE": "local",
        }
    )
    env.pop("AWS_PROFILE", None)
    return env


def _cdklocal(layout: Layout, *args: str) -> None:
    cmd = [str(layout.node_bin / "cdklocal"), *args, "--no-notices", "--ci"]
    if not Path(cmd[0]).exists():
        raise DeployError(f"the CDK CLI is missing ({cmd[0]}): run `make install`")
    print("$", " ".join(cmd[0:1] + list(args)), flush=True)
    done = subprocess.run(cmd, cwd=layout.root, env=cdk_env(layout), check=False)
    if done.returncode == -signal.SIGINT:  # Ctrl-C reached the CDK CLI too: not a CDK failure
        raise KeyboardInterrupt
    if done.returncode != 0:
        raise DeployError(f"cdklocal {args[0]} failed with exit code {done.returncode}")


# a stack in one of these cannot be updated: it is deleted and deployed again
UNUPDATABLE = frozenset({"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED",
                         "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"})  # fmt: skip
SETTLE_SECONDS = 600


def stack_status(layout: Layout) -> str | None:
    """The stack's status, None when there is no stack."""
    try:
        stacks = client(layout, "cloudformation").describe_stacks(StackName=stack_name())
    except ClientError as err:
        if _no_such_stack(err):
            return None
        raise
    return str(stacks["Stacks"][0]["StackStatus"])


def settle(layout: Layout, timeout: float = SETTLE_SECONDS) -> str | None:
    """Make the stack deployable after an interrupted run (Ctrl-C during a deploy or a destroy):
    wait while LocalStack finishes what it was doing (``*_IN_PROGRESS``), then delete a stack
    left where no update can start (``UNUPDATABLE``). The status it found at the end."""
    from fraudops.clients import poll

    def settled() -> bool:
        status = stack_status(layout)
        return status is None or not status.endswith("_IN_PROGRESS")

    poll(settled, timeout=timeout, interval=3,
         what=f"the stack {stack_name()} leaving *_IN_PROGRESS")  # fmt: skip
    status = stack_status(layout)
    if status in UNUPDATABLE:
        print(f"stack {stack_name()} is {status} (an earlier deploy failed or was interrupted): "
              "deleting it first", flush=True)  # fmt: skip
        destroy(layout)
    return status


def deploy(layout: Layout) -> dict[str, Any]:
    """Bootstrap (idempotent) and deploy; verify the stack really reached a complete state.
    A stack an interrupted run left half-done is settled first (``settle``)."""
    localstack.require(layout)
    started = time.monotonic()
    settle(layout)
    out = str(layout.state_dir / "cdk.out")
    _cdklocal(layout, "bootstrap", f"aws://{ACCOUNT}/{REGION}", "--output", out)
    _cdklocal(
        layout,
        "deploy",
        stack_name(),
        "--require-approval",
        "never",
        "--output",
        out,
        "--outputs-file",
        str(layout.state_dir / "outputs.json"),
    )
    resources = stack_resources(layout)
    if not resources.get("deployed") or not str(resources["status"]).endswith("_COMPLETE"):
        raise DeployError(f"stack is not complete after deploy: {resources.get('status')}")
    problems = _incomplete_resources(layout, Path(out) / f"{stack_name()}.template.json")
    if problems:
        raise DeployError(
            "deploy reported success but resources are not there:\n" + "\n".join(problems)
        )
    print(f"deployed {stack_name()} in {time.monotonic() - started:.1f} s")
    return resources


def destroy(layout: Layout) -> None:
    """Empty the stack's buckets, then delete the stack. The local stage's buckets are removed
    with the stack, but CloudFormation (LocalStack's too) refuses to delete a bucket that still
    holds objects or versions: without this the delete fails, or half fails, at random."""
    localstack.require(layout)
    for bucket in _stack_buckets(layout):
        empty_bucket(client(layout, "s3"), bucket)
    _cdklocal(
        layout, "destroy", stack_name(), "--force", "--output", str(layout.state_dir / "cdk.out")
    )


def _stack_buckets(layout: Layout) -> list[str]:
    cfn = client(layout, "cloudformation")
    try:
        pages = list(cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name()))
    except ClientError as err:
        if _no_such_stack(err):
            return []
        raise
    return [
        res["PhysicalResourceId"]
        for page in pages
        for res in page["StackResourceSummaries"]
        if res["ResourceType"] == "AWS::S3::Bucket" and res.get("PhysicalResourceId")
    ]


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of ``bucket``; the number deleted."""
    deleted = 0
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return 0
        raise
    keys = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for page in pages
        for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
    ]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000],
                                                 "Quiet": True})  # fmt: skip
        deleted += len(keys[start : start + 1000])
    return deleted


def _incomplete_resources(layout: Layout, template_file: Path) -> list[str]:
    """LocalStack can exit 0 while it skipped or failed a resource (no provider for a type, a
    failed create): every resource of the synthesized template must be in the stack, complete."""
    template = json.loads(template_file.read_text())
    cfn = client(layout, "cloudformation")
    deployed: dict[str, dict[str, Any]] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name()):
        for res in page["StackResourceSummaries"]:
            deployed[res["LogicalResourceId"]] = res
    problems = []
    for logical_id, spec in template.get("Resources", {}).items():
        if "Condition" in spec:
            continue
        res = deployed.get(logical_id)
        if res is None:
            problems.append(f"{logical_id} ({spec['Type']}): missing from the stack")
        elif not res["ResourceStatus"].endswith("_COMPLETE") or not res.get("PhysicalResourceId"):
            problems.append(
                f"{logical_id} ({spec['Type']}): {res['ResourceStatus']} "
                f"{res.get('ResourceStatusReason', '')}"
            )
    return problems


def stack_resources(layout: Layout) -> dict[str, Any]:
    """Stack status, outputs and physical resource names grouped by kind."""
    cfn = client(layout, "cloudformation")
    name = stack_name()
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        if not _no_such_stack(err):
            raise
        return {"deployed": False, "name": name}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    grouped: dict[str, list[str]] = {kind: [] for kind in RESOURCE_KINDS.values()}
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=name):
        for res in page["StackResourceSummaries"]:
            kind = RESOURCE_KINDS.get(res["ResourceType"])
            if kind and res.get("PhysicalResourceId"):
                grouped[kind].append(res["PhysicalResourceId"])
    accounting: dict[str, Any] = {}
    if table := outputs.get("StateTableName"):
        accounting = ingestion_accounts(layout, table)
    return {
        "deployed": True,
        "name": name,
        "status": stack["StackStatus"],
        "outputs": outputs,
        "resources": {k: sorted(v) for k, v in grouped.items() if v},
        "accounting": accounting,
    }


def _no_such_stack(err: ClientError) -> bool:
    """CloudFormation's answer for a stack that is not there: ValidationError, "does not exist"."""
    error = err.response.get("Error", {})
    return error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", "")


def outputs(layout: Layout, *required: str) -> dict[str, str]:
    """The deployed stack's outputs; StackNotDeployedError when there is no stack or it lacks
    one of ``required``."""
    stack = stack_resources(layout)
    if not stack.get("deployed"):
        raise StackNotDeployedError(stack["name"], layout.endpoint)
    found = {k: str(v) for k, v in stack["outputs"].items()}
    if missing := tuple(name for name in required if not found.get(name)):
        raise StackNotDeployedError(stack["name"], layout.endpoint, missing)
    return found


def ingestion_accounts(layout: Layout, table: str) -> dict[str, Any]:
    """Counters per contract and source, with the zero-loss check of each source
    (``settings.balanced``: in = curated + quarantined + dead-lettered (+ expired) for ingestion,
    in = decided + parked + dead-lettered (+ expired) for scoring)."""
    from fraudops_shared.aws.dynamodb import read_accounts
    from fraudops_shared.runtime.settings import balanced

    accounts: dict[str, Any] = read_accounts(client(layout, "dynamodb"), table)
    for sources in accounts.values():
        for source, counts in sources.items():
            counts["balanced"] = balanced(source, counts)
    return accounts
