"""Ingestion: S3 landing/ uploads and Kinesis records (the transaction stream, and the decisions
stream the scorers put their decisions on), each into its own thin function, and the dead-letter
function that keeps and counts what either gave up on. The stream function and the dead-letter
function know each stream's contract from STREAM_CONTRACTS ({stream name: contract}; the
transaction stream is not in it and carries STREAM_CONTRACT).

What each function may do is exactly what fraudops_shared's adapters call; state-table items
are fenced by partition-key prefix (``grant_items``: DynamoDB's LeadingKeys; key design in
infra/constructs/state.py):
* ingest_batch: read landing/ (exact versions), curated/ (the dedupe index confirms a hit on the
  first copy) and _staging/ (promotion copies from it); write curated/, quarantine/, manifests/,
  _staging/; delete _staging/. Table: FILE# (claims), COMMIT#, COMMITTED#, KEYS# (index), ACCOUNT#.
* ingest_stream: the same zones but landing/; table: CHECKPOINT#, SHARDLOG#, COMMIT#, COMMITTED#,
  KEYS#, ACCOUNT#; write the scoring feed (no other function may).
* dlq_accounting: read landing/ (a dead-lettered file is copied whole) and _staging/; write
  quarantine/, manifests/, _staging/; delete _staging/; read the transaction and decisions
  streams (records are read back); table: FILE#, SHARDLOG#, COMMIT#, COMMITTED#, ACCOUNT#.
TransactWriteItems has no IAM action of its own: each item needs its action (Put/Update).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from fraudops_shared.runtime import settings
from infra import constants as c
from infra.constructs.lambdas import PythonFunction, SharedLayers
from infra.constructs.state import grant_items
from infra.constructs.storage import DataLake
from infra.nag import acknowledge
from infra.stage import StageConfig

# The items each function touches (partition-key prefixes) and how.
ITEM_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:Query",
)
BATCH_KEYS = (
    settings.PK_FILE,
    settings.PK_COMMIT,
    settings.PK_COMMITTED,
    settings.PK_KEYS,
    settings.PK_ACCOUNT,
)
STREAM_KEYS = (
    settings.PK_CHECKPOINT,
    settings.PK_SHARDLOG,
    settings.PK_COMMIT,
    settings.PK_COMMITTED,
    settings.PK_KEYS,
    settings.PK_ACCOUNT,
)
DEAD_LETTER_KEYS = (
    settings.PK_FILE,
    settings.PK_SHARDLOG,
    settings.PK_COMMIT,
    settings.PK_COMMITTED,
    settings.PK_ACCOUNT,
)
READ_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_OBJECT_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload")


def grant_listing(fn: PythonFunction, bucket: s3.IBucket, prefix: str) -> None:
    """ListBucket on the bucket, for keys under ``prefix`` only (an s3:prefix condition)."""
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )


def grant_objects(
    fn: PythonFunction, bucket: s3.IBucket, actions: Sequence[str], prefixes: Sequence[str]
) -> None:
    """Object actions on keys under the prefixes only (never the whole bucket), with the
    cdk-nag acknowledgement of exactly those prefix wildcards."""
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(actions),
            resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
        )
    )
    bucket_id = Stack.of(fn).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    acknowledge(
        fn.role,
        "IAM5",
        "Object-level actions on keys under one prefix of the data bucket (a zone such as "
        "curated/, or training/, snapshots/): object keys are unknown until run time, and the "
        "prefix is the narrowest valid resource.",
        *(f"Resource::<{bucket_id}.Arn>/{p}*" for p in prefixes),
    )


class Ingestion(Construct):
    """Batch: landing/ ObjectCreated -> ingest_batch. Stream: Kinesis -> ingest_stream with
    partial-batch responses, bisection, bounded retries and an SQS on-failure destination.
    Curated stream transactions go on to the scoring feed, a second stream, for real-time
    scoring; both streams are construct members so the scoring construct can consume them. The
    scorers put their decisions on the decisions stream, a third, which the stream function
    ingests as the `decisions` contract (curated/decisions/), never onto the feed."""

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
            settings.STATE_TABLE_ENV: table.table_name,
            settings.DATA_BUCKET_ENV: lake.bucket.bucket_name,
            settings.STREAM_CONTRACT_ENV: c.STREAM_CONTRACT,
            # the zones (fraudops_shared.lake.zones.zones_from_env)
            **{env: getattr(lake, attr) for attr, env in settings.PREFIX_ENVS.items()},
        }
        outputs = (
            lake.curated_prefix,
            lake.quarantine_prefix,
            lake.manifest_prefix,
            lake.staging_prefix,
        )
        first_copies = (lake.curated_prefix, lake.staging_prefix)

        # Failure records carry only pointers (a shard range, an S3 event), no payload:
        # SQS-managed SSE is enough, and no key grant is needed to read them. Messages the
        # accounting function cannot handle move on to the "unaccounted" queue (alarmed).
        self.unaccounted = sqs.Queue(
            self,
            "UnaccountedDLQ",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(c.STREAM_DLQ_RETENTION_DAYS),
            removal_policy=stage.removal_policy,
        )
        acknowledge(
            self.unaccounted,
            "SQS3",
            "This queue is the end of the dead-letter chain: dead-letter messages the accounting "
            "function failed on. A DLQ behind it would only move the same pointers again.",
        )

        def failure_queue(cid: str) -> sqs.Queue:
            return sqs.Queue(
                self,
                cid,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(c.STREAM_DLQ_RETENTION_DAYS),
                visibility_timeout=Duration.seconds(6 * c.DLQ_ACCOUNTING_TIMEOUT_SECONDS),
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=self.unaccounted, max_receive_count=c.DLQ_ACCOUNTING_MAX_RECEIVES
                ),
                removal_policy=stage.removal_policy,
            )

        self.dlq = failure_queue("StreamDLQ")
        self.batch_dlq = failure_queue("BatchDLQ")

        # --- batch: S3 landing zone ------------------------------------------------------------
        self.batch = PythonFunction(
            self,
            "IngestBatch",
            folder=c.FN_INGEST_BATCH,
            description="Validates each landing/ file: curated Parquet, quarantine, manifest",
            memory_mb=c.INGEST_BATCH_MEMORY_MB,
            timeout_seconds=c.INGEST_BATCH_TIMEOUT_SECONDS,
            ephemeral_storage_mb=c.INGEST_BATCH_EPHEMERAL_STORAGE_MB,
            layers=layers,
            extra_layer=layers.data,
            stage=stage,
            environment=common_env,
        )
        self.batch.function.configure_async_invoke(
            retry_attempts=c.INGEST_BATCH_ASYNC_RETRIES,
            max_event_age=Duration.seconds(c.INGEST_BATCH_MAX_EVENT_AGE_SECONDS),
            on_failure=destinations.SqsDestination(self.batch_dlq),
        )
        grant_items(self.batch, table, (*ITEM_ACTIONS, "dynamodb:DeleteItem"), BATCH_KEYS)
        grant_objects(
            self.batch, lake.bucket, READ_OBJECT_ACTIONS, [lake.landing_prefix, *first_copies]
        )
        grant_objects(self.batch, lake.bucket, WRITE_OBJECT_ACTIONS, outputs)
        grant_objects(self.batch, lake.bucket, ["s3:DeleteObject"], [lake.staging_prefix])
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
        # Validated transactions for real-time scoring; same encryption choice as the source.
        self.scoring_feed = kinesis.Stream(
            self,
            "ScoringFeed",
            shard_count=c.SCORING_FEED_SHARD_COUNT,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            retention_period=Duration.hours(c.SCORING_FEED_RETENTION_HOURS),
            encryption=kinesis.StreamEncryption.MANAGED,
            removal_policy=stage.removal_policy,
        )
        # The scorers' decisions, ingested by the same function as the `decisions` contract (and
        # never forwarded to the feed); same retention and encryption as the transaction stream.
        self.decisions_stream = kinesis.Stream(
            self,
            "DecisionsStream",
            shard_count=c.DECISIONS_STREAM_SHARD_COUNT,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            retention_period=Duration.hours(c.DECISIONS_STREAM_RETENTION_HOURS),
            encryption=kinesis.StreamEncryption.MANAGED,
            removal_policy=stage.removal_policy,
        )
        # {stream name: contract} of every stream but the transaction stream (STREAM_CONTRACT)
        stream_env = {
            settings.STREAM_CONTRACTS_ENV: Stack.of(self).to_json_string(
                {self.decisions_stream.stream_name: c.DECISIONS_CONTRACT}
            )
        }
        self.stream_fn = PythonFunction(
            self,
            "IngestStream",
            folder=c.FN_INGEST_STREAM,
            description="Curates each valid Kinesis transaction once; quarantines the others",
            memory_mb=c.INGEST_STREAM_MEMORY_MB,
            timeout_seconds=c.INGEST_STREAM_TIMEOUT_SECONDS,
            layers=layers,
            extra_layer=layers.data,
            stage=stage,
            environment={
                **common_env,
                **stream_env,
                settings.SCORING_FEED_ENV: self.scoring_feed.stream_name,
            },
        )
        grant_items(self.stream_fn, table, ITEM_ACTIONS, STREAM_KEYS)
        self.scoring_feed.grant_write(self.stream_fn.function)
        grant_objects(self.stream_fn, lake.bucket, READ_OBJECT_ACTIONS, first_copies)
        grant_objects(self.stream_fn, lake.bucket, WRITE_OBJECT_ACTIONS, outputs)
        grant_objects(self.stream_fn, lake.bucket, ["s3:DeleteObject"], [lake.staging_prefix])
        # One mapping per stream, the same settings for each (the mapping grants it the read).
        for stream in (self.stream, self.decisions_stream):
            self.stream_fn.function.add_event_source(
                sources.KinesisEventSource(
                    stream,
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
        # --- dead letters: read the given-up records back from the shard, keep and count them
        self.dead_letters = PythonFunction(
            self,
            "DeadLetterAccounting",
            folder=c.FN_DLQ_ACCOUNTING,
            description="Keeps and counts the records of given-up stream batches",
            memory_mb=c.DLQ_ACCOUNTING_MEMORY_MB,
            timeout_seconds=c.DLQ_ACCOUNTING_TIMEOUT_SECONDS,
            layers=layers,
            extra_layer=layers.data,
            stage=stage,
            environment={**common_env, **stream_env},
        )
        grant_items(
            self.dead_letters, table, (*ITEM_ACTIONS, "dynamodb:DeleteItem"), DEAD_LETTER_KEYS
        )
        for stream in (self.stream, self.decisions_stream):
            stream.grant_read(self.dead_letters.function)
        dlq_outputs = (lake.quarantine_prefix, lake.manifest_prefix, lake.staging_prefix)
        grant_objects(
            self.dead_letters,
            lake.bucket,
            READ_OBJECT_ACTIONS,
            [lake.landing_prefix, lake.staging_prefix],
        )
        grant_objects(self.dead_letters, lake.bucket, WRITE_OBJECT_ACTIONS, dlq_outputs)
        grant_objects(self.dead_letters, lake.bucket, ["s3:DeleteObject"], [lake.staging_prefix])
        for queue in (self.dlq, self.batch_dlq):
            self.dead_letters.function.add_event_source(
                sources.SqsEventSource(
                    queue,
                    batch_size=c.DLQ_ACCOUNTING_BATCH_SIZE,
                    report_batch_item_failures=True,
                )
            )
