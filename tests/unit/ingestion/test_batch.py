"""Batch ingestion of landed files (fraudops_shared.ingestion.batch) over in-memory adapters:
every row curated or quarantined once, whatever the format, the damage, the re-uploads and the
retries."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fraudops_shared.contracts import load_contract
from fraudops_shared.ingestion import file_pass, readers
from fraudops_shared.ingestion.batch import BatchIngestor
from fraudops_shared.ingestion.claims import ClaimBusyError, ClaimLostError
from fraudops_shared.lake import writer
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.commits import Commit, FileCompletion
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import UNKNOWN_CONTRACT, Limits
from tests.unit.fakes import (
    MemoryBucket,
)
from tests.unit.ingestion.files import (
    BUCKET,
    CONTRACT,
    NOW,
    Lake,
    SimulatedCrash,
    columns,
    csv_bytes,
    data_lines,
    jsonl_bytes,
    parquet_bytes,
    row,
)
from tests.unit.lake.stores import ConcurrentBucket, Killed, kill_at

# --- formats ------------------------------------------------------------------------------------


def test_csv_rows_are_curated_or_quarantined_with_their_reasons(lake: Lake) -> None:
    # Given a CSV with three good rows, one with a bad amount and one with an extra field
    body = csv_bytes([row(1), row(2), row(3, amount="abc")])
    body += data_lines([row(9)]).rstrip(b"\n") + b",EXTRA\n" + data_lines([row(4)])
    obj = lake.put(f"landing/{CONTRACT}/day.csv", body)
    # When it is ingested
    result = lake.ingest(obj)
    # Then 5 rows came in: 3 curated, 2 quarantined, each with a reason
    assert (result.status, result.rows_in, result.valid, result.rejected) == ("ingested", 5, 3, 2)
    lake.check_outputs(result)
    rejects = lake.quarantined()
    malformed = next(r for r in rejects if readers.RULE_MALFORMED_ROW in r["rules"])
    assert f"expected {len(columns())} columns, got {len(columns()) + 1}" in malformed["reasons"][0]
    assert "EXTRA" in malformed["record"]
    bad_amount = next(r for r in rejects if r["row_number"] is not None)
    assert json.loads(bad_amount["record"])["amount"] == "abc"
    assert bad_amount["rules"] == ["type:amount"]
    assert result.rule_counts == {"type:amount": 1, readers.RULE_MALFORMED_ROW: 1}
    assert bad_amount["row_number"] == 3
    # And the curated zone is partitioned by the contract's column, at keys of the content
    (part,) = load_contract(CONTRACT).partition_columns
    assert all(f"/{part}=2026-11-2" in k for k in result.manifest["outputs"]["curated"])
    assert all(f"/{result.sha256[:16]}-00000" in k for k in result.manifest["outputs"]["curated"])
    # And the manifest tells where it came from and how long each phase took
    manifest = lake.json(f"manifests/{CONTRACT}/{result.sha256}.json")
    assert manifest["source"]["key"] == obj.key
    assert manifest["source"]["version_id"] == obj.version_id
    assert manifest["contract"]["name"] == CONTRACT
    assert set(manifest["timings_ms"]) >= {"read", "validate", "write"}
    # And the counters moved once
    assert lake.counters() == {
        "in_records": 5, "curated": 3, "quarantined": 2, "files": 1, "files_quarantined": 0
    }  # fmt: skip


def test_gzipped_csv_reads_like_plain_csv(lake: Lake) -> None:
    # Given the same rows gzipped
    obj = lake.put(
        f"landing/{CONTRACT}/day.csv.gz", gzip.compress(csv_bytes([row(i) for i in range(10)]))
    )
    # When ingested, Then all ten are curated
    result = lake.ingest(obj)
    assert (result.rows_in, result.valid, result.rejected) == (10, 10, 0)
    lake.check_outputs(result)


def test_jsonl_keeps_malformed_lines_with_the_parser_message(lake: Lake) -> None:
    # Given JSON Lines with good rows, broken JSON, a non-object, an unknown field, a blank line
    body = (
        jsonl_bytes([row(1), row(2)])
        + b"{not json\n"
        + b"[1, 2]\n"
        + b"\n"
        + jsonl_bytes([{**row(3), "surprise": 1}, row(4, transaction_id=None)])
    )
    obj = lake.put(f"landing/{CONTRACT}/stream.jsonl", body)
    # When ingested
    result = lake.ingest(obj)
    # Then the blank line is no record; the rest are all accounted for
    assert (result.rows_in, result.valid) == (6, 2)
    lake.check_outputs(result)
    by_rule = {rule: r for r in lake.quarantined() for rule in r["rules"]}
    assert "line 3" in by_rule[readers.RULE_MALFORMED_JSON]["reasons"][0]
    assert "Expecting property name" in by_rule[readers.RULE_MALFORMED_JSON]["reasons"][0]
    assert by_rule[readers.RULE_MALFORMED_JSON]["record"] == "{not json"
    assert "list" in by_rule[readers.RULE_NOT_AN_OBJECT]["reasons"][0]
    assert "surprise" in by_rule[readers.RULE_UNKNOWN_FIELD]["reasons"][0]
    assert result.rule_counts[readers.RULE_MALFORMED_JSON] == 1


def test_gzipped_jsonl(lake: Lake) -> None:
    obj = lake.put(
        f"landing/{CONTRACT}/s.jsonl.gz", gzip.compress(jsonl_bytes([row(i) for i in range(4)]))
    )
    result = lake.ingest(obj)
    assert (result.rows_in, result.valid) == (4, 4)


def test_parquet_is_read_in_row_batches(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Parquet file of 25 rows and batches of 10, and no room to hold rows back (each
    # chunk's rows are written as they come: the objects show the chunks)
    monkeypatch.setattr(writer, "CURATED_BUFFER_BYTES", 0)
    obj = lake.put(f"landing/{CONTRACT}/p.parquet", parquet_bytes([row(i) for i in range(25)]))
    # When ingested
    result = lake.ingest(obj, parquet_batch_rows=10)
    # Then three chunks were written (per partition), and every row is curated
    assert (result.rows_in, result.valid) == (25, 25)
    chunks = {k.rsplit("-", 1)[1] for k in result.manifest["outputs"]["curated"]}
    assert chunks == {"00000.parquet", "00001.parquet", "00002.parquet"}
    lake.check_outputs(result)


def test_small_blocks_split_a_csv_into_chunks_and_uniqueness_spans_them(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 60 rows whose last one repeats the first transaction id, read in 256-byte blocks
    # (each chunk's rows written as they come: the objects show the chunks)
    monkeypatch.setattr(writer, "CURATED_BUFFER_BYTES", 0)
    rows = [row(i) for i in range(59)] + [row(100, transaction_id="t-000000")]
    obj = lake.put(f"landing/{CONTRACT}/big.csv", csv_bytes(rows))
    # When ingested
    result = lake.ingest(obj, csv_block_bytes=256)
    # Then many chunks were written, and the repeat in a later chunk was still caught
    chunks = {k.rsplit("-", 1)[1] for k in result.manifest["outputs"]["curated"]}
    assert len(chunks) > 5
    assert (result.rows_in, result.valid, result.rejected) == (60, 59, 1)
    (repeat,) = lake.quarantined()
    assert (repeat["row_number"], repeat["rules"]) == (60, ["duplicate_key"])
    assert "earlier batch" in repeat["reasons"][0]
    lake.check_outputs(result)
    assert sorted(str(r["transaction_id"]) for r in lake.curated_rows()) == sorted(
        str(r["transaction_id"]) for r in rows[:59]
    )


def test_leading_zeros_of_mcc_survive(lake: Lake) -> None:
    obj = lake.put(f"landing/{CONTRACT}/z.csv", csv_bytes([row(1, mcc="0742")]))
    lake.ingest(obj)
    (curated,) = lake.curated_rows()
    assert curated["mcc"] == "0742"
    assert curated["transaction_id"] == "t-000001"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("empty.csv", b""),
        ("header-only.csv", None),
        ("empty.jsonl", b""),
        ("blank-lines.jsonl", b"\n\n"),
    ],
)
def test_empty_and_header_only_files_give_an_empty_manifest(
    lake: Lake, name: str, body: bytes | None
) -> None:
    obj = lake.put(f"landing/{CONTRACT}/{name}", csv_bytes([]) if body is None else body)
    result = lake.ingest(obj)
    assert (result.status, result.rows_in, result.valid, result.rejected) == ("ingested", 0, 0, 0)
    assert lake.json(result.manifest_key)["counts"]["rows_in"] == 0
    assert lake.keys("curated/") == []


# --- files that cannot be read ------------------------------------------------------------------


def test_unknown_contract_is_quarantined_whole_with_the_known_contracts(lake: Lake) -> None:
    obj = lake.put("landing/nosuch/x.csv", csv_bytes([row(1)]))
    result = lake.ingest(obj)
    assert result.status == "quarantined_file"
    assert lake.keys("quarantine/_unknown/") == [f"quarantine/_unknown/{result.sha256[:16]}-x.csv"]
    manifest = lake.json(f"manifests/_unknown/{result.sha256}.json")
    assert "nosuch" in manifest["reason"] and CONTRACT in manifest["reason"]
    assert lake.keys("curated/") == []


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("missing.csv", "drop", "transaction_id"),
        ("garbage.csv", b"\x00\x01\x02\xff\xfe binary\n\x00\x00", "header"),
        ("header.csv", b"transaction_id,\xff\xfeamount\n1,2\n", "UTF-8"),
        ("bad.csv.gz", b"this is not gzip", "gzip"),
        ("bad.parquet", b"PAR1 not really", "Parquet"),
        ("notes.xlsx", b"whatever", "unsupported"),
    ],
)
def test_unreadable_files_are_quarantined_whole_with_a_reason(
    lake: Lake, name: str, body: bytes | str, reason: str
) -> None:
    if body == "drop":  # a file without the transaction_id column
        body = csv_bytes([row(1)], header=[c for c in columns() if c != "transaction_id"])
    assert isinstance(body, bytes)
    obj = lake.put(f"landing/{CONTRACT}/{name}", body)
    result = lake.ingest(obj)
    assert result.status == "quarantined_file"
    manifest = lake.json(result.manifest_key)
    assert reason in manifest["reason"]
    copy = manifest["outputs"]["file"]
    assert copy == f"quarantine/{CONTRACT}/_files/{result.sha256[:16]}-{name}"
    assert lake.body(copy) == body
    assert lake.keys("curated/") == []
    assert lake.counters()["files_quarantined"] == 1


def test_bytes_that_are_not_utf8_reject_only_their_row(lake: Lake) -> None:
    # Given a well-formed row whose card id holds Latin-1 bytes
    body = csv_bytes([row(1), row(2)]).replace(b"card-2", b"card-\xe9\xff")
    obj = lake.put(f"landing/{CONTRACT}/latin.csv", body)
    result = lake.ingest(obj)
    assert (result.rows_in, result.valid, result.rejected) == (2, 1, 1)
    (rejected,) = lake.quarantined()
    assert rejected["rules"] == [readers.RULE_ENCODING]
    assert "card_id" in rejected["reasons"][0]
    assert "\\xe9" in rejected["record"]
    lake.check_outputs(result)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_malformed_row_that_is_not_utf8_either_quarantines_the_file(lake: Lake) -> None:
    # pyarrow cannot hand such a row to our handler: the file goes whole, the invocation lives
    bad = data_lines([row(2, card_id="XX")]).replace(b"XX", b"\xff").rstrip(b"\n")
    body = csv_bytes([row(1)]) + bad + b",extra,more\n"
    obj = lake.put(f"landing/{CONTRACT}/worst.csv", body)
    result = lake.ingest(obj)
    assert result.status == "quarantined_file"
    assert lake.keys("curated/") == []  # what the first chunk wrote was removed


# --- idempotency ---------------------------------------------------------------------------------


def test_the_same_content_uploaded_again_is_a_duplicate_and_writes_no_data(lake: Lake) -> None:
    body = csv_bytes([row(i) for i in range(5)])
    first_obj = lake.put(f"landing/{CONTRACT}/a.csv", body)
    first = lake.ingest(first_obj)
    curated_before = lake.keys("curated/")
    counters_before = lake.counters()
    # When the same bytes land under another name
    second_obj = lake.put(f"landing/{CONTRACT}/copy-of-a.csv", body)
    second = lake.ingest(second_obj, owner="req-2")
    # Then a duplicate manifest points at the first file, and nothing else changed
    assert second.status == "duplicate"
    assert (second.rows_in, second.valid, second.rejected) == (0, 0, 0)
    manifest = lake.json(second.manifest_key)
    assert manifest["duplicate_of"]["manifest"] == first.manifest_key
    assert manifest["duplicate_of"]["source"]["key"] == f"landing/{CONTRACT}/a.csv"
    assert manifest["source"]["key"] == second_obj.key
    assert lake.keys("curated/") == curated_before
    assert lake.counters() == counters_before
    # And the very same event delivered again writes nothing at all
    again = lake.ingest(second_obj, owner="req-3")
    third = lake.ingest(lake.put(f"landing/{CONTRACT}/a.csv", body), owner="req-4")
    assert lake.ingest(lake.put(f"landing/{CONTRACT}/b.csv", body)).status == "duplicate"
    assert again.status == "duplicate" and third.status == "duplicate"
    redelivered = lake.ingest(first_obj, owner="req-5")
    assert redelivered.status == "already_ingested"
    assert redelivered.manifest_key == first.manifest_key
    assert lake.counters() == counters_before


class CrashingStore:
    """The real store, killed at the n-th Parquet write (or failing with an error)."""

    def __init__(self, inner: MemoryBucket, at: int, exc: Callable[[], BaseException]) -> None:
        self.inner, self.at, self.exc, self.writes = inner, at, exc, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_parquet(self, key: str, table: pa.Table) -> None:
        self.writes += 1
        if self.writes == self.at:
            raise self.exc()
        self.inner.put_parquet(key, table)


def test_a_retry_after_a_crash_mid_file_rewrites_the_same_outputs(lake: Lake) -> None:
    body = csv_bytes([row(i) for i in range(40)])
    obj = lake.put(f"landing/{CONTRACT}/crash.csv", body)
    # Given an invocation killed at its third Parquet write
    crashing = CrashingStore(lake.store, at=3, exc=SimulatedCrash)
    with pytest.raises(SimulatedCrash):
        lake.ingest(obj, owner="req-1", store=crashing, csv_block_bytes=256)
    # Then nothing reached curated/: what it wrote waits under _staging/, uncommitted
    partial = lake.keys("_staging/")
    assert partial and lake.keys("curated/") == [] and lake.counters() == {}
    # When another request tries before the claim is stale, Then it is told to retry later
    with pytest.raises(ClaimBusyError):
        lake.ingest(obj, owner="req-other", csv_block_bytes=256)
    # When Lambda retries the event (same request id), Then it completes
    result = lake.ingest(obj, owner="req-1", csv_block_bytes=256)
    assert (result.rows_in, result.valid) == (40, 40)
    # And the outputs were promoted from staging exactly once: curated/ holds the manifest's
    # objects and nothing else, and staging is empty
    assert lake.keys("curated/") == sorted(result.manifest["outputs"]["curated"])
    assert lake.keys("_staging/") == []
    assert len(lake.curated_rows()) == 40
    assert lake.counters()["in_records"] == 40


def test_a_stale_claim_is_taken_over_by_another_request(lake: Lake) -> None:
    obj = lake.put(f"landing/{CONTRACT}/stale.csv", csv_bytes([row(i) for i in range(5)]))
    with pytest.raises(SimulatedCrash):
        lake.ingest(obj, owner="req-1", store=CrashingStore(lake.store, 1, SimulatedCrash))
    # When a different request comes after the function timeout
    later = NOW + timedelta(seconds=Limits().claim_stale_after_seconds + 1)
    result = lake.ingest(obj, owner="req-2", now=later)
    # Then it took the claim over and the counters moved once
    assert result.manifest["taken_over"] is True
    assert lake.counters()["in_records"] == 5
    # And the crashed holder can no longer complete
    late = Commit("late", CONTRACT, "s3", "m", {"files": 1}, completion=FileCompletion(
        result.sha256, "req-1"))  # fmt: skip
    with pytest.raises(ClaimLostError):
        lake.log.commit(late, expires_at=0)
    assert lake.counters()["files"] == 1


def test_an_error_releases_the_claim_so_anyone_may_retry(lake: Lake) -> None:
    obj = lake.put(f"landing/{CONTRACT}/err.csv", csv_bytes([row(1)]))
    # Given a write that fails with an error (S3 throttling, say)
    with pytest.raises(RuntimeError):
        lake.ingest(obj, owner="req-1", store=CrashingStore(lake.store, 1, RuntimeError))
    # When another request handles the event at once, Then it succeeds
    assert lake.ingest(obj, owner="req-2").valid == 1
    assert lake.counters()["files"] == 1


def test_landing_key_parsing() -> None:
    assert lake_keys.parse_landing_key("landing/transactions/2026/11/a.csv") == (
        "transactions",
        "a.csv",
    )
    assert lake_keys.parse_landing_key("landing/orphan.csv") == (UNKNOWN_CONTRACT, "orphan.csv")
    assert readers.detect_format("A.CSV.GZ") == ("csv", True)
    with pytest.raises(readers.FileProblem):
        readers.detect_format("x.parquet.gz")


def test_the_manifest_path_is_where_the_cli_waits(tmp_path: Path) -> None:
    zones = Zones(data_bucket=BUCKET)
    assert (
        lake_keys.manifest_key(zones, CONTRACT, "ab" * 32)
        == f"manifests/{CONTRACT}/{'ab' * 32}.json"
    )


# --- one transaction, one curated row, whatever the route ---------------------------------------


def test_a_key_curated_by_another_file_is_quarantined_naming_the_first(lake: Lake) -> None:
    # Given a first file curated with t-1..t-5
    first = lake.ingest(
        lake.put(f"landing/{CONTRACT}/a.csv", csv_bytes([row(i) for i in range(1, 6)]))
    )
    # When another file brings t-4 and t-5 again (t-5 corrected), and t-6 new
    body = csv_bytes([row(4), row(5, amount="99.99"), row(6)])
    second = lake.ingest(lake.put(f"landing/{CONTRACT}/b.csv", body))
    # Then only t-6 is curated; the copies are duplicates naming the first file's manifest
    assert (second.rows_in, second.valid, second.rejected) == (3, 1, 2)
    assert second.rule_counts == {"duplicate_key": 2}
    reasons = {json.loads(r["record"])["transaction_id"]: r["reasons"][0]
               for r in lake.quarantined() if "duplicate_key" in r["rules"]}  # fmt: skip
    assert first.manifest_key in reasons["t-000004"] and "identical copy" in reasons["t-000004"]
    assert "differs in amount" in reasons["t-000005"]
    # And each transaction is curated exactly once across both files
    curated = sorted(r["transaction_id"] for r in lake.curated_rows())
    assert curated == [f"t-{i:06d}" for i in range(1, 7)]
    assert lake.counters()["curated"] == 6 and lake.counters()["in_records"] == 8


def test_a_corrected_reupload_of_the_same_key_is_rejected_by_policy(lake: Lake) -> None:
    # Given a file landed, then the same key landed again with a corrected amount
    lake.ingest(lake.put(f"landing/{CONTRACT}/day.csv", csv_bytes([row(1), row(2)])))
    fixed = lake.ingest(
        lake.put(f"landing/{CONTRACT}/day.csv", csv_bytes([row(1, amount="1.00"), row(2)]))
    )
    # Then the first copy stands: the correction is quarantined and says what differs
    assert (fixed.valid, fixed.rejected) == (0, 2)
    (corrected,) = [r for r in lake.quarantined() if "differs" in r["reasons"][0]]
    assert "amount" in corrected["reasons"][0] and "first copy stands" in corrected["reasons"][0]
    amounts = {r["transaction_id"]: r["amount"] for r in lake.curated_rows()}
    assert amounts["t-000001"] == 11.5


def test_a_writer_that_raced_us_is_seen_on_the_retry(lake: Lake) -> None:
    # Given our index state read before another writer commits t-1 on the same day
    ingestor = lake.ingestor()
    ingestor.ingest(lake.put(f"landing/{CONTRACT}/x.csv", csv_bytes([row(7)])), owner="r", now=NOW)
    other = BatchIngestor(store=lake.store, claims=lake.claims, log=lake.log,
                          index_store=lake.index, zones=lake.zones)  # fmt: skip
    other.ingest(lake.put(f"landing/{CONTRACT}/o.csv", csv_bytes([row(1)])), owner="o", now=NOW)
    # When our (warm) ingestor brings t-1 too: its cached index does not know yet, but its
    # commit's head condition fails, it reads again and finds the other writer's copy
    result = ingestor.ingest(lake.put(f"landing/{CONTRACT}/y.csv", csv_bytes([row(1), row(10)])),
                             owner="r2", now=NOW)  # fmt: skip
    assert (result.valid, result.rule_counts) == (1, {"duplicate_key": 1})
    assert sorted(r["transaction_id"] for r in lake.curated_rows()).count("t-000001") == 1


def test_a_file_quarantined_for_its_name_can_be_landed_again_under_the_right_name(
    lake: Lake,
) -> None:
    body = csv_bytes([row(i) for i in range(3)])
    # Given a plain CSV named .csv.gz: quarantined whole, counted with the rows it held
    wrong = lake.ingest(lake.put(f"landing/{CONTRACT}/plain.csv.gz", body))
    assert wrong.status == "quarantined_file" and wrong.manifest["rule"] == "not_gzip"
    assert wrong.manifest["retryable"] is True
    assert lake.counters() == {"in_records": 3, "curated": 0, "quarantined": 3, "files": 1,
                               "files_quarantined": 1}  # fmt: skip
    # When the same bytes are landed again under the right name
    right = lake.ingest(lake.put(f"landing/{CONTRACT}/plain.csv", body), owner="req-2")
    # Then they are ingested (a second attempt), and the ledger still balances
    assert right.status == "ingested" and right.valid == 3 and right.manifest["attempt"] == 2
    counts = lake.counters()
    assert counts["in_records"] == counts["curated"] + counts["quarantined"] == 6
    # And a third landing of the same bytes is a plain duplicate
    again = lake.ingest(lake.put(f"landing/{CONTRACT}/copy.csv", body), owner="req-3")
    assert again.status == "duplicate"


def test_a_file_over_the_size_limit_is_quarantined_without_being_read(lake: Lake) -> None:
    obj = lake.put(f"landing/{CONTRACT}/huge.csv", csv_bytes([row(1)]))
    result = lake.ingest(obj, max_file_bytes=10)
    assert result.status == "quarantined_file" and result.manifest["rule"] == "too_large"
    assert lake.store.calls.get("get", 0) == 0  # copied inside the store, never downloaded
    assert lake.keys(f"quarantine/{CONTRACT}/_files/")


def test_a_crash_between_the_commit_and_the_promotion_is_finished_by_the_retry(
    lake: Lake,
) -> None:
    obj = lake.put(f"landing/{CONTRACT}/late.csv", csv_bytes([row(1), row(2)]))

    class DiesAfterCommit(MemoryBucket):
        def copy_within(self, source_key: str, dest_key: str) -> None:
            raise SimulatedCrash()

    dying = DiesAfterCommit(BUCKET)
    dying.objects = lake.store.objects  # the same bucket, killed at its first promotion
    with pytest.raises(SimulatedCrash):
        lake.ingest(obj, store=dying)
    # Then the commit happened (counted once) but curated/ is still empty
    assert lake.counters()["curated"] == 2 and lake.keys("curated/") == []
    # When the S3 event is delivered again, Then the promotion is finished, nothing counted twice
    again = lake.ingest(obj)
    assert again.status == "already_ingested"
    assert len(lake.curated_rows()) == 2 and lake.keys("_staging/") == []
    assert lake.counters()["curated"] == 2


def test_a_file_spanning_too_many_days_is_refused_whole(lake: Lake) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [row(i, event_time=(start + timedelta(days=i)).strftime("%Y-%m-%dT10:00:00Z"))
            for i in range(100)]  # fmt: skip
    result = lake.ingest(lake.put(f"landing/{CONTRACT}/year.csv", csv_bytes(rows)))
    assert result.status == "quarantined_file" and result.manifest["rule"] == "too_many_days"
    assert lake.keys("curated/") == [] and lake.counters()["quarantined"] == 100


def test_a_writer_that_commits_while_we_read_the_file_is_seen_on_the_retry(lake: Lake) -> None:
    # Given a file of many chunks whose first chunk brings t-1 (day 21), and another writer
    # that commits t-1 after we checked that chunk, before we read the rest of the file
    rows = [row(1)] + [row(i) for i in range(100, 160)]
    obj = lake.put(f"landing/{CONTRACT}/long.csv", csv_bytes(rows))
    other = BatchIngestor(store=lake.store, claims=lake.claims, log=lake.log,
                          index_store=lake.index, zones=lake.zones)  # fmt: skip
    raced: list[Any] = []

    class RacedStore:
        """Our store; the other writer commits t-1 at our first Parquet write."""

        def __getattr__(self, name: str) -> Any:
            return getattr(lake.store, name)

        def put_parquet(self, key: str, table: pa.Table) -> None:
            if not raced:
                raced.append(other.ingest(
                    lake.put(f"landing/{CONTRACT}/o.csv", csv_bytes([row(1)])), owner="o", now=NOW
                ))  # fmt: skip
            lake.store.put_parquet(key, table)

    # When we finish the file (later chunks hold day 21 too: the index is read again)
    result = lake.ingest(obj, store=RacedStore(), csv_block_bytes=256)
    # Then our commit, conditioned on the day's version we checked t-1 against, failed; the
    # retry found the other copy: t-1 is curated once, and our copy is a duplicate
    assert raced[0].valid == 1
    assert (result.valid, result.rule_counts) == (60, {"duplicate_key": 1})
    assert sorted(r["transaction_id"] for r in lake.curated_rows()).count("t-000001") == 1
    lake.check_outputs(result)


# --- fewer, larger objects; written in the background on a store that takes concurrent calls ----


def test_a_file_in_event_order_makes_one_object_per_day_and_one_of_rejected_rows(
    lake: Lake,
) -> None:
    # Given a file read in many chunks, its days in order, a bad row in several chunks
    rows = [row(3 * i + d, amount="abc" if i % 7 == 0 else None) for d in range(3)
            for i in range(12)]  # fmt: skip
    rows = [{**r, "amount": r["amount"] or f"{n}.50"} for n, r in enumerate(rows)]
    obj = lake.put(f"landing/{CONTRACT}/ordered.csv", csv_bytes(rows))
    # When ingested in small blocks
    result = lake.ingest(obj, csv_block_bytes=256)
    assert (result.rows_in, result.valid, result.rejected) == (36, 30, 6)
    # Then each day is one object, and the rejected rows one object, not one per chunk
    curated = result.manifest["outputs"]["curated"]
    assert len(curated) == 3 and all(k.endswith(f"{result.sha256[:16]}-00000.parquet")
                                     for k in curated)  # fmt: skip
    assert result.manifest["outputs"]["quarantine"] == [
        lake_keys.quarantine_rows_key(lake.zones, CONTRACT, result.sha256, 0)
    ]
    lake.check_outputs(result)


def test_rejected_rows_are_written_in_parts_of_bounded_size(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_pass, "QUARANTINE_PART_BYTES", 1)
    rows = [row(i, amount="abc") for i in range(20)]
    result = lake.ingest(lake.put(f"landing/{CONTRACT}/bad.csv", csv_bytes(rows)),
                         csv_block_bytes=256)  # fmt: skip
    parts = result.manifest["outputs"]["quarantine"]
    assert len(parts) > 3 and parts[-1].endswith(f"part-{len(parts) - 1:05d}.jsonl")
    lake.check_outputs(result)
    assert sorted(json.loads(r["record"])["transaction_id"] for r in lake.quarantined()) == [
        f"t-{i:06d}" for i in range(20)
    ]


def test_a_store_that_takes_concurrent_calls_gets_the_same_outputs() -> None:
    rows = [row(i) for i in range(50)] + [row(60, amount="abc")]
    results, lakes = [], []
    for store in (MemoryBucket(BUCKET), ConcurrentBucket(BUCKET, delay=0.002)):
        lake = Lake(store=store)
        results.append(lake.ingest(lake.put(f"landing/{CONTRACT}/a.csv", csv_bytes(rows)),
                                   csv_block_bytes=512))  # fmt: skip
        lakes.append(lake)
    serial, concurrent = results
    assert concurrent.manifest["outputs"] == serial.manifest["outputs"]
    assert lakes[1].keys("") == lakes[0].keys("")
    assert lakes[1].curated_rows() == lakes[0].curated_rows()
    assert lakes[1].counters() == lakes[0].counters()
    lakes[1].check_outputs(concurrent)
    assert lakes[1].store.peak > 1  # type: ignore[attr-defined]
    # And the result tells how long the commit and the promotion took (the manifest cannot)
    assert {"write", "commit", "promote"} <= set(concurrent.summary()["timings_ms"])


def test_a_failed_background_write_commits_nothing_and_the_retry_completes() -> None:
    store = ConcurrentBucket(BUCKET)
    lake = Lake(store=store)
    obj = lake.put(f"landing/{CONTRACT}/w.csv", csv_bytes([row(i) for i in range(30)]))

    def slow_down(op: str, key: str) -> None:
        if op == "put" and key.endswith(".parquet") and "2026-11-21" in key:
            raise OSError("SlowDown")

    store.fail = slow_down
    with pytest.raises(OSError, match="SlowDown"):
        lake.ingest(obj, csv_block_bytes=256)
    # Then nothing was committed or promoted, and the claim was given back
    assert lake.counters() == {} and lake.keys("curated/") == []
    store.fail = lambda op, key: None
    result = lake.ingest(obj, owner="req-2", csv_block_bytes=256)
    assert result.valid == 30 and lake.keys("curated/") == sorted(
        result.manifest["outputs"]["curated"]
    )
    assert lake.keys("_staging/") == []


def test_a_kill_among_concurrent_promotions_is_finished_by_the_redelivery() -> None:
    store = ConcurrentBucket(BUCKET)
    lake = Lake(store=store)
    obj = lake.put(f"landing/{CONTRACT}/k.csv", csv_bytes([row(i) for i in range(30)]))
    kill_at(store, "copy", 2)
    with pytest.raises(Killed):
        lake.ingest(obj)
    assert lake.counters()["curated"] == 30  # committed, not (all) promoted
    store.fail = lambda op, key: None
    assert lake.ingest(obj).status == "already_ingested"
    assert len(lake.curated_rows()) == 30 and lake.keys("_staging/") == []
    assert lake.counters()["curated"] == 30
