"""Asynchronous invocations across a function update, as AWS delivers them.

An event queued (``InvocationType=Event``, as S3 notifications are) right after
``UpdateFunctionConfiguration`` must run, with the new configuration, within seconds. Stock
LocalStack 2026.3 parks such an event for the function timeout + 60 s when the old poller took it
while stopping (``emulator/fraudops_emulator/async_events.py``). Whether and with what
configuration a function ran is read from a DynamoDB table it writes each event's probe id to.
"""

from __future__ import annotations

import io
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
FUNCTION_TIMEOUT = 300  # the park LocalStack would impose: 360 s, far past the test's wait
CODE = """
import os
import boto3

ddb = boto3.client("dynamodb")

def handler(event, context):
    ddb.put_item(
        TableName=os.environ["PROBE_TABLE"],
        Item={"pk": {"S": event["probe"]}, "colour": {"S": os.environ["COLOUR"]}},
    )
"""


def zipped(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", textwrap.dedent(source))
    return buf.getvalue()


@pytest.fixture(scope="module")
def probes(aws: Callable[..., Any]) -> Iterator[tuple[Any, str]]:
    ddb, name = aws("dynamodb"), f"async-probes-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield ddb, name
    ddb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def function(aws: Callable[..., Any], probes: tuple[Any, str]) -> Iterator[str]:
    lam, name = aws("lambda"), f"async-rollover-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zipped(CODE)}, Timeout=FUNCTION_TIMEOUT,
        Environment={"Variables": {"PROBE_TABLE": probes[1], "COLOUR": "blue"}},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    yield name
    lam.delete_function(FunctionName=name)


def ran(probes: tuple[Any, str], probe: str, timeout: float) -> str | None:
    """The colour the function ran with for ``probe``, polling up to ``timeout`` seconds."""
    ddb, table = probes
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = ddb.get_item(TableName=table, Key={"pk": {"S": probe}}).get("Item")
        if item:
            return str(item["colour"]["S"])
        time.sleep(0.5)
    return None


def test_events_queued_across_an_update_run_at_once_with_the_new_configuration(
    aws: Callable[..., Any], function: str, probes: tuple[Any, str]
) -> None:
    lam, table = aws("lambda"), probes[1]
    # Given a function whose async poller is running (one event served)
    lam.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"probe": "warm"}')
    assert ran(probes, "warm", 60) == "blue"
    for colour in ("green", "red"):
        # When its configuration changes and events are queued at once, while it rolls over
        lam.update_function_configuration(
            FunctionName=function,
            Environment={"Variables": {"PROBE_TABLE": table, "COLOUR": colour}},
        )
        lam.get_waiter("function_updated_v2").wait(FunctionName=function)
        sent = [f"{colour}-{i}" for i in range(3)]
        for probe in sent:
            payload = f'{{"probe": "{probe}"}}'.encode()
            lam.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
            time.sleep(0.3)
        # Then every one of them runs within seconds (not after the 360 s park), configured anew
        assert [ran(probes, p, 30) for p in sent] == [colour] * 3
