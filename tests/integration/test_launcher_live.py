"""The launcher against the tests' running LocalStack: one copy only, status, health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fraudops import localstack
from fraudops.paths import Layout


def test_a_second_copy_is_refused(ls_layout: Layout) -> None:
    # Given the running LocalStack, When it is started again, Then the launcher refuses
    with pytest.raises(localstack.LauncherError, match="already running"):
        localstack.start(ls_layout)


def test_another_process_on_the_port_is_refused(ls_layout: Layout, tmp_path: Path) -> None:
    # Given the port taken by a LocalStack this state folder does not know about
    other = Layout.from_env(port=ls_layout.port, state_dir=tmp_path / "other")
    # When started there, Then the launcher says the port is in use
    with pytest.raises(localstack.LauncherError, match="in use"):
        localstack.start(other)


def test_status_json_reports_the_runtime(ls_layout: Layout, fraudops_json: Any) -> None:
    # When `fraudops status --json` runs against the tests' LocalStack
    status = fraudops_json("status", "--json")
    report = status
    # Then it shows the process, its health and memory
    ls = report["localstack"]
    assert ls["running"] and ls["healthy"]
    assert ls["pid"] == int(ls_layout.pid_file.read_text())
    assert ls["rss_mb"] > 50
    assert ls["services"]["lambda"] in {"available", "running"}
    assert "stack" in report
