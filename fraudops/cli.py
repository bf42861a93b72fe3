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

    return demo.run(_layout(args), rate=args.rate, stream_n=args.transactions)


def cmd_ingest(args: argparse.Namespace) -> int:
    from fraudops import ingest

    result = ingest.ingest_file(
        _layout(args), args.file, args.contract, wait=not args.no_wait, timeout=args.timeout
    )
    print(json.dumps(result, indent=2, default=str) if args.json else ingest.summary_line(result))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from fraudops import generator

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


def _config_arg(value: str | None) -> dict[str, Any]:
    """--config: inline JSON or a path to a JSON file."""
    if not value:
        return {}
    from pathlib import Path

    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("--config must be a JSON object")
    return doc


def cmd_train(args: argparse.Namespace) -> int:
    from fraudops import training

    layout = _layout(args)
    try:
        config = _config_arg(args.config)
    except (OSError, ValueError) as exc:
        print(f"fraudops: --config: {exc}", file=sys.stderr)
        return 2
    try:
        arn = training.start(
            layout,
            args.contract,
            snapshot_id=args.snapshot,
            config=config,
            promote=not args.no_promote,
        )
    except training.TrainingCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if not args.wait:
        print(json.dumps({"execution_arn": arn}) if args.json else f"started {arn}")
        return 0
    echo = None if args.json else print
    if echo:
        echo(f"training {args.contract}: {arn}")
    desc = training.follow(layout, arn, timeout=args.timeout, echo=echo)
    res = training.result(layout, desc)
    print(json.dumps(res, indent=2, default=str) if args.json else training.summary_line(res))
    return 0 if desc["status"] == "SUCCEEDED" else 1


def cmd_models(args: argparse.Namespace) -> int:
    from fraudops import training

    layout = _layout(args)
    try:
        if args.action == "list":
            records = training.list_models(layout, args.contract)
            if args.json:
                print(json.dumps(records, indent=2, default=str))
            else:
                print("\n".join(training.table_lines(records)))
            return 0
        if args.action == "show":
            record = training.show(layout, args.contract, args.version)
            if args.json:
                print(json.dumps(record, indent=2, default=str))
            else:
                print("\n".join(training.describe(record)))
            return 0
        if args.action == "promote":
            record = training.promote(
                layout,
                args.contract,
                args.version,
                reason=args.reason,
                shadow=args.shadow,
                force=args.force,
            )
        else:
            record = training.rollback(layout, args.contract, reason=args.reason)
    except training.TrainingCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(record, indent=2, default=str))
    else:
        print(f"{record['model_id']} is now {record['status']}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from fraudops import scoring

    try:
        answer = scoring.call_api(_layout(args), scoring.read_body(args.transaction))
    except scoring.ScoringCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if answer.status != 200:
        print(json.dumps(answer.body, indent=2), file=sys.stdout if args.json else sys.stderr)
        return 2 if answer.status == 400 else 1
    if args.json:
        print(json.dumps(answer.body["decision"], indent=2))
    else:
        dup = " (already decided)" if answer.body.get("duplicate") else ""
        print(scoring.decision_line(answer.body["decision"]) + dup)
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    from fraudops import ingest, monitor

    try:
        result = monitor.labels(_layout(args), args.file, timeout=args.timeout)
    except monitor.MonitorCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(ingest.summary_line(result["ingest"]))
        print("\n".join(monitor.quality_lines(result["quality"])))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from fraudops import monitor

    try:
        result = monitor.monitor(_layout(args))
    except monitor.MonitorCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    print("\n".join(monitor.quality_lines(result["quality"])))
    print("\n".join(monitor.drift_lines(result["drift"])))
    print("alarms:")
    print("\n".join(monitor.alarm_lines(result["alarms"])))
    print("\n".join(monitor.retraining_lines(result["retraining"])))
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from fraudops import monitor

    layout = _layout(args)
    try:
        if args.action == "status":
            guard = monitor.retraining(layout)
        else:
            guard = monitor.set_paused(layout, args.action == "pause")
    except monitor.MonitorCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    text = "\n".join(monitor.retraining_lines(guard))
    print(json.dumps(guard, indent=2, default=str) if args.json else text)
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    from fraudops import scoring

    layout = _layout(args)
    try:
        if args.transaction_id:
            found = scoring.decision(layout, args.transaction_id)
            if found is None:
                print(f"fraudops: no decision for {args.transaction_id}", file=sys.stderr)
                return 1
            docs = [found]
        else:
            docs = scoring.all_decisions(layout)[-args.last :]
    except scoring.ScoringCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(docs if not args.transaction_id else docs[0], indent=2))
    else:
        print("\n".join(scoring.decision_line(d) for d in docs) or "no decisions yet")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from fraudops import scoring

    try:
        report = scoring.compare(scoring.all_decisions(_layout(args)))
    except scoring.ScoringCliError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    elif not report["decisions"]:
        print(report["message"])
    else:
        print(
            f"{report['decisions']} decisions: champion {', '.join(report['champion'])}, "
            f"shadow {', '.join(report['shadow'])}\n"
            f"  outcome agreement  {report['outcome_agreement']:.2%}\n"
            f"  score correlation  {report['score_correlation']}\n"
            f"  alert rate         {report['alert_rate_champion']:.2%} champion, "
            f"{report['alert_rate_shadow']:.2%} shadow "
            f"({report['alert_rate_difference']:+.2%})"
        )
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fraudops import dashboard

    try:
        since = dashboard.parse_since(args.since)
        report = dashboard.render(_layout(args), Path(args.out), since)
    except dashboard.DashboardError as exc:
        print(f"fraudops: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['path']}: {report['dashboard']}, last {args.since}: "
            f"{report['widgets_with_data']}/{report['metric_widgets']} charts with data, "
            f"{report['series']} series, {report['points']} points"
        )
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
    p = sub.add_parser(
        "demo", help="the whole loop: ingest, train, score, label, drift, retrain, summary"
    )
    p.add_argument("--rate", type=int, default=200, help="transactions a second on Kinesis")
    p.add_argument("--transactions", type=int, default=2_000, help="how many to stream")
    p.set_defaults(func=cmd_demo)
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
    p = sub.add_parser(
        "train", help="run the training pipeline on a snapshot (the latest unless --snapshot)"
    )
    p.add_argument("--contract", default="transactions")
    p.add_argument("--snapshot", help="snapshot id (default: the latest registered)")
    p.add_argument("--config", help="config overrides: inline JSON or a JSON file")
    p.add_argument("--no-promote", action="store_true", help="register, never promote")
    p.add_argument("--wait", action="store_true", help="follow the execution to its end")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("models", help="the model registry: list, show, promote, rollback")
    models = p.add_subparsers(dest="action", required=True)
    for action, text in (
        ("list", "every version of a contract's models"),
        ("show", "one version with its lineage"),
        ("promote", "make a version the champion (or --shadow)"),
        ("rollback", "the previous champion serves again"),
    ):
        m = models.add_parser(action, help=text)
        m.add_argument("--contract", default="transactions")
        m.add_argument("--json", action="store_true")
        if action in ("show", "promote"):
            m.add_argument("version", help="3, v3 or <contract>-v3")
        if action in ("promote", "rollback"):
            m.add_argument("--reason", default=f"manual {action} (fraudops CLI)")
        if action == "promote":
            m.add_argument("--shadow", action="store_true", help="score alongside, do not serve")
            m.add_argument(
                "--force",
                action="store_true",
                help="promote the shadow even against the live evidence (recorded)",
            )
        m.set_defaults(func=cmd_models)
    m = models.add_parser("compare", help="the shadow against the champion, over the decisions")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_compare)
    p = sub.add_parser("score", help="score one transaction through the signed scoring API")
    p.add_argument("transaction", help="the transaction as JSON, or @FILE.json")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("decisions", help="decisions made (by transaction id, or the last N)")
    p.add_argument("--transaction-id")
    p.add_argument("--last", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_decisions)
    p = sub.add_parser(
        "labels", help="land a labels file, wait for its manifest, show the join and quality"
    )
    p.add_argument("file")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_labels)
    p = sub.add_parser(
        "monitor", help="live precision, recall, coverage, drift and alarm states, now"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_monitor)
    p = sub.add_parser("retrain", help="automatic retraining from alarms: status, pause, resume")
    p.add_argument("action", choices=["status", "pause", "resume"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_retrain)
    p = sub.add_parser("dashboard", help="the CloudWatch dashboard as one self-contained HTML file")
    p.add_argument("--out", required=True, help="FILE.html")
    p.add_argument("--since", default="3h", help="time range up to now: 30m, 1h, 2d (default 3h)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dashboard)
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
