"""The adapters a function needs, built from the environment the stack sets: one place where
ports meet AWS, so every handler wires the same way and tests swap one function for fakes."""

from __future__ import annotations

from fraudops_shared.aws import clients
from fraudops_shared.aws.dynamodb import (
    DynamoFileClaims,
    DynamoLedger,
    DynamoSnapshotCatalog,
    DynamoTransactionClaims,
)
from fraudops_shared.aws.kinesis import KinesisRecordSink, KinesisShardReader
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.aws.s3 import S3Bucket, S3ObjectStore
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.runtime import settings


def data_bucket() -> S3Bucket:
    return S3Bucket(clients.s3(), settings.data_bucket())


def object_store(bucket: str) -> S3ObjectStore:
    return S3ObjectStore(clients.s3(), clients.session(), bucket)


def model_registry() -> ModelRegistry:
    return ModelRegistry(DynamoRegistryStore(clients.dynamodb(), settings.table_name()))


def snapshot_catalog() -> DynamoSnapshotCatalog:
    return DynamoSnapshotCatalog(clients.dynamodb(), settings.table_name())


def file_claims() -> DynamoFileClaims:
    return DynamoFileClaims(clients.dynamodb(), settings.table_name())


def transaction_claims() -> DynamoTransactionClaims:
    return DynamoTransactionClaims(clients.dynamodb(), settings.table_name())


def stream_ledger() -> DynamoLedger:
    return DynamoLedger(clients.dynamodb(), settings.table_name(), settings.SOURCE_KINESIS)


def shard_reader() -> KinesisShardReader:
    return KinesisShardReader(clients.kinesis())


def record_sink(stream: str) -> KinesisRecordSink:
    return KinesisRecordSink(clients.kinesis(), stream)
