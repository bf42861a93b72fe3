"""The adapters a function needs, built from the environment the stack sets: one place where
ports meet AWS, so every handler wires the same way and tests swap one function for fakes.

Adapters that need a runtime layer's packages (the commit log and the dedupe index use numpy
and pyarrow) are imported where they are built, so a function that does not use them imports
with only the layers it has (``tests/unit/test_layout.py`` checks every handler)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fraudops_shared.aws import clients
from fraudops_shared.aws.dynamodb import DynamoFileClaims, DynamoSnapshotCatalog
from fraudops_shared.aws.kinesis import KinesisRecordSink, KinesisShardReader
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.aws.s3 import S3Bucket, S3ObjectStore
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.runtime import settings

if TYPE_CHECKING:
    from fraudops_shared.aws.commit_log import DynamoCommitLog, DynamoKeyIndex
    from fraudops_shared.aws.monitoring import RegistryChampions, ZoneDecisions, ZoneLabels
    from fraudops_shared.aws.retrain import DynamoRetrainGuard, StepFunctionsTrainer
    from fraudops_shared.aws.scoring import (
        DynamoDecisionStore,
        DynamoScoringLog,
        KinesisTransactionSink,
        S3ParkedStore,
    )
    from fraudops_shared.features.transforms import FeatureSet
    from fraudops_shared.scoring.models import ModelCache


def data_bucket() -> S3Bucket:
    return S3Bucket(clients.s3(), settings.data_bucket())


def object_store(bucket: str) -> S3ObjectStore:
    return S3ObjectStore(clients.s3(), bucket)


def model_registry() -> ModelRegistry:
    return ModelRegistry(DynamoRegistryStore(clients.dynamodb(), settings.table_name()))


def snapshot_catalog() -> DynamoSnapshotCatalog:
    return DynamoSnapshotCatalog(clients.dynamodb(), settings.table_name())


def file_claims() -> DynamoFileClaims:
    return DynamoFileClaims(clients.dynamodb(), settings.table_name())


def commit_log() -> DynamoCommitLog:
    from fraudops_shared.aws.commit_log import DynamoCommitLog

    return DynamoCommitLog(clients.dynamodb(), settings.table_name())


def key_index() -> DynamoKeyIndex:
    from fraudops_shared.aws.commit_log import DynamoKeyIndex

    return DynamoKeyIndex(clients.dynamodb(), settings.table_name())


def shard_reader() -> KinesisShardReader:
    return KinesisShardReader(clients.kinesis())


def record_sink(stream: str) -> KinesisRecordSink:
    return KinesisRecordSink(clients.kinesis(), stream)


# --- scoring --------------------------------------------------------------------------------
# Built where used: the scoring functions' layers are onnxruntime and numpy, no pyarrow.


def model_cache(contract: str, features: FeatureSet) -> ModelCache:
    from fraudops_shared.aws.scoring import RegistryModelSource
    from fraudops_shared.scoring.models import ModelCache

    source = RegistryModelSource(model_registry(), clients.s3())
    return ModelCache(source, contract, features, refresh_seconds=settings.model_refresh_seconds())


def scoring_adapters() -> dict[str, Any]:
    """The ports every scorer writes through (``scoring.ports``), by the names the use cases
    take them."""
    from fraudops_shared.aws import scoring as adapters

    table = settings.table_name()
    return {
        "states": adapters.DynamoCardStates(clients.dynamodb(), table),
        "decisions": adapters.DynamoDecisionStore(clients.dynamodb(), settings.decisions_table()),
        "sink": adapters.KinesisDecisionSink(clients.kinesis(), settings.decisions_stream()),
        "flags": adapters.EventBridgeFlags(clients.events(), settings.SCORING_EVENT_SOURCE),
    }


def decision_store() -> DynamoDecisionStore:
    """The decisions alone (the scoring dead letters look up what was decided)."""
    from fraudops_shared.aws.scoring import DynamoDecisionStore

    return DynamoDecisionStore(clients.dynamodb(), settings.decisions_table())


def scoring_log() -> DynamoScoringLog:
    from fraudops_shared.aws.scoring import DynamoScoringLog

    return DynamoScoringLog(clients.dynamodb(), settings.table_name())


def parked_store() -> S3ParkedStore:
    from fraudops_shared.aws.scoring import S3ParkedStore

    return S3ParkedStore(clients.s3(), settings.data_bucket())


def transaction_sink() -> KinesisTransactionSink | None:
    from fraudops_shared.aws.scoring import KinesisTransactionSink

    stream = settings.transaction_stream()
    return KinesisTransactionSink(clients.kinesis(), stream) if stream else None


def zone_decisions() -> ZoneDecisions:
    from fraudops_shared.aws.monitoring import ZoneDecisions  # pyarrow: the data layer
    from fraudops_shared.lake.zones import zones_from_env

    return ZoneDecisions(clients.s3(), zones_from_env())


def zone_labels() -> ZoneLabels:
    from fraudops_shared.aws.monitoring import ZoneLabels  # pyarrow: the data layer
    from fraudops_shared.lake.zones import zones_from_env

    return ZoneLabels(clients.s3(), zones_from_env())


def registry_champions() -> RegistryChampions:
    from fraudops_shared.aws.monitoring import RegistryChampions

    return RegistryChampions(model_registry(), clients.s3())


def retrain_guard() -> DynamoRetrainGuard:
    from fraudops_shared.aws.retrain import DynamoRetrainGuard

    return DynamoRetrainGuard(clients.dynamodb(), settings.table_name())


def trainer() -> StepFunctionsTrainer:
    """Snapshots taken the way `fraudops snapshot` takes them, then a training execution."""
    from fraudops_shared import contracts
    from fraudops_shared.aws.retrain import StepFunctionsTrainer
    from fraudops_shared.lake import snapshot_store

    def snapshot(contract: str) -> dict[str, Any]:
        spec = contracts.load_contract(contract)
        return snapshot_store.create_snapshot(
            data_bucket(), commit_log(), snapshot_catalog(), bucket=settings.data_bucket(),
            contract=contract, contract_version=spec.version,
            labels_contract=snapshot_store.labels_contract_for(spec.labels_arrive_later),
        )  # fmt: skip

    arn = settings.required(settings.TRAINING_STATE_MACHINE_ENV)
    return StepFunctionsTrainer(clients.stepfunctions(), arn, snapshot)
