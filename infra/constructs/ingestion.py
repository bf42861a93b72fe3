"""Ingestion: S3 landing/ uploads and Kinesis transactions, each into its own thin function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants as c
from infra.constructs.lambdas import PythonFunction, SharedLayers
from infra.constructs.storage import DataLake
from infra.nag import acknowledge
from infra.stage import StageConfig


class Ingestion(Construct):
    """Batch: landing/ ObjectCreated -> ingest_batch. Stream: Kinesis -> ingest_stream with
    partial-batch responses, bisection, bounded retries and an SQS on-failure destination.
    The stream is its own construct member so real-time scoring can add a second consumer."""

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
        common_env = {
            "REGISTRY_TABLE_NAME": table.table_name,
            "RECORD_TTL_DAYS": str(c.RECORD_TTL_DAYS),
        }

        # --- batch: S3 landing zone ------------------------------------------------------------
        self.batch = PythonFunction(
            self,
            "IngestBatch",
            folder=c.FN_INGEST_BATCH,
            description="Records each object landing under landing/ in the registry table",
            memory_mb=c.INGEST_BATCH_MEMORY_MB,
            timeout_seconds=c.INGEST_BATCH_TIMEOUT_SECONDS,
            layers=layers,
            stage=stage,
            environment={**common_env, "LANDING_PREFIX": lake.landing_prefix},
        )
        self.batch.function.configure_async_invoke(
            retry_attempts=c.INGEST_BATCH_ASYNC_RETRIES,
            max_event_age=Duration.seconds(c.INGEST_BATCH_MAX_EVENT_AGE_SECONDS),
        )
        table.grant(self.batch.function, "dynamodb:PutItem")
        lake.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(self.batch.function),
            s3.NotificationKeyFilter(prefix=lake.landing_prefix),
        )

        # --- stream: Kinesis transactions ------------------------------------------------------
        self.stream = kinesis.Stream(
            self,
            "TransactionStream",
            shard_count=c.STREAM_SHARD_COUNT,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            retention_period=Duration.hours(c.STREAM_RETENTION_HOURS),
            # aws/kinesis key: cdk-nag KDS3 warns that a customer key's cost grows with every
            # producer and consumer; nothing here needs key-policy control yet.
            encryption=kinesis.StreamEncryption.MANAGED,
            removal_policy=stage.removal_policy,
        )
        # Failure records carry only shard/sequence pointers, no payload: SQS-managed SSE is
        # enough, and no key grant is needed to read them.
        self.dlq = sqs.Queue(
            self,
            "StreamDLQ",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(c.STREAM_DLQ_RETENTION_DAYS),
            removal_policy=stage.removal_policy,
        )
        acknowledge(
            self.dlq,
            "SQS3",
            "This queue is itself the dead-letter store: the Kinesis event source mapping's "
            "on-failure destination. A DLQ behind it would only move the same pointers again.",
        )
        self.stream_fn = PythonFunction(
            self,
            "IngestStream",
            folder=c.FN_INGEST_STREAM,
            description="Writes each valid Kinesis transaction once; reports the invalid ones",
            memory_mb=c.INGEST_STREAM_MEMORY_MB,
            timeout_seconds=c.INGEST_STREAM_TIMEOUT_SECONDS,
            layers=layers,
            stage=stage,
            environment=common_env,
        )
        table.grant(self.stream_fn.function, "dynamodb:PutItem")
        self.stream_fn.function.add_event_source(
            sources.KinesisEventSource(
                self.stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=c.STREAM_BATCH_SIZE,
                max_batching_window=Duration.seconds(c.STREAM_MAX_BATCHING_WINDOW_SECONDS),
                parallelization_factor=c.STREAM_PARALLELIZATION_FACTOR,
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=c.STREAM_RETRY_ATTEMPTS,
                max_record_age=Duration.seconds(c.STREAM_MAX_RECORD_AGE_SECONDS),
                on_failure=sources.SqsDlq(self.dlq),
            )
        )
