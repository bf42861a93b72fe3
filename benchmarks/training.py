"""Training benchmark (MLOps): the training pipeline end to end on LocalStack, and scikit-learn
against onnxruntime for scoring, in process.

Prints figures and ratios, never asserts on them:

    .venv/bin/python -m benchmarks.training [--rows 285000] [--skip-pipeline] [--repeat N]

1. Pipeline, on LocalStack: its own LocalStack on a free port (state in a temporary folder),
   the stack deployed, ``--rows`` generated ``transactions`` over the 60 days up to today's
   midnight UTC (labels arrive ~21 days late, so about two thirds are labelled; anchored at
   midnight so that the data and the metrics repeat from run to run) written as Parquet,
   ingested with ``fraudops.ingest`` (waited for until the manifest), snapshotted with
   ``fraudops.snapshot``, and trained with ``fraudops.training`` (start, follow, result) on that
   snapshot. Reported: ingest and snapshot seconds, the execution's wall time, each state's
   duration from the execution history (Prepare, Train per candidate with the fit time the
   function measured, Evaluate, Register), the REPORT line (Duration, Max Memory Used) of every
   invocation of the four training functions from CloudWatch Logs, and AUPRC, ROC-AUC and
   threshold of both candidates. Then the same for as many generated ``creditcard_benchmark``
   rows on the same stack. ``--repeat N`` runs N executions per contract on the same snapshot
   (the later ones meet the first one's champion); each is printed. LocalStack is stopped at
   the end.
2. Scoring, in process (no LocalStack; all that runs with ``--skip-pipeline``): the default
   candidates (``fraudops_shared.training.config``) fitted with ``trainers.fit`` on a dataset
   built from the same kind of generated transactions (``build_dataset``: time split, labelled
   rows only), exported with ``trainers.to_onnx`` and loaded with ``onnx_model.load`` (one
   thread, as the scorer does). Per candidate: fit seconds (median of ``--repeat``), ONNX size
   and session creation time, the largest |sklearn - onnx| probability on the holdout, and
   ``predict_proba`` against ``InferenceSession.run`` for one row (median of 2,000 calls after
   a warm-up, a different row each call) and for a 500-row batch (median of 200 calls), with
   p99 and the ratio sklearn / onnx; scikit-learn with its default threads (OpenMP, all cores)
   and limited to one. The machine's load average is printed: on a shared 2-core machine it
   moves the figures (the boosted model's OpenMP fit and single-row predictions most).

At the end the figures are printed as rows and written to ``bench-results.json`` by
``benchmarks.results`` (unless ``--no-write``): ``training.pipeline_<rows>.<contract>.<figure>``
(ingest, snapshot, execution wall time and Step Functions seconds, each task state's seconds,
the fit seconds and AUPRC and ROC-AUC per candidate, the largest Max Memory Used per function;
the median over ``--repeat`` of the executions that succeeded, and how many failed) and
``training.scoring_<rows>.<candidate>.<figure>``, where onnxruntime's times have scikit-learn's
(default threads, or ``_vs_1_thread``) as baseline, the ratio sklearn / onnx as printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results import print_rows, record, row
from benchmarks.stack import deployed_stack, parse_report
from fraudops.generator import (
    generate_creditcard_benchmark,
    generate_transactions,
    write_table,
)

ROOT = Path(__file__).resolve().parents[1]

DAYS = 60
SEED = 29
SINGLE_CALLS = 2_000
BATCH_CALLS = 200
BATCH_ROWS = 500
# The training state machine's task states and what the figures call them.
STATES = ("Prepare", "Train", "Evaluate", "Register")


def _load(when: str) -> str:
    """The machine's load: other processes on the same cores move every figure here."""
    one, five, _ = os.getloadavg()
    return (
        f"load average at the {when}: {one:.1f} (1 min), {five:.1f} (5 min), {os.cpu_count()} cores"
    )


def _transactions(rows: int, seed: int = SEED) -> Any:
    """``rows`` transactions over DAYS days ending at today's midnight (UTC), labels known as
    of then. Anchored at midnight so the hour-of-day feature, and with it every figure, is the
    same from one run to the next."""
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return generate_transactions(
        rows, seed=seed, start=end - timedelta(days=DAYS), days=DAYS, as_of=end
    )


# ----------------------------------------------------------------------------- pipeline


def log_messages(logs: Any, function: str, start_ms: int, end_ms: int) -> list[str]:
    """Every log message of ``function`` between the two times (epoch milliseconds)."""
    kwargs: dict[str, Any] = {
        "logGroupName": f"/aws/lambda/{function}",
        "startTime": start_ms,
        "endTime": end_ms,
    }
    messages: list[str] = []
    try:
        while True:
            page = logs.filter_log_events(**kwargs)
            messages += [e["message"].strip() for e in page["events"]]
            if not page.get("nextToken") or not page["events"]:
                return messages
            kwargs["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return []


def reports_of(messages: list[str]) -> list[tuple[str, dict[str, float], str]]:
    """(request id, REPORT fields, what the invocation did) per REPORT line; the candidate a
    training invocation fitted comes from its "candidate trained" log line."""
    did: dict[str, str] = {}
    for message in messages:
        if not message.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            doc = json.loads(message)
            if isinstance(doc, dict) and doc.get("candidate") and doc.get("function_request_id"):
                did[str(doc["function_request_id"])] = str(doc["candidate"])
    out = []
    for message in messages:
        if m := re.match(r"REPORT RequestId: (\S+)", message):
            out.append((m.group(1), parse_report(message), did.get(m.group(1), "")))
    return out


def training_functions(sfn: Any, arn: str) -> dict[str, str]:
    """State name -> function name, read from the deployed state machine's definition."""
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    found: dict[str, str] = {}

    def walk(states: Mapping[str, Any]) -> None:
        for name, state in states.items():
            fn = (state.get("Parameters") or {}).get("FunctionName")
            if isinstance(fn, str):
                found[name] = fn.split(":function:")[-1].split(":")[0]
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"].get("States") or {})
            for branch in state.get("Branches") or []:
                walk(branch.get("States") or {})

    walk(definition["States"])
    return found


def state_durations(events: list[dict[str, Any]]) -> list[tuple[str, float, str, float | None]]:
    """(state, seconds, candidate and its fit seconds for a Train iteration) per state left, in
    the order left.

    An exit is paired with its entry by following ``previousEventId`` back; when the chain does
    not lead there, with the oldest unpaired entry of that name."""
    by_id = {e["id"]: e for e in events}
    open_: dict[str, list[dict[str, Any]]] = {}
    paired: set[int] = set()
    out = []
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            open_.setdefault(event["stateEnteredEventDetails"]["name"], []).append(event)
            continue
        if not kind.endswith("StateExited"):
            continue
        details = event["stateExitedEventDetails"]
        name = details["name"]
        entered, cur = None, event
        while (prev := cur.get("previousEventId")) in by_id:
            cur = by_id[prev]
            if (
                cur["type"].endswith("StateEntered")
                and cur["stateEnteredEventDetails"]["name"] == name
                and cur["id"] not in paired
            ):
                entered = cur
                break
        if entered is None:
            entered = next((e for e in open_.get(name, []) if e["id"] not in paired), None)
        if entered is None:
            continue
        paired.add(entered["id"])
        seconds = (event["timestamp"] - entered["timestamp"]).total_seconds()
        candidate, fit = "", None
        if name == "Train":
            with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
                trained = json.loads(details.get("output") or "{}")
                candidate = str(trained.get("name") or "")
                fit = float(trained["fit_seconds"])
        out.append((name, seconds, candidate, fit))
    return out


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page.get("events", [])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def task_errors(events: list[dict[str, Any]]) -> list[str]:
    """The errors of the task attempts that failed (retried or caught), from the history."""
    return [
        f"{d.get('error')}: {str(d.get('cause'))[:300]}"
        for e in events
        if e["type"] == "TaskFailed" and (d := e.get("taskFailedEventDetails") or {})
    ]


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def train_once(
    layout: Any, contract: str, snapshot_id: str, functions: dict[str, str], seen: set[str]
) -> Any:
    """One execution on ``snapshot_id``: started, followed, summarized and printed. ``seen``:
    request ids of the REPORT lines earlier executions took (updated)."""
    from fraudops import training
    from fraudops.clients import client

    sfn, logs = client(layout, "stepfunctions"), client(layout, "logs")
    t = time.perf_counter()
    arn = training.start(layout, contract, snapshot_id=snapshot_id)
    desc = training.follow(layout, arn, timeout=1800)
    res = training.result(layout, desc)
    wall = time.perf_counter() - t
    print(
        f"  execution {res['execution_status']}: wall time (start to result) {wall:6.1f} s, "
        f"Step Functions {res['seconds']:.1f} s"
    )
    out: dict[str, Any] = {"wall_s": wall, "sfn_s": res["seconds"], "status": desc["status"]}
    events = _history(sfn, arn)
    durations = state_durations(events)
    for name, seconds, candidate, fit in durations:
        if name in STATES or name == "RecordFailure":
            label = f"{name} ({candidate})" if candidate else name
            print(
                f"    state {label:<26}{seconds:8.1f} s"
                + (f"   (fit {fit:.1f} s, as the function measured it)" if fit else "")
            )
    out["states"] = [list(d) for d in durations]
    out["task_errors"] = errors = task_errors(events)
    if errors:
        print(f"    {len(errors)} task attempt(s) failed (retried or caught):")
        for error in errors:
            print(f"      {error}")
    if desc["status"] != "SUCCEEDED":
        failed = [
            {k: v for k, v in e.items() if k.endswith("EventDetails")}
            for e in events
            if e["type"].endswith("Failed")
        ]
        print(f"  FAILED: {res.get('error')}: {res.get('reason')}")
        for f in failed:
            print(f"    {json.dumps(f, default=str)[:1500]}")
        out["failure"] = {"error": res.get("error"), "reason": res.get("reason")}
        return out

    # REPORT lines of this execution only: its time window, less the invocations an earlier
    # execution already took (LocalStack's history names no request id); each function has its
    # own log group.
    start_ms = _epoch_ms(desc["startDate"]) - 1000
    end_ms = _epoch_ms(desc.get("stopDate") or datetime.now(UTC)) + 5000
    expected = {"Prepare": 1, "Train": len(res.get("candidates") or {}) or 1, "Evaluate": 1}
    expected["Register"] = 1
    reports: dict[str, list[tuple[str, dict[str, float], str]]] = {}
    deadline = time.monotonic() + 60
    while True:
        for state in STATES:
            if state in functions:
                found = reports_of(log_messages(logs, functions[state], start_ms, end_ms))
                found = [x for x in found if x[0] not in seen]
                # a Train invocation's "candidate" is what it fitted; Register logs the chosen one
                reports[state] = found if state == "Train" else [(r, f, "") for r, f, _ in found]
        short = [s for s in STATES if len(reports.get(s, [])) < expected[s]]
        if not short or time.monotonic() > deadline:
            break
        time.sleep(1)
    out["reports"] = {}
    for state in STATES:
        for _, rep, did in reports.get(state, []):
            label = f"{state} ({did})" if did else state
            print(
                f"    REPORT {label:<25}Duration {rep.get('duration_ms', 0) / 1000:6.1f} s, "
                f"Max Memory Used {rep.get('max_memory_mb', 0):5.0f} MB of "
                f"{rep.get('memory_size_mb', 0):.0f} MB"
                + (f", Init {rep['init_ms']:.0f} ms" if "init_ms" in rep else "")
            )
            out["reports"].setdefault(state, []).append({"did": did, **rep})
        if len(reports.get(state, [])) < expected[state]:
            print(f"    REPORT {state}: {len(reports.get(state, []))} within 60 s")
    seen.update(r for found in reports.values() for r, _, _ in found)

    dataset = res.get("dataset") or {}
    if dataset:
        print(
            f"  dataset: {dataset.get('labelled', 0):,} labelled of {dataset.get('rows', 0):,} "
            f"rows, {dataset.get('positives', 0):,} positives; train "
            f"{dataset.get('train_rows', 0):,} ({dataset.get('train_positives', 0)} pos.), "
            f"holdout {dataset.get('holdout_rows', 0):,} ({dataset.get('holdout_positives', 0)} "
            f"pos.)"
        )
    for name, m in (res.get("candidates") or {}).items():
        nan = float("nan")
        print(
            f"  candidate {name:<7} AUPRC {m.get('auprc', nan):.4f}  ROC-AUC "
            f"{m.get('roc_auc', nan):.4f}  threshold {m.get('threshold', nan):.4f}"
            + ("   (chosen)" if name == res.get("candidate") else "")
        )
    print(f"  {training.summary_line(res)}")
    out.update(
        candidates=res.get("candidates"),
        chosen=res.get("candidate"),
        model_id=res.get("model_id"),
        registry_status=res.get("status"),
    )
    return out


def bench_contract(
    layout: Any,
    outputs: Mapping[str, str],
    contract: str,
    table: Any,
    repeat: int,
    state: Path,
    seen: set[str],
) -> dict[str, Any]:
    from fraudops import ingest, snapshot
    from fraudops.clients import client

    rows = table.num_rows
    path = write_table(table, state / f"bench-{contract}-{uuid.uuid4().hex[:8]}.parquet")
    size = path.stat().st_size
    print(f"{contract}: {rows:,} generated rows, Parquet {size / 1e6:.1f} MB")
    t = time.perf_counter()
    result = ingest.ingest_file(
        layout, path, contract, timeout=900, bucket=outputs["DataBucketName"]
    )
    ingest_s = time.perf_counter() - t
    counts = result["manifest"].get("counts", {})
    print(
        f"  ingest (hash + upload + manifest)      {ingest_s:8.1f} s   {rows / ingest_s:,.0f} "
        f"rows/s; {result['manifest']['status']}, valid {counts.get('valid')}, rejected "
        f"{counts.get('rejected')}"
    )
    t = time.perf_counter()
    snap = snapshot.create(layout, contract)
    snapshot_s = time.perf_counter() - t
    print(
        f"  snapshot                               {snapshot_s:8.1f} s   {snap['row_count']:,} "
        f"rows in {snap['file_count']} files"
    )
    sfn = client(layout, "stepfunctions")
    functions = training_functions(sfn, outputs["TrainingStateMachineArn"])
    runs = []
    for i in range(repeat):
        if repeat > 1:
            print(f"  run {i + 1} of {repeat}")
        runs.append(train_once(layout, contract, snap["snapshot_id"], functions, seen))
    if repeat > 1:
        walls = [r["wall_s"] for r in runs]
        print(f"  execution wall time median of {repeat}: {statistics.median(walls):.1f} s")
    return {
        "rows": rows,
        "parquet_mb": size / 1e6,
        "ingest_s": ingest_s,
        "snapshot_s": snapshot_s,
        "runs": runs,
    }


def bench_pipeline(rows: int, repeat: int) -> dict[str, Any]:
    from fraudops import localstack

    results: dict[str, Any] = {}
    print("Training pipeline end to end on LocalStack")
    with deployed_stack("fraudops-bench-training-") as env:
        layout, outputs, state = env.layout, env.outputs, env.state

        t = time.perf_counter()
        table = _transactions(rows)
        print(f"  generated transactions                 {time.perf_counter() - t:8.1f} s")
        seen: set[str] = set()  # request ids of the REPORT lines already shown
        results["transactions"] = bench_contract(
            layout, outputs, "transactions", table, repeat, state, seen
        )
        del table
        t = time.perf_counter()
        table = generate_creditcard_benchmark(rows, seed=SEED)
        print(f"  generated creditcard_benchmark         {time.perf_counter() - t:8.1f} s")
        results["creditcard_benchmark"] = bench_contract(
            layout, outputs, "creditcard_benchmark", table, repeat, state, seen
        )
        del table
        if (busy := localstack.status(layout).rss_mb) is not None:
            idle = env.idle_rss_mb
            print(f"  LocalStack RSS at the end              {busy:8.0f} MB (idle {idle:.0f})")
    return results


# ----------------------------------------------------------------------------- scoring


def _timed_us(fn: Callable[[int], Any], calls: int, warmup: int) -> tuple[float, float]:
    """(median, p99) microseconds per call of ``fn(i)`` over ``calls`` calls after ``warmup``."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(calls):
        start = time.perf_counter_ns()
        fn(i)
        times.append(time.perf_counter_ns() - start)
    times.sort()
    return statistics.median(times) / 1000, times[min(calls - 1, round(0.99 * calls))] / 1000


def bench_scoring(rows: int, repeat: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from fraudops_shared.features.transforms import feature_set
    from fraudops_shared.training import onnx_model, trainers
    from fraudops_shared.training.config import TrainingConfig
    from fraudops_shared.training.dataset import build_dataset, columns_of

    config = TrainingConfig()
    features = feature_set("transactions")
    t = time.perf_counter()
    table = _transactions(rows)
    wanted = list(dict.fromkeys([*features.input_columns, features.label, features.event_time]))
    dataset = build_dataset(columns_of(table, wanted), features, config)
    del table
    build_s = time.perf_counter() - t
    x_train, x_hold = dataset.x_train, dataset.x_holdout
    print(
        f"Scoring in process: {rows:,} generated transactions -> {len(dataset.y_train):,} "
        f"training and {len(dataset.y_holdout):,} holdout rows x {x_train.shape[1]} features "
        f"({int(dataset.y_train.sum())} / {int(dataset.y_holdout.sum())} positives) in "
        f"{build_s:.1f} s; onnxruntime 1 thread, scikit-learn default threads ({os.cpu_count()} "
        f"cores)"
    )
    batches = [
        np.ascontiguousarray(x_hold[i : i + BATCH_ROWS])
        for i in range(0, len(x_hold) - BATCH_ROWS + 1, BATCH_ROWS)
    ]
    singles = [np.ascontiguousarray(x_hold[i : i + 1]) for i in range(min(len(x_hold), 5000))]
    results: dict[str, Any] = {"rows": rows, "build_s": build_s}
    for name, spec in config.candidates.items():
        fits = [
            trainers.fit(name, spec["kind"], spec["params"], config.seed, x_train, dataset.y_train)
            for _ in range(repeat)
        ]
        trained = fits[-1]
        fit_s = statistics.median(f.fit_seconds for f in fits)
        model = trained.model
        t = time.perf_counter()
        data = trainers.to_onnx(model, x_train.shape[1], {"fraudops.candidate": name})
        export_s = time.perf_counter() - t
        digest = trainers.sha256(data)
        loads = []
        for _ in range(5):
            t = time.perf_counter()
            session = onnx_model.load(data, digest)
            loads.append(time.perf_counter() - t)
        load_ms = statistics.median(loads) * 1000
        reference = trainers.fraud_probability(model, x_hold)
        served = onnx_model.fraud_probability(session, x_hold)
        gap = float(np.max(np.abs(reference - served)))

        def sk_one(i: int, model: Any = model) -> Any:
            return model.predict_proba(singles[i % len(singles)])

        def ort_one(i: int, session: Any = session) -> Any:
            return session.run(
                [onnx_model.PROBABILITIES], {onnx_model.INPUT_NAME: singles[i % len(singles)]}
            )

        def sk_batch(i: int, model: Any = model) -> Any:
            return model.predict_proba(batches[i % len(batches)])

        def ort_batch(i: int, session: Any = session) -> Any:
            return session.run(
                [onnx_model.PROBABILITIES], {onnx_model.INPUT_NAME: batches[i % len(batches)]}
            )

        timings = {
            "sklearn": (_timed_us(sk_one, SINGLE_CALLS, 50), _timed_us(sk_batch, BATCH_CALLS, 10)),
            "onnx": (_timed_us(ort_one, SINGLE_CALLS, 50), _timed_us(ort_batch, BATCH_CALLS, 10)),
        }
        with threadpool_limits(1):  # scikit-learn on one thread, as the ONNX session runs
            timings["sklearn_1_thread"] = (
                _timed_us(sk_one, SINGLE_CALLS, 50),
                _timed_us(sk_batch, BATCH_CALLS, 10),
            )
        iters = f", {trained.iterations} iterations" if trained.iterations else ""
        print(
            f"  {name} ({spec['kind']}): fit {fit_s:.1f} s{iters} "
            f"(median of {repeat}), ONNX export {export_s:.2f} s, {len(data):,} bytes, "
            f"session creation {load_ms:.1f} ms (median of 5, hash check included); "
            f"max |sklearn - onnx| on the holdout {gap:.1e}"
        )
        print(
            f"    {'':<34}{f'1 row, {SINGLE_CALLS:,} calls (us)':>24}"
            f"{f'{BATCH_ROWS} rows, {BATCH_CALLS} calls (ms)':>26}"
        )
        print(f"    {'':<34}{'median':>12}{'p99':>12}{'median':>13}{'p99':>13}")
        labels = {
            "sklearn": "sklearn predict_proba",
            "sklearn_1_thread": "sklearn predict_proba, 1 thread",
            "onnx": "onnxruntime run (1 thread)",
        }
        for key in ("sklearn", "sklearn_1_thread", "onnx"):
            (s_med, s_p99), (b_med, b_p99) = timings[key]
            print(
                f"    {labels[key]:<34}{s_med:>12.1f}{s_p99:>12.1f}"
                f"{b_med / 1000:>13.2f}{b_p99 / 1000:>13.2f}"
            )
        (ort_s, _), (ort_b, _) = timings["onnx"]
        for key in ("sklearn", "sklearn_1_thread"):
            (s_med, _), (b_med, _) = timings[key]
            print(
                f"    {'ratio ' + key.replace('_', ' ') + ' / onnx':<34}{s_med / ort_s:>11.1f}x"
                f"{'':>12}{b_med / ort_b:>12.1f}x"
            )
        results[name] = {
            "kind": spec["kind"],
            "fit_s": fit_s,
            "iterations": trained.iterations,
            "export_s": export_s,
            "onnx_bytes": len(data),
            "session_ms": load_ms,
            "max_abs_diff": gap,
            "single_us": {k: {"median": v[0][0], "p99": v[0][1]} for k, v in timings.items()},
            "batch_ms": {
                k: {"median": v[1][0] / 1000, "p99": v[1][1] / 1000} for k, v in timings.items()
            },
            "ratio_single": timings["sklearn"][0][0] / ort_s,
            "ratio_batch": timings["sklearn"][1][0] / ort_b,
        }
    return results


# ----------------------------------------------------------------------------- rows


def _size(rows: int) -> str:
    """``285k`` for 285,000 rows (thousands, as other benchmarks name sizes); below 1,000 as is."""
    return f"{rows // 1000}k" if rows >= 1000 else str(rows)


def pipeline_rows(pipeline: Mapping[str, Any], rows: int) -> list[dict[str, Any]]:
    """The rows of ``bench-results.json`` from ``bench_pipeline``'s results: per contract,
    ingest and snapshot seconds, then the median over the executions that succeeded of the wall
    time, Step Functions' seconds, each task state's seconds (Train per candidate), the fit
    seconds the function measured, AUPRC and ROC-AUC per candidate and the largest Max Memory
    Used per function (Train per candidate); and how many executions failed."""
    out = []
    for contract, found in pipeline.items():
        prefix = f"training.pipeline_{_size(rows)}.{contract}"
        runs = found.get("runs") or []
        ok = [r for r in runs if r.get("status") == "SUCCEEDED"]
        out += [
            row(f"{prefix}.ingest", found["ingest_s"], "s"),
            row(f"{prefix}.snapshot", found["snapshot_s"], "s"),
            row(f"{prefix}.failed_executions", len(runs) - len(ok), "executions"),
        ]
        if ok:
            wall = statistics.median(r["wall_s"] for r in ok)
            sfn = statistics.median(r["sfn_s"] for r in ok)
            out.append(row(f"{prefix}.execution_wall", wall, "s"))
            out.append(row(f"{prefix}.execution_sfn", sfn, "s"))
        states: dict[str, list[float]] = {}
        fits: dict[str, list[float]] = {}
        memory: dict[str, list[float]] = {}
        auprc: dict[str, list[float]] = {}
        roc_auc: dict[str, list[float]] = {}
        for run in ok:
            for name, seconds, candidate, fit in run.get("states") or []:
                if name not in STATES:
                    continue
                label = f"{name}.{candidate}" if candidate else name
                states.setdefault(label.lower(), []).append(seconds)
                if candidate and fit is not None:
                    fits.setdefault(candidate, []).append(fit)
            for state, reports in (run.get("reports") or {}).items():
                for report in reports:
                    if "max_memory_mb" in report:
                        label = f"{state}.{report['did']}" if report.get("did") else state
                        memory.setdefault(label.lower(), []).append(report["max_memory_mb"])
            for candidate, metrics in (run.get("candidates") or {}).items():
                if metrics.get("auprc") is not None:
                    auprc.setdefault(candidate, []).append(metrics["auprc"])
                if metrics.get("roc_auc") is not None:
                    roc_auc.setdefault(candidate, []).append(metrics["roc_auc"])
        for label, values in states.items():
            out.append(row(f"{prefix}.state.{label}", statistics.median(values), "s"))
        for candidate, values in fits.items():
            out.append(row(f"{prefix}.fit.{candidate}", statistics.median(values), "s"))
        for label, values in memory.items():
            out.append(row(f"{prefix}.max_memory.{label}", max(values), "MB"))
        for candidate, values in auprc.items():
            median = statistics.median(values)
            out.append(row(f"{prefix}.auprc.{candidate}", median, "auprc", higher_is_better=True))
        for candidate, values in roc_auc.items():
            median = statistics.median(values)
            out.append(
                row(f"{prefix}.roc_auc.{candidate}", median, "roc_auc", higher_is_better=True)
            )
    return out


def scoring_rows(scoring: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``bench-results.json`` from ``bench_scoring``'s results: the dataset's build
    seconds, and per candidate its fit, export and session creation times, ONNX size, the
    largest |sklearn - onnx|, and onnxruntime's median and p99 for one row and a batch with
    scikit-learn's (default threads; medians also against one thread) as baseline."""
    prefix = f"training.scoring_{_size(scoring['rows'])}"
    out = [row(f"{prefix}.dataset_build", scoring["build_s"], "s")]
    for name, c in scoring.items():
        if not isinstance(c, Mapping):
            continue
        one, batch = c["single_us"], c["batch_ms"]
        onnx_1, sk_1, sk1_1 = one["onnx"], one["sklearn"], one["sklearn_1_thread"]
        onnx_b, sk_b, sk1_b = batch["onnx"], batch["sklearn"], batch["sklearn_1_thread"]
        out += [
            row(f"{prefix}.{name}.fit", c["fit_s"], "s"),
            row(f"{prefix}.{name}.onnx_export", c["export_s"], "s"),
            row(f"{prefix}.{name}.onnx_size", c["onnx_bytes"], "bytes"),
            row(f"{prefix}.{name}.session_create", c["session_ms"], "ms"),
            row(f"{prefix}.{name}.max_abs_diff", c["max_abs_diff"], "abs"),
            row(f"{prefix}.{name}.single_p50", onnx_1["median"], "us", sk_1["median"]),
            row(f"{prefix}.{name}.single_p99", onnx_1["p99"], "us", sk_1["p99"]),
            row(f"{prefix}.{name}.single_p50_vs_1_thread", onnx_1["median"], "us", sk1_1["median"]),
            row(f"{prefix}.{name}.batch_{BATCH_ROWS}_p50", onnx_b["median"], "ms", sk_b["median"]),
            row(f"{prefix}.{name}.batch_{BATCH_ROWS}_p99", onnx_b["p99"], "ms", sk_b["p99"]),
            row(
                f"{prefix}.{name}.batch_{BATCH_ROWS}_p50_vs_1_thread",
                onnx_b["median"],
                "ms",
                sk1_b["median"],
            ),
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=285_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--skip-pipeline", action="store_true", help="only the in-process scoring part"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    print(_load("start"))
    if not args.skip_pipeline:
        results["pipeline"] = bench_pipeline(args.rows, args.repeat)
        print(_load("end of the pipeline part"))
    results["scoring"] = bench_scoring(args.rows, args.repeat)
    print(_load("end"))
    print(f"total {time.perf_counter() - started:.0f} s")
    print(json.dumps(results, default=float), file=sys.stderr)
    rows = pipeline_rows(results.get("pipeline") or {}, args.rows)
    rows += scoring_rows(results["scoring"])
    print("Rows for bench-results.json (ratio: baseline / value, above 1 when better)")
    print_rows(rows)
    if not args.no_write:
        record(rows)
        print(f"{len(rows)} rows written to bench-results.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
