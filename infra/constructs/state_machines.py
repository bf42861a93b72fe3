"""State machines from the ASL files in state_machines/: read at synth (`from_string`, so no S3
asset), parsed there (a syntax error fails synth, not the deploy), ARNs entering through
DefinitionSubstitutions, never by editing JSON in Python."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants as c
from infra.constructs.lambdas import PythonFunction, log_retention
from infra.nag import acknowledge
from infra.stage import StageConfig


def load_definition(path: Path) -> sfn.DefinitionBody:
    """The file's ASL, parsed (a syntax error fails synth, not the deploy) and compacted."""
    asl = json.loads(path.read_text(encoding="utf-8"))
    return sfn.DefinitionBody.from_string(json.dumps(asl, separators=(",", ":")))


def logged_state_machine(
    scope: Construct,
    *,
    asl: Path,
    substitutions: Mapping[str, str],
    log_suffix: str,
    invokes: Sequence[PythonFunction],
    stage: StageConfig,
) -> tuple[logs.LogGroup, sfn.StateMachine]:
    """A standard state machine from an ASL file, with ALL-level logs (execution data
    included) and tracing; its role may invoke exactly the given functions' ARNs (grant_invoke
    would add `<arn>:*` for every version)."""
    log_group = logs.LogGroup(
        scope,
        "Logs",
        # The vendedlogs prefix keeps CloudWatch's resource-policy size limit out of reach.
        log_group_name=f"/aws/vendedlogs/states/{Stack.of(scope).stack_name}-{log_suffix}",
        retention=log_retention(c.STATE_MACHINE_LOG_RETENTION_DAYS),
        removal_policy=stage.removal_policy,
    )
    machine = sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=load_definition(asl),
        definition_substitutions=dict(substitutions),
        state_machine_type=sfn.StateMachineType.STANDARD,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
        ),
        removal_policy=stage.removal_policy,
    )
    machine.add_to_role_policy(
        iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[f.function.function_arn for f in invokes]
        )
    )
    acknowledge(
        machine.role,
        "IAM5",
        "CloudWatch Logs delivery (logs:*LogDelivery, DescribeLogGroups, resource policies) "
        "and X-Ray (PutTraceSegments, PutTelemetryRecords, GetSampling*) support no "
        "resource-level permissions: Resource '*' is their only valid scope.",
        "Resource::*",
    )
    return log_group, machine
