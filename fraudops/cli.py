"""The ``fraudops`` command: one entry point for the local platform and, later, the pipelines."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fraudops import localstack
from fraudops.paths import Layout


def _layout(args: argparse.Namespace) -> Layout:
    return Layout.from_env(port=getattr(args, "port", None))


def cmd_up(args: argparse.Namespace) -> int:
    layout = _layout(args)
    st = localstack.start(layout)
    print(f"LocalStack is up on {st.endpoint} (pid {st.pid}, {st.rss_mb or 0:.0f} MB RSS)")
    print(f"  state: {layout.state_dir}\n  log:   {layout.log_file}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    print(localstack.stop(_layout(args)))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    layout = _layout(args)
    st = localstack.status(layout)
    report: dict[str, Any] = {"localstack": st.as_dict()}
    if st.healthy:
        from fraudops import deploy

        report["stack"] = deploy.stack_resources(layout)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
        return 0 if st.running else 3
    if not st.running:
        print(f"LocalStack is not running (port {st.port}); `fraudops up` starts it")
        return 3
    print(
        f"LocalStack running: pid {st.pid}, {st.endpoint}, healthy={st.healthy}, "
        f"RSS {st.rss_mb or 0:.0f} MB, up {st.uptime_s or 0:.0f} s"
    )
    stack = report.get("stack") or {}
    if not stack.get("deployed"):
        print("stack: not deployed (`fraudops deploy`)")
    else:
        print(f"stack {stack['name']}: {stack['status']}")
        for key, value in sorted(stack.get("outputs", {}).items()):
            print(f"  {key:32} {value}")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from fraudops import deploy

    deploy.deploy(_layout(args))
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from fraudops import deploy

    deploy.destroy(_layout(args))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fraudops import demo

    return demo.run(_layout(args))


def cmd_ingest(args: argparse.Namespace) -> int:
    from fraudops import ingest

    result = ingest.ingest_file(
        _layout(args), args.file, args.contract, wait=not args.no_wait, timeout=args.timeout
    )
    print(json.dumps(result, indent=2, default=str) if args.json else ingest.summary_line(result))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from fraudops.shared import use_layer_code

    use_layer_code()

    from fraudops_shared import generator

    if args.contract == "creditcard_benchmark":
        table = generator.generate_creditcard_benchmark(args.rows, seed=args.seed)
        expected: dict[str, int] = {}
    else:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=args.days)
        table = generator.generate_transactions(
            args.rows, seed=args.seed, start=start, days=args.days, drift=args.drift
        )
        expected = {}
        if args.bad_rows:
            table, expected = generator.inject_bad_rows(
                table, per_kind=args.bad_rows, seed=args.seed
            )
    path = generator.write_table(table, args.out, compress=args.gzip)
    print(
        f"wrote {table.num_rows} rows to {path}"
        + (f"; expected rejections {expected}" if expected else "")
    )
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from fraudops import snapshot

    try:
        result = snapshot.create(_layout(args), args.contract)
    except snapshot.SnapshotError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str) if args.json else snapshot.summary_line(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fraudops", description=__doc__)
    parser.add_argument("--port", type=int, help="LocalStack port (default 4566 or FRAUDOPS_PORT)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start LocalStack on the host").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop LocalStack").set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="LocalStack state and the stack's resource names")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    sub.add_parser("deploy", help="deploy the CDK app to host LocalStack").set_defaults(
        func=cmd_deploy
    )
    sub.add_parser("destroy", help="remove the deployed stack").set_defaults(func=cmd_destroy)
    sub.add_parser(
        "demo", help="start, deploy and send one event through each trigger"
    ).set_defaults(func=cmd_demo)
    p = sub.add_parser(
        "ingest", help="upload a file to landing/<contract>/ and wait for its manifest"
    )
    p.add_argument("file")
    p.add_argument("--contract", required=True)
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("generate", help="write synthetic data (deterministic by seed)")
    p.add_argument(
        "--contract", default="transactions", choices=["transactions", "creditcard_benchmark"]
    )
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--drift", type=float, default=0.0, help="0 = none, 1 = strong")
    p.add_argument("--bad-rows", type=int, default=0, help="spoil N rows per kind of defect")
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--out", required=True, help="FILE.csv, FILE.jsonl or FILE.parquet")
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser(
        "snapshot", help="freeze a contract's committed curated data (exact object versions)"
    )
    p.add_argument("--contract", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_snapshot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except localstack.LauncherError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
