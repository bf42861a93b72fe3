"""Where things are: the project root, its environments and the LocalStack state folder.

Everything is derived from the project root so that two checkouts (or a test run beside a
developer's LocalStack) never share state; ``FRAUDOPS_STATE_DIR`` and ``FRAUDOPS_PORT`` let a
second instance run next to the first. ``FRAUDOPS_ENDPOINT`` (or ``--endpoint``) points the
commands at a LocalStack elsewhere (``http://host:port``) or at AWS itself (``aws``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fraudops.errors import UserError

DEFAULT_PORT = 4566
AWS = "aws"  # the endpoint that means AWS itself, with the normal credential chain
LOCAL_HOSTS = ("localhost", "127.0.0.1")


class EndpointError(UserError, ValueError):
    """An endpoint that is neither a URL nor ``aws``."""


def check_endpoint(value: str) -> str:
    """``aws``, or an ``http(s)://host[:port]`` URL."""
    url = urlsplit(value)
    if value != AWS and (url.scheme not in ("http", "https") or not url.hostname):
        raise EndpointError(f"not an endpoint: {value!r}: use http://host:port or aws")
    return value


def project_root() -> Path:
    """The checkout this package was installed from (editable install), or FRAUDOPS_HOME."""
    if env := os.environ.get("FRAUDOPS_HOME"):
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "cdk.json").exists():
        return here
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "cdk.json").exists() and (candidate / "fraudops").is_dir():
            return candidate
    raise UserError(
        "cannot find the fraudops project root: run fraudops inside its checkout "
        "or set FRAUDOPS_HOME"
    )


@dataclass(frozen=True)
class Layout:
    root: Path
    state_dir: Path
    port: int
    remote: str | None = None  # None: the LocalStack on this machine; a URL; or AWS ("aws")

    @classmethod
    def from_env(
        cls,
        port: int | None = None,
        state_dir: str | Path | None = None,
        endpoint: str | None = None,
    ) -> Layout:
        """Precedence: ``endpoint``, ``port``, FRAUDOPS_ENDPOINT, FRAUDOPS_PORT, 4566. An
        endpoint on this machine (``http://localhost:4600``) is the same as its port."""
        root = project_root()
        endpoint = endpoint or (None if port else os.environ.get("FRAUDOPS_ENDPOINT")) or None
        remote = check_endpoint(endpoint).rstrip("/") if endpoint else None
        if remote and remote != AWS:
            url = urlsplit(remote)
            if url.hostname in LOCAL_HOSTS and url.port and url.scheme == "http":
                port, remote = url.port, None
        port = port or int(os.environ.get("FRAUDOPS_PORT", DEFAULT_PORT))
        state = state_dir or os.environ.get("FRAUDOPS_STATE_DIR") or root / ".localstack"
        return cls(root=root, state_dir=Path(state).resolve(), port=port, remote=remote)

    @property
    def on_aws(self) -> bool:
        return self.remote == AWS

    @property
    def is_local(self) -> bool:
        """The LocalStack this machine starts and stops (``fraudops up``)."""
        return self.remote is None

    @property
    def endpoint(self) -> str:
        """Where the commands go: a LocalStack URL, or ``aws``."""
        return self.remote or f"http://localhost:{self.port}"

    @property
    def endpoint_url(self) -> str | None:
        """The ``endpoint_url`` of boto3 clients: None on AWS (its own endpoints)."""
        return None if self.on_aws else self.endpoint

    @property
    def localstack_python(self) -> Path:
        return self.root / ".venvs" / "localstack" / "bin" / "python"

    @property
    def lambda_runtime_dir(self) -> Path:
        return self.root / ".venvs" / "lambda-runtime" / "python"

    @property
    def localstack_libs(self) -> Path:
        """Packages LocalStack would otherwise download at first use (kinesis-local)."""
        return self.root / ".venvs" / "localstack-libs"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "localstack.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "localstack.log"

    @property
    def node_bin(self) -> Path:
        return self.root / "node_modules" / ".bin"
