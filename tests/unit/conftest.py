"""Unit tests: no network (sockets off for every test here), DynamoDB from moto, handlers loaded
from their folders under unique module names (every handler file is called app.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pytest_socket import disable_socket, enable_socket
from unit_support import ROOT, FakeLambdaContext

SHARED_LAYER = ROOT / "layers" / "shared" / "python"
if str(SHARED_LAYER) not in sys.path:
    sys.path.insert(0, str(SHARED_LAYER))  # what the shared layer puts on the Lambda's path

# Powertools reads these when the shared observability module is first imported.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "FraudOpsTest")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

TABLE_NAME = "fraudops-unit-registry"


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
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty registry table (pk/sk, as the stack creates it) in moto."""
    from fraudops_shared import aws
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("REGISTRY_TABLE_NAME", TABLE_NAME)
    with mock_aws():
        aws.reset()
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
        aws.reset()
