"""Monitoring benchmark: the label join and the alarm -> retraining path.

    .venv/bin/python -m benchmarks.monitoring [--labels 100000] [--decisions 5000]
                                              [--in-process-only] [--no-write]

In process (no AWS): ``--labels`` label events (one per transaction, a tenth of them corrected
by a later event) resolved into verdicts and matched against ``--decisions`` decided
transactions by ``monitoring.labels`` (the quality watch's join), next to a plain pandas
implementation of the same rules (sort by label time, last verdict per transaction, count
corrections, merge with the decisions) in the same run: both must agree on every count.

On LocalStack (its own, on a free port, the stack deployed; skipped with ``--in-process-only``):

1. a champion registered and promoted, ``--decisions`` transactions streamed and decided;
2. a ``--labels`` label file (those decisions' transactions and unknown ones) landed with
   ``fraudops labels``' code: upload -> manifest, then the quality watch invoked, then the
   ``LabelsMatched`` datapoint visible through GetMetricData: each step's seconds and the total
   "labels file -> metrics published";
3. automatic retraining resumed, the precision alarm set to ALARM (SetAlarmState, whose SNS
   action LocalStack runs): seconds until the training execution exists (aim <= 60 s); the
   execution is stopped afterwards.

Rows go to ``bench-results.json`` unless ``--no-write``. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import results as bench_results
from fraudops_shared.monitoring.labels import match, resolve


def load() -> str:
    return f"[load {os.getloadavg()[0]:.2f}]"


def label_events(n: int, decided: int, seed: int = 5) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    txns = [f"t-{i:07d}" for i in range(n)]
    fraud = rng.random(n) < 0.05
    at = [start + timedelta(seconds=int(s)) for s in rng.integers(0, 20 * 86_400, n)]
    fixed = rng.choice(n, n // 10, replace=False)  # a tenth corrected a day later
    return {
        "label_id": [f"l-{i}" for i in range(n)] + [f"c-{i}" for i in fixed],
        "transaction_id": txns + [txns[i] for i in fixed],
        "is_fraud": [bool(f) for f in fraud] + [not bool(fraud[i]) for i in fixed],
        "label_time": at + [at[i] + timedelta(days=1) for i in fixed],
        "source": ["chargeback"] * (n + len(fixed)),
    }


def pandas_join(events: dict[str, list[Any]], decided: set[str]) -> dict[str, int]:
    frame = pd.DataFrame(events).sort_values(["transaction_id", "label_time", "label_id"])
    changed = frame["is_fraud"].ne(frame.groupby("transaction_id")["is_fraud"].shift())
    first = ~frame.duplicated("transaction_id")
    corrections = int((changed & ~first).sum())
    last = frame.drop_duplicates("transaction_id", keep="last")
    matched = int(last["transaction_id"].isin(decided).sum())
    return {"corrections": corrections, "matched": matched, "unmatched": len(last) - matched}


def in_process(n: int, decisions: int, repeat: int = 3) -> list[dict[str, Any]]:
    events = label_events(n, decisions)
    decided = {f"t-{i:07d}" for i in range(0, n, max(1, n // decisions))}
    ours, theirs = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        book = resolve([events])
        m = match(book, decided)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        expected = pandas_join(events, decided)
        theirs.append(time.perf_counter() - t)
    got = {"corrections": book.corrections, **m.as_dict()}
    print(f"  join of {len(events['label_id']):,} label events x {len(decided):,} decisions: "
          f"{np.median(ours):.3f} s (pandas {np.median(theirs):.3f} s) {load()}")  # fmt: skip
    print(f"  counts {got}; pandas {expected}; agree: {got == expected}")
    return [
        bench_results.row(
            f"label_join_{n // 1000}k_in_process",
            float(np.median(ours)),
            "s",
            float(np.median(theirs)),
        ),
    ]


def deployed(n: int, decisions: int) -> list[dict[str, Any]]:
    from benchmarks.stack import deployed_stack
    from fraudops import ingest, monitor
    from fraudops.clients import client, poll
    from infra import constants as c
    from tests.e2e.scoring_support import (
        promote,
        register,
        send_in_order,
        transactions,
        wait_decided,
    )
    from tests.unit.scoring.champions import model_bytes

    rows: list[dict[str, Any]] = []
    with deployed_stack("fraudops-bench-monitoring-") as env:
        layout, outputs = env.layout, env.outputs

        def aws(service: str) -> Any:
            return client(layout, service)

        record = register(layout, aws, outputs, model_bytes("hist_gradient_boosting"))
        promote(layout, int(record["version"]))
        tag = f"bm-{uuid.uuid4().hex[:6]}"
        sent = transactions(decisions, max(decisions // 4, 1), seed=97, tag=tag)
        t = time.perf_counter()
        send_in_order(aws, outputs, sent)
        wait_decided(aws, outputs, [r["transaction_id"] for r in sent], timeout=900)
        print(f"  {decisions} transactions decided in {time.perf_counter() - t:.1f} s {load()}")
        now = datetime.now(UTC).replace(microsecond=0)
        labels = [
            {"label_id": f"{tag}-l{i}", "transaction_id": r["transaction_id"],
             "event_time": r["event_time"], "is_fraud": i % 7 == 0,
             "label_time": now.isoformat(), "source": "chargeback"}
            for i, r in enumerate(sent)
        ]  # fmt: skip
        event_time = sent[0]["event_time"]
        labels += [
            {"label_id": f"{tag}-u{i}", "transaction_id": f"{tag}-unknown-{i}",
             "event_time": event_time, "is_fraud": False, "label_time": now.isoformat(),
             "source": "analyst"}
            for i in range(n - len(labels))
        ]  # fmt: skip
        path = env.state / "labels-bench.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in labels))
        time.sleep(65)  # let the curated decisions settle past the zone's micro-batch commit
        t0 = time.perf_counter()
        landed = ingest.ingest_file(layout, path, "labels", wait=True, timeout=900)
        t1 = time.perf_counter()
        summary = monitor.quality(layout)
        t2 = time.perf_counter()
        cw = aws("cloudwatch")

        def published() -> bool:
            data = cw.get_metric_data(
                MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
                    "Namespace": c.METRICS_NAMESPACE, "MetricName": "LabelsMatched",
                    "Dimensions": [{"Name": "service", "Value": c.FN_MONITOR_QUALITY},
                                   {"Name": "contract", "Value": c.STREAM_CONTRACT}]},
                    "Period": 60, "Stat": "Maximum"}}],
                StartTime=datetime.now(UTC) - timedelta(minutes=10),
                EndTime=datetime.now(UTC) + timedelta(minutes=1),
            )["MetricDataResults"][0]["Values"]  # fmt: skip
            return bool(data) and max(data) >= summary["labels"].get("matched", 0) > 0

        poll(published, timeout=300, interval=2, what="LabelsMatched published")
        t3 = time.perf_counter()
        counts = landed["manifest"]["counts"]
        print(f"  labels file of {n:,} rows: upload -> manifest {t1 - t0:.1f} s "
              f"({counts}); quality watch {t2 - t1:.1f} s; metric visible {t3 - t2:.1f} s; "
              f"total {t3 - t0:.1f} s {load()}")  # fmt: skip
        print(f"  join: {summary['labels']}")
        rows.append(bench_results.row(f"label_join_{n // 1000}k_to_metrics_localstack",
                                      t3 - t0, "s"))  # fmt: skip
        # alarm -> training started
        monitor.set_paused(layout, False)
        sfn = aws("stepfunctions")
        arn = outputs["TrainingStateMachineArn"]
        before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]}
        (name,) = [a["AlarmName"] for a in aws("cloudwatch").describe_alarms(
            AlarmNamePrefix=c.STACK_NAME)["MetricAlarms"]
            if a["AlarmName"].endswith(f"-{c.ALARM_PRECISION}")]  # fmt: skip
        t = time.perf_counter()
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="benchmark")

        def started() -> list[dict[str, Any]]:
            found = sfn.list_executions(stateMachineArn=arn)["executions"]
            return [e for e in found if e["executionArn"] not in before]

        new = poll(started, timeout=300, interval=0.5, what="the retraining execution")
        latency = time.perf_counter() - t
        print(f"  alarm -> training execution started {latency:.1f} s (aim <= 60 s) {load()}")
        rows.append(bench_results.row("alarm_to_training_started_localstack", latency, "s", 60.0))
        for e in new or []:
            sfn.stop_execution(executionArn=e["executionArn"], cause="benchmark over")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=5_000)
    parser.add_argument("--in-process-only", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    print(f"Monitoring: the label join and alarm -> retraining {load()}")
    rows = in_process(args.labels, args.decisions)
    if not args.in_process_only:
        rows += deployed(args.labels, args.decisions)
    for r in rows:
        print(f"  {r['name']:44} {r['value']:>10} {r['unit']:4} baseline {r['baseline']} "
              f"ratio {r['ratio']}")  # fmt: skip
    if not args.no_write:
        bench_results.record(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
