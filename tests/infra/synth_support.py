"""Helpers of the infra tests: synthesize as `cdk synth` does (cdk.json context, cdk-nag on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import constants as c
from infra.app_factory import build_app, cdk_json_context
from infra.stack import FraudOpsStack


def synth(outdir: Path, stage: str, **context: Any) -> tuple[FraudOpsStack, Template]:
    """Synthesize for `stage`; cdk-nag runs during synth and raises on any unacknowledged finding.
    The stage goes in through the environment variable, as users select it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(c.STAGE_ENV_VAR, stage)
        _, stack = build_app(context={**cdk_json_context(), **context}, outdir=str(outdir))
        template = Template.from_stack(stack)
    return stack, template


def resources(template: Template, cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: dict(v) for k, v in template.find_resources(cfn_type).items()}


def our_functions(template: Template) -> dict[str, dict[str, Any]]:
    """The project's functions (CDK adds its own bucket-notifications handler)."""
    return {
        k: v
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == c.LAMBDA_HANDLER
    }


LAYER_ROLES = ("deps", "shared", "data", "ml", "onnx")


def layer_ids(template: Template) -> dict[str, str]:
    """Layer logical ids by role (from the construct id, `Layers<Role><digest>`)."""
    ids = set(resources(template, "AWS::Lambda::LayerVersion"))
    return {
        role: next(i for i in ids if i.startswith(f"Layers{role.title()}")) for role in LAYER_ROLES
    }


def state_machine(template: Template, log_suffix: str) -> tuple[str, dict[str, Any]]:
    """The one state machine that logs to `/aws/vendedlogs/states/<stack>-<log_suffix>`."""
    log_groups = resources(template, "AWS::Logs::LogGroup")
    wanted = f"/aws/vendedlogs/states/{c.STACK_NAME}-{log_suffix}"
    found = []
    for lid, sm in resources(template, "AWS::StepFunctions::StateMachine").items():
        [destination] = sm["Properties"]["LoggingConfiguration"]["Destinations"]
        group_id, _ = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
        if log_groups[group_id]["Properties"].get("LogGroupName") == wanted:
            found.append((lid, sm))
    assert len(found) == 1, f"expected one state machine logging to {wanted}, found {found}"
    return found[0]


# --- IAM: what each role policy grants --------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_grants(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Each role policy's statements, logs and X-Ray aside, by policy logical id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for lid, policy in resources(template, "AWS::IAM::Policy").items():
        out[lid] = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if not all(a.startswith(("xray:", "logs:")) for a in as_list(s["Action"]))
        ]
    return out


def actions_of(statements: list[dict[str, Any]], prefix: str = "") -> set[str]:
    return {a for s in statements for a in as_list(s["Action"]) if a.startswith(prefix)}


def leading_keys(statements: list[dict[str, Any]]) -> set[str]:
    """The partition-key patterns a role's DynamoDB grants are fenced to."""
    out: set[str] = set()
    for s in statements:
        cond = (s.get("Condition") or {}).get("ForAllValues:StringLike") or {}
        out |= set(as_list(cond.get("dynamodb:LeadingKeys", [])))
    return out


def object_resources(statements: list[dict[str, Any]], action: str) -> set[str]:
    """The key patterns (after the bucket ARN) an S3 object action is granted on."""
    out: set[str] = set()
    for s in statements:
        if action in as_list(s["Action"]):
            for res in as_list(s["Resource"]):
                parts = res["Fn::Join"][1]
                out.add(parts[-1])
    return out


def state_table_id(template: Template) -> str:
    """The state table (pk/sk), among the stack's tables (scoring has its decisions table)."""
    [lid] = [
        k
        for k, v in resources(template, "AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == c.TABLE_PARTITION_KEY
    ]
    return lid
