"""Shared test configuration: suites are told apart by folder (unit, infra, integration, e2e)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Tests never talk to real AWS: any client a test builds without an endpoint fails fast.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its suite, from its folder, so `-m unit` etc. select a suite."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in {"unit", "infra", "integration", "e2e"}:
            item.add_marker(getattr(pytest.mark, parts[0]))
