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
