"""Start, stop and inspect LocalStack running on the host (no Docker).

LocalStack runs from its own virtual environment (``.venvs/localstack``) as a background process
with the fraudops emulator plugins selected: the host Lambda executor and DynamoDB on moto. The
settings below are the ones measured to work on a machine that has ``/.dockerenv`` but no Docker
engine (see docs/decisions.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fraudops.errors import NotRunningError
from fraudops.paths import Layout

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class LauncherError(RuntimeError):
    """A start or stop that did not work; the message says why and what to look at."""


def localstack_env(layout: Layout) -> dict[str, str]:
    """The environment LocalStack starts with: nothing inherited but PATH, HOME and locale."""
    state = layout.state_dir
    keep = {k: v for k, v in os.environ.items() if _inherited(k)}
    keep.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env = {
        **keep,
        # /.dockerenv exists on these machines: without this LocalStack believes it is in its own
        # container, ignores FILESYSTEM_ROOT and writes under /var/lib, /etc and /usr/lib.
        "OVERRIDE_IN_DOCKER": "0",
        "GATEWAY_SERVER": "hypercorn",  # twisted binds 0.0.0.0 whatever GATEWAY_LISTEN says
        "GATEWAY_LISTEN": f"127.0.0.1:{layout.port}",
        "LOCALSTACK_HOST": f"localhost:{layout.port}",
        "FILESYSTEM_ROOT": str(state / "fs"),
        "TMPDIR": str(state / "tmp"),
        "PERSISTENCE": "0",
        # kinesis-mock otherwise writes every record of every stream to one JSON file every 5 s:
        # the cost grows with the streams, and a long run slows to a crawl (41 MB at 20k records)
        "KINESIS_PERSISTENCE": "0",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "SQS_ENDPOINT_STRATEGY": "path",
        "LAMBDA_RUNTIME_EXECUTOR": "fraudops-host",
        "PROVIDER_OVERRIDE_DYNAMODB": "fraudops",
        "FRAUDOPS_LAMBDA_RUNTIME_DIR": str(layout.lambda_runtime_dir),
        "FRAUDOPS_STATE_DIR": str(state),
        "PYTHONUNBUFFERED": "1",
        # Async retries wait 1x, 2x... this many seconds (AWS waits about 1 and 2 minutes): the
        # same retries and on-failure destinations, on a local clock.
        "LAMBDA_RETRY_BASE_DELAY": "2",
    }
    for name in ("LS_LOG", "DEBUG", "LAMBDA_KEEPALIVE_MS", "FRAUDOPS_PYTHON_RUNTIMES"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


_INHERITED = {"PATH", "HOME", "LANG", "LC_ALL", "TERM", "TZ", "NODE_EXTRA_CA_CERTS"}


def _inherited(name: str) -> bool:
    """Locale, paths, and the machine's CA and proxy settings (for npm and pip); nothing else,
    since LocalStack reads many variables as configuration."""
    upper = name.upper()
    return name in _INHERITED or upper.endswith(("_CA_BUNDLE", "_PROXY")) or "SSL_CERT" in upper


def _link_prebuilt_libs(layout: Layout) -> None:
    """Point LocalStack's static-libs folder at packages installed by `make install`."""
    static_libs = layout.state_dir / "fs" / "usr" / "lib" / "localstack"
    if not layout.localstack_libs.is_dir():
        return
    for package in filter(Path.is_dir, layout.localstack_libs.iterdir()):
        for version in filter(Path.is_dir, package.iterdir()):
            link = static_libs / package.name / version.name
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(version, target_is_directory=True)


@dataclass
class Status:
    running: bool
    pid: int | None
    port: int
    endpoint: str
    healthy: bool
    rss_mb: float | None
    uptime_s: float | None
    services: dict[str, str]
    log_file: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _read_pid(layout: Layout) -> int | None:
    try:
        pid = int(layout.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return False


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def health(layout: Layout, timeout: float = 2.0) -> dict[str, Any] | None:
    base = f"http://127.0.0.1:{layout.port}" if layout.is_local else layout.endpoint
    try:
        url = f"{base}/_localstack/health"
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return dict(json.load(resp))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _rss_mb(pid: int) -> float | None:
    """RSS of LocalStack and its children (Lambda environments are reported separately)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _uptime_s(pid: int) -> float | None:
    try:
        start_ticks = int(Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[19])
        boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
        return boot_uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def status(layout: Layout) -> Status:
    if not layout.is_local:
        return _status_elsewhere(layout)
    pid = _read_pid(layout)
    info = health(layout) if pid else None
    return Status(
        running=pid is not None,
        pid=pid,
        port=layout.port,
        endpoint=layout.endpoint,
        healthy=info is not None,
        rss_mb=_rss_mb(pid) if pid else None,
        uptime_s=_uptime_s(pid) if pid else None,
        services=dict((info or {}).get("services", {})),
        log_file=str(layout.log_file),
    )


def _status_elsewhere(layout: Layout) -> Status:
    """A LocalStack on another machine (``--endpoint``): what its health check says."""
    info = health(layout)
    return Status(
        running=info is not None,
        pid=None,
        port=urlsplit(layout.endpoint).port or layout.port,
        endpoint=layout.endpoint,
        healthy=info is not None,
        rss_mb=None,
        uptime_s=None,
        services=dict((info or {}).get("services", {})),
        log_file="",
    )


def log_tail(layout: Layout, lines: int = 40) -> str:
    try:
        return "\n".join(layout.log_file.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


def start(layout: Layout, timeout: float = START_TIMEOUT_S) -> Status:
    """Start LocalStack in the background and wait until its health endpoint answers."""
    if pid := _read_pid(layout):
        raise LauncherError(
            f"LocalStack is already running (pid {pid}, port {layout.port}); "
            "`fraudops down` stops it"
        )
    if _port_in_use(layout.port):
        raise LauncherError(
            f"port {layout.port} is in use by another process; stop it or set FRAUDOPS_PORT"
        )
    if not layout.localstack_python.exists():
        raise LauncherError(
            f"LocalStack's environment is missing ({layout.localstack_python}); run `make install`"
        )
    for sub in ("fs", "tmp", "logs"):
        (layout.state_dir / sub).mkdir(parents=True, exist_ok=True)
    _link_prebuilt_libs(layout)
    log = layout.log_file.open("ab")
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(layout.localstack_python), "-m", "localstack.runtime.main"],
        cwd=layout.state_dir,
        env=localstack_env(layout),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # survives the shell that started it; stopped as a group
    )
    log.close()
    layout.pid_file.write_text(str(proc.pid))
    deadline = started + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            layout.pid_file.unlink(missing_ok=True)
            raise LauncherError(
                f"LocalStack exited with code {proc.returncode} while starting; "
                f"log tail ({layout.log_file}):\n{log_tail(layout)}"
            )
        if health(layout, timeout=1.0) is not None:
            return status(layout)
        time.sleep(0.2)
    _terminate(proc.pid)
    layout.pid_file.unlink(missing_ok=True)
    raise LauncherError(
        f"LocalStack did not become healthy within {timeout:.0f} s; "
        f"log tail ({layout.log_file}):\n{log_tail(layout)}"
    )


def _terminate(pid: int, timeout: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM the process group, then SIGKILL if it hangs. Returns True if it had to kill."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            _reap(pid)
            return False
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(layout: Layout, timeout: float = STOP_TIMEOUT_S) -> str:
    pid = _read_pid(layout)
    if pid is None:
        layout.pid_file.unlink(missing_ok=True)
        return "LocalStack is not running"
    killed = _terminate(pid, timeout)
    layout.pid_file.unlink(missing_ok=True)
    return f"LocalStack stopped (pid {pid}{', killed after a hung stop' if killed else ''})"


def health_ok(endpoint: str, timeout: float = 5.0) -> bool:
    """True when the LocalStack at ``endpoint`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def require(layout: Layout) -> None:
    """NotRunningError unless the LocalStack ``layout`` points at answers."""
    if not health_ok(layout.endpoint, timeout=2.0):
        raise NotRunningError(layout.endpoint)
