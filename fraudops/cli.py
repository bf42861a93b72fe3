"""The ``fraudops`` command: one entry point for the local platform and the pipelines.

Every command takes ``--json``: one JSON document on stdout (docs/cli.md lists its keys). The
global ``--endpoint`` points the commands at a LocalStack elsewhere (``http://host:port``) or at
AWS itself (``aws``, the normal credential chain); FRAUDOPS_ENDPOINT is its default.

A failure the user can fix is one line on stderr, ``fraudops: <what is wrong>: <the fix>``, never
a traceback (``explain``); exit codes: 1 it failed, 2 the command line cannot work, 3 LocalStack
is not running.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import sys
import urllib.error
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from fraudops import localstack, views
from fraudops.console import console
from fraudops.errors import NoChampionError, NotRunningError, StackNotDeployedError, UserError
from fraudops.paths import EndpointError, Layout, check_endpoint
from fraudops_shared.contracts import UnknownContractError, load_contract
from fraudops_shared.lake.snapshots import EmptySnapshotError, SnapshotError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3

CREDENTIALS_MISSING = (
    "AWS credentials are missing: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "(see `aws configure`)"
)
# What AWS answers for credentials it does not accept (unknown, expired, a wrong secret).
REJECTED_CREDENTIALS = (
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
)


class CliError(UserError):
    """A failure found by the command itself, already worded as ``<what is wrong>: <the fix>``."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _layout(args: argparse.Namespace) -> Layout:
    """The layout of the global options, built once (commands that need none never build it)."""
    if getattr(args, "layout", None) is None:
        args.layout = Layout.from_env(
            port=getattr(args, "port", None), endpoint=getattr(args, "endpoint", None)
        )
    layout: Layout = args.layout
    return layout


def _print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str))


def _json_stdout(args: argparse.Namespace) -> contextlib.AbstractContextManager[None]:
    """With --json, what a long command narrates (and its children print) goes to stderr:
    stdout holds only the document."""
    if not args.json:
        return contextlib.nullcontext()
    from fraudops.console import stdout_to_stderr

    return stdout_to_stderr()


def _this_machine_only(layout: Layout, command: str) -> None:
    """``up``, ``down`` and ``demo`` start or stop the LocalStack of this machine."""
    if not layout.is_local:
        where = "AWS" if layout.on_aws else layout.endpoint
        raise CliError(
            f"`fraudops {command}` works on the LocalStack of this machine, not {where}: "
            "drop --endpoint (or unset FRAUDOPS_ENDPOINT)",
            EXIT_USAGE,
        )


def _localstack_only(layout: Layout, command: str) -> None:
    """``deploy`` and ``destroy`` run cdklocal: a LocalStack anywhere, not AWS."""
    if layout.on_aws:
        raise CliError(
            f"`fraudops {command}` works on LocalStack, not AWS: "
            f"on AWS run `FRAUDOPS_STAGE=aws npx cdk {command}`",
            EXIT_USAGE,
        )


def cmd_up(args: argparse.Namespace) -> int:
    layout = _layout(args)
    _this_machine_only(layout, "up")
    st = localstack.start(layout)
    if args.json:
        _print_json({**st.as_dict(), "state_dir": str(layout.state_dir)})
        return 0
    print(f"LocalStack is up on {st.endpoint} (pid {st.pid}, {st.rss_mb or 0:.0f} MB RSS)")
    print(f"  state: {layout.state_dir}\n  log:   {layout.log_file}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    layout = _layout(args)
    _this_machine_only(layout, "down")
    pid = localstack.status(layout).pid
    message = localstack.stop(layout)
    if args.json:
        _print_json({"stopped": pid is not None, "pid": pid, "message": message})
    else:
        print(message)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    layout = _layout(args)
    st = None if layout.on_aws else localstack.status(layout)
    report: dict[str, Any] = {
        "endpoint": layout.endpoint,
        "localstack": st.as_dict() if st else None,
    }
    if st is None or st.healthy:
        from fraudops import deploy

        report["stack"] = deploy.stack_resources(layout)
    running = st is None or st.running
    if args.json:
        _print_json(report)
        return 0 if running else EXIT_NOT_RUNNING
    if st is None:
        from fraudops.clients import region

        print(f"AWS, region {region(layout)}")
    elif not st.running:
        print(f"LocalStack is not running on {layout.endpoint}: {_start_it(layout)}")
        return EXIT_NOT_RUNNING
    elif st.pid is None:
        print(f"LocalStack running: {st.endpoint}, healthy={st.healthy}")
    else:
        print(
            f"LocalStack running: pid {st.pid}, {st.endpoint}, healthy={st.healthy}, "
            f"RSS {st.rss_mb or 0:.0f} MB, up {st.uptime_s or 0:.0f} s"
        )
    stack = report.get("stack") or {}
    if not stack.get("deployed"):
        print("stack: not deployed (`fraudops deploy`)")
    else:
        console.print(views.stack_outputs(stack))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from fraudops import deploy

    layout = _layout(args)
    _localstack_only(layout, "deploy")
    with _json_stdout(args):
        stack = deploy.deploy(layout)
    if args.json:
        _print_json(stack)
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from fraudops import deploy

    layout = _layout(args)
    _localstack_only(layout, "destroy")
    with _json_stdout(args):
        deploy.destroy(layout)
    if args.json:
        _print_json({"destroyed": True, "name": deploy.stack_name(), "endpoint": layout.endpoint})
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fraudops import demo

    layout = _layout(args)
    _this_machine_only(layout, "demo")
    with _json_stdout(args):
        summary = demo.run(layout, rate=args.rate, stream_n=args.transactions)
    if args.json:
        _print_json(summary)
    return 0


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
    if args.json:
        _print_json(
            {
                "path": str(path),
                "rows": table.num_rows,
                "contract": args.contract,
                "expected_rejections": expected,
            }
        )
        return 0
    print(
        f"wrote {table.num_rows} rows to {path}"
        + (f"; expected rejections {expected}" if expected else "")
    )
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from fraudops import snapshot

    result = snapshot.create(_layout(args), args.contract)
    print(json.dumps(result, indent=2, default=str) if args.json else snapshot.summary_line(result))
    return 0


def _config_arg(value: str | None) -> dict[str, Any]:
    """--config: inline JSON or a path to a JSON file."""
    if not value:
        return {}
    path = Path(value)
    if not path.is_file() and value.lstrip()[:1] not in ("{", "["):  # not JSON: a path
        raise FileNotFoundError(errno.ENOENT, "no such file", value)
    text = path.read_text(encoding="utf-8") if path.is_file() else value
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CliError(
            f"--config is not JSON ({exc}): pass a JSON object or a file holding one", EXIT_USAGE
        ) from None
    if not isinstance(doc, dict):
        raise CliError(
            "--config is not a JSON object: pass a JSON object or a file holding one", EXIT_USAGE
        )
    return doc


def _training_failed(res: Mapping[str, Any], contract: str) -> str:
    """The one line of a failed run: a missing snapshot with its fix, anything else with the
    reason the pipeline recorded."""
    code, _, text = str(res.get("reason") or "").partition(": ")
    if code != "SNAPSHOT_NOT_FOUND":
        return f"training failed ({res.get('error')}): {res.get('reason')}"
    if "fraudops snapshot" not in text:
        text += f": take one with `fraudops snapshot --contract {contract}`, or name another"
    return f"training failed: {text}"


def cmd_train(args: argparse.Namespace) -> int:
    from fraudops import training

    config = _config_arg(args.config)
    layout = _layout(args)
    arn = training.start(
        layout,
        args.contract,
        snapshot_id=args.snapshot,
        config=config,
        promote=not args.no_promote,
    )
    if not args.wait:
        print(json.dumps({"execution_arn": arn}) if args.json else f"started {arn}")
        return 0
    echo = None if args.json else print
    if echo:
        echo(f"training {args.contract}: {arn}")
    desc = training.follow(layout, arn, timeout=args.timeout, echo=echo)
    res = training.result(layout, desc)
    if args.json:
        _print_json(res)
    if desc["status"] != "SUCCEEDED":
        raise CliError(_training_failed(res, args.contract))
    if not args.json:
        print(training.summary_line(res))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from fraudops import training

    layout = _layout(args)
    if args.action == "list":
        records = training.list_models(layout, args.contract)
        if args.json:
            _print_json(records)
        else:
            console.print(views.models(records))
        return 0
    if args.action == "show":
        record = training.show(layout, args.contract, args.version)
        if args.json:
            _print_json(record)
        else:
            console.print(views.model(record))
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
    if args.json:
        _print_json(record)
    else:
        print(f"{record['model_id']} is now {record['status']}")
    return 0


def _refusal(status: int, body: Mapping[str, Any]) -> str:
    """The scoring API's error answer in one line: its code and why (the contract's rules)."""
    error = body.get("error")
    if not isinstance(error, dict):
        return f"the scoring API answered {status}: {json.dumps(body)[:300]}"
    why = "; ".join(str(r) for r in error.get("reasons") or []) or error.get("message")
    return f"the scoring API refused the transaction ({status} {error.get('code')}): {why}"


def cmd_score(args: argparse.Namespace) -> int:
    from fraudops import scoring

    answer = scoring.call_api(_layout(args), scoring.read_body(args.transaction))
    if answer.status != 200:
        if args.json:
            _print_json(answer.body)
        error = answer.body.get("error")
        if isinstance(error, dict) and error.get("code") == "no_champion":
            from infra.constants import STREAM_CONTRACT

            raise NoChampionError(STREAM_CONTRACT)
        code = EXIT_USAGE if answer.status == 400 else EXIT_FAILED
        raise CliError(_refusal(answer.status, answer.body), code)
    if args.json:
        _print_json(answer.body["decision"])
    else:
        dup = " (already decided)" if answer.body.get("duplicate") else ""
        print(scoring.decision_line(answer.body["decision"]) + dup)
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    from fraudops import ingest, monitor

    result = monitor.labels(_layout(args), args.file, timeout=args.timeout)
    if args.json:
        _print_json(result)
    else:
        print(ingest.summary_line(result["ingest"]))
        console.print(views.quality(result["quality"]))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from fraudops import monitor

    result = monitor.monitor(_layout(args))
    if args.json:
        _print_json(result)
        return 0
    console.print(views.quality(result["quality"]))
    print("\n".join(monitor.drift_lines(result["drift"])))
    console.print(views.alarms(result["alarms"]))
    print("\n".join(monitor.retraining_lines(result["retraining"])))
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from fraudops import monitor

    layout = _layout(args)
    if args.action == "status":
        guard = monitor.retraining(layout)
    else:
        guard = monitor.set_paused(layout, args.action == "pause")
    text = "\n".join(monitor.retraining_lines(guard))
    print(json.dumps(guard, indent=2, default=str) if args.json else text)
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    from fraudops import scoring

    layout = _layout(args)
    if args.transaction_id:
        found = scoring.decision(layout, args.transaction_id)
        if found is None:
            raise CliError(
                f"no decision for {args.transaction_id}: check the id "
                "(`fraudops decisions` lists the latest)"
            )
        docs = [found]
    else:
        docs = scoring.all_decisions(layout)[-args.last :]
    if args.json:
        _print_json(docs if not args.transaction_id else docs[0])
    else:
        console.print(views.decisions(docs) if docs else "no decisions yet")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from fraudops import scoring

    report = scoring.compare(scoring.all_decisions(_layout(args)))
    if args.json:
        _print_json(report)
    elif not report["decisions"]:
        print(report["message"])
    else:
        console.print(views.comparison(report))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from fraudops import dashboard

    since = dashboard.parse_since(args.since)
    report = dashboard.render(_layout(args), Path(args.out), since)
    if args.json:
        _print_json(report)
    else:
        print(
            f"{report['path']}: {report['dashboard']}, last {args.since}: "
            f"{report['widgets_with_data']}/{report['metric_widgets']} charts with data, "
            f"{report['series']} series, {report['points']} points"
        )
    return 0


# --- one error path ---------------------------------------------------------------------------


def _start_it(layout: Layout) -> str:
    if layout.is_local:
        return "start it with `fraudops up` (or `make up`)"
    return "start it there, or point --endpoint at one that runs"


def _unreachable(exc: BaseException) -> bool:
    """Nothing answers at the endpoint: botocore's connection errors, urllib's refusal."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return isinstance(exc.reason, ConnectionRefusedError)
    return isinstance(
        exc,
        NotRunningError | EndpointConnectionError | ConnectTimeoutError | ConnectionRefusedError,
    )


def explain(exc: BaseException, args: argparse.Namespace) -> tuple[str, int] | None:
    """The one line (``<what is wrong>: <the fix>``) and exit code of a failure the user can
    fix; None for anything else (a bug: its traceback is shown)."""
    layout: Layout | None = getattr(args, "layout", None)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CREDENTIALS_MISSING, EXIT_FAILED
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in REJECTED_CREDENTIALS:
            return None
        return (
            f"AWS rejected the credentials ({code}): refresh them "
            "(`aws sso login`, or new keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
            EXIT_FAILED,
        )
    if _unreachable(exc) and layout is not None:
        if layout.on_aws:
            return "AWS cannot be reached: check the network and AWS_REGION", EXIT_FAILED
        return (
            f"LocalStack is not running on {layout.endpoint}: {_start_it(layout)}",
            EXIT_NOT_RUNNING,
        )
    if isinstance(exc, StackNotDeployedError):
        if layout is not None and layout.on_aws:
            return f"{exc}: deploy it with `make deploy-aws`", EXIT_FAILED
        return f"{exc}: run `fraudops deploy`", EXIT_FAILED
    if isinstance(exc, NoChampionError):
        return f"{exc}: train one (`fraudops train`) and promote it", EXIT_FAILED
    if isinstance(exc, EmptySnapshotError):
        return (
            f"{exc}: land data first (`fraudops ingest FILE --contract {exc.contract}`)",
            EXIT_FAILED,
        )
    if isinstance(exc, UnknownContractError):
        return f"unknown contract {exc.name!r}: known: {', '.join(exc.known)}", EXIT_USAGE
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"no such file: {exc.filename}: check the path", EXIT_USAGE
    if isinstance(exc, TimeoutError) and hasattr(args, "timeout"):
        return f"{exc}: wait longer with --timeout", EXIT_FAILED
    if isinstance(exc, localstack.LauncherError | EndpointError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, UserError | SnapshotError):
        return str(exc), EXIT_FAILED
    return None


# --- the command line -------------------------------------------------------------------------


def _endpoint_arg(value: str) -> str:
    try:
        return check_endpoint(value)
    except EndpointError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fraudops", description=__doc__)
    parser.add_argument("--port", type=int, help="LocalStack port (default 4566 or FRAUDOPS_PORT)")
    parser.add_argument(
        "--endpoint",
        type=_endpoint_arg,
        help="a LocalStack elsewhere (http://host:port), or `aws` for AWS with the normal "
        "credential chain (default FRAUDOPS_ENDPOINT, else LocalStack on --port)",
    )
    json_option = argparse.ArgumentParser(add_help=False)
    json_option.add_argument(
        "--json", action="store_true", help="print one JSON document (keys: docs/cli.md)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, parents=[json_option], **kwargs)

    command("up", "start LocalStack on the host").set_defaults(func=cmd_up)
    command("down", "stop LocalStack").set_defaults(func=cmd_down)
    command("status", "LocalStack state and the stack's resource names").set_defaults(
        func=cmd_status
    )
    command("deploy", "deploy the CDK app to LocalStack").set_defaults(func=cmd_deploy)
    command("destroy", "remove the deployed stack").set_defaults(func=cmd_destroy)
    p = command("demo", "the whole loop: ingest, train, score, label, drift, retrain, summary")
    p.add_argument("--rate", type=int, default=200, help="transactions a second on Kinesis")
    p.add_argument("--transactions", type=int, default=2_000, help="how many to stream")
    p.set_defaults(func=cmd_demo)
    p = command("ingest", "upload a file to landing/<contract>/ and wait for its manifest")
    p.add_argument("file")
    p.add_argument("--contract", required=True)
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--timeout", type=float, default=300.0)
    p.set_defaults(func=cmd_ingest)
    p = command("generate", "write synthetic data (deterministic by seed)")
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
    p = command("snapshot", "freeze a contract's committed curated data (exact object versions)")
    p.add_argument("--contract", required=True)
    p.set_defaults(func=cmd_snapshot)
    p = command("train", "run the training pipeline on a snapshot (the latest unless --snapshot)")
    p.add_argument("--contract", default="transactions")
    p.add_argument("--snapshot", help="snapshot id (default: the latest registered)")
    p.add_argument("--config", help="config overrides: inline JSON or a JSON file")
    p.add_argument("--no-promote", action="store_true", help="register, never promote")
    p.add_argument("--wait", action="store_true", help="follow the execution to its end")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("models", help="the model registry: list, show, promote, rollback")
    models = p.add_subparsers(dest="action", required=True)
    for action, text in (
        ("list", "every version of a contract's models"),
        ("show", "one version with its lineage"),
        ("promote", "make a version the champion (or --shadow)"),
        ("rollback", "the previous champion serves again"),
    ):
        m = models.add_parser(action, help=text, parents=[json_option])
        m.add_argument("--contract", default="transactions")
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
    m = models.add_parser(
        "compare",
        help="the shadow against the champion, over the decisions",
        parents=[json_option],
    )
    m.set_defaults(func=cmd_compare)
    p = command("score", "score one transaction through the signed scoring API")
    p.add_argument("transaction", help="the transaction as JSON, or @FILE.json")
    p.set_defaults(func=cmd_score)
    p = command("decisions", "decisions made (by transaction id, or the last N)")
    p.add_argument("--transaction-id")
    p.add_argument("--last", type=int, default=20)
    p.set_defaults(func=cmd_decisions)
    p = command("labels", "land a labels file, wait for its manifest, show the join and quality")
    p.add_argument("file")
    p.add_argument("--timeout", type=float, default=300.0)
    p.set_defaults(func=cmd_labels)
    p = command("monitor", "live precision, recall, coverage, drift and alarm states, now")
    p.set_defaults(func=cmd_monitor)
    p = command("retrain", "automatic retraining from alarms: status, pause, resume")
    p.add_argument("action", choices=["status", "pause", "resume"])
    p.set_defaults(func=cmd_retrain)
    p = command("dashboard", "the CloudWatch dashboard as one self-contained HTML file")
    p.add_argument("--out", required=True, help="FILE.html")
    p.add_argument("--since", default="3h", help="time range up to now: 30m, 1h, 2d (default 3h)")
    p.set_defaults(func=cmd_dashboard)
    return parser


INTERRUPTED = (
    "fraudops: interrupted. Run the same command again: a deploy first waits for what LocalStack "
    "is still doing and removes a stack left failed, and the demo starts a new run"
)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if isinstance(getattr(args, "contract", None), str):
            load_contract(args.contract)  # a wrong name fails here, before any network call
        return int(args.func(args))
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except Exception as exc:
        problem = explain(exc, args)
        if problem is None:
            raise
        message, code = problem
        print(f"fraudops: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
