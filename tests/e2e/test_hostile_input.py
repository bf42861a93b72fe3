"""Hostile input on the deployed stack, landed through S3 and Kinesis with boto3: every file and
record ends in a counted place with a specific rule and reason, never lost, never crashing its
batch; the accounting equation is checked exactly after each case.

The cases are the ones that lost data before (issue 9): deeply nested JSON, a lone surrogate
escape, a record past the size limit inside a small gzip, Parquet with a non-UTF-8 id or a list
column, CSV words that look like nulls, a plain file named .gz, and a batch function outage."""

from __future__ import annotations

import gzip
import io
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fraudops import ingest
from fraudops.clients import poll
from fraudops.paths import Layout
from tests.e2e.ledger import (
    CONTRACT,
    accounts,
    as_json,
    balanced,
    delta,
    put_stream,
    quarantined,
    transactions,
    wait_stream,
)


def fresh_rows(n: int, seed: int, tag: str) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    rows = transactions(n, seed=seed).to_pylist()
    return [{**r, "transaction_id": f"{tag}-{run}-{i}"} for i, r in enumerate(rows)]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(as_json(r) + b"\n" for r in rows)


def land(layout: Layout, path: Path, body: bytes) -> dict[str, Any]:
    path.write_bytes(body)
    return dict(ingest.ingest_file(layout, path, CONTRACT, timeout=180)["manifest"])


def s3_delta(layout: Layout, outputs: dict[str, str], before: dict[str, int]) -> dict[str, int]:
    return delta(accounts(layout, outputs, "s3"), before)


def test_hostile_json_lines_are_each_quarantined_with_their_rule(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    good = fresh_rows(3, seed=71, tag="hostile")
    # Given good lines among lines nested 5,000 deep, a lone surrogate escape, a line past the
    # 1 MiB record limit, a JSON array and an unknown field
    lines = [as_json(r) for r in good]
    lines += [
        b"[" * 5000 + b"]" * 5000,
        as_json({**good[0], "transaction_id": "x"}).replace(b'"x"', b'"\\ud800"'),
        b'{"transaction_id": "' + b"y" * (2 << 20) + b'"}',
        b"[1, 2, 3]",
        as_json({**good[1], "transaction_id": f"{good[1]['transaction_id']}-u", "extra": 1}),
    ]
    before = accounts(ls_layout, outputs, "s3")
    # When they are landed as one gzip file (the long line compresses to a few KB)
    body = gzip.compress(b"\n".join(lines) + b"\n")
    assert len(body) < 64 << 10
    manifest = land(ls_layout, tmp_path / "hostile.jsonl.gz", body)
    # Then the good lines are curated and each bad one is quarantined with its own rule
    assert manifest["status"] == "ingested"
    assert manifest["counts"] == {"rows_in": 8, "valid": 3, "rejected": 5}
    assert manifest["rule_counts"] == {
        "too_deep": 1, "encoding": 1, "record_too_large": 1, "not_an_object": 1,
        "unknown_field": 1,
    }  # fmt: skip
    kept = quarantined(aws, outputs["DataBucketName"], manifest["outputs"]["quarantine"])
    assert len(kept) == 5 and all(r["reasons"] and r["record"] is not None for r in kept)
    # And the ledger balances
    d = s3_delta(ls_layout, outputs, before)
    assert (d["in_records"], d["curated"], d["quarantined"]) == (8, 3, 5) and balanced(d)


def test_parquet_with_a_non_utf8_id_keeps_the_row_and_a_list_column_keeps_the_file(
    ls_layout: Layout, outputs: dict[str, str], tmp_path: Path
) -> None:
    rows = fresh_rows(4, seed=72, tag="pq")
    names = transactions(1, 0).column_names
    # Given a Parquet file of 4 rows whose ids are bytes, one of them not UTF-8
    ids = [r["transaction_id"].encode() for r in rows[:3]] + [b"\xff\xfe-bad"]
    columns = {n: pa.array([str(r[n]) if r[n] is not None else None for r in rows]) for n in names}
    columns["transaction_id"] = pa.array(ids, pa.binary())
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    before = accounts(ls_layout, outputs, "s3")
    manifest = land(ls_layout, tmp_path / "ids.parquet", sink.getvalue())
    # Then the three good rows are curated and the fourth is quarantined for its encoding
    assert manifest["counts"] == {"rows_in": 4, "valid": 3, "rejected": 1}
    assert manifest["rule_counts"] == {"encoding": 1}
    # Given a Parquet file with a list column
    tags = pa.array([["a"], ["b"], [], None], pa.list_(pa.string()))
    nested = pa.table({**columns, "tags": tags})
    sink = io.BytesIO()
    pq.write_table(nested, sink)
    whole = land(ls_layout, tmp_path / "nested.parquet", sink.getvalue())
    # Then the file is quarantined whole with its rule, counted with the 4 rows it held
    assert (whole["status"], whole["rule"]) == ("quarantined_file", "unsupported_type")
    assert whole["counts"] == {"rows_in": 4, "valid": 0, "rejected": 4}
    d = s3_delta(ls_layout, outputs, before)
    assert (d["in_records"], d["curated"], d["quarantined"]) == (8, 3, 5) and balanced(d)


def test_csv_words_that_look_like_nulls_are_values(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    # Given a CSV row from Namibia (NA) whose device id is the word "null"
    (row,) = fresh_rows(1, seed=73, tag="na")
    row = {**row, "country": "NA", "merchant_country": "NA", "device_id": "null"}
    names = transactions(1, 0).column_names
    cells = ["" if row[n] is None else str(row[n]) for n in names]
    body = (",".join(names) + "\n" + ",".join(cells) + "\n").encode()
    manifest = land(ls_layout, tmp_path / "namibia.csv", body)
    # Then it is curated with both words kept as values
    assert manifest["counts"] == {"rows_in": 1, "valid": 1, "rejected": 0}
    (key,) = manifest["outputs"]["curated"]
    data = aws("s3").get_object(Bucket=outputs["DataBucketName"], Key=key)["Body"].read()
    (curated,) = pq.read_table(io.BytesIO(data)).to_pylist()
    assert (curated["country"], curated["device_id"]) == ("NA", "null")


def test_a_plain_file_named_gz_is_quarantined_counted_and_can_be_landed_again(
    ls_layout: Layout, outputs: dict[str, str], tmp_path: Path
) -> None:
    rows = fresh_rows(5, seed=74, tag="gz")
    body = jsonl(rows)
    before = accounts(ls_layout, outputs, "s3")
    # Given plain JSON Lines named .jsonl.gz
    first = land(ls_layout, tmp_path / "mislabelled.jsonl.gz", body)
    # Then the file is kept whole, with a fixable rule, counted with its 5 rows
    assert (first["status"], first["rule"], first["retryable"]) == (
        "quarantined_file", "not_gzip", True
    )  # fmt: skip
    assert first["counts"]["rows_in"] == 5
    # When the same bytes are landed under the right name
    second = land(ls_layout, tmp_path / "mislabelled.jsonl", body)
    # Then they are ingested, and both landings are in the ledger
    assert (second["status"], second["counts"]["valid"]) == ("ingested", 5)
    d = s3_delta(ls_layout, outputs, before)
    assert (d["in_records"], d["curated"], d["quarantined"]) == (10, 5, 5) and balanced(d)


def test_hostile_stream_records_never_fail_their_batch(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    good = fresh_rows(4, seed=75, tag="kin")
    bad = [
        b"[" * 5000 + b"]" * 5000,
        as_json({**good[0], "transaction_id": "x"}).replace(b'"x"', b'"\\ud800"'),
        b"\xff\xfe not utf-8",
        as_json({**good[1], "transaction_id": f"{good[1]['transaction_id']}-n", "amount": [1]}),
        b'"a string"',
    ]
    before = accounts(ls_layout, outputs, "kinesis")
    # When good and hostile records arrive in one batch
    put_stream(aws, outputs, [as_json(r) for r in good] + bad)
    d = wait_stream(ls_layout, outputs, before, len(good) + len(bad))
    # Then the good ones are curated and every bad one quarantined: none dead-lettered
    assert d == {
        "in_records": 9, "curated": 4, "quarantined": 5, "dead_lettered": 0,
        "expired_unrecoverable": 0,
    }  # fmt: skip


def test_a_file_the_batch_function_gave_up_on_is_kept_counted_and_ingested_after(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    lam, fn = aws("lambda"), outputs["IngestBatchFunctionName"]
    env = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
    rows = fresh_rows(6, seed=76, tag="outage")
    path = tmp_path / "outage.jsonl"
    path.write_bytes(jsonl(rows))
    before = accounts(ls_layout, outputs, "s3")
    # Given the batch function loses its table (a misconfiguration, through the public API)
    lam.update_function_configuration(
        FunctionName=fn, Environment={"Variables": {**env, "STATE_TABLE_NAME": "no-such-table"}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    try:
        # When a file lands during the outage, Then after its retries it is dead-lettered:
        # kept whole and counted with its 6 rows
        result = ingest.ingest_file(ls_layout, path, CONTRACT, timeout=240)
        assert result["manifest"]["status"] == "dead_lettered"
        assert "batch function gave up" in result["manifest"]["reason"]
    finally:
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": env})
        lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    d = s3_delta(ls_layout, outputs, before)
    assert (d["in_records"], d["dead_lettered"]) == (6, 6) and balanced(d)
    # When the producer lands the same bytes again after the outage, Then they are curated
    again = ingest.ingest_file(ls_layout, path, CONTRACT, timeout=180)
    assert (again["manifest"]["status"], again["manifest"]["counts"]["valid"]) == ("ingested", 6)
    d = s3_delta(ls_layout, outputs, before)
    assert (d["in_records"], d["curated"], d["dead_lettered"]) == (12, 6, 6) and balanced(d)


def test_rejections_reach_cloudwatch_by_rule_id_never_by_data(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    # Given a file whose bad line has a long, odd field name (once a metric name of its own)
    (row,) = fresh_rows(1, seed=77, tag="metric")
    odd = {**row, "Ünknöwn field " * 40: 1}
    land(ls_layout, tmp_path / "odd.jsonl", jsonl([odd]))
    cloudwatch = aws("cloudwatch")

    def metrics() -> list[dict[str, Any]]:
        pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace="FraudOps")
        return [m for page in pages for m in page["Metrics"]]

    def by_rule() -> set[str]:
        return {
            d["Value"]
            for m in metrics()
            if m["MetricName"] == "RecordsRejectedByRule"
            for d in m["Dimensions"]
            if d["Name"] == "rule"
        }

    # Then the rejection is counted under its rule id, as a dimension of one fixed metric
    def counted() -> set[str]:
        rules = by_rule()
        return rules if "unknown_field" in rules else set()

    rules = poll(counted, timeout=60, what="the unknown_field rule's metric")
    assert all(len(r) <= 105 and " " not in r for r in rules)
    # And every metric name in the namespace comes from the fixed set (no data in names)
    names = {m["MetricName"] for m in metrics()}
    assert not {n for n in names if not n.isidentifier() or "nknown" in n}, names
