"""Ingestion benchmark (DataOps): a Kinesis batch through the stream path, and a large CSV
through the S3 path of the deployed stack. Prints figures, never asserts on them, and writes
its rows to ``bench-results.json`` (``benchmarks.results``):

    .venv/bin/python -m benchmarks.ingestion [--stream-records 10000] [--repeat 3]
                                             [--s3-rows 1000000] [--skip-s3] [--skip-stream]

1. Stream, one batch of ``--stream-records`` generated transactions (~1% bad: every rule kind,
   duplicates and malformed JSON):
   - in process, decode to committed outputs through ``ingestion.stream`` with every adapter in
     memory (the aim: <= 500 ms for 10,000);
   - the handler with AWS in moto, in a fresh process, its AWS calls counted per operation by a
     botocore hook (``benchmarks/stream_in_moto.py``), and the calls' time on AWS modelled from
     published latencies: records/s per shard (the aim: <= 20 calls, >= 1,000 records/s);
   - the same for the baseline: the commit before the hardening (``BASELINE_REF``) extracted
     from git and run the same way on the same event, so every ratio is from the same run.
2. S3, end to end on LocalStack: its own LocalStack on a free port, the stack deployed, a CSV of
   ``--s3-rows`` generated transactions (a few bad rows of each kind) uploaded with
   ``fraudops.ingest`` and waited for until its manifest, with the dedupe index on. Baseline in
   the same run: the same file's round trip through S3 alone (upload and download), the floor
   any ingest pays. The function's REPORT line (duration, peak memory) from CloudWatch Logs.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import results as bench_results
from benchmarks.results import row
from benchmarks.stack import deployed_stack, parse_report
from fraudops.generator import (
    BAD_KINDS,
    generate_transactions,
    inject_bad_rows,
    write_table,
)
from fraudops_shared.runtime import settings

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- stream

# The commit before the hardening: "today's path" the stream figures are compared with.
BASELINE_REF = "a9cffdf3b47e1f01850bb80326f72b91217e2a51"
# Per-call latencies (ms) as published, low and high: DynamoDB "single-digit millisecond"
# (a transaction's items are written twice, prepare and commit); S3 "small object latencies of
# roughly 100-200 milliseconds" (S3 performance guidelines); Kinesis PutRecords tens of ms.
LATENCY_MS: dict[str, tuple[float, float]] = {
    "dynamodb": (3.5, 10.0),
    "dynamodb.TransactWriteItems": (10.0, 25.0),
    "s3": (100.0, 200.0),
    "kinesis": (20.0, 50.0),
}
SHARD_RECORDS_PER_S = 1_000  # what one shard takes in: the rate to keep up with


def stream_records(n: int, seed: int = 3) -> tuple[list[bytes], int]:
    """``n`` JSON transactions as a producer sends them (numbers, booleans, ISO times), ~1% of
    them bad: each kind of BAD_KINDS in turn, plus malformed JSON. Returns (records, bad)."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = generate_transactions(n, seed=seed, start=now - timedelta(days=2), days=2).to_pylist()
    kinds = [*BAD_KINDS, "malformed_json"]
    bad_rows = list(range(50, n, 100))  # 1%, never the first rows (a duplicate needs an original)
    broken: set[int] = set()
    for j, i in enumerate(bad_rows):
        kind = kinds[j % len(kinds)]
        if kind == "malformed_json":
            broken.add(i)
        elif kind == "duplicate_id":
            rows[i]["transaction_id"] = rows[i - 7]["transaction_id"]
        else:
            column, text, _ = BAD_KINDS[kind]
            rows[i][column] = text

    def plain(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime) else v

    out = []
    for i, txn in enumerate(rows):
        data = json.dumps({k: plain(v) for k, v in txn.items()}, separators=(",", ":")).encode()
        out.append(data[: len(data) // 2] if i in broken else data)
    return out, len(bad_rows)


def kinesis_event(payloads: list[tuple[str, bytes]]) -> dict[str, Any]:
    """A Lambda event of Kinesis records (partition key, data), one shard, rising sequences."""
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench",
                "eventID": f"shardId-000000000000:{seq}",
                "eventName": "aws:kinesis:record",
                "eventVersion": "1.0",
                "awsRegion": "us-east-1",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/bench",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": str(seq),
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1795000000.0,
                },
            }
            for seq, (key, data) in enumerate(payloads, start=49_000_000_000_000_000_000)
        ]
    }


def modelled_aws_s(calls: dict[str, int]) -> tuple[float, float]:
    """The calls' time on AWS, low and high, one after another (the handlers do not overlap
    calls), from the published latencies above."""
    low = high = 0.0
    for op, count in calls.items():
        lo, hi = LATENCY_MS.get(op, LATENCY_MS[op.split(".")[0]])
        low, high = low + count * lo / 1000, high + count * hi / 1000
    return low, high


def in_process_with_fakes(records: list[bytes], repeat: int) -> tuple[float, dict[str, Any]]:
    """Decode to committed outputs through the use case itself, every adapter in memory (the
    unit tests' fakes: Parquet really written, the commit log's rules really checked). Median
    seconds and the last run's counts."""
    from fraudops_shared.contracts import load_contract
    from fraudops_shared.ingestion.records import KinesisRecord
    from fraudops_shared.ingestion.scoring_feed import Feed
    from fraudops_shared.ingestion.stream import StreamIngestion
    from fraudops_shared.lake.zones import Zones
    from tests.unit.fakes import (
        Counters,
        MemoryBucket,
        MemoryCommitLog,
        MemoryFileClaims,
        MemoryKeyIndex,
        MemoryRecordSink,
    )

    spec = load_contract(settings.DEFAULT_STREAM_CONTRACT)
    shard = "shardId-000000000000"
    kinesis = [
        KinesisRecord(shard, str(49_000_000_000_000_000_000 + i), f"card-{i % 500}", data)
        for i, data in enumerate(records)
    ]
    counts: dict[str, Any] = {}

    def once(_: int) -> None:
        counters = Counters()
        log = MemoryCommitLog(counters, MemoryFileClaims(), {})
        batch = StreamIngestion(
            spec,
            stream="bench",
            store=MemoryBucket("lake"),
            zones=Zones("lake"),
            log=log,
            index_store=MemoryKeyIndex(log),
            feed=Feed(MemoryRecordSink(), spec),
            now=datetime.now(UTC),
            index_ttl_seconds=86_400,
        )
        for record in kinesis:
            batch.add(record)
        batch.finish()
        counts.update(counters.of(spec.name, "kinesis"))

    seconds, _, _ = _median_time(once, repeat)
    return seconds, counts


def _median_time(fn: Callable[[int], Any], repeat: int) -> tuple[float, list[float], Any]:
    """One warm-up call (index 0), then ``repeat`` timed calls (indexes 1..repeat)."""
    result = fn(0)
    times = []
    for i in range(1, repeat + 1):
        start = time.perf_counter()
        result = fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def baseline_tree(dest: Path) -> Path | None:
    """The baseline commit's layer and functions, extracted from git; None if the clone does
    not hold it (a shallow clone): the figures are then printed without ratios."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASELINE_REF, "layers/shared/python", "functions"],
        capture_output=True,
    )
    if archive.returncode != 0:
        print(f"  note: baseline {BASELINE_REF[:10]} not in this clone: no ratios")
        return None
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def in_moto(tree: Path, event_path: Path, repeat: int, pythonpath: Path | None) -> dict[str, Any]:
    """``benchmarks/stream_in_moto.py`` for one tree, in a fresh process."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [sys.executable, "-P", str(ROOT / "benchmarks" / "stream_in_moto.py"), str(tree),
         str(event_path), str(repeat)],
        capture_output=True, text=True, env=env, timeout=3600,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-2000:]}
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def bench_stream(n: int, repeat: int) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    records, bad = stream_records(n)
    print(
        f"Stream: {n:,} generated transactions ({bad} bad) in {time.perf_counter() - t0:.1f} s, "
        f"{sum(map(len, records)) / n:.0f} B/record, medians of {repeat} after a warm-up"
    )
    fakes_s, fake_counts = in_process_with_fakes(records, repeat)
    print(f"  in process, adapters in memory: {fakes_s * 1000:,.0f} ms, counts {fake_counts}")
    event = kinesis_event([(f"card-{i % 500}", r) for i, r in enumerate(records)])
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        event_path = Path(tmp) / "event.json"
        event_path.write_text(json.dumps(event))
        new = in_moto(ROOT, event_path, repeat, None)
        old_tree = baseline_tree(Path(tmp))
        old: dict[str, Any] = (
            in_moto(old_tree, event_path, repeat, old_tree / "layers/shared/python")
            if old_tree
            else {"error": "no baseline tree"}
        )
    runs: list[tuple[str, dict[str, Any]]] = [
        ("this tree", new),
        (f"baseline {BASELINE_REF[:10]}", old),
    ]
    for label, res in runs:
        if "error" in res:
            print(f"  handler in moto, {label}: failed: {res['error']}")
            continue
        calls = sum(res["calls"].values())
        low, high = modelled_aws_s(res["calls"])
        res.update(total_calls=calls, aws_low=low, aws_high=high)
        own = res["median_s"] - res["moto_s"]
        res["own_s"] = own
        res["rate_low"] = n / (own + high)  # the slow end of AWS
        res["rate_high"] = n / (own + low)
        print(
            f"  handler in moto, {label}: {res['median_s']:.2f} s ({res['moto_s']:.2f} s in "
            f"moto, {own:.2f} s outside); curated {res['curated']:,}, quarantined "
            f"{res['quarantined']:,}, batchItemFailures {res['failures']}"
        )
        print(
            f"    {calls:,} AWS calls: "
            + ", ".join(f"{op} {c:,}" for op, c in res["calls"].items())
        )
        print(
            f"    modelled on AWS: {low:.2f}-{high:.2f} s of calls -> "
            f"{res['rate_low']:,.0f}-{res['rate_high']:,.0f} records/s per shard "
            f"(a shard takes in {SHARD_RECORDS_PER_S:,}/s)"
        )
    ok_old = "error" not in old
    base: dict[str, Any] = old if ok_old else {}
    rows = [
        row("ingest.stream_10k.decode_to_commit_in_memory", fakes_s * 1000, "ms",
            base["own_s"] * 1000 if ok_old else None),
    ]  # fmt: skip
    if "error" not in new:
        rows += [
            row("ingest.stream_10k.handler_in_moto", new["median_s"], "s", base.get("median_s")),
            row("ingest.stream_10k.handler_outside_moto", new["own_s"], "s", base.get("own_s")),
            row("ingest.stream_10k.aws_calls", new["total_calls"], "calls",
                base.get("total_calls")),
            row("ingest.stream_10k.modelled_aws_high", new["aws_high"], "s", base.get("aws_high")),
            row("ingest.stream_10k.records_per_s_per_shard_low", new["rate_low"], "records/s",
                base.get("rate_low"), higher_is_better=True),
            row("ingest.stream_10k.records_per_s_per_shard_high", new["rate_high"], "records/s",
                base.get("rate_high"), higher_is_better=True),
        ]  # fmt: skip
        rows += [
            row(f"ingest.stream_10k.calls.{op}", count, "calls",
                base.get("calls", {}).get(op, 0) if ok_old else None)
            for op, count in new["calls"].items()
        ]  # fmt: skip
    if ok_old:
        print(
            f"  ratios against the baseline: {base['own_s'] / fakes_s:.1f}x in process, "
            f"{base['total_calls'] / max(new.get('total_calls', 1), 1):.0f}x fewer AWS calls"
        )
    return rows


# ----------------------------------------------------------------------------- S3 on LocalStack


def log_lines(logs: Any, function: str) -> list[str]:
    kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function}"}
    lines: list[str] = []
    try:
        while True:
            page = logs.filter_log_events(**kwargs)
            lines += [e["message"].strip() for e in page["events"]]
            if not page.get("nextToken") or not page["events"]:
                break
            kwargs["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return lines


def report_lines(logs: Any, function: str) -> list[str]:
    return [line for line in log_lines(logs, function) if line.startswith("REPORT")]


def ingest_timings(logs: Any, function: str) -> dict[str, float]:
    """The phases of the last file the function logged as ingested, the ones after its
    manifest was written (commit, promote) included."""
    timings: dict[str, float] = {}
    for line in log_lines(logs, function):
        if '"file ingested"' in line:
            with contextlib.suppress(ValueError):
                timings = dict(json.loads(line).get("timings_ms") or {})
    return timings


def s3_round_trip(s3: Any, bucket: str, path: Path) -> float:
    """The file up to S3 and back down (the floor any ingest of it pays), seconds."""
    key = f"bench/round-trip/{uuid.uuid4().hex}"
    start = time.perf_counter()
    s3.upload_file(str(path), bucket, key)
    with tempfile.TemporaryDirectory(prefix="bench-rt-") as tmp:
        s3.download_file(bucket, key, str(Path(tmp) / "copy"))
    seconds = time.perf_counter() - start
    s3.delete_object(Bucket=bucket, Key=key)
    return seconds


def bench_s3(rows: int) -> list[dict[str, Any]]:
    from fraudops import ingest, localstack
    from fraudops.clients import client

    results: dict[str, Any] = {}
    print(f"S3 file ingest end to end on LocalStack ({rows:,} rows)")
    with deployed_stack("fraudops-bench-ingest-") as env:
        layout, outputs, state = env.layout, env.outputs, env.state

        t = time.perf_counter()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
        per_kind = max(1, rows // 100_000)
        table, expected = inject_bad_rows(
            generate_transactions(rows, seed=11, start=start, days=30), per_kind=per_kind, seed=11
        )
        path = write_table(table, state / f"bench-{uuid.uuid4().hex[:8]}.csv", "csv")
        del table
        size = path.stat().st_size
        print(
            f"  generated CSV                          {time.perf_counter() - t:8.1f} s   "
            f"{size / 1e6:,.1f} MB, {size / rows:.0f} B/row, {sum(expected.values())} bad rows"
        )

        round_trip = s3_round_trip(client(layout, "s3"), outputs["DataBucketName"], path)
        print(f"  baseline: the file up to S3 and back   {round_trip:8.1f} s")
        print(f"  load average before the ingest         {os.getloadavg()[0]:8.2f} (1 min)")
        t = time.perf_counter()
        result = ingest.ingest_file(
            layout, path, "transactions", timeout=900, bucket=outputs["DataBucketName"]
        )
        wall = time.perf_counter() - t
        manifest = result["manifest"]
        counts = manifest.get("counts", {})
        print(
            f"  ingest wall time (hash+upload+manifest){wall:8.1f} s   {rows / wall:,.0f} rows/s, "
            f"{size / 1e6 / wall:.1f} MB/s"
        )
        print(
            f"  upload until manifest (ingest_file)    {result['seconds']:8.1f} s   "
            f"{rows / result['seconds']:,.0f} rows/s"
        )
        print(
            f"  manifest: {manifest['status']}, rows_in {counts.get('rows_in')}, valid "
            f"{counts.get('valid')}, rejected {counts.get('rejected')}; rule counts as injected: "
            f"{manifest.get('rule_counts') == expected}"
        )
        timings = manifest.get("timings_ms", {})
        print(
            "  manifest timings: "
            + ", ".join(f"{k} {v / 1000:.1f} s" for k, v in timings.items())
            + f" (sum {sum(timings.values()) / 1000:.1f} s)"
        )

        logs = client(layout, "logs")
        function = outputs["IngestBatchFunctionName"]
        deadline = time.monotonic() + 60
        reports = report_lines(logs, function)
        while not reports and time.monotonic() < deadline:
            time.sleep(1)
            reports = report_lines(logs, function)
        if reports:
            rep = parse_report(reports[-1])
            print(
                f"  function REPORT: Duration {rep.get('duration_ms', 0) / 1000:.1f} s, "
                f"Max Memory Used {rep.get('max_memory_mb', 0):.0f} MB of "
                f"{rep.get('memory_size_mb', 0):.0f} MB"
                + (f", Init {rep['init_ms']:.0f} ms" if "init_ms" in rep else "")
                + f" ({len(reports)} invocation{'s' if len(reports) != 1 else ''})"
            )
            results.update(report=rep, invocations=len(reports))
        else:
            print("  function REPORT: no REPORT line within 60 s")
        if phases := ingest_timings(logs, function):
            print(
                "  function phases (its log line):  "
                + ", ".join(f"{k} {v / 1000:.2f} s" for k, v in phases.items())
                + f" (sum {sum(phases.values()) / 1000:.1f} s)"
            )
            results.update(phases_ms=phases)
        print(f"  load average after the ingest          {os.getloadavg()[0]:8.2f} (1 min)")
        if (busy := localstack.status(layout).rss_mb) is not None:
            idle = env.idle_rss_mb
            print(f"  LocalStack RSS after the ingest        {busy:8.0f} MB (idle {idle:.0f})")
        results.update(
            csv_mb=size / 1e6,
            wall_s=wall,
            rows_per_s=rows / wall,
            manifest_seconds=result["seconds"],
            timings_ms=timings,
            counts=counts,
        )
    label = f"ingest.s3_csv_{rows:_}".replace("_000_000", "m").replace("_000", "k")
    out = [
        row(f"{label}.upload_to_manifest", wall, "s", round_trip),
        row(f"{label}.rows_per_s", rows / wall, "rows/s", rows / round_trip, higher_is_better=True),
    ]
    if "report" in results:
        peak = results["report"].get("max_memory_mb", 0)
        out.append(row(f"{label}.function_peak_memory", peak, "MB"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream-records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--s3-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-s3", action="store_true", help="only the in-process stream part")
    parser.add_argument("--skip-stream", action="store_true", help="only the S3 part")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    if not args.skip_stream:
        rows += bench_stream(args.stream_records, args.repeat)
        bench_results.record(rows)
    if not args.skip_s3:
        rows += bench_s3(args.s3_rows)
        bench_results.record(rows)
    print(f"{len(rows)} rows written to bench-results.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
