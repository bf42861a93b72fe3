"""The host-LocalStack launcher's decisions, without starting LocalStack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fraudops import localstack
from fraudops.paths import Layout


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout.from_env(port=4999, state_dir=tmp_path / "state")


def test_environment_has_the_switches_a_docker_less_host_needs(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a shell with AWS credentials, a CA bundle and an unrelated LocalStack setting
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("SERVICES", "s3")
    monkeypatch.setenv("NODE_EXTRA_CA_CERTS", "/etc/ssl/extra.pem")
    # When the LocalStack environment for port 4999 is built
    env = localstack.localstack_env(layout)
    # Then it does not believe it is in a container, binds loopback only and uses our plugins
    assert env["OVERRIDE_IN_DOCKER"] == "0"
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4999"
    assert env["GATEWAY_SERVER"] == "hypercorn"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "fraudops-host"
    assert env["PROVIDER_OVERRIDE_DYNAMODB"] == "fraudops"
    assert env["FILESYSTEM_ROOT"].startswith(str(layout.state_dir))
    # And keeps no state: not LocalStack's, not kinesis-mock's file of every record
    assert env["PERSISTENCE"] == "0" and env["KINESIS_PERSISTENCE"] == "0"
    # And it inherits the machine's CA settings (npm, pip) but no credentials or other config
    assert env["NODE_EXTRA_CA_CERTS"] == "/etc/ssl/extra.pem"
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env and "SERVICES" not in env


def test_stop_kills_a_process_that_ignores_sigterm(layout: Layout) -> None:
    # Given a "LocalStack" that ignores SIGTERM, recorded in the pid file
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    layout.state_dir.mkdir(parents=True)
    layout.pid_file.write_text(str(stubborn.pid))
    # When it is stopped with a short grace period
    message = localstack.stop(layout, timeout=0.5)
    # Then the fallback killed it, long before its 60 s sleep ends (`stop` reaps its own
    # child, so Popen may find no status left to read: -9 or 0, but never still running)
    assert "killed after a hung stop" in message
    assert stubborn.wait(timeout=5) in (-9, 0)
    assert not layout.pid_file.exists()


def test_stop_when_nothing_runs_says_so(layout: Layout) -> None:
    layout.state_dir.mkdir(parents=True)
    layout.pid_file.write_text("999999")  # a stale pid file
    assert localstack.stop(layout) == "LocalStack is not running"
    assert not layout.pid_file.exists()


def test_start_without_the_localstack_environment_is_a_clear_error(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a checkout where `make install` has not run (and the port is free)
    monkeypatch.setattr(Layout, "localstack_python", property(lambda self: Path("/nonexistent")))
    monkeypatch.setattr(localstack, "_port_in_use", lambda port: False)
    # When LocalStack is started, Then the error says what to run
    with pytest.raises(localstack.LauncherError, match="make install"):
        localstack.start(layout)
