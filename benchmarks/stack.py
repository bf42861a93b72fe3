"""What the benchmarks that need the deployed stack share: their own LocalStack on a free port,
a quiet deploy, and the REPORT lines of CloudWatch Logs as numbers."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudops.console import quiet_output

REPORT_FIELDS = {
    "duration_ms": r"Duration: ([\d.]+) ms",
    "memory_size_mb": r"Memory Size: (\d+) MB",
    "max_memory_mb": r"Max Memory Used: (\d+) MB",
    "init_ms": r"Init Duration: ([\d.]+) ms",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_report(line: str) -> dict[str, float]:
    out = {}
    for name, pattern in REPORT_FIELDS.items():
        if m := re.search(pattern, line):
            out[name] = float(m.group(1))
    return out


@dataclass
class Deployed:
    layout: Any  # fraudops.paths.Layout
    outputs: dict[str, str]
    state: Path
    idle_rss_mb: float


@contextlib.contextmanager
def deployed_stack(prefix: str) -> Iterator[Deployed]:
    """A LocalStack of its own with the stack deployed; stopped at the end, its state folder
    removed unless the block raised (then kept, and said, for inspection)."""
    from fraudops import deploy, localstack
    from fraudops.paths import Layout

    state = Path(tempfile.mkdtemp(prefix=prefix))
    layout = Layout.from_env(port=free_port(), state_dir=state)
    ok = False
    try:
        t = time.perf_counter()
        st = localstack.start(layout)
        print(f"  LocalStack start to healthy            {time.perf_counter() - t:8.1f} s")
        t = time.perf_counter()
        deploy_log = state / "deploy.log"
        try:
            with quiet_output(deploy_log):
                outputs = deploy.deploy(layout)["outputs"]
        except Exception:
            print(deploy_log.read_text(errors="replace")[-4000:])
            raise
        print(f"  bootstrap + deploy                     {time.perf_counter() - t:8.1f} s")
        yield Deployed(layout, dict(outputs), state, float(st.rss_mb or 0.0))
        ok = True
    finally:
        print(f"  {localstack.stop(layout)}")
        if ok:
            shutil.rmtree(state, ignore_errors=True)
        else:
            print(f"  state kept for inspection: {state}")
