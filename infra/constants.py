"""Every name and size of the stack in one place, so a change is one edit and reviewable.

Names the functions read too (environment variables, lake prefixes, event sources, batch limits)
are defined once, in the shared layer's settings, and re-exported from here."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fraudops_shared.runtime import settings as shared

# --- identity -----------------------------------------------------------------------------------
STACK_NAME: Final = "FraudOps"
PROJECT: Final = "fraudops"
STAGE_CONTEXT_KEY: Final = "fraudops:stage"
STAGE_ENV_VAR: Final = "FRAUDOPS_STAGE"
STAGES: Final = ("local", "aws")

# --- source folders (resolved from the repo root, never from the working directory) -------------
ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = ROOT / "functions"
LAYERS_DIR: Final = ROOT / "layers"
SHARED_LAYER_DIR: Final = LAYERS_DIR / "shared"
DEPS_LAYER_DIR: Final = LAYERS_DIR / "deps"
DEPS_REQUIREMENTS: Final = DEPS_LAYER_DIR / "requirements.txt"
DATA_LAYER_DIR: Final = LAYERS_DIR / "data"
DATA_REQUIREMENTS: Final = DATA_LAYER_DIR / "requirements.txt"
ML_REQUIREMENTS: Final = LAYERS_DIR / "ml" / "requirements.txt"
ONNX_REQUIREMENTS: Final = LAYERS_DIR / "onnx" / "requirements.txt"
STATE_MACHINES_DIR: Final = ROOT / "state_machines"
TRAINING_ASL: Final = STATE_MACHINES_DIR / "training.asl.json"
BUNDLING_CACHE_DIR: Final = ROOT / ".cache" / "layers"
ASSET_EXCLUDES: Final = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
# The shared layer's folder is also an installable package (editable in the project venv): its
# packaging files are not layer content.
SHARED_LAYER_EXCLUDES: Final = (*ASSET_EXCLUDES, "*.egg-info", "pyproject.toml", "build")

# --- data lake ------------------------------------------------------------------------------------
LANDING_PREFIX: Final = shared.LANDING_PREFIX
CURATED_PREFIX: Final = shared.CURATED_PREFIX
QUARANTINE_PREFIX: Final = shared.QUARANTINE_PREFIX
MANIFEST_PREFIX: Final = shared.MANIFEST_PREFIX
STAGING_PREFIX: Final = shared.STAGING_PREFIX
PARKED_PREFIX: Final = shared.PARKED_PREFIX
ACCESS_LOGS_PREFIX: Final = "data-bucket/"
NONCURRENT_VERSION_EXPIRY_DAYS: Final = 30
ACCESS_LOGS_EXPIRY_DAYS: Final = 90
INCOMPLETE_UPLOAD_EXPIRY_DAYS: Final = 1

# --- stream ingestion -----------------------------------------------------------------------------
STREAM_SHARD_COUNT: Final = 1
STREAM_RETENTION_HOURS: Final = 24
# A batch is committed in one transaction whatever its size (a per-shard checkpoint, not a mark
# per record): up to Lambda's maximum of 10,000 records (or 6 MB of payload), gathered for at
# most the batching window, so a busy shard is read in few, large batches.
STREAM_BATCH_SIZE: Final = shared.MAX_STREAM_BATCH
STREAM_CONTRACT: Final = shared.DEFAULT_STREAM_CONTRACT  # what the transaction stream carries
STREAM_MAX_BATCHING_WINDOW_SECONDS: Final = 1
# The checkpoint needs a shard's records in order: one batch per shard at a time. Scale by shards.
STREAM_RETRY_ATTEMPTS: Final = 3
STREAM_MAX_RECORD_AGE_SECONDS: Final = 3600
STREAM_PARALLELIZATION_FACTOR: Final = 1
STREAM_DLQ_RETENTION_DAYS: Final = 14

# --- decisions stream: the scorers' decisions, ingested as data ----------------------------------
# One JSON record per decision, put by the scorers, read by ingest_stream with the decisions
# contract through a mapping of the same settings as the transaction stream's (STREAM_*). One
# decision per scored transaction: one shard, like the transaction stream it follows.
DECISIONS_STREAM_SHARD_COUNT: Final = 1
DECISIONS_STREAM_RETENTION_HOURS: Final = STREAM_RETENTION_HOURS
DECISIONS_CONTRACT: Final = shared.DECISIONS_CONTRACT  # what the decisions stream carries

# --- scoring feed: validated transactions for real-time scoring ----------------------------------
# Written only by ingest_stream (curated rows, at least once), read by the scoring function. One
# shard takes 1,000 records/s, far above the transaction stream's one shard of curated output;
# 24 h retention (the free minimum) covers a scoring outage of a day.
# Curated rows go on the feed KPL-aggregated (one PutRecords of ~1 MB aggregates per batch): a
# shard's 1 MB/s write limit is the bound, ~2,500 transactions/s per shard at ~400 bytes each;
# two shards leave room for a catch-up batch of 10,000 records every second.
SCORING_FEED_SHARD_COUNT: Final = 2
SCORING_FEED_RETENTION_HOURS: Final = 24

# --- the state table: file and transaction claims, ledger, snapshots, model registry -------------
TABLE_PARTITION_KEY: Final = "pk"
TABLE_SORT_KEY: Final = "sk"
TABLE_TTL_ATTRIBUTE: Final = "expires_at"

# --- Lambda ---------------------------------------------------------------------------------------
LAMBDA_HANDLER: Final = "app.handler"
LAMBDA_LOG_RETENTION_DAYS: Final = 14
LOG_LEVEL: Final = "INFO"
METRICS_NAMESPACE: Final = "FraudOps"
# Ingestion imports pandas/pyarrow (data layer). Measured on the host executor (throwaway function
# with the data layer, awswrangler to_parquet + read_parquet on the data bucket): import 0.38-0.40
# s (init 0.49-0.53 s), 133 MB RSS after import; peak 242-263 MB for 100k rows x 3 columns and
# 502-624 MB for 1 M rows. Batch: files are read in blocks but a curated Parquet part is built in
# memory, so it gets room and, above 1,769 MB, a second vCPU; 15 minutes and 2 GB of /tmp for the
# downloaded source. Stream: a batch is at most 99 records, 512 MB would hold it; 1,024 MB is for
# CPU (Lambda's CPU share grows with memory): import and per-batch latency.
INGEST_BATCH_MEMORY_MB: Final = 2048
INGEST_BATCH_TIMEOUT_SECONDS: Final = 900
INGEST_BATCH_EPHEMERAL_STORAGE_MB: Final = 2048
INGEST_BATCH_ASYNC_RETRIES: Final = 2
INGEST_BATCH_MAX_EVENT_AGE_SECONDS: Final = 3600
INGEST_BATCH_ERRORS_THRESHOLD: Final = 0  # any failed invocation of the batch function alarms
STAGING_EXPIRY_DAYS: Final = 2  # outputs of batches that never committed (lake.commits)
INGEST_STREAM_MEMORY_MB: Final = 1024
INGEST_STREAM_TIMEOUT_SECONDS: Final = 60

# Function folder names under functions/, and their Powertools service names.
FN_INGEST_BATCH: Final = shared.FN_INGEST_BATCH
FN_INGEST_STREAM: Final = shared.FN_INGEST_STREAM
FN_DLQ_ACCOUNTING: Final = "dlq_accounting"
DLQ_ACCOUNTING_MEMORY_MB: Final = 1024
DLQ_ACCOUNTING_TIMEOUT_SECONDS: Final = 120
DLQ_ACCOUNTING_BATCH_SIZE: Final = 10
# a dead-letter message the accounting function failed on this many times moves to the
# "unaccounted" queue, which is what the dead-letter alarm watches
DLQ_ACCOUNTING_MAX_RECEIVES: Final = 5

# --- layers built with pip on the host, never in Docker ------------------------------------------
LAYER_PYTHON_VERSION: Final = "3.12"
# pip accepts a wheel tagged for any listed platform: pyarrow, numpy and pandas are published for
# manylinux_2_28 only (glibc 2.28); python3.12 on Lambda is Amazon Linux 2023 (glibc 2.34).
LAYER_PLATFORMS: Final = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
LAYER_IMPLEMENTATION: Final = "cp"
# Lambda's limit on a function plus all its layers, unzipped: 250 MB (262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT_BYTES: Final = 262_144_000
# What the data layer drops after pip, relative to its python/ folder (glob patterns): test
# suites, C/C++ and Cython sources and headers, Arrow Flight (RPC; nothing here imports it; the
# core library does not link it), and copies of libarrow_python* that only the versioned name
# (the SONAME the extensions link against) is needed under. Saves ~70 MB of ~256 MB.
DATA_LAYER_TRIM: Final = (
    "**/tests",
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/**/*.pyx",
    "pyarrow/**/*.pxd",
    "pyarrow/**/*.pxi",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python*.so",
    "pyarrow/libarrow_python*.so.*.*.*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.cpython-*.so",
    "pyarrow/flight.py",
    "pyarrow/_pyarrow_cpp_tests.cpython-*.so",
    "numpy/_core/include",
)
# What the ml layer (training) drops after pip, measured: 226.6 MB raw, 177.5 MB trimmed, 210.4
# MB with bytecode. Test suites (29.8 MB), ONNX's backend conformance data (11.9 MB), sources,
# headers and type stubs, and scikit-learn's bundled toy datasets (load_iris() and friends stop
# working; training never calls them). Both OpenBLAS builds stay: numpy's (ILP64) and scipy's are
# different libraries.
ML_LAYER_TRIM: Final = (
    "bin",
    "**/tests",
    "joblib/test",
    "onnx/backend/test",
    "**/*.pyx",
    "**/*.pxd",
    "**/*.pxi",
    "**/*.h",
    "**/*.hpp",
    "**/*.c",
    "**/*.cc",
    "**/*.cpp",
    "**/*.f",
    "**/*.f90",
    "**/*.pyf",
    "**/*.proto",
    "**/*.pyi",
    "numpy/_core/include",
    "numpy/_core/lib",
    "sklearn/datasets/data",
    "sklearn/datasets/images",
    "sklearn/datasets/descr",
)
# The onnx layer (evaluation, scoring): 128.5 MB raw, 115.9 MB trimmed, 120.1 MB with bytecode.
# onnxruntime's transformers/quantization/tools subpackages need packages the layer leaves out.
ONNX_LAYER_TRIM: Final = (
    "bin",
    "**/tests",
    "**/*.pyx",
    "**/*.pxd",
    "**/*.pxi",
    "**/*.h",
    "**/*.hpp",
    "**/*.c",
    "**/*.cc",
    "**/*.cpp",
    "**/*.pyi",
    "numpy/_core/include",
    "numpy/_core/lib",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
)
# Where the data layer comes from: "built" (layers/data/requirements.txt, the same bytes on
# every stage) or "managed" (AWS's "AWS SDK for pandas" layer; `aws` stage only, LocalStack
# cannot serve AWS-owned layers). Chosen per stage in infra/stage.py; context key overrides.
DATA_LAYER_CONTEXT_KEY: Final = "fraudops:data-layer"
DATA_LAYER_SOURCES: Final = ("built", "managed")
AWS_SDK_PANDAS_LAYER_ACCOUNT: Final = "336392948345"
AWS_SDK_PANDAS_LAYER_NAME: Final = "AWSSDKPandas-Python312"
# Layer versions differ per region and release: look the ARN up for the target region in the
# AWS SDK for pandas "Lambda Managed Layers" table before choosing "managed".
AWS_SDK_PANDAS_LAYER_VERSION: Final = 26

# Layers ship bytecode compiled at build time (unchecked-hash .pyc: valid whatever the file times
# after unzipping). /opt is read-only on Lambda, so without it every cold start compiles pandas,
# pyarrow and awswrangler again: measured 1.6 s vs 0.6 s import, 178 vs 145 MB RSS. Costs +18 MB.
LAYER_PRECOMPILE: Final = True

# --- monitoring: the metric contract ingestion emits (Powertools EMF) ----------------------------
# Every ingestion figure is published in METRICS_NAMESPACE with exactly these two dimensions:
# `service` (the function folder, Powertools' service name) and `contract` (data contract name).
METRIC_DIM_SERVICE: Final = "service"
METRIC_DIM_CONTRACT: Final = "contract"
METRIC_RECORDS_IN: Final = "RecordsIn"
METRIC_RECORDS_VALID: Final = "RecordsValid"
METRIC_RECORDS_REJECTED: Final = "RecordsRejected"
METRIC_FRESHNESS_LAG: Final = "FreshnessLagSeconds"
# The rejection-rate alarm's figure: each file's or stream batch's rejected share, in percent
# (published by the function; the alarm averages it over the period). A simple alarm, because
# LocalStack evaluates no metric math (docs/decisions.md); the dashboard graphs the same figure.
METRIC_REJECTED_PERCENT: Final = "RejectedPercent"
# How far a stream consumer is behind: its batch's oldest record's age on arrival (ms), published
# by the ingestion and scoring stream functions (LocalStack publishes no Lambda IteratorAge).
METRIC_RECORD_AGE: Final = "RecordAgeMs"
METRIC_RECORDS_FORWARDED: Final = "RecordsForwarded"  # curated rows put on the scoring feed
# Contracts watched per ingestion function (layers/shared/.../contracts/<name>.yaml).
MONITORED_CONTRACTS: Final = ("transactions", "creditcard_benchmark")
# Alarms only where the figure can exist: the stream function reads the stream contract only
# (STREAM_CONTRACT; decisions are watched by the model watch), and freshness needs a wall-clock
# event time (creditcard_benchmark's Time is an offset into the capture, so no lag is published).
FRESHNESS_CONTRACTS: Final = ("transactions",)
ALARM_PERIOD_SECONDS: Final = 300
ALARM_PERIOD_LOCAL_SECONDS: Final = 60  # the local stage: alarms fire and clear in minutes
REJECTION_RATE_THRESHOLD_PERCENT: Final = 5.0
REJECTION_RATE_EVALUATION_PERIODS: Final = 1
# The average over the period's files and batches (each one's lag is its newest event's age): a
# single backfill file does not fire it, a late producer two periods running does. Not p95:
# LocalStack evaluates no percentile alarm, and the same alarm must fire on both stages.
FRESHNESS_LAG_STATISTIC: Final = "Average"
FRESHNESS_LAG_THRESHOLD_SECONDS: Final = 900
FRESHNESS_LAG_EVALUATION_PERIODS: Final = 2
DLQ_DEPTH_THRESHOLD: Final = 0  # any dead letter is an alarm
DLQ_DEPTH_PERIOD_SECONDS: Final = 60
ITERATOR_AGE_THRESHOLD_MS: Final = 300_000  # 5 minutes behind the stream's tip
ITERATOR_AGE_THRESHOLD_LOCAL_MS: Final = 30_000  # the local stage: a test pauses a consumer 45 s
ITERATOR_AGE_PERIOD_SECONDS: Final = 60
ITERATOR_AGE_EVALUATION_PERIODS: Final = 3
ITERATOR_AGE_EVALUATION_PERIODS_LOCAL: Final = 1
DASHBOARD_SUFFIX: Final = "ingestion"
# Alarm names: "<stack>-<kind>[-<source>-<contract>]".
ALARM_REJECTION_RATE: Final = "rejection-rate"
ALARM_FRESHNESS_LAG: Final = "freshness-lag"
ALARM_DLQ_DEPTH: Final = "stream-dead-letters"
ALARM_BATCH_ERRORS: Final = "batch-function-errors"
ALARM_EXPIRED_RECORDS: Final = "stream-records-expired"
ALARM_ITERATOR_AGE: Final = "stream-iterator-age"

# --- training pipeline ---------------------------------------------------------------------------
# Measured on the host executor with 285,000 generated transactions (22 features, before the 22
# per-card window features of feature set 2 doubled them): prepare reads
# the snapshot and builds the dataset in <1 s of compute (peak well under 1 GB); fitting the
# boosted candidate takes ~12 s on one core (the logistic baseline ~1 s). Training gets 4 GB for
# memory headroom and the vCPUs that come with it (Lambda: ~1 vCPU per 1,769 MB); AWS allows up
# to 10,240 MB and 900 s, the ceiling for larger snapshots.
FN_TRAINING_PREPARE: Final = "training_prepare"
FN_TRAINING_TRAIN: Final = "training_train"
FN_TRAINING_EVALUATE: Final = "training_evaluate"
FN_TRAINING_REGISTER: Final = "training_register"
TRAINING_PREPARE_MEMORY_MB: Final = 3008
TRAINING_PREPARE_TIMEOUT_SECONDS: Final = 600
TRAINING_PREPARE_EPHEMERAL_STORAGE_MB: Final = 2048
TRAINING_TRAIN_MEMORY_MB: Final = 4096
# OpenMP threads that wait for work sleep instead of spinning. HistGradientBoosting runs one
# OpenMP thread per core; when two candidates train at once on shared cores (the Map state on the
# host executor, or a noisy neighbour), spinning threads starve each other. Measured: two
# concurrent fits on 228k x 30 rows, 2 cores: 60.1 s each by default, 7.7 s with PASSIVE (6.7 s
# with one thread). Results are the same bytes whatever the thread count.
TRAINING_TRAIN_ENV: Final = {"OMP_WAIT_POLICY": "PASSIVE"}
TRAINING_TRAIN_TIMEOUT_SECONDS: Final = 900
TRAINING_EVALUATE_MEMORY_MB: Final = 2048
TRAINING_EVALUATE_TIMEOUT_SECONDS: Final = 300
TRAINING_REGISTER_MEMORY_MB: Final = 256
TRAINING_REGISTER_TIMEOUT_SECONDS: Final = 60
TRAINING_PREFIX: Final = shared.TRAINING_PREFIX
SNAPSHOT_PREFIX: Final = shared.SNAPSHOT_PREFIX
TRAINING_EVENT_SOURCE: Final = shared.TRAINING_EVENT_SOURCE
TRAINING_EVENTS_RETENTION_DAYS: Final = 14
CODE_VERSION_ENV_VAR: Final = "FRAUDOPS_CODE_VERSION"  # overrides `git rev-parse HEAD` at synth
TRAINING_LOG_SUFFIX: Final = "training"

# --- state machines ------------------------------------------------------------------------------
STATE_MACHINE_LOG_RETENTION_DAYS: Final = 14

# --- stack output keys (stable: tests, the CLI and users read them) ------------------------------
OUT_STAGE: Final = "Stage"
OUT_DATA_BUCKET: Final = "DataBucketName"
OUT_ACCESS_LOGS_BUCKET: Final = "AccessLogsBucketName"
OUT_STREAM_NAME: Final = "TransactionStreamName"
OUT_STREAM_ARN: Final = "TransactionStreamArn"
OUT_DECISIONS_STREAM_NAME: Final = "DecisionsStreamName"
OUT_DECISIONS_STREAM_ARN: Final = "DecisionsStreamArn"
OUT_SCORING_FEED_NAME: Final = "ScoringFeedStreamName"
OUT_SCORING_FEED_ARN: Final = "ScoringFeedStreamArn"
OUT_DLQ_URL: Final = "StreamDLQUrl"
OUT_DLQ_ARN: Final = "StreamDLQArn"
OUT_BATCH_DLQ_URL: Final = "BatchDLQUrl"
OUT_UNACCOUNTED_DLQ_URL: Final = "UnaccountedDLQUrl"
OUT_DLQ_ACCOUNTING_FN: Final = "DeadLetterAccountingFunctionName"
OUT_TABLE_NAME: Final = "StateTableName"
OUT_INGEST_BATCH_FN: Final = "IngestBatchFunctionName"
OUT_INGEST_STREAM_FN: Final = "IngestStreamFunctionName"
OUT_DATA_LAYER_ARN: Final = "DataLayerArn"
OUT_ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
OUT_DASHBOARD_NAME: Final = "DashboardName"
OUT_TRAINING_STATE_MACHINE_ARN: Final = "TrainingStateMachineArn"
OUT_MODEL_EVENTS_QUEUE_URL: Final = "ModelEventsQueueUrl"
OUT_ML_LAYER_ARN: Final = "MlLayerArn"
OUT_ONNX_LAYER_ARN: Final = "OnnxLayerArn"

# --- scoring ------------------------------------------------------------------------------------
FN_SCORE_STREAM: Final = shared.FN_SCORE_STREAM
FN_SCORE_API: Final = shared.FN_SCORE_API
FN_SCORE_DEAD_LETTERS: Final = "score_dead_letters"
# One onnxruntime call per batch: a 10,000-record batch is ~0.5-1 s of compute (features,
# model, reasons) and ~1 GB is ample for the state of 2,000 cards at the caps (170 KB each).
SCORE_STREAM_MEMORY_MB: Final = 1769  # one full vCPU
SCORE_STREAM_TIMEOUT_SECONDS: Final = 120
SCORE_STREAM_BATCH_SIZE: Final = 2_000  # decisions reach the table ~1 s after the feed
SCORE_STREAM_MAX_BATCHING_WINDOW_SECONDS: Final = 0
SCORE_STREAM_RETRY_ATTEMPTS: Final = 3
SCORE_API_MEMORY_MB: Final = 1024
# A warm call takes milliseconds and a cold one ~1.5 s: 10 s is ample on AWS, where each
# environment has its own CPU. On a 2-core LocalStack host fifty simultaneous cold starts share
# two cores (one timed out at 30 s while other work ran): the local stage allows minutes.
SCORE_API_TIMEOUT_SECONDS: Final = 10
SCORE_API_TIMEOUT_LOCAL_SECONDS: Final = 120
DECISIONS_TABLE_KEY: Final = "transaction_id"
DECISIONS_TTL_ATTRIBUTE: Final = "expires_at"
ALARM_SCORING_ERRORS: Final = "scoring-errors"
ALARM_SCORING_ITERATOR_AGE: Final = "scoring-iterator-age"
ALARM_MODEL_REJECTED: Final = "model-rejected"
SCORING_ITERATOR_AGE_THRESHOLD_MS: Final = 60_000
OUT_DECISIONS_TABLE: Final = "DecisionsTableName"
OUT_SCORING_API_URL: Final = "ScoringApiUrl"
OUT_SCORE_STREAM_FN: Final = "ScoreStreamFunctionName"
OUT_SCORE_API_FN: Final = "ScoreApiFunctionName"

# --- model monitoring ----------------------------------------------------------------------------
# The drift watch (functions/monitor_drift): PSI of the champion's recent decisions against its
# training baseline. Schedule, window and alarm period are stage settings (infra/stage.py).
FN_MONITOR_DRIFT: Final = "monitor_drift"
MONITOR_DRIFT_MEMORY_MB: Final = 1024
MONITOR_DRIFT_TIMEOUT_SECONDS: Final = 120
DRIFT_PSI_THRESHOLD: Final = 0.2  # PSI above this on the score or an important feature alarms
DRIFT_SCHEDULE_MINUTES: Final = 5
DRIFT_WINDOW_SECONDS: Final = 3600
DRIFT_ALARM_PERIOD_SECONDS: Final = 300
# The local stage watches sooner and shorter, so a test sees the alarm in minutes.
DRIFT_SCHEDULE_LOCAL_MINUTES: Final = 1
DRIFT_WINDOW_LOCAL_SECONDS: Final = 120
DRIFT_ALARM_PERIOD_LOCAL_SECONDS: Final = 60
ALARM_DRIFT: Final = "drift"
OUT_MONITOR_DRIFT_FN: Final = "MonitorDriftFunctionName"

# The quality watch (functions/monitor_quality): the champion's and the shadow's decisions joined
# with the labels known so far, as live precision, recall, alert rate, AUPRC and label coverage
# per window (settings.QUALITY_WINDOWS); the precision alarm reads PrecisionShortfall of the
# champion's hourly window. Schedule and alarm period are stage settings (infra/stage.py).
FN_MONITOR_QUALITY: Final = "monitor_quality"
MONITOR_QUALITY_MEMORY_MB: Final = 1024
MONITOR_QUALITY_TIMEOUT_SECONDS: Final = 300
QUALITY_SCHEDULE_MINUTES: Final = 15
QUALITY_ALARM_PERIOD_SECONDS: Final = 900
QUALITY_SCHEDULE_LOCAL_MINUTES: Final = 1
QUALITY_ALARM_PERIOD_LOCAL_SECONDS: Final = 60
# Only a window with at least this many labelled alerts counts (fewer: no precision datapoint).
MIN_LABELLED_ALERTS: Final = 20
MIN_LABELLED_ALERTS_LOCAL: Final = 5
# The precision floor: the model's holdout precision at its review threshold minus this margin.
PRECISION_MARGIN: Final = 0.15
# The label join reads the label events and the decisions of this many days (see
# fraudops_shared.monitoring.quality_watch): labels older than that no longer count.
LABEL_HORIZON_DAYS: Final = 35
ALARM_PRECISION: Final = "precision"
OUT_MONITOR_QUALITY_FN: Final = "MonitorQualityFunctionName"

# Alarms that retrain (functions/retrain_on_alarm): the precision and drift alarms' notifications
# start a snapshot and a training run whose result goes to shadow. Guards: one at a time, a
# cooldown after each start and a daily cap (shorter cooldown locally, so a test sees it).
FN_RETRAIN_ON_ALARM: Final = "retrain_on_alarm"
RETRAIN_MEMORY_MB: Final = 1024
RETRAIN_TIMEOUT_SECONDS: Final = 120
RETRAIN_COOLDOWN_SECONDS: Final = 6 * 3600
RETRAIN_COOLDOWN_LOCAL_SECONDS: Final = 90
RETRAIN_DAILY_CAP: Final = 3
RETRAIN_DAILY_CAP_LOCAL: Final = 20
OUT_RETRAIN_FN: Final = "RetrainFunctionName"
