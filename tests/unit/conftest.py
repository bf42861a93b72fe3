"""Unit tests: no network (sockets off for every test here), AWS replaced by in-memory adapters
(tests/unit/fakes.py); moto only where an AWS adapter itself is under test (tests/unit/aws/,
and the `table` fixture below)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pytest_socket import disable_socket, enable_socket

# The X-Ray SDK under Powertools' Tracer opens its UDP socket when first imported: import it at
# collection, before the sockets go off, whichever test happens to load a handler first.
import fraudops_shared.runtime.observability  # noqa: F401
from tests.unit.support import FakeAws, FakeLambdaContext

TABLE_NAME = "fraudops-unit-state"


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Every unit test runs with sockets disabled; a real AWS call fails instead of leaking."""
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    """Every adapter a handler wires, in memory, with the environment the stack sets."""
    from fraudops_shared.runtime import settings

    aws = FakeAws()
    aws.install(monkeypatch)
    monkeypatch.setenv(settings.DATA_BUCKET_ENV, aws.bucket.bucket)
    monkeypatch.setenv(settings.STATE_TABLE_ENV, TABLE_NAME)
    monkeypatch.setenv(settings.STREAM_CONTRACT_ENV, settings.DEFAULT_STREAM_CONTRACT)
    monkeypatch.setenv(settings.CODE_VERSION_ENV, "0123456789abcdef")
    return aws


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty state table (pk/sk, as the stack creates it) in moto, for adapter tests."""
    from moto import mock_aws

    from fraudops_shared.aws import clients
    from fraudops_shared.runtime import settings

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(settings.STATE_TABLE_ENV, TABLE_NAME)
    with mock_aws():
        clients.reset()
        boto3.client("dynamodb").create_table(
            TableName=TABLE_NAME,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield boto3.resource("dynamodb").Table(TABLE_NAME)
        clients.reset()
