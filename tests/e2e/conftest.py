"""One deploy of the stack per test session, on the tests' LocalStack; destroyed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fraudops import deploy
from fraudops.paths import Layout


@pytest.fixture(scope="session")
def stack(ls_layout: Layout) -> Iterator[dict[str, Any]]:
    resources = deploy.deploy(ls_layout)
    yield resources
    deploy.destroy(ls_layout)


@pytest.fixture(scope="session")
def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return dict(stack["outputs"])
