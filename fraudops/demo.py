"""`fraudops demo`: start LocalStack if needed, deploy, send data through each ingestion trigger,
train and register a model on a snapshot, and print what each Lambda did. It reads everything
back from the deployed stack (the state table, the dead-letter queue, the execution,
CloudWatch Logs), so what it prints is what happened."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fraudops import deploy, ingest, localstack
from fraudops.clients import client, poll
from fraudops.paths import Layout


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _last_report(layout: Layout, function: str) -> str:
    try:
        events = client(layout, "logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")
    except client(layout, "logs").exceptions.ResourceNotFoundException:
        return "(no logs yet)"
    reports = [e["message"].strip() for e in events["events"] if e["message"].startswith("REPORT")]
    return reports[-1] if reports else "(no REPORT line yet)"


def run(layout: Layout) -> int:
    started = time.monotonic()
    _step("LocalStack on the host")
    st = localstack.status(layout)
    if not st.running:
        st = localstack.start(layout)
        print(f"started on {st.endpoint} (pid {st.pid})")
    else:
        print(f"already running on {st.endpoint} (pid {st.pid})")

    _step("Deploy the CDK app (cdklocal bootstrap + deploy, then a completeness check)")
    outputs = deploy.deploy(layout)["outputs"]
    run_id = uuid.uuid4().hex[:8]

    _step("S3: land a generated file (with defects) under landing/transactions/")
    from fraudops import generator

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    table, expected = generator.inject_bad_rows(
        generator.generate_transactions(1_000, seed=int(run_id, 16) % 10_000, start=start, days=2),
        per_kind=1,
        seed=1,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = generator.write_table(
            table, Path(tmp) / f"demo-{run_id}.csv.gz", "csv", compress=True
        )
        result = ingest.ingest_file(layout, path, "transactions", timeout=180)
    print(ingest.summary_line(result))
    print(f"  injected defects: {sum(expected.values())} rows ({', '.join(sorted(expected))})")
    print(f"  {_last_report(layout, outputs['IngestBatchFunctionName'])}")

    _step("Kinesis: 20 transactions, a duplicate delivery and two bad records")
    rows = generator.generate_transactions(20, seed=int(run_id, 16) % 9_999, start=start, days=2)
    records = [json.dumps(r, default=str).encode() for r in rows.to_pylist()]
    records += [
        records[0],
        b"{not json",
        json.dumps({"transaction_id": "x", "amount": -1}).encode(),
    ]
    table_name = outputs["StateTableName"]
    before = (
        deploy.ingestion_accounts(layout, table_name).get("transactions", {}).get("kinesis", {})
    )
    client(layout, "kinesis").put_records(
        StreamName=outputs["TransactionStreamName"],
        Records=[{"Data": r, "PartitionKey": "card"} for r in records],
    )

    def stream_done() -> dict[str, int]:
        now = (
            deploy.ingestion_accounts(layout, table_name).get("transactions", {}).get("kinesis", {})
        )
        diff = {
            k: now.get(k, 0) - before.get(k, 0) for k in ("in_records", "curated", "quarantined")
        }
        return diff if diff["in_records"] >= len(records) else {}

    diff = poll(stream_done, timeout=90, what="stream accounting")
    print(f"sent {len(records)}: curated {diff['curated']}, quarantined {diff['quarantined']}")
    print(f"  {_last_report(layout, outputs['IngestStreamFunctionName'])}")

    _step("MLOps: 60,000 labelled transactions -> snapshot -> training pipeline (Step Functions)")
    from fraudops import snapshot, training

    end = datetime.now(UTC).replace(microsecond=0)
    history = generator.generate_transactions(
        60_000,
        seed=int(run_id, 16) % 8_888,
        start=end - timedelta(days=45),
        days=45,
        fraud_rate=0.005,
        label_delay=timedelta(days=3),
        as_of=end,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = generator.write_table(history, Path(tmp) / f"history-{run_id}.parquet", "parquet")
        print(ingest.summary_line(ingest.ingest_file(layout, path, "transactions", timeout=300)))
    snap = snapshot.create(layout, "transactions")
    print(snapshot.summary_line(snap))
    arn = training.start(layout, "transactions", snapshot_id=snap["snapshot_id"])
    done = training.follow(layout, arn, echo=print)
    res = training.result(layout, done)
    print(training.summary_line(res))
    print("\n".join(training.table_lines(training.list_models(layout, "transactions"))))

    _step("Accounting: in = curated + quarantined + dead-lettered, per contract and source")
    for contract, sources in deploy.ingestion_accounts(layout, table_name).items():
        for source, counts in sources.items():
            print(f"{contract:22} {source:8} {json.dumps(counts, sort_keys=True)}")

    _step("Done")
    print(f"in {time.monotonic() - started:.1f} s. LocalStack keeps running: `fraudops status`, ")
    print("`fraudops down` to stop it.")
    return 0 if done["status"] == "SUCCEEDED" else 1
