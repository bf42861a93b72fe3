"""Where things are: the project root, its environments and the LocalStack state folder.

Everything is derived from the project root so that two checkouts (or a test run beside a
developer's LocalStack) never share state; ``FRAUDOPS_STATE_DIR`` and ``FRAUDOPS_PORT`` let a
second instance run next to the first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 4566


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
    raise RuntimeError("cannot find the fraudops project root; set FRAUDOPS_HOME")


@dataclass(frozen=True)
class Layout:
    root: Path
    state_dir: Path
    port: int

    @classmethod
    def from_env(cls, port: int | None = None, state_dir: str | Path | None = None) -> Layout:
        root = project_root()
        port = port or int(os.environ.get("FRAUDOPS_PORT", DEFAULT_PORT))
        state = state_dir or os.environ.get("FRAUDOPS_STATE_DIR") or root / ".localstack"
        return cls(root=root, state_dir=Path(state).resolve(), port=port)

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.port}"

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
