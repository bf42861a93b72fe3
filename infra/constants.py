"""Every name and size of the stack in one place, so a change is one edit and reviewable."""

from __future__ import annotations

from pathlib import Path
from typing import Final

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
STATE_MACHINES_DIR: Final = ROOT / "state_machines"
PIPELINE_PROBE_ASL: Final = STATE_MACHINES_DIR / "pipeline_probe.asl.json"
BUNDLING_CACHE_DIR: Final = ROOT / ".cache" / "layers"
ASSET_EXCLUDES: Final = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")

# --- data lake ------------------------------------------------------------------------------------
LANDING_PREFIX: Final = "landing/"
CURATED_PREFIX: Final = "curated/"
QUARANTINE_PREFIX: Final = "quarantine/"
ACCESS_LOGS_PREFIX: Final = "data-bucket/"
NONCURRENT_VERSION_EXPIRY_DAYS: Final = 30
ACCESS_LOGS_EXPIRY_DAYS: Final = 90
INCOMPLETE_UPLOAD_EXPIRY_DAYS: Final = 1

# --- stream ingestion -----------------------------------------------------------------------------
STREAM_SHARD_COUNT: Final = 1
STREAM_RETENTION_HOURS: Final = 24
STREAM_BATCH_SIZE: Final = 100
STREAM_MAX_BATCHING_WINDOW_SECONDS: Final = 1
STREAM_RETRY_ATTEMPTS: Final = 3
STREAM_MAX_RECORD_AGE_SECONDS: Final = 3600
STREAM_PARALLELIZATION_FACTOR: Final = 1
STREAM_DLQ_RETENTION_DAYS: Final = 14

# --- registry / idempotency table ----------------------------------------------------------------
TABLE_PARTITION_KEY: Final = "pk"
TABLE_SORT_KEY: Final = "sk"
TABLE_TTL_ATTRIBUTE: Final = "expires_at"
RECORD_TTL_DAYS: Final = 30

# --- Lambda ---------------------------------------------------------------------------------------
LAMBDA_HANDLER: Final = "app.handler"
LAMBDA_LOG_RETENTION_DAYS: Final = 14
LOG_LEVEL: Final = "INFO"
METRICS_NAMESPACE: Final = "FraudOps"
INGEST_BATCH_MEMORY_MB: Final = 256
INGEST_BATCH_TIMEOUT_SECONDS: Final = 30
INGEST_BATCH_ASYNC_RETRIES: Final = 2
INGEST_BATCH_MAX_EVENT_AGE_SECONDS: Final = 3600
INGEST_STREAM_MEMORY_MB: Final = 256
INGEST_STREAM_TIMEOUT_SECONDS: Final = 60
PIPELINE_PROBE_MEMORY_MB: Final = 128
PIPELINE_PROBE_TIMEOUT_SECONDS: Final = 10

# Function folder names under functions/, and their Powertools service names.
FN_INGEST_BATCH: Final = "ingest_batch"
FN_INGEST_STREAM: Final = "ingest_stream"
FN_PIPELINE_PROBE: Final = "pipeline_probe"

# --- dependencies layer (built with pip on the host, never in Docker) ----------------------------
LAYER_PYTHON_VERSION: Final = "3.12"
LAYER_PLATFORM: Final = "manylinux2014_x86_64"
LAYER_IMPLEMENTATION: Final = "cp"

# --- orchestration --------------------------------------------------------------------------------
STATE_MACHINE_LOG_RETENTION_DAYS: Final = 14
PROBE_FUNCTION_ARN_PLACEHOLDER: Final = "PipelineProbeFunctionArn"

# --- stack output keys (stable: tests, the CLI and users read them) ------------------------------
OUT_STAGE: Final = "Stage"
OUT_DATA_BUCKET: Final = "DataBucketName"
OUT_ACCESS_LOGS_BUCKET: Final = "AccessLogsBucketName"
OUT_STREAM_NAME: Final = "TransactionStreamName"
OUT_STREAM_ARN: Final = "TransactionStreamArn"
OUT_DLQ_URL: Final = "StreamDLQUrl"
OUT_DLQ_ARN: Final = "StreamDLQArn"
OUT_STATE_MACHINE_ARN: Final = "PipelineProbeStateMachineArn"
OUT_TABLE_NAME: Final = "RegistryTableName"
OUT_INGEST_BATCH_FN: Final = "IngestBatchFunctionName"
OUT_INGEST_STREAM_FN: Final = "IngestStreamFunctionName"
OUT_PIPELINE_PROBE_FN: Final = "PipelineProbeFunctionName"
