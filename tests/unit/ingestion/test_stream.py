"""Stream ingestion rules: every record ends curated or quarantined once, whatever the retries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from fraudops_shared.ingestion import kpl
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.ingestion.stream import StreamBatch

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClaims:
    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    def claim(self, key: str, owner: str) -> str | None:
        current = self.owners.setdefault(key, owner)
        return None if current == owner else current


class FakeLedger:
    def __init__(self) -> None:
        self.done: set[str] = set()
        self.counts: dict[str, int] = {}
        self.commits = 0

    def committed(self, record_ids: Sequence[str]) -> set[str]:
        return self.done & set(record_ids)

    def commit(
        self, contract: str, record_ids: Sequence[str], counts: dict[str, int], manifest_key: str
    ) -> None:
        assert not (self.done & set(record_ids)), "a record is committed twice"
        self.done |= set(record_ids)
        for name, value in counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        self.commits += 1


class FakeZones:
    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, Any] = {}
        self.fail = fail

    def write_curated(self, contract: str, batch_id: str, rows: list[dict[str, Any]]) -> list[str]:
        if self.fail:
            raise ConnectionError("S3 unavailable")
        key = f"curated/{contract}/stream-{batch_id}.parquet"
        self.objects[key] = rows
        return [key]

    def write_quarantine(self, contract: str, batch_id: str, rows: list[dict[str, Any]]) -> str:
        key = f"quarantine/{contract}/stream-{batch_id}.jsonl"
        self.objects[key] = rows
        return key

    def write_manifest(self, contract: str, batch_id: str, manifest: dict[str, Any]) -> str:
        key = f"manifests/{contract}/stream/{batch_id}.json"
        self.objects[key] = manifest
        return key


def validate(records: list[Any]) -> list[tuple[dict[str, Any] | None, list[str], list[str]]]:
    return [validate_one(r) for r in records]


def validate_one(record: Any) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    """A stand-in contract: a dict with a transaction_id and a positive amount."""
    if not isinstance(record, dict):
        return None, ["type:record"], ["record is not a JSON object"]
    if not record.get("transaction_id"):
        return None, ["not_null:transaction_id"], ["transaction_id is missing"]
    if not isinstance(record.get("amount"), int | float) or record["amount"] <= 0:
        return None, ["range:amount"], [f"amount={record.get('amount')!r} is not positive"]
    return {"transaction_id": record["transaction_id"], "amount": record["amount"]}, [], []


def rec(seq: int, data: bytes | dict[str, Any], shard: str = "shardId-000") -> KinesisRecord:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return KinesisRecord(shard, f"{seq:020d}", "pk", raw)


def make_batch(
    records: list[KinesisRecord],
    claims: FakeClaims,
    ledger: FakeLedger,
    zones: FakeZones,
    feed: Any = None,
) -> StreamBatch:
    """A batch of the stand-in contract with every record added, as the handler does."""
    batch = StreamBatch(
        records,
        contract_name="transactions",
        contract_version="1.0.0",
        unique_key=["transaction_id"],
        validate=validate,
        claims=claims,
        ledger=ledger,
        zones=zones,
        now=NOW,
        feed=feed,
    )
    for record in records:
        batch.add(record)
    return batch


def run(
    records: list[KinesisRecord], claims: FakeClaims, ledger: FakeLedger, zones: FakeZones
) -> Any:
    return make_batch(records, claims, ledger, zones).commit()


@pytest.fixture
def ports() -> tuple[FakeClaims, FakeLedger, FakeZones]:
    return FakeClaims(), FakeLedger(), FakeZones()


def test_good_bad_and_malformed_records_are_all_accounted(ports: Any) -> None:
    # Given a good record, an invalid one, a malformed one and bytes that are not UTF-8
    records = [
        rec(1, {"transaction_id": "t1", "amount": 10}),
        rec(2, {"transaction_id": "t2", "amount": -5}),
        rec(3, b"{not json"),
        rec(4, b"\xff\xfe\x00garbage"),
    ]
    # When the batch is ingested
    outcome = run(records, *ports)
    _claims, ledger, zones = ports
    # Then one row is curated and three are quarantined with their reasons, none lost
    assert [r["transaction_id"] for r in outcome.curated] == ["t1"]
    assert outcome.rule_counts() == {"range:amount": 1, "malformed_json": 2}
    assert ledger.counts == {"in_records": 4, "curated": 1, "quarantined": 3}
    quarantine = next(v for k, v in zones.objects.items() if k.startswith("quarantine/"))
    assert "amount=-5 is not positive" in quarantine[0]["reasons"][0]
    assert quarantine[2]["record"].startswith("base64:")


def test_a_transaction_delivered_twice_is_kept_once(ports: Any) -> None:
    # Given the same transaction in two Kinesis records (a producer retry)
    txn = {"transaction_id": "t1", "amount": 10}
    outcome = run([rec(1, txn), rec(2, txn)], *ports)
    # Then it is curated once and the copy is quarantined as a duplicate naming the first record
    assert len(outcome.curated) == 1
    (dup,) = outcome.rejected
    assert dup.rules == ["duplicate_key"]
    assert "already ingested from record shardId-000:" in dup.reasons[0]
    # And a later batch with the same transaction also sees the duplicate
    later = run([rec(3, txn)], *ports)
    assert later.curated == [] and later.rejected[0].rules == ["duplicate_key"]


def test_redelivery_of_a_committed_batch_changes_nothing(ports: Any) -> None:
    _claims, ledger, zones = ports
    records = [rec(1, {"transaction_id": "t1", "amount": 1}), rec(2, b"bad")]
    run(records, *ports)
    before = (dict(ledger.counts), dict(zones.objects))
    # When Lambda's response was lost and the batch comes again
    outcome = run(records, *ports)
    # Then everything is skipped: no new files, no new counts
    assert outcome.skipped_committed == 2
    assert (ledger.counts, zones.objects) == before
    assert ledger.commits == 1


def test_a_failed_write_commits_nothing_and_the_retry_succeeds(ports: Any) -> None:
    claims, ledger, _ = ports
    records = [rec(1, {"transaction_id": "t1", "amount": 1})]
    # Given S3 fails while the batch is written
    with pytest.raises(ConnectionError):
        run(records, claims, ledger, FakeZones(fail=True))
    assert ledger.counts == {}
    # When the batch is retried, Then the claim is recognized as its own and the row is curated
    outcome = run(records, claims, ledger, FakeZones())
    assert [r["transaction_id"] for r in outcome.curated] == ["t1"]
    assert ledger.counts == {"in_records": 1, "curated": 1, "quarantined": 0}


def test_kpl_aggregates_are_split_and_corrupted_ones_kept(ports: Any) -> None:
    # Given one aggregated Kinesis record with three transactions, and a corrupted aggregate
    good = kpl.aggregate(
        [
            ("pk", json.dumps({"transaction_id": f"a{i}", "amount": i + 1}).encode())
            for i in range(3)
        ]
    )
    corrupted = good[:-3] + b"xyz"
    outcome = run([rec(1, good), rec(2, corrupted)], *ports)
    # Then the three are curated with sub-record ids, and the corrupted one is quarantined whole
    assert [r["_record_id"].rsplit(":", 1)[1] for r in outcome.curated] == ["0", "1", "2"]
    (broken,) = outcome.rejected
    assert broken.rules == ["kpl_aggregate"]
    assert ports[1].counts["in_records"] == 4


def test_large_batches_commit_in_groups_within_the_transaction_limit(ports: Any) -> None:
    claims, ledger, zones = ports
    # Given 250 Kinesis records in one invocation (DynamoDB allows 100 items per transaction)
    records = [rec(i, {"transaction_id": f"g{i}", "amount": 1}) for i in range(250)]
    outcome = run(records, claims, ledger, zones)
    # Then they are committed in three groups, each with its own manifest, and all are counted
    assert ledger.commits == 3
    manifests = [v for k, v in zones.objects.items() if k.startswith("manifests/")]
    assert sorted(len(m["kinesis_records"]) for m in manifests) == [52, 99, 99]
    assert len(outcome.curated) == 250 and ledger.counts["curated"] == 250


def test_a_one_megabyte_record_is_quarantined_with_its_reason(ports: Any) -> None:
    from fraudops_shared.contracts import load_contract
    from fraudops_shared.contracts.validation import validate_records

    claims, ledger, zones = ports
    contract = load_contract("transactions")

    def real(records: list[Any]) -> list[tuple[dict[str, Any] | None, list[str], list[str]]]:
        return [
            (r.valid_row, r.rules, r.reasons) for r in validate_records(contract, records, now=NOW)
        ]

    # Given a record of 1 MB (Kinesis' maximum): a transaction id of a million characters
    huge = json.dumps({"transaction_id": "x" * 1_000_000, "amount": 1}).encode()
    batch = StreamBatch(
        [rec(1, huge)],
        contract_name=contract.name,
        contract_version=contract.version,
        unique_key=contract.unique_key,
        validate=real,
        claims=claims,
        ledger=ledger,
        zones=zones,
        now=NOW,
    )
    batch.add(rec(1, huge))
    outcome = batch.commit()
    # Then it is quarantined whole, with the specific rules it broke, and counted
    (rejected,) = outcome.rejected
    assert "max_length:transaction_id" in rejected.rules
    assert len(rejected.record) == len(huge)
    assert ledger.counts == {"in_records": 1, "curated": 0, "quarantined": 1}


class RecordingFeed:
    """The scoring feed port; notes when it was called relative to the ledger's commits."""

    def __init__(self, ledger: FakeLedger, fail: bool = False) -> None:
        self.ledger, self.fail = ledger, fail
        self.published: list[str] = []
        self.commits_before_publish: int | None = None

    def publish(self, rows: Any, *, now: datetime) -> int:
        self.commits_before_publish = self.ledger.commits
        if self.fail:
            raise ConnectionError("the feed refused the batch")
        self.published += [r["transaction_id"] for r in rows]
        return len(rows)


def batch_with_feed(records: list[KinesisRecord], ports: Any, feed: RecordingFeed) -> StreamBatch:
    claims, ledger, zones = ports
    return make_batch(records, claims, ledger, zones, feed=feed)


def test_curated_rows_are_published_before_the_commit(ports: Any) -> None:
    # Given a batch of two good transactions and a bad one, with a scoring feed
    _claims, ledger, _zones = ports
    feed = RecordingFeed(ledger)
    records = [
        rec(1, {"transaction_id": "p1", "amount": 1}),
        rec(2, {"transaction_id": "p2", "amount": -1}),
        rec(3, {"transaction_id": "p3", "amount": 2}),
    ]
    # When it finishes
    batch_with_feed(records, ports, feed).finish()
    # Then the curated rows were published while nothing was committed yet, then committed
    assert feed.commits_before_publish == 0 and ledger.commits == 1
    assert feed.published == ["p1", "p3"]


def test_a_failed_publish_commits_nothing_so_the_retry_publishes_again(ports: Any) -> None:
    _claims, ledger, _zones = ports
    records = [rec(1, {"transaction_id": "q1", "amount": 1})]
    # Given a feed that refuses the batch
    with pytest.raises(ConnectionError):
        batch_with_feed(records, ports, RecordingFeed(ledger, fail=True)).finish()
    # Then nothing was committed, and the retry publishes and commits
    assert ledger.commits == 0 and ledger.counts == {}
    feed = RecordingFeed(ledger)
    batch_with_feed(records, ports, feed).finish()
    assert feed.published == ["q1"] and ledger.counts["curated"] == 1


def test_a_redelivered_committed_batch_publishes_nothing_again(ports: Any) -> None:
    _claims, ledger, _zones = ports
    records = [rec(1, {"transaction_id": "r1", "amount": 1})]
    batch_with_feed(records, ports, RecordingFeed(ledger)).finish()
    # When the same records come again after the commit
    again = RecordingFeed(ledger)
    batch_with_feed(records, ports, again).finish()
    # Then the feed is not called (its copy went out with the first delivery)
    assert again.published == [] and again.commits_before_publish is None
