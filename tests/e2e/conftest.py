"""One deploy of the stack per test session, on the tests' LocalStack; destroyed at the end.
Automatic retraining from alarms is paused except where a module tests it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fraudops import deploy, monitor
from fraudops.paths import Layout
from tests.e2e.alarm_support import Faults


@pytest.fixture(scope="session")
def stack(ls_layout: Layout) -> Iterator[dict[str, Any]]:
    resources = deploy.deploy(ls_layout)
    # The drift and precision tests drive their alarms to ALARM; retraining from them is tested
    # on its own (test_scoring_retrain_deployed.py), so it stays paused for the other modules.
    monitor.set_paused(ls_layout, True)
    yield resources
    deploy.destroy(ls_layout)


@pytest.fixture(scope="session")
def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return dict(stack["outputs"])


@pytest.fixture
def fault(ls_layout: Layout, aws: Any, outputs: dict[str, str]) -> Iterator[Faults]:
    """Fault injection for the test's functions, switched off again after it."""
    faults = Faults(ls_layout, aws, outputs)
    try:
        yield faults
    finally:
        faults.clear()
