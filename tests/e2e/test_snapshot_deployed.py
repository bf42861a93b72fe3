"""Snapshots on the deployed stack: the committed curated data of a contract, frozen at exact
object versions, counted as the ledger counts it, and named by its content."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fraudops import cli, deploy, generator, ingest, snapshot
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.aws.dynamodb import DynamoSnapshotCatalog
from fraudops_shared.aws.s3 import S3Bucket
from fraudops_shared.lake import snapshot_store

CONTRACT = "transactions"


def ledger(layout: Layout, outputs: dict[str, str]) -> dict[str, dict[str, int]]:
    return dict(deploy.ingestion_accounts(layout, outputs["StateTableName"]).get(CONTRACT, {}))


def curated_total(layout: Layout, outputs: dict[str, str]) -> int:
    return sum(counts.get("curated", 0) for counts in ledger(layout, outputs).values())


def transactions(n: int) -> Any:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    return generator.generate_transactions(n, seed=uuid.uuid4().int % 10_000, start=start, days=2)


def send_stream(layout: Layout, aws: Any, outputs: dict[str, str], n: int) -> None:
    """Put ``n`` fresh transactions on the stream and wait until the ledger counted them."""
    before = ledger(layout, outputs).get("kinesis", {}).get("in_records", 0)
    records = [
        {"Data": json.dumps(r, default=lambda v: v.isoformat()).encode(), "PartitionKey": "card"}
        for r in transactions(n).to_pylist()
    ]
    aws("kinesis").put_records(StreamName=outputs["TransactionStreamName"], Records=records)
    poll(
        lambda: ledger(layout, outputs).get("kinesis", {}).get("in_records", 0) >= before + n,
        timeout=90,
        what="stream accounting",
    )


@pytest.fixture(scope="module")
def landed(ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path_factory: Any) -> None:
    """A generated file and a stream batch, both accounted by the ledger."""
    tmp = tmp_path_factory.mktemp("snapshot")
    path = generator.write_table(transactions(120), Path(tmp) / "snap.csv", "csv")
    result = ingest.ingest_file(ls_layout, path, CONTRACT, timeout=180)
    assert result["manifest"]["status"] == "ingested"
    send_stream(ls_layout, aws, outputs, 15)


def test_a_snapshot_counts_what_the_ledger_counts_at_exact_versions(
    landed: None, ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    # Given data accounted by the ledger
    expected = curated_total(ls_layout, outputs)
    # When the contract is snapshot
    snap = snapshot.create(ls_layout, CONTRACT)
    # Then its rows are the ledger's curated rows, from both sources
    assert snap["row_count"] == expected > 0
    assert any("/stream/" in m for m in snap["source_manifests"])
    assert any("/stream/" not in m for m in snap["source_manifests"])
    # And every file exists at the recorded version, with the recorded size and ETag
    s3, bucket = aws("s3"), outputs["DataBucketName"]
    for f in snap["files"]:
        head = s3.head_object(Bucket=bucket, Key=f["key"], VersionId=f["version_id"])
        assert (head["ContentLength"], head["ETag"].strip('"')) == (f["size"], f["etag"])
    # And the frozen objects hold exactly that many rows
    files = S3Bucket(s3, bucket)
    loaded = snapshot_store.load_snapshot(files, snap["snapshot_id"])
    assert snapshot_store.read_table(files, loaded).num_rows == expected


def test_the_same_data_gives_the_same_hash_and_new_data_another(
    landed: None, ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    table = outputs["StateTableName"]
    # Given a snapshot
    first = snapshot.create(ls_layout, CONTRACT)
    # When another is taken without new data, Then the content hash is the same
    second = snapshot.create(ls_layout, CONTRACT)
    assert second["content_hash"] == first["content_hash"]
    # When new records are committed, Then the next snapshot differs and counts them
    send_stream(ls_layout, aws, outputs, 5)
    third = snapshot.create(ls_layout, CONTRACT)
    assert third["content_hash"] != first["content_hash"]
    assert third["row_count"] == curated_total(ls_layout, outputs) > first["row_count"]
    # And the catalog's latest snapshot is the newest
    catalog = DynamoSnapshotCatalog(aws("dynamodb"), table)
    latest = snapshot_store.latest_snapshot(catalog, CONTRACT)
    assert latest is not None and latest["snapshot_id"] == third["snapshot_id"]
    assert latest["row_count"] == third["row_count"]


def test_the_command_prints_the_snapshot_and_refuses_an_empty_contract(
    landed: None, ls_layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    port = ["--port", str(ls_layout.port)]
    # When the command is run with --json, Then it prints the snapshot document
    assert cli.main([*port, "snapshot", "--contract", CONTRACT, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["snapshot_id"].startswith(f"{CONTRACT}-") and printed["files"]
    # When a contract has no curated data, Then it fails with a clear message
    assert cli.main([*port, "snapshot", "--contract", "creditcard_benchmark"]) == 1
    assert "no committed curated data" in capsys.readouterr().err
