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
