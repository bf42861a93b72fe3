"""`fraudops demo`: the whole loop on LocalStack, each stage read back from the deployed stack.

Start LocalStack if needed; deploy (CDK's output goes to a log file, shown only on failure);
land generated history through S3 with its data-quality report; snapshot and train until a
champion is promoted; stream transactions through Kinesis at a chosen rate while decisions flow;
score one through the signed API; deliver the streamed transactions' labels and show live
precision; stream drifted traffic until the drift alarm fires; retraining starts by itself and
ends in a new shadow or a recorded rejection; one summary table and the dashboard's HTML.

A second run needs no clean-up: the deploy is idempotent and every run's data has its own ids.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudops import deploy, generator, ingest, localstack, views
from fraudops.clients import client, poll
from fraudops.console import console, quiet_output
from fraudops.paths import Layout
from fraudops.scoring import decisions_by_id
from infra import constants as c

CONTRACT = "transactions"


class Demo:
    def __init__(self, layout: Layout, rate: int, stream_n: int) -> None:
        self.layout, self.rate, self.stream_n = layout, rate, stream_n
        self.tag = uuid.uuid4().hex[:6]
        self.seed = int(self.tag, 16) % 9_000
        self.started = time.monotonic()
        self.outputs: dict[str, str] = {}
        self.summary: dict[str, Any] = {}
        self.alarms_fired: set[str] = set()
        self.step_no = 0
        self.before_retraining: set[str] = set()

    def step(self, title: str) -> None:
        self.step_no += 1
        console.rule(f"[bold]{self.step_no}. {title}[/]  [dim]{self.elapsed()}[/]", align="left")

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.0f} s"

    def aws(self, service: str) -> Any:
        return client(self.layout, service)

    # --- platform -----------------------------------------------------------------------------

    def platform(self) -> None:
        self.step("LocalStack on the host, the stack deployed")
        st = localstack.status(self.layout)
        if not st.running:
            st = localstack.start(self.layout)
        console.print(f"LocalStack {st.endpoint} (pid {st.pid})")
        log = self.layout.state_dir / "demo-deploy.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"deploying (CDK's output: {log}) ...")
        try:
            with quiet_output(log):
                self.outputs = dict(deploy.deploy(self.layout)["outputs"])
        except Exception:  # a Ctrl-C (KeyboardInterrupt) is not a failure: no log dump
            console.print(log.read_text(errors="replace")[-3000:])
            raise
        console.print(f"stack {deploy.stack_name()} deployed [dim]{self.elapsed()}[/]")

    # --- DataOps ------------------------------------------------------------------------------

    def history(self) -> None:
        self.step("History through S3, validated against the data contract")
        end = datetime.now(UTC).replace(microsecond=0)
        history = generator.generate_transactions(
            60_000,
            seed=self.seed,
            start=end - timedelta(days=45),
            days=45,
            fraud_rate=0.005,
            label_delay=timedelta(days=3),
            as_of=end,
        )
        bad, expected = generator.inject_bad_rows(
            generator.generate_transactions(
                1_000, seed=self.seed + 1, start=end - timedelta(days=2), days=2
            ),
            per_kind=2,
            seed=1,
        )
        with tempfile.TemporaryDirectory() as tmp:
            for table, name, fmt in ((history, "history", "parquet"), (bad, "batch", "csv")):
                path = generator.write_table(table, Path(tmp) / f"{name}-{self.tag}.{fmt}", fmt)
                result = ingest.ingest_file(self.layout, path, CONTRACT, timeout=600)
                counts = result["manifest"]["counts"]
                console.print(
                    f"{path.name}: {counts['rows_in']:,} in, {counts['valid']:,} "
                    f"curated, {counts['rejected']:,} quarantined"
                )
                rules = result["manifest"].get("rule_counts") or {}
                if rules:
                    table_ = Table("rule", "rows quarantined", title="data-quality report")
                    for rule, n in sorted(rules.items(), key=lambda kv: -kv[1]):
                        table_.add_row(rule, str(n))
                    console.print(table_)
                    self.summary["rules"] = rules
        console.print(f"({sum(expected.values())} defective rows were injected on purpose)")

    # --- MLOps --------------------------------------------------------------------------------

    def train(self) -> None:
        from fraudops import snapshot, training

        self.step("Snapshot and training until a champion is promoted")
        snap = snapshot.create(self.layout, CONTRACT)
        console.print(snapshot.summary_line(snap))
        arn = training.start(self.layout, CONTRACT, snapshot_id=snap["snapshot_id"])
        with console.status("training (Step Functions) ..."):
            done = training.follow(self.layout, arn)
        res = training.result(self.layout, done)
        console.print(training.summary_line(res))
        self.summary["auprc"] = (res.get("metrics") or {}).get("auprc")
        champion = next(
            (m for m in training.list_models(self.layout, CONTRACT) if m["status"] == "champion"),
            None,
        )
        if champion is None:
            raise RuntimeError("training promoted no champion: see `fraudops models list`")
        self.summary["champion"] = champion["model_id"]
        self.summary["auprc"] = (champion.get("metrics") or {}).get("auprc")

    # --- scoring ------------------------------------------------------------------------------

    def stream(self, rows: list[dict[str, Any]], what: str) -> dict[str, dict[str, Any]]:
        kinesis, ddb = self.aws("kinesis"), self.aws("dynamodb")
        table = self.outputs[c.OUT_DECISIONS_TABLE]
        ids = [r["transaction_id"] for r in rows]
        decided: dict[str, dict[str, Any]] = {}
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            sent_task = bar.add_task(f"{what}: sent", total=len(rows))
            done_task = bar.add_task(f"{what}: decided", total=len(rows))
            start, chunk = time.monotonic(), max(1, self.rate // 4)
            for i in range(0, len(rows), chunk):
                part = rows[i : i + chunk]
                kinesis.put_records(
                    StreamName=self.outputs["TransactionStreamName"],
                    Records=[
                        {"Data": json.dumps(r).encode(), "PartitionKey": r["card_id"]} for r in part
                    ],
                )
                bar.update(sent_task, completed=i + len(part))
                ahead = start + (i + len(part)) / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)  # the chosen rate
            deadline = time.monotonic() + 600
            while len(decided) < len(ids) and time.monotonic() < deadline:
                missing = [t for t in ids if t not in decided]
                decided.update(decisions_by_id(ddb, table, missing))
                bar.update(done_task, completed=len(decided))
                if len(decided) < len(ids):
                    time.sleep(1)
        if len(decided) < len(ids):
            raise RuntimeError(f"{len(ids) - len(decided)} transactions not decided in 600 s")
        return decided

    def score(self) -> list[dict[str, Any]]:
        from fraudops import monitor, scoring

        self.step(f"Scoring: {self.stream_n:,} transactions through Kinesis at {self.rate}/s")
        # from here on an alarm (drift, precision) may start a retraining by itself: even
        # ordinary traffic can drift from the training data, as the scorer's per-card state
        # starts empty (history landed through S3 does not backfill it)
        monitor.set_paused(self.layout, False)
        self.before_retraining = {e["executionArn"] for e in self._retrain_runs()}
        end = datetime.now(UTC).replace(microsecond=0)
        table = generator.generate_transactions(
            self.stream_n,
            seed=self.seed + 2,
            start=end - timedelta(days=1),
            days=1,
            fraud_rate=0.02,
            n_cards=max(self.stream_n // 8, 1),
            as_of=end + timedelta(days=365),  # every truth known: the labels delivered later
        )
        rows = _as_sent(table, f"demo-{self.tag}")
        decided = self.stream([r for r, _ in rows], "stream")
        self.summary["decisions"] = decided
        latencies = [float(d["latency_ms"]) for d in decided.values()]
        self.summary["latency"] = (statistics.median(latencies), _pct(latencies, 99))
        one = {**rows[0][0], "transaction_id": f"api-{self.tag}"}
        answer = scoring.call_api(self.layout, json.dumps(one).encode())
        if answer.status == 200:
            console.print(f"signed API: {scoring.decision_line(answer.body['decision'])}")
        else:
            console.print(f"signed API: HTTP {answer.status} {answer.body}")
        return [{**r, "is_fraud": truth} for r, truth in rows]

    # --- monitoring ---------------------------------------------------------------------------

    def labels(self, truth: list[dict[str, Any]]) -> None:
        from fraudops import monitor

        self.step("Labels arrive: chargebacks and analysts' verdicts, joined exactly once")
        now = datetime.now(UTC).replace(microsecond=0)
        events = [
            {
                "label_id": f"lbl-{r['transaction_id']}",
                "transaction_id": r["transaction_id"],
                "event_time": r["event_time"],
                "is_fraud": bool(r["is_fraud"]),
                "label_time": now.isoformat(),
                "source": "chargeback" if r["is_fraud"] else "analyst",
            }
            for r in truth
        ]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"labels-{self.tag}.jsonl"
            path.write_text("".join(json.dumps(e) + "\n" for e in events))
            result = monitor.labels(self.layout, str(path), timeout=300)
        console.print(views.quality(result["quality"]))
        daily = [
            w
            for w in result["quality"]["windows"]
            if (w["window"], w["role"]) == ("daily", "champion")
        ]
        if daily:
            self.summary["live"] = (daily[0]["precision"], daily[0]["recall"])

    def drift(self) -> None:
        from fraudops import monitor

        self.step("Drift: the same cards, spending differently (`fraudops generate --drift 1`)")
        end = datetime.now(UTC).replace(microsecond=0)
        table = generator.generate_transactions(
            1_200,
            seed=self.seed + 3,
            start=end - timedelta(days=1),
            days=1,
            drift=1.0,
            n_cards=300,
        )
        self.guard_free()
        # the retraining to follow is the one this drift starts: any earlier one has ended
        self.before_retraining = {e["executionArn"] for e in self._retrain_runs()}
        self.rearm(c.ALARM_DRIFT)
        self.stream([r for r, _ in _as_sent(table, f"drift-{self.tag}")], "drifted")
        with console.status("the drift watch runs every minute; waiting for the drift alarm ..."):
            alarm = poll(
                lambda: self._alarm(c.ALARM_DRIFT) == "ALARM",
                timeout=420,
                interval=5,
                what="the drift alarm",
            )
        report = monitor.drift(self.layout)
        self.summary["score_psi"] = report.get("score_psi")
        console.print("\n".join(monitor.drift_lines(report)))
        console.print(f"drift alarm: {'ALARM' if alarm else '?'} [dim]{self.elapsed()}[/]")
        self.retrain(self.before_retraining)

    def guard_free(self) -> None:
        """Wait (bounded) until the retraining guard would take a start, asked with the guard's
        own rule (running, cooldown, daily cap, paused). A retraining an earlier run's traffic
        started (or this run's own, before its drift) would otherwise refuse the one this run's
        drift asks for, and the demo would show a refusal instead of a retraining."""
        from fraudops import monitor
        from fraudops.errors import UserError

        def blocked() -> str | None:
            return monitor.guard_state(self.layout).blocked(
                time.time(), c.RETRAIN_COOLDOWN_LOCAL_SECONDS, c.RETRAIN_DAILY_CAP_LOCAL
            )

        if blocked() is None:
            return
        with console.status("a retraining ran moments ago: waiting for the guard's cooldown ..."):
            try:
                poll(lambda: blocked() is None, timeout=GUARD_FREE_S, interval=3,
                     what="the retraining guard free")  # fmt: skip
            except TimeoutError:
                raise UserError(
                    f"this run's drift could not start a retraining within {GUARD_FREE_S} s: "
                    f"the guard says {blocked()} (see `fraudops retrain status`)"
                ) from None
        console.print(f"the retraining guard is free again [dim]{self.elapsed()}[/]")

    def rearm(self, key: str) -> None:
        """An alarm still in ALARM from an earlier run (its window still holds that run's
        drift) would not notify again: alarms act on a change of state. Set it to OK so that
        this run's drift is what fires it, as an operator re-arms an alarm."""
        if self._alarm(key) != "ALARM":
            return
        self.aws("cloudwatch").set_alarm_state(
            AlarmName=f"{c.STACK_NAME}-{key}",
            StateValue="OK",
            StateReason="fraudops demo: re-armed, so that this run's traffic is what fires it",
        )
        self.alarms_fired.discard(key)
        console.print(f"the {key} alarm was still in ALARM from an earlier run: re-armed (OK)")

    def retrain(self, before: set[str]) -> None:
        from fraudops import monitor, training
        from fraudops.errors import UserError

        self.step("Retraining started by itself (loop-guarded), its result goes to shadow")
        with console.status("waiting for the alarm's retraining ..."):
            try:
                new = poll(
                    lambda: [e for e in self._retrain_runs() if e["executionArn"] not in before],
                    timeout=RETRAIN_START_S,
                    interval=2,
                    what="the retraining execution",
                )
            except TimeoutError:
                guard = monitor.retraining_lines(monitor.retraining(self.layout))[0]
                raise UserError(
                    f"the drift alarm fired but no retraining started within "
                    f"{RETRAIN_START_S} s ({guard}): see `fraudops monitor` and the "
                    "retrain_on_alarm function's log"
                ) from None
        run = new[-1]  # the first one since scoring began (the list is newest first)
        request = json.loads(
            self.aws("stepfunctions").describe_execution(executionArn=run["executionArn"])["input"]
        )
        trigger = request.get("trigger") or {}
        guard = monitor.retraining_lines(monitor.retraining(self.layout))[0]
        alarm, at = trigger.get("alarm", "?"), trigger.get("at", "?")
        console.print(f"{run['name']} started by the {alarm} alarm at {at}; {guard}")
        with console.status("retraining (Step Functions) ..."):
            done = training.follow(self.layout, run["executionArn"])
        res = training.result(self.layout, done)
        console.print(training.summary_line(res))
        status = res.get("status") or res.get("execution_status")
        self.summary["retraining"] = f"{res.get('model_id') or run['name']}: {status}"

    def _retrain_runs(self) -> list[dict[str, Any]]:
        found = self.aws("stepfunctions").list_executions(
            stateMachineArn=self.outputs["TrainingStateMachineArn"], maxResults=100
        )["executions"]
        return [e for e in found if e["name"].startswith("retrain-")]

    def _alarm(self, key: str) -> str:
        name = f"{c.STACK_NAME}-{key}"
        (alarm,) = self.aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if alarm["StateValue"] == "ALARM":
            self.alarms_fired.add(key)
        return str(alarm["StateValue"])

    # --- the end ------------------------------------------------------------------------------

    def report(self) -> Path:
        from fraudops import dashboard, monitor

        self.step("Summary")
        out = Path.cwd() / "demo-report" / f"dashboard-{self.tag}.html"
        rendered = dashboard.render(self.layout, out, timedelta(hours=1))
        for a in monitor.alarms(self.layout):
            if a["state"] == "ALARM":
                self.alarms_fired.add(a["alarm"])
        accounts = deploy.ingestion_accounts(self.layout, self.outputs["StateTableName"])
        t = Table("figure", "value", title="fraudops demo", show_lines=False)
        for source, counts in accounts.get(CONTRACT, {}).items():
            if isinstance(counts, dict) and "in_records" in counts:
                t.add_row(f"records in ({source})", _counts(counts))
        rules = self.summary.get("rules") or {}
        t.add_row("quarantined by rule", ", ".join(f"{k} {v}" for k, v in rules.items()) or "-")
        outcomes: dict[str, int] = {}
        for d in self.summary.get("decisions", {}).values():
            outcomes[d["outcome"]] = outcomes.get(d["outcome"], 0) + 1
        self.summary["outcomes"] = dict(sorted(outcomes.items()))
        self.summary["dashboard"] = str(rendered["path"])
        t.add_row(
            "decisions by outcome", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        )
        p50, p99 = self.summary.get("latency", (None, None))
        t.add_row("decision latency p50 / p99", f"{_f(p50)} / {_f(p99)} ms")
        t.add_row(
            "champion AUPRC (holdout)",
            f"{_f(self.summary.get('auprc'), 3)} ({self.summary.get('champion')})",
        )
        precision, recall = self.summary.get("live", (None, None))
        t.add_row("live precision / recall (daily)", f"{_f(precision, 3)} / {_f(recall, 3)}")
        t.add_row("PSI of the score (drifted window)", _f(self.summary.get("score_psi"), 3))
        t.add_row("alarms fired", ", ".join(sorted(self.alarms_fired)) or "none")
        t.add_row("retraining", self.summary.get("retraining", "-"))
        t.add_row(
            "dashboard",
            f"{rendered['path']} ({rendered['widgets_with_data']} of "
            f"{rendered['metric_widgets']} charts with data)",
        )
        t.add_row("time", self.elapsed())
        console.print(t)
        return out

    def result(self) -> dict[str, Any]:
        """The summary table as one document (`fraudops demo --json`)."""
        p50, p99 = self.summary.get("latency", (None, None))
        precision, recall = self.summary.get("live", (None, None))
        return {
            "tag": self.tag,
            "seconds": round(time.monotonic() - self.started, 1),
            "champion": self.summary.get("champion"),
            "auprc": self.summary.get("auprc"),
            "quarantined_by_rule": self.summary.get("rules") or {},
            "decisions_by_outcome": self.summary.get("outcomes") or {},
            "latency_ms": {"p50": p50, "p99": p99},
            "live": {"precision": precision, "recall": recall},
            "score_psi": self.summary.get("score_psi"),
            "alarms_fired": sorted(self.alarms_fired),
            "retraining": self.summary.get("retraining"),
            "dashboard": self.summary.get("dashboard"),
        }


RETRAIN_START_S = 180  # the alarm's SNS notification -> retrain_on_alarm -> StartExecution
GUARD_FREE_S = 420  # a retraining in progress (~2-3 min here), then the local cooldown


def _as_sent(table: Any, tag: str) -> list[tuple[dict[str, Any], bool]]:
    """Rows as a producer sends them (ISO times, no label) with their truth kept aside."""
    out = []
    for i, r in enumerate(table.to_pylist()):
        truth = bool(r.pop("is_fraud") or False)
        r.pop("label_time", None)
        row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
        out.append(
            (
                {**row, "transaction_id": f"{tag}-{i:06d}", "card_id": f"{tag}-{row['card_id']}"},
                truth,
            )
        )
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _f(value: Any, digits: int = 0) -> str:
    return "-" if value is None else f"{float(value):,.{digits}f}"


def _counts(counts: dict[str, Any]) -> str:
    keys = [k for k in counts if k not in ("in_records", "balanced") and counts[k]]
    shown = ", ".join(f"{k} {counts[k]:,}" for k in keys)
    ok = "balanced" if counts.get("balanced", True) else "NOT BALANCED"
    return f"{counts['in_records']:,} = {shown} ({ok})"


def run(layout: Layout, *, rate: int = 200, stream_n: int = 2_000) -> dict[str, Any]:
    """The whole loop, narrated on the console; returns the summary (``Demo.result``)."""
    demo = Demo(layout, rate, stream_n)
    demo.platform()
    demo.history()
    demo.train()
    truth = demo.score()
    demo.labels(truth)
    demo.drift()
    demo.report()
    console.print(
        f"LocalStack keeps running: `fraudops status`; `fraudops down` stops it. "
        f"Whole loop in {demo.elapsed().strip()}."
    )
    return demo.result()
