"""Shared test configuration: suites are told apart by folder (unit, infra, integration, e2e).

Integration and end-to-end tests share one LocalStack of their own, started once per session on a
free port (never 4566) and stopped at the end; its log tail is attached to every failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from fraudops import localstack
from fraudops.paths import Layout

ROOT = Path(__file__).resolve().parent.parent

# Tests never talk to real AWS: clients get test credentials and explicit endpoints.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
# Powertools reads these when the shared observability module is first imported, which may be
# while any suite is collected (an end-to-end module importing a unit helper): set them first.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "FraudOpsTest")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its suite, from its folder, so `-m unit` etc. select a suite."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in {"unit", "infra", "integration", "e2e"}:
            item.add_marker(getattr(pytest.mark, parts[0]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def ls_layout() -> Iterator[Layout]:
    port = int(os.environ.get("FRAUDOPS_TEST_PORT") or _free_port())
    state = Path(tempfile.mkdtemp(prefix="fraudops-test-ls-"))
    layout = Layout.from_env(port=port, state_dir=state)
    localstack.start(layout)
    try:
        yield layout
    finally:
        localstack.stop(layout)


@pytest.fixture(scope="session")
def aws(ls_layout: Layout) -> Callable[..., object]:
    """A boto3 client factory pointed at the tests' LocalStack."""
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )

    def client(service: str, **kwargs: object) -> object:
        return session.client(service, endpoint_url=ls_layout.endpoint, **kwargs)  # type: ignore[call-overload]

    return client


@pytest.fixture(scope="session")
def fraudops_json(ls_layout: Layout) -> Callable[..., Any]:
    """Run the `fraudops` command against the tests' LocalStack and parse its JSON output."""

    def run(*args: str, returncode: int = 0) -> Any:
        env = {
            **os.environ,
            "FRAUDOPS_PORT": str(ls_layout.port),
            "FRAUDOPS_STATE_DIR": str(ls_layout.state_dir),
        }
        done = subprocess.run(
            [sys.executable, "-m", "fraudops.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == returncode, (
            f"fraudops {' '.join(args)} exited {done.returncode}, expected {returncode}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
        return json.loads(done.stdout)

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    layout = item.funcargs.get("ls_layout") if hasattr(item, "funcargs") else None
    if report.failed and layout is not None:
        report.sections.append(("LocalStack log (tail)", localstack.log_tail(layout, 120)))
