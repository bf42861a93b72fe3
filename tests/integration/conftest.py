"""A LocalStack of the tests' own, started once per session on a free port, stopped at the end.

Its log is printed when a test fails, so a red CI run shows what LocalStack saw.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from fraudops import localstack
from fraudops.paths import Layout


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    layout = item.funcargs.get("ls_layout") if hasattr(item, "funcargs") else None
    if report.failed and layout is not None:
        report.sections.append(("LocalStack log (tail)", localstack.log_tail(layout, 120)))
