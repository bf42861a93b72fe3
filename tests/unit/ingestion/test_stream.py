"""Stream ingestion (fraudops_shared.ingestion.stream) over in-memory adapters: every record ends
curated or quarantined once, whatever the retries, the bad records beside good ones, or the
route the same transaction came by; the scoring feed is published before the commit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudops_shared.contracts import load_contract
from fraudops_shared.ingestion import kpl
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.ingestion.stream import StreamIngestion, StreamResult
from fraudops_shared.lake.commits import CommitConflict
from fraudops_shared.lake.zones import Zones
from tests.unit.fakes import (
    Counters,
    MemoryBucket,
    MemoryCommitLog,
    MemoryFileClaims,
    MemoryKeyIndex,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CONTRACT = "transactions"
SHARD = "shardId-000000000000"
STREAM = "tx"


def txn(txn_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid transaction as a producer sends it."""
    return {
        "transaction_id": txn_id,
        "event_time": (NOW - timedelta(minutes=5)).isoformat(),
        "card_id": "card_1",
        "customer_id": "cus_1",
        "merchant_id": "m_1",
        "mcc": "0742",
        "amount": 12.5,
        "currency": "EUR",
        "country": "DE",
        "merchant_country": "DE",
        "channel": "pos",
        "entry_mode": "chip",
        "card_present": True,
        **overrides,
    }


def rec(seq: int, data: bytes | dict[str, Any], shard: str = SHARD) -> KinesisRecord:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return KinesisRecord(shard, str(seq), "pk", raw)


class Lake:
    def __init__(self) -> None:
        self.store = MemoryBucket("lake")
        self.counters = Counters()
        self.claims = MemoryFileClaims()
        self.log = MemoryCommitLog(self.counters, self.claims, {})
        self.index = MemoryKeyIndex(self.log)
        self.zones = Zones("lake")
        self.contract = load_contract(CONTRACT)

    def ingestion(self, store: Any = None, feed: Any = None) -> StreamIngestion:
        return StreamIngestion(
            self.contract,
            stream=STREAM,
            store=store or self.store,
            zones=self.zones,
            log=self.log,
            index_store=self.index,
            feed=feed,
            now=NOW,
            index_ttl_seconds=86_400,
        )

    def run(self, records: list[KinesisRecord], **kw: Any) -> StreamResult:
        batch = self.ingestion(**kw)
        for record in records:
            batch.add(record)
        return batch.finish()

    def counts(self) -> dict[str, int]:
        return self.counters.of(CONTRACT, "kinesis")

    def quarantined(self) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for key in self.store.keys("quarantine/")
            for line in self.store.body(key).splitlines()
        ]

    def curated_ids(self) -> list[str]:
        return sorted(r["transaction_id"] for r in self.store.rows("curated/"))


@pytest.fixture
def lake() -> Lake:
    return Lake()


def test_good_bad_and_malformed_records_are_all_accounted(lake: Lake) -> None:
    # Given a good record, an invalid one, a malformed one and bytes that are not UTF-8
    records = [
        rec(1, txn("t1")),
        rec(2, txn("t2", amount=-5)),
        rec(3, b"{not json"),
        rec(4, b"\xff\xfe\x00garbage"),
    ]
    # When the batch is ingested
    result = lake.run(records)
    # Then one row is curated and three are quarantined with their reasons, none lost
    assert [r["transaction_id"] for r in result.curated] == ["t1"]
    assert result.rule_counts() == {"range:amount": 1, "malformed_json": 1, "encoding": 1}
    assert lake.counts() == {"in_records": 4, "curated": 1, "quarantined": 3}
    by_rule = {rule: r for r in lake.quarantined() for rule in r["rules"]}
    assert "amount=-5" in by_rule["range:amount"]["reasons"][0]
    assert by_rule["encoding"]["record"].startswith("base64:")
    assert lake.curated_ids() == ["t1"]


def test_records_that_break_the_decoder_never_fail_their_neighbours(lake: Lake) -> None:
    # Given a batch with hostile records between good ones: nesting a few thousand levels deep,
    # a lone surrogate escape, a value no rule anticipated
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    records = [
        rec(1, txn("g1")),
        rec(2, deep),
        rec(3, b'{"transaction_id": "\\ud800"}'),
        rec(4, txn("g2")),
        rec(5, json.dumps([1, 2]).encode()),
    ]
    # When ingested
    result = lake.run(records)
    # Then the good ones are curated and each bad one is quarantined with its own rule
    assert sorted(r["transaction_id"] for r in result.curated) == ["g1", "g2"]
    assert result.rule_counts() == {"too_deep": 1, "encoding": 1, "not_an_object": 1}
    assert lake.counts() == {"in_records": 5, "curated": 2, "quarantined": 3}


def test_an_unexpected_validation_error_is_contained_to_its_record(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fraudops_shared.ingestion import stream

    real = stream.validate_batch

    def fragile(contract: Any, table: Any, **kw: Any) -> Any:
        if "boom" in table.column("transaction_id").to_pylist():
            raise ZeroDivisionError("a rule nobody anticipated")
        return real(contract, table, **kw)

    monkeypatch.setattr(stream, "validate_batch", fragile)
    result = lake.run([rec(1, txn("ok1")), rec(2, txn("boom")), rec(3, txn("ok2"))])
    # Then the vectorised pass failed, each record was validated alone, and only one is lost
    assert sorted(r["transaction_id"] for r in result.curated) == ["ok1", "ok2"]
    (bad,) = result.rejected
    assert bad.rules == ["unprocessable"] and "ZeroDivisionError" in bad.reasons[0]


def test_a_transaction_delivered_twice_is_kept_once(lake: Lake) -> None:
    # Given the same transaction twice in a batch and once more in a later batch
    first = lake.run([rec(1, txn("d1")), rec(2, txn("d1"))])
    later = lake.run([rec(3, txn("d1")), rec(4, txn("d2"))])
    # Then it is curated once; the copies are quarantined as duplicates
    assert [r["transaction_id"] for r in first.curated] == ["d1"]
    assert first.rule_counts() == {"duplicate_key": 1}
    assert [r["transaction_id"] for r in later.curated] == ["d2"]
    assert later.duplicates == 1 and "kinesis commit" in later.rejected[0].reasons[0]
    assert lake.curated_ids() == ["d1", "d2"]
    assert lake.counts() == {"in_records": 4, "curated": 2, "quarantined": 2}


def test_a_key_curated_by_a_file_is_a_duplicate_on_the_stream(lake: Lake) -> None:
    from fraudops_shared.ingestion.batch import BatchIngestor
    from tests.unit.ingestion.test_batch import csv_bytes, row

    # Given a file that curated t-000001
    batch = BatchIngestor(store=lake.store, claims=lake.claims, log=lake.log,
                          index_store=lake.index, zones=lake.zones)  # fmt: skip
    obj = lake.store.land(f"landing/{CONTRACT}/f.csv", csv_bytes([row(1)]))
    file_row = batch.ingest(obj, owner="req", now=NOW)
    assert file_row.valid == 1
    # When the stream brings the same transaction
    copy = {k: v for k, v in row(1).items() if v is not None}
    result = lake.run([rec(1, copy)])
    # Then it is quarantined naming the file's manifest
    assert result.curated == [] and result.duplicates == 1
    assert file_row.manifest_key in result.rejected[0].reasons[0]


def test_redelivery_of_a_committed_batch_changes_nothing(lake: Lake) -> None:
    records = [rec(1, txn("r1")), rec(2, b"nope")]
    lake.run(records)
    before = (lake.store.keys(), lake.counts())
    # When the same batch (or a bisected half of it) comes again
    again = lake.run(records)
    half = lake.run(records[1:])
    # Then it is skipped by the shard's checkpoint: nothing written, nothing counted
    assert again.skipped_committed == 2 and half.skipped_committed == 1
    assert (lake.store.keys(), lake.counts()) == before


def test_a_failed_commit_leaves_nothing_and_the_retry_succeeds(lake: Lake) -> None:
    records = [rec(1, txn("f1")), rec(2, txn("f2"))]
    # Given the commit fails (DynamoDB unavailable)
    lake.log.fail_next = 5
    with pytest.raises(CommitConflict):
        lake.run(records)
    # Then nothing reached curated/ and nothing was counted
    assert lake.store.keys("curated/") == [] and lake.counts() == {}
    # When Lambda retries the batch, Then it is curated once
    lake.run(records)
    assert lake.curated_ids() == ["f1", "f2"] and lake.counts()["curated"] == 2


def test_claims_never_outlive_a_failed_batch(lake: Lake) -> None:
    # Given a batch that wrote its index pages, then failed to commit
    lake.log.fail_next = 5
    with pytest.raises(CommitConflict):
        lake.run([rec(1, txn("o1"))])
    assert lake.index.calls.get("put_pages")
    # When the producer sends the transaction again after the outage (new sequence numbers)
    result = lake.run([rec(9, txn("o1"))])
    # Then it is curated: the failed batch's pages never counted
    assert [r["transaction_id"] for r in result.curated] == ["o1"] and result.duplicates == 0


def test_a_crash_after_the_commit_is_finished_by_the_next_batch(lake: Lake) -> None:
    class DiesAtPromotion(MemoryBucket):
        def copy_within(self, source_key: str, dest_key: str) -> None:
            raise KeyboardInterrupt  # a kill: nothing of ours runs after it

    dying = DiesAtPromotion("lake")
    dying.objects = lake.store.objects
    with pytest.raises(KeyboardInterrupt):
        lake.run([rec(1, txn("p1"))], store=dying)
    assert lake.counts()["curated"] == 1 and lake.store.keys("curated/") == []
    # When the shard's next batch arrives, Then it first finishes the promotion
    lake.run([rec(2, txn("p2"))])
    assert lake.curated_ids() == ["p1", "p2"] and lake.store.keys("_staging/") == []


def test_kpl_aggregates_are_split_and_corrupted_ones_kept(lake: Lake) -> None:
    good = kpl.aggregate([("card", json.dumps(txn(f"k{i}")).encode()) for i in range(3)])
    broken = good[:-3] + b"xxx"  # the MD5 no longer matches
    result = lake.run([rec(1, good), rec(2, broken)])
    assert sorted(r["transaction_id"] for r in result.curated) == ["k0", "k1", "k2"]
    assert result.rule_counts() == {"kpl_aggregate": 1}
    assert {r["_record_id"] for r in result.curated} == {f"{SHARD}:1:{i}" for i in range(3)}


def test_ten_thousand_records_are_one_commit(lake: Lake) -> None:
    records = [rec(i, txn(f"b{i:05d}")) for i in range(10_000)]
    result = lake.run(records)
    assert len(result.curated) == 10_000 and lake.log.commits == 1
    assert lake.counts() == {"in_records": 10_000, "curated": 10_000, "quarantined": 0}
    assert len(lake.store.keys("curated/")) == 1  # one day: one Parquet object


def test_a_one_megabyte_record_is_quarantined_with_its_reason(lake: Lake) -> None:
    huge = json.dumps(txn("x" * 1_000_000)).encode()
    result = lake.run([rec(1, huge)])
    (rejected,) = result.rejected
    assert "max_length:transaction_id" in rejected.rules
    over = lake.run([rec(2, b'{"a": "' + b"y" * (1 << 20) + b'"}')])
    assert over.rejected[0].rules == ["record_too_large"]


class RecordingFeed:
    """The scoring feed port; notes when it was called relative to the commits."""

    def __init__(self, log: MemoryCommitLog, fail: bool = False) -> None:
        self.log, self.fail = log, fail
        self.published: list[str] = []
        self.commits_before_publish: int | None = None

    def publish(self, rows: Any, *, now: datetime) -> int:
        self.commits_before_publish = self.log.commits
        if self.fail:
            raise ConnectionError("the feed refused the batch")
        self.published += [r["transaction_id"] for r in rows]
        return len(rows)


def test_curated_rows_are_published_before_the_commit(lake: Lake) -> None:
    feed = RecordingFeed(lake.log)
    records = [rec(1, txn("p1")), rec(2, txn("p2", amount=-1)), rec(3, txn("p3"))]
    lake.run(records, feed=feed)
    # Then the curated rows were published while nothing was committed yet, then committed
    assert feed.commits_before_publish == 0 and lake.log.commits == 1
    assert feed.published == ["p1", "p3"]


def test_a_failed_publish_commits_nothing_so_the_retry_publishes_again(lake: Lake) -> None:
    records = [rec(1, txn("q1"))]
    with pytest.raises(ConnectionError):
        lake.run(records, feed=RecordingFeed(lake.log, fail=True))
    assert lake.log.commits == 0 and lake.counts() == {}
    feed = RecordingFeed(lake.log)
    lake.run(records, feed=feed)
    assert feed.published == ["q1"] and lake.counts()["curated"] == 1


def test_a_redelivered_committed_batch_publishes_nothing_again(lake: Lake) -> None:
    records = [rec(1, txn("r1"))]
    lake.run(records, feed=RecordingFeed(lake.log))
    again = RecordingFeed(lake.log)
    lake.run(records, feed=again)
    assert again.published == [] and again.commits_before_publish is None
