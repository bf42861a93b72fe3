"""boto3 clients for the endpoint a Layout points at (LocalStack, or AWS), and bounded waiting.

On LocalStack the credentials are its test ones and the region ours; on AWS (``--endpoint aws``)
both come from the normal chain (environment, profile, SSO, instance role), the region falling
back to ours when none is configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError

from fraudops.paths import Layout

REGION = "us-east-1"
LOCALSTACK_KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def region(layout: Layout) -> str:
    return (boto3.session.Session().region_name or REGION) if layout.on_aws else REGION


def credentials(layout: Layout) -> Credentials:
    """What requests to ``layout`` are signed with; NoCredentialsError when AWS has none."""
    if not layout.on_aws:
        return Credentials("test", "test")
    found = boto3.session.Session().get_credentials()
    if found is None:
        raise NoCredentialsError()
    return found


def client(layout: Layout, service: str, **kwargs: Any) -> Any:
    keys = {} if layout.on_aws else LOCALSTACK_KEYS
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=layout.endpoint_url,
        region_name=region(layout),
        **keys,
        **kwargs,
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
