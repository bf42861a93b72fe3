"""Scoring: the champion decides every validated transaction, on the scoring feed and behind a
signed API, with onnxruntime only (the onnx layer: no scikit-learn, scipy, pandas or pyarrow).

* score_stream: an event source mapping on the scoring feed (partial batch responses,
  bisection, bounded retries, an SQS on-failure queue kept for accounting); parked records are
  replayed when the registry announces a promotion (EventBridge `Model Promoted`).
* score_dead_letters: the feed's on-failure queue; given-up batches read back, each record
  counted once: decided if its decision was stored before the invocation died, else kept under
  parked/<contract>/dead/ and counted as dead_lettered (scoring's accounting equation).
* score_api: a function URL with AWS_IAM auth: SigV4-signed calls only (the emulator enforces it
  locally, as AWS does).
* decisions: a DynamoDB table keyed by transaction id (look-up, idempotency), and the decisions
  stream (owned by Ingestion, which curates it as the `decisions` contract).

What each function may do is exactly what its adapters call (fraudops_shared.aws.scoring):
state-table items CARD# (card states), SCORING# (checkpoints, replays), ACCOUNT# (counters),
read-only MODEL# (the champion pointer and version records); the decisions table; model
artifacts under training/ (read); parked/ (the stream function only); the decisions stream
(write); the transaction stream (the API only: what it scored is ingested like any transaction);
PutEvents on the default bus.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from fraudops_shared.runtime import settings
from infra import constants as c
from infra.constructs.ingestion import (
    READ_OBJECT_ACTIONS,
    WRITE_OBJECT_ACTIONS,
    Ingestion,
    grant_listing,
    grant_objects,
)
from infra.constructs.lambdas import PythonFunction, SharedLayers
from infra.constructs.state import grant_items
from infra.constructs.storage import DataLake
from infra.stage import StageConfig

# What each scorer's adapters call (fraudops_shared.aws.scoring), by item kind. Both read and
# write card states (BatchGetItem; Put inside TransactWriteItems); only the stream function keeps
# a checkpoint and counters (SCORING#, ACCOUNT#).
CARD_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:PutItem")
STREAM_LOG_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
# Decisions: the stream writes in batches (BatchWriteItem also allows deletes: IAM cannot tell
# them apart), the API writes one conditionally; both read them back in batches.
STREAM_DECISION_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem")
API_DECISION_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:PutItem")


class Scoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lake: DataLake,
        table: dynamodb.ITable,
        ingestion: Ingestion,
        layers: SharedLayers,
        stage: StageConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.decisions = dynamodb.Table(
            self,
            "Decisions",
            partition_key=dynamodb.Attribute(
                name=c.DECISIONS_TABLE_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=c.DECISIONS_TTL_ATTRIBUTE,
            removal_policy=stage.removal_policy,
        )
        env = {
            settings.STATE_TABLE_ENV: table.table_name,
            settings.DATA_BUCKET_ENV: lake.bucket.bucket_name,
            settings.STREAM_CONTRACT_ENV: c.STREAM_CONTRACT,
            settings.DECISIONS_TABLE_ENV: self.decisions.table_name,
            settings.DECISIONS_STREAM_ENV: ingestion.decisions_stream.stream_name,
        }

        def scorer(cid: str, folder: str, description: str, memory: int, timeout: int,
                   extra_env: dict[str, str], decision_actions: tuple[str, ...],
                   ) -> PythonFunction:  # fmt: skip
            fn = PythonFunction(
                self,
                cid,
                folder=folder,
                description=description,
                memory_mb=memory,
                timeout_seconds=timeout,
                layers=layers,
                extra_layer=layers.onnx,
                stage=stage,
                environment={**env, **extra_env},
            )
            grant_items(fn, table, CARD_ACTIONS, [settings.PK_CARD])
            grant_items(fn, table, ["dynamodb:GetItem"], [settings.PK_MODEL])  # read-only
            fn.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(decision_actions), resources=[self.decisions.table_arn]
                )
            )
            grant_objects(fn, lake.bucket, READ_OBJECT_ACTIONS, [lake.training_prefix])
            ingestion.decisions_stream.grant_write(fn.function)
            fn.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["events:PutEvents"],
                    resources=[
                        Stack.of(self).format_arn(
                            service="events", resource="event-bus", resource_name="default"
                        )
                    ],
                )
            )
            return fn

        # --- the feed ----------------------------------------------------------------------
        self.stream_fn = scorer(
            "ScoreStream",
            c.FN_SCORE_STREAM,
            "Decides each transaction of the scoring feed once (onnxruntime)",
            c.SCORE_STREAM_MEMORY_MB,
            c.SCORE_STREAM_TIMEOUT_SECONDS,
            {},
            STREAM_DECISION_ACTIONS,
        )
        grant_items(
            self.stream_fn, table, STREAM_LOG_ACTIONS, (settings.PK_SCORING, settings.PK_ACCOUNT)
        )
        grant_objects(self.stream_fn, lake.bucket, READ_OBJECT_ACTIONS, [lake.parked_prefix])
        grant_objects(
            self.stream_fn, lake.bucket, [*WRITE_OBJECT_ACTIONS, "s3:DeleteObject"],
            [lake.parked_prefix],
        )  # fmt: skip
        grant_listing(self.stream_fn, lake.bucket, lake.parked_prefix)
        # Pointers to given-up feed batches (shard, range); what the accounting function cannot
        # handle moves on to ingestion's "unaccounted" queue, which is alarmed.
        self.dlq = sqs.Queue(
            self,
            "ScoringDLQ",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(c.STREAM_DLQ_RETENTION_DAYS),
            visibility_timeout=Duration.seconds(6 * c.DLQ_ACCOUNTING_TIMEOUT_SECONDS),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=ingestion.unaccounted, max_receive_count=c.DLQ_ACCOUNTING_MAX_RECEIVES
            ),
            removal_policy=stage.removal_policy,
        )
        self.stream_fn.function.add_event_source(
            sources.KinesisEventSource(
                ingestion.scoring_feed,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=c.SCORE_STREAM_BATCH_SIZE,
                max_batching_window=Duration.seconds(c.SCORE_STREAM_MAX_BATCHING_WINDOW_SECONDS),
                parallelization_factor=c.STREAM_PARALLELIZATION_FACTOR,
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=c.SCORE_STREAM_RETRY_ATTEMPTS,
                max_record_age=Duration.seconds(c.STREAM_MAX_RECORD_AGE_SECONDS),
                on_failure=sources.SqsDlq(self.dlq),
            )
        )
        # given-up feed batches: read back from the shard, kept under parked/, counted
        self.dead_letters = PythonFunction(
            self,
            "ScoreDeadLetters",
            folder=c.FN_SCORE_DEAD_LETTERS,
            description="Keeps and counts the records of given-up scoring batches",
            memory_mb=c.DLQ_ACCOUNTING_MEMORY_MB,
            timeout_seconds=c.DLQ_ACCOUNTING_TIMEOUT_SECONDS,
            layers=layers,
            extra_layer=layers.onnx,
            stage=stage,
            environment={k: v for k, v in env.items() if k != settings.DECISIONS_STREAM_ENV},
        )
        # what an invocation stored before it died counts as decided, not dead-lettered
        self.dead_letters.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:BatchGetItem"], resources=[self.decisions.table_arn]
            )
        )
        grant_items(
            self.dead_letters,
            table,
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"),
            (settings.PK_SCORING, settings.PK_ACCOUNT),
        )
        ingestion.scoring_feed.grant_read(self.dead_letters.function)
        grant_objects(self.dead_letters, lake.bucket, WRITE_OBJECT_ACTIONS, [lake.parked_prefix])
        self.dead_letters.function.add_event_source(
            sources.SqsEventSource(
                self.dlq, batch_size=c.DLQ_ACCOUNTING_BATCH_SIZE, report_batch_item_failures=True
            )
        )

        # a promotion replays what was parked while no champion could decide it
        events.Rule(
            self,
            "ReplayOnPromotion",
            description="Decide the feed records parked while no champion existed",
            event_pattern=events.EventPattern(
                source=[settings.TRAINING_EVENT_SOURCE], detail_type=["Model Promoted"]
            ),
            targets=[targets.LambdaFunction(self.stream_fn.function, retry_attempts=2)],
        )

        # --- the signed API ----------------------------------------------------------------
        self.api_fn = scorer(
            "ScoreApi",
            c.FN_SCORE_API,
            "Scores one transaction per signed call (function URL, AWS_IAM)",
            c.SCORE_API_MEMORY_MB,
            stage.score_api_timeout_seconds,
            {settings.TRANSACTION_STREAM_ENV: ingestion.stream.stream_name},
            API_DECISION_ACTIONS,
        )
        ingestion.stream.grant_write(self.api_fn.function)
        self.url = self.api_fn.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.AWS_IAM
        )

    @property
    def functions(self) -> list[PythonFunction]:
        return [self.stream_fn, self.api_fn, self.dead_letters]
