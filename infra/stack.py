"""The fraudops stack: composes the domain constructs and publishes what users and tests need.

Environment-agnostic on purpose (no account/region, no look-ups), so the same template deploys
to LocalStack and to any AWS account.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra import constants as c
from infra.constructs.dashboard import Dashboard
from infra.constructs.ingestion import Ingestion
from infra.constructs.lambdas import PythonFunction, SharedLayers
from infra.constructs.model_watch import ModelWatch
from infra.constructs.monitoring import Monitoring
from infra.constructs.retraining import Retraining
from infra.constructs.scoring import Scoring
from infra.constructs.state import StateTable
from infra.constructs.storage import DataLake
from infra.constructs.training import Training
from infra.nag import acknowledge
from infra.stage import StageConfig

# Construct id CDK gives its S3 bucket-notifications handler (fixed in aws-cdk-lib).
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


class FraudOpsStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"fraudops: serverless card-fraud DataOps+MLOps ({stage.name} stage)",
            **kwargs,
        )
        self.stage_config = stage
        self.lake = DataLake(self, "DataLake", stage=stage)
        self.state = StateTable(self, "State", stage=stage)
        self.layers = SharedLayers(self, "Layers", stage=stage)
        self.ingestion = Ingestion(
            self,
            "Ingestion",
            lake=self.lake,
            table=self.state.table,
            layers=self.layers,
            stage=stage,
        )
        self.training = Training(
            self,
            "Training",
            lake=self.lake,
            table=self.state.table,
            layers=self.layers,
            stage=stage,
        )
        self.scoring = Scoring(
            self,
            "Scoring",
            lake=self.lake,
            table=self.state.table,
            ingestion=self.ingestion,
            layers=self.layers,
            stage=stage,
        )
        self.model_watch = ModelWatch(
            self,
            "ModelWatch",
            lake=self.lake,
            table=self.state.table,
            layers=self.layers,
            stage=stage,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            ingestion=self.ingestion,
            scoring=self.scoring,
            model_watch=self.model_watch,
            stage=stage,
        )
        self.retraining = Retraining(
            self,
            "Retraining",
            lake=self.lake,
            table=self.state.table,
            layers=self.layers,
            training=self.training,
            topic=self.monitoring.topic,
            stage=stage,
        )
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            ingestion=self.ingestion,
            scoring=self.scoring,
            model_watch=self.model_watch,
            training=self.training,
            alarms=list(self.monitoring.alarms.values()),
        )
        self._outputs()
        self._nag_suppressions()

    @property
    def functions(self) -> list[PythonFunction]:
        return [
            self.ingestion.batch,
            self.ingestion.stream_fn,
            self.ingestion.dead_letters,
            *self.training.functions,
            *self.scoring.functions,
            *self.model_watch.functions,
            *self.retraining.functions,
        ]

    def _outputs(self) -> None:
        outputs = {
            c.OUT_STAGE: (self.stage_config.name, "Stage this stack was synthesized for"),
            c.OUT_DATA_BUCKET: (
                self.lake.bucket.bucket_name,
                "Data lake (landing/ curated/ quarantine/)",
            ),
            c.OUT_ACCESS_LOGS_BUCKET: (
                self.lake.access_logs_bucket.bucket_name,
                "Server access logs of the data lake",
            ),
            c.OUT_STREAM_NAME: (self.ingestion.stream.stream_name, "Kinesis transaction stream"),
            c.OUT_STREAM_ARN: (self.ingestion.stream.stream_arn, "Kinesis transaction stream"),
            c.OUT_DECISIONS_STREAM_NAME: (
                self.ingestion.decisions_stream.stream_name,
                "Kinesis stream of the scorers' decisions (the decisions contract)",
            ),
            c.OUT_DECISIONS_STREAM_ARN: (
                self.ingestion.decisions_stream.stream_arn,
                "Kinesis stream of the scorers' decisions (the decisions contract)",
            ),
            c.OUT_SCORING_FEED_NAME: (
                self.ingestion.scoring_feed.stream_name,
                "Kinesis stream of validated transactions, for real-time scoring",
            ),
            c.OUT_SCORING_FEED_ARN: (
                self.ingestion.scoring_feed.stream_arn,
                "Kinesis stream of validated transactions, for real-time scoring",
            ),
            c.OUT_DLQ_URL: (self.ingestion.dlq.queue_url, "On-failure queue of stream ingestion"),
            c.OUT_DLQ_ARN: (self.ingestion.dlq.queue_arn, "On-failure queue of stream ingestion"),
            c.OUT_BATCH_DLQ_URL: (
                self.ingestion.batch_dlq.queue_url,
                "On-failure queue of the batch function (files it gave up on)",
            ),
            c.OUT_UNACCOUNTED_DLQ_URL: (
                self.ingestion.unaccounted.queue_url,
                "Dead-letter messages the accounting function could not handle",
            ),
            c.OUT_DLQ_ACCOUNTING_FN: (
                self.ingestion.dead_letters.function.function_name,
                "Keeps and counts the records of given-up stream batches",
            ),
            c.OUT_TABLE_NAME: (
                self.state.table.table_name,
                "State table: claims, ledger, snapshots, model registry",
            ),
            c.OUT_INGEST_BATCH_FN: (
                self.ingestion.batch.function.function_name,
                "S3 landing/ ingestion function",
            ),
            c.OUT_INGEST_STREAM_FN: (
                self.ingestion.stream_fn.function.function_name,
                "Kinesis ingestion function",
            ),
            c.OUT_DATA_LAYER_ARN: (
                self.layers.data.layer_version_arn,
                f"Data layer of the ingestion functions ({self.layers.data_source})",
            ),
            c.OUT_TRAINING_STATE_MACHINE_ARN: (
                self.training.state_machine.state_machine_arn,
                "Training pipeline (fraudops train)",
            ),
            c.OUT_MODEL_EVENTS_QUEUE_URL: (
                self.training.events_queue.queue_url,
                "Model events (promoted, registered, rejected, failed) from the default bus",
            ),
            c.OUT_ML_LAYER_ARN: (self.layers.ml.layer_version_arn, "Training layer"),
            c.OUT_ONNX_LAYER_ARN: (self.layers.onnx.layer_version_arn, "ONNX runtime layer"),
            c.OUT_DECISIONS_TABLE: (
                self.scoring.decisions.table_name,
                "Decisions, one per transaction (look-up by transaction id)",
            ),
            c.OUT_SCORING_API_URL: (
                self.scoring.url.url,
                "Scoring API: POST one transaction, SigV4-signed (service lambda)",
            ),
            c.OUT_SCORE_STREAM_FN: (
                self.scoring.stream_fn.function.function_name,
                "Scores the scoring feed",
            ),
            c.OUT_SCORE_API_FN: (
                self.scoring.api_fn.function.function_name,
                "Scores one transaction per signed call",
            ),
            c.OUT_MONITOR_DRIFT_FN: (
                self.model_watch.drift_fn.function.function_name,
                "The drift watch (scheduled): PSI of recent decisions against the baseline",
            ),
            c.OUT_RETRAIN_FN: (
                self.retraining.fn.function.function_name,
                "Alarm -> guarded retraining (its guard: the RETRAIN# item of the state table)",
            ),
            c.OUT_MONITOR_QUALITY_FN: (
                self.model_watch.quality_fn.function.function_name,
                "The quality watch (scheduled): live precision and recall from the labels",
            ),
            c.OUT_ALARM_TOPIC_ARN: (self.monitoring.topic.topic_arn, "SNS topic of every alarm"),
            c.OUT_DASHBOARD_NAME: (
                self.dashboard.dashboard.dashboard_name,
                "CloudWatch dashboard: ingestion, scoring, drift, quality, training, alarms",
            ),
        }
        for key, (value, description) in outputs.items():
            CfnOutput(self, key, value=value, description=description)

    def _nag_suppressions(self) -> None:
        """Findings that follow from deliberate choices, each acknowledged with its reason."""
        for fn in self.functions:
            acknowledge(
                fn.role,
                "IAM5",
                "X-Ray PutTraceSegments/PutTelemetryRecords accept no resource-level "
                "permissions; '*' is their only valid resource.",
                "Resource::*",
            )
            acknowledge(
                fn.function,
                "L1",
                "python3.12 on purpose: the project, its layers (built for cp312) and the host "
                "Lambda executor are pinned to 3.12; a runtime bump is one constant, done "
                "together.",
            )
        # CDK's own singleton that writes the bucket's notification configuration.
        handler = self.node.try_find_child(NOTIFICATIONS_HANDLER_ID)
        if handler is not None:
            acknowledge(
                handler,
                "IAM4",
                "CDK-provided S3 notifications handler: AWSLambdaBasicExecutionRole only lets it "
                "write its own logs; its role is not ours to shape.",
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole",
            )
