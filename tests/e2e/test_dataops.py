"""DataOps on the deployed stack: files and stream records validated against their contract,
curated or quarantined with reasons, never lost: in = curated + quarantined + dead-lettered.

Counts are compared as deltas of the ledger, so the tests do not depend on their order.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from fraudops import deploy, generator, ingest
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.ingestion import kpl
from tests.e2e.ledger import CONTRACT, accounts, delta, transactions


def s3_text(aws: Any, bucket: str, key: str) -> str:
    return str(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())


# --- files ---------------------------------------------------------------------------------


def test_a_file_is_validated_curated_quarantined_and_accounted(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    # Given 400 generated transactions with 2 spoiled rows of each kind of defect, as CSV.gz
    table, expected_rules = generator.inject_bad_rows(
        transactions(400, seed=11), per_kind=2, seed=11
    )
    path = generator.write_table(table, tmp_path / "day-1.csv.gz", "csv", compress=True)
    before = accounts(ls_layout, outputs, "s3")
    # When it is landed
    result = ingest.ingest_file(ls_layout, path, CONTRACT, timeout=180)
    manifest = result["manifest"]
    # Then the manifest counts each rule exactly as injected, and nothing is lost
    rejected = sum(expected_rules.values())
    assert manifest["status"] == "ingested"
    assert manifest["rule_counts"] == expected_rules
    assert manifest["counts"]["rows_in"] == 400
    assert manifest["counts"]["rejected"] == rejected
    assert manifest["counts"]["valid"] == 400 - rejected
    # And the curated Parquet holds exactly the valid rows, with text codes intact
    bucket = outputs["DataBucketName"]
    curated = [k for k in manifest["outputs"]["curated"]]
    rows = 0
    for key in curated:
        body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        part = pq.read_table(io.BytesIO(body))
        rows += part.num_rows
        assert all(len(m) == 4 for m in part.column("mcc").to_pylist())
    assert rows == 400 - rejected
    # And the quarantine holds every rejected row with its rule and reason
    lines = [
        json.loads(line)
        for key in manifest["outputs"]["quarantine"]
        for line in s3_text(aws, bucket, key).splitlines()
    ]
    assert len(lines) == rejected and all(r["rules"] and r["reasons"] for r in lines)
    # And the ledger balances
    assert delta(accounts(ls_layout, outputs, "s3"), before) == {
        "in_records": 400,
        "curated": 400 - rejected,
        "quarantined": rejected,
        "dead_lettered": 0,
        "expired_unrecoverable": 0,
    }


def test_the_same_content_again_creates_no_duplicates(
    ls_layout: Layout, outputs: dict[str, str], tmp_path: Path
) -> None:
    # Given a file that was ingested
    path = generator.write_table(transactions(50, seed=12), tmp_path / "a.jsonl", "jsonl")
    first = ingest.ingest_file(ls_layout, path, CONTRACT, timeout=180)
    assert first["manifest"]["status"] == "ingested"
    before = accounts(ls_layout, outputs, "s3")
    # When the same bytes land again under another name
    copy = tmp_path / "a-again.jsonl"
    copy.write_bytes(path.read_bytes())
    again = ingest.ingest_file(ls_layout, copy, CONTRACT, timeout=180)
    # Then it is recorded as a duplicate of the first, and no record is counted twice
    assert again["manifest"]["status"] == "duplicate"
    assert delta(accounts(ls_layout, outputs, "s3"), before)["in_records"] == 0


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("garbage.csv.gz", b"\x1f\x8b\x08\x00 this is not gzip", "decompress"),
        ("columns.csv", b"txn,amount\n1,2\n", "missing"),
    ],
)
def test_a_file_that_cannot_be_read_is_quarantined_whole(
    ls_layout: Layout,
    aws: Any,
    outputs: dict[str, str],
    tmp_path: Path,
    name: str,
    body: bytes,
    reason: str,
) -> None:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}-{name}"
    path.write_bytes(body)
    result = ingest.ingest_file(ls_layout, path, CONTRACT, timeout=180)
    manifest = result["manifest"]
    assert manifest["status"] == "quarantined_file"
    assert reason in manifest["reason"].lower()
    kept = manifest["outputs"]["file"]
    assert aws("s3").get_object(Bucket=outputs["DataBucketName"], Key=kept)["Body"].read() == body


# --- the stream ----------------------------------------------------------------------------


def _record(row: dict[str, Any]) -> bytes:
    return json.dumps(row, default=lambda v: v.isoformat()).encode()


def test_a_stream_mix_is_accounted_exactly(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    kinesis = aws("kinesis")
    stream = outputs["TransactionStreamName"]
    rows = transactions(30, seed=21).to_pylist()
    good, aggregated = rows[:20], rows[20:25]
    # Given 20 good transactions, 5 more in one KPL aggregate, 3 bad ones, 2 re-deliveries
    records = [_record(r) for r in good]
    records += [b"{not json", _record({**rows[25], "amount": -3}), _record({"x": 1})]
    records += [_record(good[0]), _record(good[1])]
    blob = kpl.aggregate([("card", _record(r)) for r in aggregated])
    before = accounts(ls_layout, outputs, "kinesis")
    kinesis.put_records(
        StreamName=stream,
        Records=[{"Data": r, "PartitionKey": "card"} for r in records]
        + [{"Data": blob, "PartitionKey": "card"}],
    )
    sent = len(records) + len(aggregated)
    # When the stream function has processed them
    counts = poll(
        lambda: (
            (d := delta(accounts(ls_layout, outputs, "kinesis"), before))["in_records"] >= sent
            and d
        ),
        timeout=90,
        what="stream accounting",
    )
    # Then every record is counted once: 25 curated, 3 invalid + 2 duplicates quarantined
    assert counts == {
        "in_records": sent, "curated": 25, "quarantined": 5, "dead_lettered": 0,
        "expired_unrecoverable": 0,
    }  # fmt: skip


def test_records_of_an_outage_are_dead_lettered_kept_and_counted(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    lam, fn = aws("lambda"), outputs["IngestStreamFunctionName"]
    env = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
    before = accounts(ls_layout, outputs, "kinesis")
    rows = transactions(4, seed=31).to_pylist()
    # Given the stream function loses its table (a misconfiguration, through the public API)
    lam.update_function_configuration(
        FunctionName=fn, Environment={"Variables": {**env, "STATE_TABLE_NAME": "no-such-table"}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    try:
        # When 4 transactions arrive during the outage
        aws("kinesis").put_records(
            StreamName=outputs["TransactionStreamName"],
            Records=[{"Data": _record(r), "PartitionKey": "card"} for r in rows],
        )
        # Then after retries and bisection they are dead-lettered, read back and counted
        counts = poll(
            lambda: (
                (d := delta(accounts(ls_layout, outputs, "kinesis"), before))["dead_lettered"] >= 4
                and d
            ),
            timeout=180,
            what="dead-letter accounting",
        )
    finally:
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": env})
        lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    assert counts == {
        "in_records": 4, "curated": 0, "quarantined": 0, "dead_lettered": 4,
        "expired_unrecoverable": 0,
    }  # fmt: skip
    # And the records themselves are kept in quarantine with the reason
    bucket = outputs["DataBucketName"]
    keys = [
        o["Key"]
        for o in aws("s3")
        .list_objects_v2(Bucket=bucket, Prefix=f"quarantine/{CONTRACT}/stream/dlq-")
        .get("Contents", [])
    ]
    kept = [json.loads(line) for key in keys for line in s3_text(aws, bucket, key).splitlines()]
    ids = {json.loads(r["record"])["transaction_id"] for r in kept}
    assert {r["transaction_id"] for r in rows} <= ids
    assert all("gave up" in r["reasons"][0] for r in kept)
    # When the producer re-sends them after the outage, Then they are curated: nothing of the
    # failed batches (claims, keys) outlived them
    resent = accounts(ls_layout, outputs, "kinesis")
    aws("kinesis").put_records(
        StreamName=outputs["TransactionStreamName"],
        Records=[{"Data": _record(r), "PartitionKey": "card"} for r in rows],
    )
    counts = poll(
        lambda: (
            (d := delta(accounts(ls_layout, outputs, "kinesis"), resent))["in_records"] >= 4 and d
        ),
        timeout=90,
        what="re-sent records accounted",
    )
    assert counts == {
        "in_records": 4, "curated": 4, "quarantined": 0, "dead_lettered": 0,
        "expired_unrecoverable": 0,
    }  # fmt: skip


def test_status_reports_balanced_accounts(ls_layout: Layout, outputs: dict[str, str]) -> None:
    accounts_all = deploy.ingestion_accounts(ls_layout, outputs["StateTableName"])
    assert accounts_all[CONTRACT]
    for source, counts in accounts_all[CONTRACT].items():
        assert counts["balanced"], (source, counts)


def test_ingestion_metrics_reach_cloudwatch_for_the_alarms(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    # Given a file of 120 transactions with 3 bad rows, landed
    table, _ = generator.inject_bad_rows(
        transactions(120, seed=41), ["negative_amount", "unknown_currency", "bad_channel"]
    )
    path = generator.write_table(table, tmp_path / "metrics.csv", "csv")
    counts = ingest.ingest_file(ls_layout, path, CONTRACT, timeout=180)["manifest"]["counts"]
    share = 100 * counts["rejected"] / counts["rows_in"]
    cloudwatch = aws("cloudwatch")
    dims = [{"Name": "service", "Value": "ingest_batch"}, {"Name": "contract", "Value": CONTRACT}]

    def total(metric: str) -> float:
        end = datetime.now(UTC) + timedelta(minutes=1)
        points = cloudwatch.get_metric_statistics(
            Namespace="FraudOps",
            MetricName=metric,
            Dimensions=dims,
            StartTime=end - timedelta(hours=1),
            EndTime=end,
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return float(sum(p["Sum"] for p in points))

    # Then the function's EMF metrics are in CloudWatch
    assert poll(lambda: total("RecordsIn") >= 120, timeout=60, what="RecordsIn metric")
    assert total("RecordsRejected") >= 3
    # And the file's rejected share (3 bad rows: about 2.5 %), which the rejection-rate alarm
    # averages over the files and batches of a period
    (alarm,) = cloudwatch.describe_alarms(
        AlarmNames=["FraudOps-rejection-rate-batch-transactions"]
    )["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Statistic"]) == ("RejectedPercent", "Average")
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        d["Name"]: d["Value"] for d in dims
    }

    def published_share() -> bool:
        end = datetime.now(UTC) + timedelta(minutes=1)
        points = cloudwatch.get_metric_statistics(
            Namespace="FraudOps", MetricName="RejectedPercent", Dimensions=dims,
            StartTime=end - timedelta(hours=1), EndTime=end, Period=60,
            Statistics=["Minimum", "Maximum"],
        )["Datapoints"]  # fmt: skip
        return any(p["Minimum"] - 1e-6 <= share <= p["Maximum"] + 1e-6 for p in points)

    assert counts["rejected"] == 3
    assert poll(published_share, timeout=60, what=f"the file's RejectedPercent of {share:.2f}")
