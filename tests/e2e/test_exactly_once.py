"""Each transaction kept once on the deployed stack, whatever the route: two files, a corrected
re-upload and the stream share one dedupe index; a later copy is quarantined as duplicate_key
naming where the first came from; the curated prefix on its own holds every key once, and so
does a snapshot (what training reads). The accounting equation is checked after each step."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fraudops import generator, ingest, snapshot
from fraudops.paths import Layout
from fraudops_shared.aws.s3 import S3Bucket
from fraudops_shared.lake import snapshot_store
from tests.e2e.ledger import (
    CONTRACT,
    accounts,
    as_json,
    balanced,
    curated_zone,
    delta,
    put_stream,
    quarantined,
    transactions,
    wait_stream,
)


def land(layout: Layout, rows: list[dict[str, Any]], path: Path, fmt: str) -> dict[str, Any]:
    table = pa.Table.from_pylist(rows, schema=transactions(1, 0).schema)
    written = generator.write_table(table, path, fmt)
    result = ingest.ingest_file(layout, written, CONTRACT, timeout=180)
    return dict(result["manifest"])


def test_a_transaction_is_curated_once_across_files_corrections_and_the_stream(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    bucket, run = outputs["DataBucketName"], uuid.uuid4().hex[:8]
    rows = transactions(11, seed=61).to_pylist()
    rows = [{**r, "transaction_id": f"once-{run}-{i}"} for i, r in enumerate(rows)]
    s3_before = accounts(ls_layout, outputs, "s3")

    # Given a first file of transactions 0-5
    first = land(ls_layout, rows[:6], tmp_path / "first.csv", "csv")
    assert (first["status"], first["counts"]["valid"]) == ("ingested", 6)

    # When a second file repeats 0 as it was, corrects 1's amount and adds 6 and 7
    corrected = {**rows[1], "amount": float(rows[1]["amount"]) + 1}
    second = land(ls_layout, [rows[0], corrected, rows[6], rows[7]], tmp_path / "b.jsonl", "jsonl")
    # Then only 6 and 7 are curated; 0 and 1 are quarantined as duplicate_key, naming the first
    # file's manifest, the correction said to differ in amount (policy: the first copy stands)
    assert second["counts"] == {"rows_in": 4, "valid": 2, "rejected": 2}
    assert second["rule_counts"] == {"duplicate_key": 2}
    dups = {r["record"]: r for r in quarantined(aws, bucket, second["outputs"]["quarantine"])}
    reasons = sorted(r["reasons"][0] for r in dups.values())
    assert all(first["sha256"] in reason for reason in reasons), reasons
    assert any("an identical copy" in r for r in reasons)
    assert any("differs in amount" in r for r in reasons)
    d = delta(accounts(ls_layout, outputs, "s3"), s3_before)
    assert d["in_records"] == 10 and d["curated"] == 8 and d["quarantined"] == 2 and balanced(d)

    # When the stream carries 2 again (as it was) and new 8 and 9
    kinesis_before = accounts(ls_layout, outputs, "kinesis")
    put_stream(aws, outputs, [as_json(rows[2]), as_json(rows[8]), as_json(rows[9])])
    d = wait_stream(ls_layout, outputs, kinesis_before, 3)
    # Then 8 and 9 are curated and 2 is quarantined, naming the first file
    assert (d["curated"], d["quarantined"]) == (2, 1) and balanced(d)

    # When a third file carries 8 (first seen on the stream) and a new 10
    third = land(ls_layout, [rows[8], rows[10]], tmp_path / "third.csv", "csv")
    # Then 8 is a duplicate of the stream's commit and 10 is curated
    assert third["counts"] == {"rows_in": 2, "valid": 1, "rejected": 1}
    (dup,) = quarantined(aws, bucket, third["outputs"]["quarantine"])
    assert "kinesis commit" in dup["reasons"][0] and "/stream/" in dup["reasons"][0]

    # And the curated prefix, read as any reader of it would, holds each of the 11 ids once
    ids = curated_zone(aws, bucket).column("transaction_id")
    curated = pc.filter(ids, pc.starts_with(ids, f"once-{run}-")).to_pylist()
    assert sorted(curated) == sorted(r["transaction_id"] for r in rows)
    # And so does a snapshot, which is what training reads
    snap = snapshot.create(ls_layout, CONTRACT)
    files = S3Bucket(aws("s3"), bucket)
    loaded = snapshot_store.load_snapshot(files, snap["snapshot_id"])
    frozen = snapshot_store.read_table(files, loaded)
    snap_ids = frozen.column("transaction_id")
    ours = pc.filter(snap_ids, pc.starts_with(snap_ids, f"once-{run}-")).to_pylist()
    assert sorted(ours) == sorted(r["transaction_id"] for r in rows)


def test_the_curated_prefix_holds_every_key_once_and_as_many_rows_as_counted(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    # Whatever ran before (retries, outages, bisected batches, duplicates): the prefix on its own
    ids = curated_zone(aws, outputs["DataBucketName"]).column("transaction_id")
    counted = sum(accounts(ls_layout, outputs, s).get("curated", 0) for s in ("s3", "kinesis"))
    assert len(ids) == counted
    assert pc.count_distinct(ids).as_py() == len(ids)
