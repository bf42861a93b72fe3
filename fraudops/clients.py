"""boto3 clients for the LocalStack a Layout points at, and bounded waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3

from fraudops.paths import Layout

REGION = "us-east-1"


def client(layout: Layout, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=layout.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def poll[T](fn: Callable[[], T], timeout: float = 30.0, interval: float = 0.5, what: str = "") -> T:
    """Call ``fn`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = fn()
    while not last:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what or 'condition'} not reached within {timeout:.0f} s")
        time.sleep(interval)
        last = fn()
    return last
