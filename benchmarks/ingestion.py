"""Ingestion benchmark (DataOps): a Kinesis batch through the stream handler, and a large CSV
through the S3 path of the deployed stack.

Prints figures, never asserts on them:

    .venv/bin/python -m benchmarks.ingestion [--stream-records 10000] [--repeat 3]
                                             [--s3-rows 1000000] [--skip-s3]

1. Stream, in process: ``functions/ingest_stream/app.py`` handles one event of
   ``--stream-records`` generated transactions (~1% bad: every rule kind, duplicates and
   malformed JSON) with AWS in moto (data bucket and state table as the unit tests create
   them). Each repetition gets a fresh state table, so claims and commit marks start empty
   and nothing is skipped as a replay. Baselines in the same process, on the same records:
   ``validate_records`` alone (the vectorized validation the handler calls), JSON decoding plus
   validation, and one conditional ``put_item`` per valid record into moto (the claims the
   handler makes). If the ledger refuses more than 99 Kinesis records in one commit, the event
   is rebuilt as the same user records KPL-aggregated into at most 99 Kinesis records, and the
   script says so. Medians of ``--repeat`` runs after one warm-up.
2. S3, end to end on LocalStack: its own LocalStack on a free port, the stack deployed, a CSV of
   ``--s3-rows`` generated transactions (a few bad rows) uploaded with ``fraudops.ingest`` and
   waited for until its manifest: wall time, rows/s, the manifest's timings, and the function's
   REPORT line (duration, peak memory) from CloudWatch Logs. LocalStack is stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from benchmarks.stack import deployed_stack, parse_report
from fraudops.generator import (
    BAD_KINDS,
    generate_transactions,
    inject_bad_rows,
    write_table,
)
from fraudops_shared.ingestion import kpl
from fraudops_shared.runtime import settings

ROOT = Path(__file__).resolve().parents[1]

BUCKET = "bench-lake"
TABLE_PREFIX = "fraudops-bench-registry"
STREAM_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "DATA_BUCKET": BUCKET,
    "POWERTOOLS_SERVICE_NAME": "ingest_stream",
    "POWERTOOLS_METRICS_NAMESPACE": "FraudOpsBench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",  # the per-batch INFO line would flood the figures
}
MAX_KINESIS_RECORDS = settings.MAX_RECORDS_PER_COMMIT


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _median_time(fn: Callable[[int], Any], repeat: int) -> tuple[float, list[float], Any]:
    """One warm-up call (index 0), then ``repeat`` timed calls (indexes 1..repeat)."""
    result = fn(0)
    times = []
    for i in range(1, repeat + 1):
        start = time.perf_counter()
        result = fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


# ----------------------------------------------------------------------------- stream


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
    for i, row in enumerate(rows):
        data = json.dumps({k: plain(v) for k, v in row.items()}, separators=(",", ":")).encode()
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


def aggregated_event(records: list[bytes]) -> dict[str, Any]:
    """The same user records KPL-aggregated into at most MAX_KINESIS_RECORDS Kinesis records."""
    size = -(-len(records) // MAX_KINESIS_RECORDS)
    chunks = [records[i : i + size] for i in range(0, len(records), size)]
    return kinesis_event(
        [
            (f"card-{i}", kpl.aggregate((f"card-{i}", r) for r in chunk))
            for i, chunk in enumerate(chunks)
        ]
    )


def _decode(records: list[bytes]) -> list[Any]:
    """JSON-decode as the handler does, leaving malformed records out."""
    decoded = []
    for r in records:
        with contextlib.suppress(ValueError):
            decoded.append(json.loads(r))
    return decoded


def _load_handler(folder: str) -> ModuleType:
    """functions/<folder>/app.py under a unique module name (as tests/unit/unit_support does)."""
    import importlib.util

    path = ROOT / "functions" / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"bench_handler_{folder}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Context:
    function_name = "bench-ingest-stream"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-ingest-stream"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


def _create_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


class _MotoClock:
    """Time spent inside moto (AWS emulation), per service, so the handler's own share shows.

    moto's TransactWriteItems also deep-copies the whole table once per item of the transaction
    (its rollback snapshot): O(100 x table size) per commit, which real DynamoDB does not cost
    and which would make a 10,000-record batch take many minutes. The snapshot is skipped here
    (no transaction in this benchmark fails, so nothing is rolled back)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def install(self) -> None:
        import copy

        import moto.dynamodb.models as ddb_models
        from moto.core.botocore_stubber import BotocoreStubber
        from moto.dynamodb.models.table import Table

        def deepcopy(obj: Any, memo: Any = None) -> Any:
            return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

        ddb_models.copy = SimpleNamespace(deepcopy=deepcopy)  # type: ignore[assignment]
        original, clock = BotocoreStubber.process_request, self

        def timed(stubber: Any, request: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(stubber, request)
            finally:
                host = request.url.split("/")[2]
                service = next((s for s in ("dynamodb", "kinesis", "s3") if s in host), "other")
                clock.seconds[service] = clock.seconds.get(service, 0.0) + (
                    time.perf_counter() - start
                )

        BotocoreStubber.process_request = timed  # type: ignore[method-assign,assignment]

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {}
        return out


def bench_stream(n: int, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    t0 = time.perf_counter()
    records, bad = stream_records(n)
    print(
        f"Stream: {n:,} generated transactions ({bad} bad) in {time.perf_counter() - t0:.1f} s, "
        f"{sum(map(len, records)) / n:.0f} B/record; handler in process, AWS in moto "
        f"(medians of {repeat} after a warm-up)"
    )
    clock = _MotoClock()
    with _env(STREAM_ENV):
        import boto3
        from moto import mock_aws

        with mock_aws():
            clock.install()
            from fraudops_shared.aws import clients
            from fraudops_shared.aws.dynamodb import DynamoTransactionClaims
            from fraudops_shared.contracts import load_contract
            from fraudops_shared.contracts.validation import validate_records

            clients.reset()
            dynamodb = boto3.client("dynamodb")
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            # the curated rows' second stream
            boto3.client("kinesis").create_stream(StreamName="bench-feed", ShardCount=1)
            os.environ[settings.SCORING_FEED_ENV] = "bench-feed"
            os.environ[settings.STREAM_CONTRACT_ENV] = settings.DEFAULT_STREAM_CONTRACT
            app = _load_handler("ingest_stream")
            spec = load_contract("transactions")

            @contextlib.contextmanager
            def fresh_table(tag: str) -> Iterator[str]:
                name = f"{TABLE_PREFIX}-{tag}-{uuid.uuid4().hex[:8]}"
                _create_table(dynamodb, name)
                os.environ[settings.STATE_TABLE_ENV] = name
                try:
                    yield name
                finally:
                    dynamodb.delete_table(TableName=name)

            def shape(event: dict[str, Any]) -> dict[str, Any]:
                moto_s: list[float] = []
                outcome: dict[str, Any] = {}

                def call(i: int) -> None:
                    with fresh_table(f"h{i}") as table:
                        clock.take()
                        with contextlib.redirect_stdout(io.StringIO()):  # EMF documents
                            response = app.handler(event, _Context())
                        if i:
                            moto_s.append(sum(clock.take().values()))
                        item = dynamodb.get_item(
                            TableName=table,
                            Key={
                                "pk": {"S": "ACCOUNT#transactions#kinesis"},
                                "sk": {"S": "COUNTS"},
                            },
                        )["Item"]
                    outcome.update(
                        curated=int(item["curated"]["N"]),
                        quarantined=int(item["quarantined"]["N"]),
                        failures=len(response.get("batchItemFailures", [])),
                    )

                total, runs, _ = _median_time(call, repeat)
                return {"s": total, "runs": runs, "moto_s": statistics.median(moto_s), **outcome}

            shapes: list[tuple[str, dict[str, Any]]] = []
            plain = kinesis_event([(f"card-{i % 500}", r) for i, r in enumerate(records)])
            groups = -(-len(plain["Records"]) // MAX_KINESIS_RECORDS)
            try:
                shapes.append(
                    (f"{n:,} Kinesis records, {groups} commits", shape(plain)),
                )
            except ValueError as err:
                if "at most" not in str(err):
                    raise
                print(f"  note: the handler refuses {n:,} Kinesis records in one event: {err}")
            aggregated = aggregated_event(records)
            shapes.append(
                (
                    f"{len(aggregated['Records'])} KPL aggregates of {n:,}, 1 commit",
                    shape(aggregated),
                )
            )

            decoded = _decode(records)
            now = datetime.now(UTC)
            validate_s, _, verdicts = _median_time(
                lambda _: validate_records(spec, decoded, now=now), repeat
            )
            decode_s, _, _ = _median_time(
                lambda _: validate_records(spec, _decode(records), now=now), repeat
            )
            valid_keys = [v.valid_row["transaction_id"] for v in verdicts if v.valid_row]

            def claims(i: int) -> None:
                with fresh_table(f"c{i}") as table:
                    claim = DynamoTransactionClaims(dynamodb, table).claim
                    for key in valid_keys:
                        claim(f"TXN#transactions#{key}", f"shardId-000000000000:{key}")

            claims_s, _, _ = _median_time(claims, repeat)

    def line(label: str, seconds: float) -> None:
        print(f"  {label:<50}{seconds:>9.3f}{n / seconds:>12,.0f}{seconds / validate_s:>9.1f}x")

    print(f"  {'':<50}{'median s':>9}{'records/s':>12}{'vs valid.':>10}")
    for label, res in shapes:
        line(f"handler: {label}", res["s"])
        line("  of which in moto (S3, DynamoDB, Kinesis)", res["moto_s"])
        line("  rest: handler code and boto3 client side", res["s"] - res["moto_s"])
    line("baseline: validate_records alone", validate_s)
    line("json.loads + validate_records", decode_s)
    line(f"{len(valid_keys):,} conditional put_item claims in moto", claims_s)
    for label, res in shapes:
        print(
            f"  {label}: curated {res['curated']:,}, quarantined {res['quarantined']:,}, "
            f"batchItemFailures {res['failures']}; runs "
            + ", ".join(f"{t:.2f}" for t in res["runs"])
            + " s"
        )
    first = shapes[0][1]
    print(
        f"  ratio handler / validation alone: {first['s'] / validate_s:.1f}x "
        f"({(first['s'] - first['moto_s']) / validate_s:.1f}x without the time in moto)"
    )
    results.update(
        shapes={label: {k: v for k, v in res.items()} for label, res in shapes},
        records=n,
        bad=bad,
        validate_s=validate_s,
        decode_validate_s=decode_s,
        claims_s=claims_s,
        ratio=first["s"] / validate_s,
    )
    return results


# ----------------------------------------------------------------------------- S3 on LocalStack


def report_lines(logs: Any, function: str) -> list[str]:
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
    return [line for line in lines if line.startswith("REPORT")]


def bench_s3(rows: int) -> dict[str, Any]:
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
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream-records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--s3-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-s3", action="store_true", help="only the in-process stream part")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"stream": bench_stream(args.stream_records, args.repeat)}
    if not args.skip_s3:
        results["s3"] = bench_s3(args.s3_rows)
    print(json.dumps(results, default=float), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
