"""Orchestration: the pipeline-probe state machine, a smoke check of the platform (Step
Functions -> Lambda -> DynamoDB) that needs no data; the training pipeline is in training.py.

The ASL lives in state_machines/*.asl.json and is read at synth (`from_string`), so it needs no
S3 asset; ARNs enter through DefinitionSubstitutions, never by editing JSON in Python.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants as c
from infra.constructs.lambdas import PythonFunction, SharedLayers, log_retention
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


class Orchestration(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        layers: SharedLayers,
        stage: StageConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.probe = PythonFunction(
            self,
            "PipelineProbe",
            folder=c.FN_PIPELINE_PROBE,
            description="Checks the registry table; the state machine branches on its summary",
            memory_mb=c.PIPELINE_PROBE_MEMORY_MB,
            timeout_seconds=c.PIPELINE_PROBE_TIMEOUT_SECONDS,
            layers=layers,
            stage=stage,
            environment={"REGISTRY_TABLE_NAME": table.table_name},
        )
        table.grant(self.probe.function, "dynamodb:DescribeTable")

        self.log_group, self.state_machine = logged_state_machine(
            self,
            asl=c.PIPELINE_PROBE_ASL,
            substitutions={c.PROBE_FUNCTION_ARN_PLACEHOLDER: self.probe.function.function_arn},
            log_suffix="pipeline-probe",
            invokes=[self.probe],
            stage=stage,
        )
