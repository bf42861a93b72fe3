"""Every name the functions and the stack share, defined once: environment variables, lake
prefixes, event sources and batch limits. `infra/` imports these instead of keeping copies, and
functions read their configuration through the helpers below, which fail loudly when the stack
did not set something.

No third-party import here: the CDK app imports this module at synth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

# --- environment variables the stack sets on functions -----------------------------------------
STATE_TABLE_ENV = "STATE_TABLE_NAME"  # the DynamoDB state table (claims, ledger, models)
DATA_BUCKET_ENV = "DATA_BUCKET"
CODE_VERSION_ENV = "CODE_VERSION"  # the git commit the stack was synthesized from
STREAM_CONTRACT_ENV = "STREAM_CONTRACT"  # the contract the transaction stream carries
SCORING_FEED_ENV = "SCORING_FEED_STREAM"  # where ingest_stream forwards curated rows
# {stream name: contract} for every stream ingest_stream and dlq_accounting consume; a stream not
# in it carries STREAM_CONTRACT. The scoring feed is fed by the STREAM_CONTRACT's stream only.
STREAM_CONTRACTS_ENV = "STREAM_CONTRACTS"
DECISIONS_TABLE_ENV = "DECISIONS_TABLE_NAME"  # one item per decided transaction
DECISIONS_STREAM_ENV = "DECISIONS_STREAM"  # decisions, ingested as the `decisions` contract
TRANSACTION_STREAM_ENV = "TRANSACTION_STREAM"  # where the scoring API lands what it scored
MODEL_REFRESH_SECONDS_ENV = "MODEL_REFRESH_SECONDS"  # how often scorers re-read the champion
DRIFT_WINDOW_SECONDS_ENV = "DRIFT_WINDOW_SECONDS"  # the decisions a drift watch compares
DRIFT_THRESHOLD_ENV = "DRIFT_PSI_THRESHOLD"  # PSI above which a feature or the score breaches
MIN_LABELLED_ALERTS_ENV = "QUALITY_MIN_LABELLED_ALERTS"  # fewer: a window has no precision
PRECISION_MARGIN_ENV = "QUALITY_PRECISION_MARGIN"  # floor = holdout precision - margin
PRECISION_FLOOR_ENV = "QUALITY_PRECISION_FLOOR"  # optional: a fixed floor instead
LABEL_HORIZON_DAYS_ENV = "QUALITY_LABEL_HORIZON_DAYS"  # labels and decisions a join reads
TRAINING_STATE_MACHINE_ENV = "TRAINING_STATE_MACHINE_ARN"  # what an alarm's retraining starts
RETRAIN_COOLDOWN_ENV = "RETRAIN_COOLDOWN_SECONDS"  # one retraining per cooldown at most
RETRAIN_DAILY_CAP_ENV = "RETRAIN_DAILY_CAP"  # and at most this many per UTC day
CSV_BLOCK_BYTES_ENV = "INGEST_CSV_BLOCK_BYTES"
CLAIM_STALE_SECONDS_ENV = "INGEST_CLAIM_STALE_SECONDS"
PREFIX_ENVS = {
    "landing_prefix": "LANDING_PREFIX",
    "curated_prefix": "CURATED_PREFIX",
    "quarantine_prefix": "QUARANTINE_PREFIX",
    "manifest_prefix": "MANIFEST_PREFIX",
}

# --- the data lake: zones are prefixes of one bucket -------------------------------------------
# Function folders a function names itself by (fault injection: runtime.faults)
FN_INGEST_BATCH = "ingest_batch"
FN_INGEST_STREAM = "ingest_stream"
FN_SCORE_STREAM = "score_stream"
FN_SCORE_API = "score_api"

LANDING_PREFIX = "landing/"
CURATED_PREFIX = "curated/"
QUARANTINE_PREFIX = "quarantine/"
MANIFEST_PREFIX = "manifests/"
SNAPSHOT_PREFIX = "snapshots/"
TRAINING_PREFIX = "training/"
STAGING_PREFIX = (
    "_staging/"  # outputs waiting for their commit (lake.commits); expired by lifecycle
)
STREAM_FOLDER = "stream/"  # under manifests/<contract>/ and quarantine/<contract>/
DEAD_LETTER_BATCH_PREFIX = "dlq-"  # batch ids of dead-lettered stream records
WHOLE_FILE_FOLDER = "_files/"  # quarantine/<contract>/_files/: files quarantined whole
UNKNOWN_CONTRACT = "_unknown"  # landing keys that name no contract

# --- the state table: each item kind's partition-key prefix (infra fences functions in by them,
# with DynamoDB's LeadingKeys condition) ---------------------------------------------------------
PK_FILE = "FILE#"  # file claims
PK_ACCOUNT = "ACCOUNT#"  # accounting counters
PK_COMMIT = "COMMIT#"  # commit records
PK_COMMITTED = "COMMITTED#"  # committed manifests, per contract
PK_CHECKPOINT = "CHECKPOINT#"  # a shard's checkpoint
PK_SHARDLOG = "SHARDLOG#"  # a shard's commit ranges
PK_KEYS = "KEYS#"  # the dedupe index: heads and pages
PK_SNAPSHOT = "SNAPSHOT#"  # the snapshot catalog
PK_MODEL = "MODEL#"  # model versions, counter, champion pointer
PK_TRAINRUN = "TRAINRUN#"  # training run records
PK_CARD = "CARD#"  # a card's online feature state (scoring), keyed by a hash of the card id
PK_RETRAIN = "RETRAIN#"  # the retraining loop guard, per contract
PK_SCORING = "SCORING#"  # the scorer's shard checkpoints and parked-file records

# --- sources, event sources and contracts -------------------------------------------------------
SOURCE_S3 = "s3"  # accounting source of landed files
SOURCE_KINESIS = "kinesis"  # accounting source of stream records
TRAINING_EVENT_SOURCE = "fraudops.training"
SCORING_EVENT_SOURCE = "fraudops.scoring"
DEFAULT_STREAM_CONTRACT = "transactions"
DECISIONS_CONTRACT = "decisions"  # the decisions zone is this contract's curated zone
SOURCE_SCORING = "scoring"  # accounting source of the feed: in = decided + parked + dead_lettered
PARKED_PREFIX = "parked/"  # feed records kept while no champion can score them
# The accounting equation per source: ``in_records`` equals the sum of the source's outcome
# counters (every record that came in is in exactly one place).
INGESTION_OUTCOMES = ("curated", "quarantined", "dead_lettered", "expired_unrecoverable")
SCORING_OUTCOMES = ("decided", "parked", "dead_lettered", "expired_unrecoverable")


def outcomes_of(source: str) -> tuple[str, ...]:
    """The counters whose sum must equal ``in_records`` for an accounting ``source``."""
    return SCORING_OUTCOMES if source == SOURCE_SCORING else INGESTION_OUTCOMES


def balanced(source: str, counts: dict[str, int]) -> bool:
    """The accounting equation of ``source`` on its counters (or on a delta of them)."""
    return counts.get("in_records", 0) == sum(counts.get(k, 0) for k in outcomes_of(source))


# The drift watch's metrics: DriftPSI (the drift alarm's: the largest PSI among the score and
# the model's important features) and ScorePSI per contract; FeaturePSI per feature.
METRIC_DRIFT_PSI = "DriftPSI"
METRIC_SCORE_PSI = "ScorePSI"
METRIC_FEATURE_PSI = "FeaturePSI"
# The quality watch's metrics (label-backed), per {contract, role (champion|shadow), window
# (hourly|daily)}: precision and recall at the decision threshold, alert rate, AUPRC, label
# coverage, the labelled alerts behind them, and PrecisionShortfall (the precision alarm's: the
# model's precision floor minus live precision; > 0 breaches). Label join counts per contract.
METRIC_LIVE_PRECISION = "LivePrecision"
METRIC_LIVE_RECALL = "LiveRecall"
METRIC_ALERT_RATE = "AlertRate"
METRIC_LIVE_AUPRC = "LiveAUPRC"
METRIC_LABEL_COVERAGE = "LabelCoverage"
METRIC_LABELLED_ALERTS = "LabelledAlerts"
METRIC_PRECISION_SHORTFALL = "PrecisionShortfall"
METRIC_LABELS_MATCHED = "LabelsMatched"
METRIC_LABELS_UNMATCHED = "LabelsUnmatched"
METRIC_LABEL_CORRECTIONS = "LabelCorrections"
QUALITY_ROLES = ("champion", "shadow")
QUALITY_WINDOWS = {"hourly": 3600, "daily": 86_400}
LABELS_CONTRACT = "labels"
# A scorer re-reads the champion pointer at most this often: a promotion reaches every warm
# environment within this bound (plus one batch).
MODEL_REFRESH_SECONDS = 15

# --- limits -------------------------------------------------------------------------------------
# A stream batch is committed in one DynamoDB transaction whatever its size (a shard checkpoint,
# not a mark per record): Lambda's largest Kinesis batch.
MAX_STREAM_BATCH = 10_000
# A shard's commit ranges outlive the stream's maximum retention (7 days): the dead-letter path
# never asks about a record older than that.
COMMIT_MARK_TTL_SECONDS = 8 * 86_400
# The dedupe index keeps a key as long as the contract accepts its event time (max_age_days),
# plus this margin; a contract without a maximum age keeps keys this long.
INDEX_TTL_MARGIN_DAYS = 7
INDEX_TTL_DEFAULT_DAYS = 400


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


def drift_window_seconds() -> int:
    return int(required(DRIFT_WINDOW_SECONDS_ENV))


def drift_threshold() -> float:
    return float(required(DRIFT_THRESHOLD_ENV))


def min_labelled_alerts() -> int:
    return int(required(MIN_LABELLED_ALERTS_ENV))


def precision_margin() -> float:
    return float(required(PRECISION_MARGIN_ENV))


def precision_floor() -> float | None:
    """A fixed precision floor for the alarm, or None (the champion's holdout precision minus
    the margin)."""
    value = os.environ.get(PRECISION_FLOOR_ENV, "").strip()
    return float(value) if value else None


def retrain_cooldown_seconds() -> int:
    return int(required(RETRAIN_COOLDOWN_ENV))


def retrain_daily_cap() -> int:
    return int(required(RETRAIN_DAILY_CAP_ENV))


def label_horizon_days() -> int:
    return int(required(LABEL_HORIZON_DAYS_ENV))


def scoring_feed() -> str | None:
    """The scoring feed stream, or None when the function is deployed without one."""
    return os.environ.get(SCORING_FEED_ENV, "").strip() or None


def contract_of_stream(stream_name: str) -> str:
    """The contract a stream carries: its entry in STREAM_CONTRACTS, else STREAM_CONTRACT."""
    import json

    mapping = json.loads(os.environ.get(STREAM_CONTRACTS_ENV, "").strip() or "{}")
    return str(mapping.get(stream_name) or stream_contract())


def decisions_table() -> str:
    return required(DECISIONS_TABLE_ENV)


def decisions_stream() -> str:
    return required(DECISIONS_STREAM_ENV)


def transaction_stream() -> str | None:
    return os.environ.get(TRANSACTION_STREAM_ENV, "").strip() or None


def model_refresh_seconds() -> float:
    value = os.environ.get(MODEL_REFRESH_SECONDS_ENV, "").strip()
    return float(value) if value else float(MODEL_REFRESH_SECONDS)


# --- limits of file ingestion ----------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Chunk sizes bound memory; the stale time is how long a claim may look abandoned.

    The size limits are checked before the work they bound, so hostile input costs at most the
    limit: a record (line or row) above `max_record_bytes` (Kinesis's record limit) is a
    rejected row, read without holding more than the limit; a file above `max_file_bytes` is
    quarantined before download (it must fit the function's 2 GiB of /tmp); a gzip file that
    inflates past `max_decompressed_bytes` is quarantined whole; a JSON line nested deeper than
    `max_json_depth` is rejected before it is parsed."""

    csv_block_bytes: int = 8 << 20
    jsonl_chunk_lines: int = 50_000
    parquet_batch_rows: int = 65_536
    claim_stale_after_seconds: float = 900.0
    tmp_dir: str | None = None
    max_record_bytes: int = 1 << 20
    max_file_bytes: int = 1 << 30
    max_decompressed_bytes: int = 20 << 30
    max_json_depth: int = 64

    # the variables that override the size limits (the stack may set them on the function)
    ENV: ClassVar[dict[str, str]] = {
        "max_record_bytes": "INGEST_MAX_RECORD_BYTES",
        "max_file_bytes": "INGEST_MAX_FILE_BYTES",
        "max_decompressed_bytes": "INGEST_MAX_DECOMPRESSED_BYTES",
        "max_json_depth": "INGEST_MAX_JSON_DEPTH",
    }


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

    def size(name: str) -> int:
        env = Limits.ENV[name]
        value = os.environ.get(env, "").strip()
        if not value:
            return int(getattr(defaults, name))
        if not value.isdigit() or int(value) <= 0:
            raise ConfigurationError(f"{env} must be a positive integer, not {value!r}")
        return int(value)

    return Limits(
        csv_block_bytes=int(block) if block else defaults.csv_block_bytes,
        claim_stale_after_seconds=stale_s,
        max_record_bytes=size("max_record_bytes"),
        max_file_bytes=size("max_file_bytes"),
        max_decompressed_bytes=size("max_decompressed_bytes"),
        max_json_depth=size("max_json_depth"),
    )


# --- streams and their contracts ----------------------------------------------------------------


def stream_name_of(stream_arn: str) -> str:
    """A Kinesis stream's name from its ARN (``arn:...:stream/<name>``)."""
    return stream_arn.rsplit("/", 1)[-1]


def contract_of_stream_arn(stream_arn: str) -> str:
    """The contract the stream of this ARN carries (``contract_of_stream`` of its name): what
    an event source mapping's records and an on-failure record name their stream by."""
    return contract_of_stream(stream_name_of(stream_arn))
