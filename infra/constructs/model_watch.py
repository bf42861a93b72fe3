"""Model watch: the drift watch and the quality watch on schedules (functions/monitor_drift,
functions/monitor_quality).

Every `stage.drift_schedule_minutes` an EventBridge rule runs the watch over the last
`stage.drift_window_seconds` of decisions in the decisions zone: PSI per feature and for the
score against the champion's training baseline, published as metrics (DriftPSI, ScorePSI,
FeaturePSI); the drift alarm (infra/constructs/monitoring.py) reads DriftPSI.

What the function may do is exactly what its adapters call (fraudops_shared.aws.monitoring):
GetItem on MODEL# items of the state table (the champion pointer and version records, read only),
list and read the decisions zone (curated/decisions/), read model artifacts (training/), nothing
else.

Every `stage.quality_schedule_minutes` another rule runs the quality watch: the label events of
the label horizon joined to the decisions (both zones, read only), the champion and shadow
records (GetItem on MODEL#), metrics out (EMF, in its log); the precision alarm reads them.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from fraudops_shared.runtime import settings
from infra import constants as c
from infra.constructs.ingestion import READ_OBJECT_ACTIONS, grant_listing, grant_objects
from infra.constructs.lambdas import PythonFunction, SharedLayers
from infra.constructs.state import grant_items
from infra.constructs.storage import DataLake
from infra.stage import StageConfig


class ModelWatch(Construct):
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
        decisions_zone = f"{lake.curated_prefix}{settings.DECISIONS_CONTRACT}/"
        self.drift_fn = PythonFunction(
            self,
            "MonitorDrift",
            folder=c.FN_MONITOR_DRIFT,
            description="PSI of the champion's recent decisions against its training baseline",
            memory_mb=c.MONITOR_DRIFT_MEMORY_MB,
            timeout_seconds=c.MONITOR_DRIFT_TIMEOUT_SECONDS,
            layers=layers,
            extra_layer=layers.data,  # pyarrow reads the decisions zone
            stage=stage,
            environment={
                settings.STATE_TABLE_ENV: table.table_name,
                settings.DATA_BUCKET_ENV: lake.bucket.bucket_name,
                settings.STREAM_CONTRACT_ENV: c.STREAM_CONTRACT,
                settings.DRIFT_WINDOW_SECONDS_ENV: str(stage.drift_window_seconds),
                settings.DRIFT_THRESHOLD_ENV: str(c.DRIFT_PSI_THRESHOLD),
            },
        )
        grant_items(self.drift_fn, table, ["dynamodb:GetItem"], [settings.PK_MODEL])
        grant_objects(self.drift_fn, lake.bucket, ["s3:GetObject"], [decisions_zone])
        # the champion's ONNX at its exact version (hash-checked): its explainer ranks features
        grant_objects(self.drift_fn, lake.bucket, READ_OBJECT_ACTIONS, [lake.training_prefix])
        grant_listing(self.drift_fn, lake.bucket, decisions_zone)
        labels_zone = f"{lake.curated_prefix}{settings.LABELS_CONTRACT}/"
        self.quality_fn = PythonFunction(
            self,
            "MonitorQuality",
            folder=c.FN_MONITOR_QUALITY,
            description="Live precision, recall and label coverage of the champion and shadow",
            memory_mb=c.MONITOR_QUALITY_MEMORY_MB,
            timeout_seconds=c.MONITOR_QUALITY_TIMEOUT_SECONDS,
            layers=layers,
            extra_layer=layers.data,  # pyarrow reads the decisions and labels zones
            stage=stage,
            environment={
                settings.STATE_TABLE_ENV: table.table_name,
                settings.DATA_BUCKET_ENV: lake.bucket.bucket_name,
                settings.STREAM_CONTRACT_ENV: c.STREAM_CONTRACT,
                settings.MIN_LABELLED_ALERTS_ENV: str(stage.min_labelled_alerts),
                settings.PRECISION_MARGIN_ENV: str(c.PRECISION_MARGIN),
                settings.LABEL_HORIZON_DAYS_ENV: str(c.LABEL_HORIZON_DAYS),
            },
        )
        grant_items(self.quality_fn, table, ["dynamodb:GetItem"], [settings.PK_MODEL])
        for zone in (decisions_zone, labels_zone):
            grant_objects(self.quality_fn, lake.bucket, ["s3:GetObject"], [zone])
            grant_listing(self.quality_fn, lake.bucket, zone)
        self.quality_schedule = events.Rule(
            self,
            "QualitySchedule",
            description="Runs the quality watch over the decisions and the labels known so far",
            schedule=events.Schedule.rate(Duration.minutes(stage.quality_schedule_minutes)),
            targets=[targets.LambdaFunction(self.quality_fn.function, retry_attempts=0)],
        )
        self.schedule = events.Rule(
            self,
            "DriftSchedule",
            description="Runs the drift watch over the latest decisions",
            schedule=events.Schedule.rate(Duration.minutes(stage.drift_schedule_minutes)),
            targets=[targets.LambdaFunction(self.drift_fn.function, retry_attempts=0)],
        )

    @property
    def functions(self) -> list[PythonFunction]:
        return [self.drift_fn, self.quality_fn]
