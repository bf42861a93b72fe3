"""AWS clients, created lazily and reused across warm invocations (and resettable in tests)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    """A boto3 client per service, created on first use and kept for warm invocations."""
    return boto3.client(service)  # type: ignore[call-overload]


def reset() -> None:
    """Forget cached clients (tests switch endpoints and mocks between cases)."""
    client.cache_clear()
