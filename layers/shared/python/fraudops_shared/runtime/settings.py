"""Every name the functions and the stack share, defined once: environment variables, lake
prefixes, event sources and batch limits. `infra/` imports these instead of keeping copies, and
functions read their configuration through the helpers below, which fail loudly when the stack
did not set something.

No third-party import here: the CDK app imports this module at synth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# --- environment variables the stack sets on functions -----------------------------------------
STATE_TABLE_ENV = "STATE_TABLE_NAME"  # the DynamoDB state table (claims, ledger, models)
DATA_BUCKET_ENV = "DATA_BUCKET"
CODE_VERSION_ENV = "CODE_VERSION"  # the git commit the stack was synthesized from
STREAM_CONTRACT_ENV = "STREAM_CONTRACT"  # the contract the transaction stream carries
SCORING_FEED_ENV = "SCORING_FEED_STREAM"  # where ingest_stream forwards curated rows
CSV_BLOCK_BYTES_ENV = "INGEST_CSV_BLOCK_BYTES"
CLAIM_STALE_SECONDS_ENV = "INGEST_CLAIM_STALE_SECONDS"
PREFIX_ENVS = {
    "landing_prefix": "LANDING_PREFIX",
    "curated_prefix": "CURATED_PREFIX",
    "quarantine_prefix": "QUARANTINE_PREFIX",
    "manifest_prefix": "MANIFEST_PREFIX",
}

# --- the data lake: zones are prefixes of one bucket -------------------------------------------
LANDING_PREFIX = "landing/"
CURATED_PREFIX = "curated/"
QUARANTINE_PREFIX = "quarantine/"
MANIFEST_PREFIX = "manifests/"
SNAPSHOT_PREFIX = "snapshots/"
TRAINING_PREFIX = "training/"
STREAM_FOLDER = "stream/"  # under manifests/<contract>/ and quarantine/<contract>/
DEAD_LETTER_BATCH_PREFIX = "dlq-"  # batch ids of dead-lettered stream records
WHOLE_FILE_FOLDER = "_files/"  # quarantine/<contract>/_files/: files quarantined whole
UNKNOWN_CONTRACT = "_unknown"  # landing keys that name no contract

# --- sources, event sources and contracts -------------------------------------------------------
SOURCE_S3 = "s3"  # accounting source of landed files
SOURCE_KINESIS = "kinesis"  # accounting source of stream records
TRAINING_EVENT_SOURCE = "fraudops.training"
DEFAULT_STREAM_CONTRACT = "transactions"

# --- limits -------------------------------------------------------------------------------------
# A stream commit is one DynamoDB transaction of its record marks plus the counters item, and a
# transaction holds at most 100 items.
MAX_RECORDS_PER_COMMIT = 99
# Commit marks outlive the stream's maximum retention (7 days): a record is never re-delivered
# after its mark expired.
COMMIT_MARK_TTL_SECONDS = 8 * 86_400


class ConfigurationError(RuntimeError):
    """The function was deployed without a setting it needs."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def table_name() -> str:
    return required(STATE_TABLE_ENV)


def data_bucket() -> str:
    return required(DATA_BUCKET_ENV)


def code_version() -> str:
    """The git commit the stack was synthesized from (lineage of every trained model)."""
    return required(CODE_VERSION_ENV)


def stream_contract() -> str:
    return required(STREAM_CONTRACT_ENV)


def scoring_feed() -> str | None:
    """The scoring feed stream, or None when the function is deployed without one."""
    return os.environ.get(SCORING_FEED_ENV, "").strip() or None


# --- limits of file ingestion ----------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Chunk sizes bound memory; the stale time is how long a claim may look abandoned."""

    csv_block_bytes: int = 8 << 20
    jsonl_chunk_lines: int = 50_000
    parquet_batch_rows: int = 65_536
    claim_stale_after_seconds: float = 900.0
    tmp_dir: str | None = None


def limits_from_env(function_timeout_seconds: float | None = None) -> Limits:
    """A claim is stale once its holder cannot still be running: the function timeout (from
    the Lambda context; AWS sets no variable for it) plus a minute, unless configured."""
    defaults = Limits()
    stale = os.environ.get(CLAIM_STALE_SECONDS_ENV)
    if stale:
        stale_s = float(stale)
    elif function_timeout_seconds:
        stale_s = function_timeout_seconds + 60
    else:
        stale_s = defaults.claim_stale_after_seconds
    block = os.environ.get(CSV_BLOCK_BYTES_ENV)
    return Limits(
        csv_block_bytes=int(block) if block else defaults.csv_block_bytes,
        claim_stale_after_seconds=stale_s,
    )
