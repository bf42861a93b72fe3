"""Platform benchmark: LocalStack on the host and the host Lambda executor.

Prints figures, never asserts on them. Starts its own LocalStack on a free port (and stops it):

    .venv/bin/python -m benchmarks.platform [--calls 50] [--deploy]

Reported: LocalStack start time and RSS; cold and warm invoke latency through LocalStack (median
and p95) next to a baseline in the same run (GetFunction, an API call that runs no code, so the
ratio is the executor's own cost); invokes/s with 4 concurrent callers; RSS per execution
environment; optionally the CDK deploy time of the fraudops stack.

At the end the figures are printed as rows and written to ``bench-results.json`` by
``benchmarks.results`` (unless ``--no-write``), named ``platform.<figure>``: a cold or warm
invoke's median (p50) and p95 have GetFunction's median and p95 of the same run as baseline; the
ratio is baseline / value, the inverse of the printed "warm invoke / baseline".
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.results import print_rows, record, row
from benchmarks.stack import free_port
from fraudops import localstack
from fraudops.paths import Layout

HANDLER = "import os\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(label: str, values: list[float], unit: str = "ms") -> dict[str, float]:
    med, p95 = statistics.median(values), _pct(values, 0.95)
    print(f"  {label:38} median {med:8.1f} {unit}   p95 {p95:8.1f} {unit}   n={len(values)}")
    return {"median": med, "p95": p95, "n": len(values)}


def _children_rss_mb(pid: int) -> list[float]:
    """RSS of the execution environments (processes running the runtime bootstrap)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"fraudops_emulator/runtime/bootstrap.py" not in cmdline:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return out


def rows_of(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``bench-results.json`` from the figures ``main`` collects in ``results``;
    a figure that is missing (a RSS that could not be read, no ``--deploy``) has no row."""
    out = []
    if (start := results.get("start_s")) is not None:
        out.append(row("platform.localstack_start", start, "s"))
    if (idle := results.get("idle_rss_mb")) is not None:
        out.append(row("platform.localstack_idle_rss", idle, "MB"))
    base = results.get("baseline_ms") or {}
    if cold := results.get("cold_ms"):
        out.append(row("platform.invoke_cold_p50", cold["median"], "ms", base.get("median")))
        out.append(row("platform.invoke_cold_p95", cold["p95"], "ms", base.get("p95")))
    if warm := results.get("warm_ms"):
        out.append(row("platform.invoke_warm_p50", warm["median"], "ms", base.get("median")))
        out.append(row("platform.invoke_warm_p95", warm["p95"], "ms", base.get("p95")))
    if (rate := results.get("invokes_per_s")) is not None:
        out.append(row("platform.invokes_per_s_4_callers", rate, "invokes/s"))
    if rss := results.get("env_rss_mb"):
        out.append(row("platform.env_rss_p50", statistics.median(rss), "MB"))
        out.append(row("platform.env_rss_max", max(rss), "MB"))
    if (busy := results.get("busy_rss_mb")) is not None:
        out.append(row("platform.localstack_busy_rss", busy, "MB"))
    if (deploy_s := results.get("deploy_s")) is not None:
        out.append(row("platform.cdk_deploy", deploy_s, "s"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--deploy", action="store_true", help="also time a CDK deploy")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    layout = Layout.from_env(port=free_port(), state_dir=tempfile.mkdtemp(prefix="fraudops-bench-"))

    print("LocalStack on the host")
    t0 = time.perf_counter()
    st = localstack.start(layout)
    results["start_s"] = time.perf_counter() - t0
    results["idle_rss_mb"] = st.rss_mb
    print(f"  start to healthy                        {results['start_s']:.2f} s")
    print(f"  idle RSS                                {st.rss_mb:.0f} MB")
    try:
        session = boto3.session.Session("test", "test", region_name="us-east-1")
        lam = session.client(
            "lambda",
            endpoint_url=layout.endpoint,
            config=Config(retries={"max_attempts": 0}, max_pool_connections=8),
        )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", HANDLER)
        name = f"bench-{uuid.uuid4().hex[:6]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role="arn:aws:iam::000000000000:role/bench",
            Handler="app.handler",
            Code={"ZipFile": buf.getvalue()},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)

        def call(fn: str = name) -> float:
            t = time.perf_counter()
            resp = lam.invoke(FunctionName=fn, Payload=b"{}")
            resp["Payload"].read()
            if resp.get("FunctionError"):
                raise RuntimeError(resp)
            return (time.perf_counter() - t) * 1000

        print(f"Invoke latency through LocalStack ({args.calls} calls each)")
        cold = []
        for i in range(max(10, args.calls // 2)):
            # a configuration change retires the environments: the next invoke is a cold start
            lam.update_function_configuration(
                FunctionName=name, Environment={"Variables": {"ROUND": str(i)}}
            )
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)
            cold.append(call())
        call()
        warm = [call() for _ in range(args.calls)]
        baseline = []
        for _ in range(args.calls):
            t = time.perf_counter()
            lam.get_function(FunctionName=name)
            baseline.append((time.perf_counter() - t) * 1000)
        results["cold_ms"] = _row("cold invoke", cold)
        results["warm_ms"] = _row("warm invoke", warm)
        results["baseline_ms"] = _row("baseline: GetFunction (runs no code)", baseline)
        ratio = statistics.median(warm) / statistics.median(baseline)
        print(f"  warm invoke / baseline (medians)        {ratio:.2f}x")
        results["warm_vs_baseline"] = ratio

        print("Throughput, 4 concurrent callers for 5 s")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: call(), range(8)))  # four warm environments
            deadline = time.perf_counter() + 5
            count = 0

            def loop(_: int) -> int:
                n = 0
                while time.perf_counter() < deadline:
                    call()
                    n += 1
                return n

            t = time.perf_counter()
            count = sum(pool.map(loop, range(4)))
            elapsed = time.perf_counter() - t
        results["invokes_per_s"] = count / elapsed
        print(f"  invokes/s                               {results['invokes_per_s']:.1f}")
        rss = _children_rss_mb(st.pid or 0)
        results["env_rss_mb"] = rss
        if rss:
            print(
                f"  RSS per execution environment           median {statistics.median(rss):.1f} MB"
                f" (min {min(rss):.1f}, max {max(rss):.1f}, {len(rss)} environments)"
            )
        results["busy_rss_mb"] = localstack.status(layout).rss_mb
        print(f"  LocalStack RSS after the runs           {results['busy_rss_mb']:.0f} MB")

        if args.deploy:
            from fraudops import deploy

            print("CDK deploy of the fraudops stack (bootstrap included)")
            t = time.perf_counter()
            deploy.deploy(layout)
            results["deploy_s"] = time.perf_counter() - t
            print(f"  bootstrap + deploy                      {results['deploy_s']:.1f} s")
    finally:
        print(localstack.stop(layout))
    print(json.dumps(results, default=float), file=sys.stderr)
    rows = rows_of(results)
    print("Rows for bench-results.json (ratio: baseline / value)")
    print_rows(rows)
    if not args.no_write:
        record(rows)
        print(f"{len(rows)} rows written to bench-results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
