"""AWS clients, created once per process and reused across warm invocations (and resettable in
tests). Typed with the boto3 stubs, so mypy checks every call the adapters make."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

__all__ = ["ClientError", "dynamodb", "error_code", "events", "kinesis", "reset", "s3", "session"]


@cache
def session() -> boto3.session.Session:
    """One session per process: its clients share connection pools and credentials."""
    return boto3.session.Session()


@cache
def _client(service: str) -> Any:
    return session().client(service)  # type: ignore[call-overload]


def s3() -> S3Client:
    client: S3Client = _client("s3")
    return client


def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


def kinesis() -> KinesisClient:
    client: KinesisClient = _client("kinesis")
    return client


def events() -> EventBridgeClient:
    client: EventBridgeClient = _client("events")
    return client


def stepfunctions() -> SFNClient:
    client: SFNClient = _client("stepfunctions")
    return client


def reset() -> None:
    """Forget cached clients (tests switch endpoints and mocks between cases)."""
    _client.cache_clear()
    session.cache_clear()


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
