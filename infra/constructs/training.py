"""Training: the pipeline's four functions, its state machine (state_machines/training.asl.json)
and the model events it announces.

Each function may do exactly what its step calls (fraudops_shared.training.steps):
* training_prepare (data layer): state table Query (the latest snapshot); read snapshots/ and
  curated/ (at exact versions); write training/ (the dataset);
* training_train (ml layer): read and write training/ (dataset in; ONNX and scikit-learn's
  holdout probabilities out);
* training_evaluate (onnx layer): read and write training/ (evaluation document); state table
  GetItem (champion pointer and record); its champion's ONNX is under training/ too;
* training_register: read training/ (evaluation document); state table GetItem, PutItem,
  UpdateItem (one TransactWriteItems: counter, version, run, champion pointer, predecessor).
The state machine may invoke those four and put events on the default bus, nothing else.
Model events (source fraudops.training) are routed to a queue serving will consume.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from fraudops_shared.runtime import settings
from infra import constants as c
from infra.constructs.ingestion import READ_OBJECT_ACTIONS, WRITE_OBJECT_ACTIONS, grant_objects
from infra.constructs.lambdas import PythonFunction, SharedLayers
from infra.constructs.state import grant_items
from infra.constructs.state_machines import logged_state_machine
from infra.constructs.storage import DataLake
from infra.nag import acknowledge
from infra.provenance import code_version
from infra.stage import StageConfig

DEFAULT_BUS = "default"


class Training(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lake: DataLake,
        table: dynamodb.ITable,
        layers: SharedLayers,
        stage: StageConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        env = {
            settings.STATE_TABLE_ENV: table.table_name,
            settings.DATA_BUCKET_ENV: lake.bucket.bucket_name,
            settings.CODE_VERSION_ENV: code_version(),
        }
        training = (c.TRAINING_PREFIX,)

        def function(
            cid: str,
            folder: str,
            description: str,
            memory: int,
            timeout: int,
            extra_env: dict[str, str] | None = None,
            **kw: object,
        ) -> PythonFunction:
            return PythonFunction(
                self,
                cid,
                folder=folder,
                description=description,
                memory_mb=memory,
                timeout_seconds=timeout,
                layers=layers,
                stage=stage,
                environment={**env, **(extra_env or {})},
                **kw,  # type: ignore[arg-type]
            )

        self.prepare = function(
            "Prepare",
            c.FN_TRAINING_PREPARE,
            "Training: snapshot -> labelled, featurised, time-split dataset",
            c.TRAINING_PREPARE_MEMORY_MB,
            c.TRAINING_PREPARE_TIMEOUT_SECONDS,
            extra_layer=layers.data,
            ephemeral_storage_mb=c.TRAINING_PREPARE_EPHEMERAL_STORAGE_MB,
        )
        grant_items(self.prepare, table, ["dynamodb:Query"], [settings.PK_SNAPSHOT])
        grant_objects(
            self.prepare,
            lake.bucket,
            READ_OBJECT_ACTIONS,
            (c.SNAPSHOT_PREFIX, lake.curated_prefix),
        )
        grant_objects(self.prepare, lake.bucket, WRITE_OBJECT_ACTIONS, training)

        self.train = function(
            "Train",
            c.FN_TRAINING_TRAIN,
            "Training: fit one candidate with scikit-learn, export it to ONNX",
            c.TRAINING_TRAIN_MEMORY_MB,
            c.TRAINING_TRAIN_TIMEOUT_SECONDS,
            extra_env=dict(c.TRAINING_TRAIN_ENV),
            extra_layer=layers.ml,
        )
        grant_objects(self.train, lake.bucket, READ_OBJECT_ACTIONS, training)
        grant_objects(self.train, lake.bucket, WRITE_OBJECT_ACTIONS, training)

        self.evaluate = function(
            "Evaluate",
            c.FN_TRAINING_EVALUATE,
            "Training: ONNX parity, metrics, cost threshold, champion comparison, gate",
            c.TRAINING_EVALUATE_MEMORY_MB,
            c.TRAINING_EVALUATE_TIMEOUT_SECONDS,
            extra_layer=layers.onnx,
        )
        grant_items(self.evaluate, table, ["dynamodb:GetItem"], [settings.PK_MODEL])
        grant_objects(self.evaluate, lake.bucket, READ_OBJECT_ACTIONS, training)
        grant_objects(self.evaluate, lake.bucket, WRITE_OBJECT_ACTIONS, training)

        self.register = function(
            "Register",
            c.FN_TRAINING_REGISTER,
            "Training: register the model version (promote when gated), or record a failure",
            c.TRAINING_REGISTER_MEMORY_MB,
            c.TRAINING_REGISTER_TIMEOUT_SECONDS,
        )
        grant_items(
            self.register,
            table,
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            [settings.PK_MODEL, settings.PK_TRAINRUN],
        )
        grant_objects(self.register, lake.bucket, READ_OBJECT_ACTIONS, training)

        # --- model events: default bus -> a queue for the serving side ------------------------
        self.events_queue = sqs.Queue(
            self,
            "ModelEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(c.TRAINING_EVENTS_RETENTION_DAYS),
            removal_policy=stage.removal_policy,
        )
        acknowledge(
            self.events_queue,
            "SQS3",
            "The model-events queue is a sink that consumers read and delete from; a message "
            "they cannot handle stays visible for retention, a second queue would add nothing.",
        )
        self.rule = events.Rule(
            self,
            "ModelEventsRule",
            description="fraudops training outcomes (promoted, registered, rejected, failed)",
            event_pattern=events.EventPattern(source=[c.TRAINING_EVENT_SOURCE]),
            targets=[targets.SqsQueue(self.events_queue)],
        )

        # --- the state machine ----------------------------------------------------------------
        self.log_group, self.state_machine = logged_state_machine(
            self,
            asl=c.TRAINING_ASL,
            substitutions={
                "PrepareFunctionArn": self.prepare.function.function_arn,
                "TrainFunctionArn": self.train.function.function_arn,
                "EvaluateFunctionArn": self.evaluate.function.function_arn,
                "RegisterFunctionArn": self.register.function.function_arn,
                "EventBusName": DEFAULT_BUS,
                "EventSource": c.TRAINING_EVENT_SOURCE,
            },
            log_suffix=c.TRAINING_LOG_SUFFIX,
            invokes=self.functions,
            stage=stage,
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[
                    Stack.of(self).format_arn(
                        service="events", resource="event-bus", resource_name=DEFAULT_BUS
                    )
                ],
            )
        )

    @property
    def functions(self) -> list[PythonFunction]:
        return [self.prepare, self.train, self.evaluate, self.register]
