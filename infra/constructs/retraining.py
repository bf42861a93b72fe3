"""Retraining from alarms (functions/retrain_on_alarm), loop-guarded.

The alarm topic (Monitoring) delivers every alarm notification to the function; an ALARM of the
precision or drift alarm takes the guard (state table, RETRAIN# item, conditional writes), takes
a fresh snapshot of the stream contract and starts the training state machine with the result
going to shadow and the alarm recorded in the run. The training pipeline's end events
(EventBridge, source fraudops.training) release the guard.

Why SNS and not EventBridge's "CloudWatch Alarm State Change" events: LocalStack (2026.3, its
cloudwatch provider) runs an alarm's SNS and Lambda actions but emits no EventBridge event, and
the same path must run on both stages (docs/decisions.md, 2026-12-02).

What the function may do is what its adapters call: RETRAIN# GetItem/UpdateItem; the snapshot's
reads (COMMITTED# Query, COMMIT# GetItem, manifests and curated objects of the stream contract,
listing of its manifests) and writes (snapshots/, SNAPSHOT# PutItem); StartExecution and
DescribeExecution on the training state machine only.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from constructs import Construct

from fraudops_shared.runtime import settings
from infra import constants as c
from infra.constructs.ingestion import READ_OBJECT_ACTIONS, grant_listing, grant_objects
from infra.constructs.lambdas import PythonFunction, SharedLayers
from infra.constructs.state import grant_items
from infra.constructs.storage import DataLake
from infra.constructs.training import Training
from infra.nag import acknowledge
from infra.stage import StageConfig


class Retraining(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lake: DataLake,
        table: dynamodb.ITable,
        layers: SharedLayers,
        training: Training,
        topic: sns.ITopic,
        stage: StageConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        contract = c.STREAM_CONTRACT
        machine = training.state_machine
        self.fn = PythonFunction(
            self,
            "RetrainOnAlarm",
            folder=c.FN_RETRAIN_ON_ALARM,
            description="Alarm -> guarded snapshot and training run (result to shadow)",
            memory_mb=c.RETRAIN_MEMORY_MB,
            timeout_seconds=c.RETRAIN_TIMEOUT_SECONDS,
            layers=layers,
            extra_layer=layers.data,  # the commit log the snapshot reads uses numpy/pyarrow
            stage=stage,
            environment={
                settings.STATE_TABLE_ENV: table.table_name,
                settings.DATA_BUCKET_ENV: lake.bucket.bucket_name,
                settings.STREAM_CONTRACT_ENV: contract,
                settings.TRAINING_STATE_MACHINE_ENV: machine.state_machine_arn,
                settings.RETRAIN_COOLDOWN_ENV: str(stage.retrain_cooldown_seconds),
                settings.RETRAIN_DAILY_CAP_ENV: str(stage.retrain_daily_cap),
            },
        )
        grant_items(
            self.fn, table, ["dynamodb:GetItem", "dynamodb:UpdateItem"], [settings.PK_RETRAIN]
        )
        grant_items(self.fn, table, ["dynamodb:Query"], [settings.PK_COMMITTED])
        grant_items(self.fn, table, ["dynamodb:GetItem"], [settings.PK_COMMIT])
        grant_items(self.fn, table, ["dynamodb:PutItem"], [settings.PK_SNAPSHOT])
        manifests = f"{lake.manifest_prefix}{contract}/"
        curated = f"{lake.curated_prefix}{contract}/"
        grant_objects(self.fn, lake.bucket, READ_OBJECT_ACTIONS, [manifests, curated])
        grant_listing(self.fn, lake.bucket, manifests)
        grant_objects(self.fn, lake.bucket, ["s3:PutObject"], [c.SNAPSHOT_PREFIX])
        self.fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[machine.state_machine_arn]
            )
        )
        self.fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[
                    Stack.of(self).format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{machine.state_machine_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        acknowledge(
            self.fn.role,
            "IAM5",
            "DescribeExecution on the training state machine's executions only: execution names "
            "are made per run (retrain-<alarm>-<time>), so the ARN ends in a wildcard.",
            "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"<{Stack.of(self).get_logical_id(machine.node.default_child)}.Name>:*",  # type: ignore[arg-type]
        )
        self.fn.function.add_event_source(sources.SnsEventSource(topic))
        self.release_rule = events.Rule(
            self,
            "TrainingEnded",
            description="A training run ended: release the retraining guard if it held it",
            event_pattern=events.EventPattern(source=[c.TRAINING_EVENT_SOURCE]),
            targets=[targets.LambdaFunction(self.fn.function, retry_attempts=2)],
        )

    @property
    def functions(self) -> list[PythonFunction]:
        return [self.fn]
