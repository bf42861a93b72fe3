"""The code version every trained model records: the git commit the stack was synthesized from.

`FRAUDOPS_CODE_VERSION` wins (a build without a git checkout); otherwise `git rev-parse HEAD`,
with `+dirty` when tracked files differ from it, so a model trained from uncommitted code says so.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache

from infra import constants as c


@cache
def code_version() -> str:
    explicit = os.environ.get(c.CODE_VERSION_ENV_VAR, "").strip()
    if explicit:
        return explicit
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=c.ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=c.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}+dirty" if dirty else sha
