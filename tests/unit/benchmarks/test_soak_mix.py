"""`benchmarks.soak`'s stream: generated transactions with poison records and exact copies mixed
in, reproducible by seed, cut into PutRecords calls; what the stack's own stream ingestion makes
of them is what the soak plans for. No LocalStack."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.soak import POISON_KINDS, Outgoing, batches, entries, mix, poison_record
from fraudops import demo, generator
from fraudops_shared.ingestion.records import KinesisRecord
from tests.unit.ingestion.test_stream import NOW, SHARD, Lake


def rows(n: int, tag: str = "soak-t", seed: int = 5) -> list[dict[str, Any]]:
    table = generator.generate_transactions(
        n, seed=seed, start=NOW - timedelta(days=1), days=1, n_cards=max(n // 8, 1)
    )
    return [r for r, _ in demo._as_sent(table, tag)]


def test_the_mix_holds_every_row_once_with_the_planned_share_of_poison_and_copies() -> None:
    source = rows(2_000)
    plan = mix(source, seed=7, tag="soak-t")
    valid = [r for r in plan.records if r.kind == "valid"]
    assert [r.transaction_id for r in valid] == [r["transaction_id"] for r in source]
    assert plan.valid_ids == [r["transaction_id"] for r in source]
    assert plan.duplicates == 20 and plan.poison == 10
    assert plan.total == 2_000 + 20 + 10 == len(plan.records)
    # the poison kinds in turn: 10 records of 4 kinds, 3 3 2 2
    assert sorted(n for k, n in plan.kinds.items() if k.startswith("poison:")) == [2, 2, 3, 3]
    assert {k.removeprefix("poison:") for k in plan.kinds if k.startswith("poison:")} == set(
        POISON_KINDS
    )
    assert len(set(plan.poison_ids)) == 10 and not set(plan.poison_ids) & set(plan.valid_ids)


def test_the_same_seed_gives_the_same_records_and_another_seed_others() -> None:
    source = rows(1_000)
    first, again = mix(source, seed=11, tag="soak-t"), mix(source, seed=11, tag="soak-t")
    assert first.records == again.records and first.kinds == again.kinds
    other = mix(source, seed=12, tag="soak-t")
    assert other.records != first.records
    assert (other.total, other.poison, other.duplicates) == (first.total, 5, 10)


def test_a_copy_is_the_same_bytes_and_key_as_its_original_and_is_sent_after_it() -> None:
    plan = mix(rows(1_000), seed=3, tag="soak-t", duplicate_rate=0.05)
    first_seen: dict[bytes, int] = {}
    for i, r in enumerate(plan.records):
        if r.kind == "valid":
            first_seen[r.data] = i
    copies = [(i, r) for i, r in enumerate(plan.records) if r.kind == "duplicate"]
    assert len(copies) == 50
    for i, copy in copies:
        assert copy.data in first_seen and first_seen[copy.data] < i
        original = plan.records[first_seen[copy.data]]
        assert (copy.key, copy.transaction_id) == (original.key, original.transaction_id)


def test_each_poison_kind_breaks_the_record_the_way_it_says() -> None:
    base = rows(1)[0]
    cut = poison_record("not_json", base, "soak-t-poison-00000", 1024)
    with pytest.raises(ValueError):
        json.loads(cut.data)
    missing = json.loads(poison_record("missing_fields", base, "p1", 1024).data)
    assert "amount" not in missing and "merchant_id" not in missing
    assert missing["transaction_id"] == "p1"
    assert json.loads(poison_record("wrong_type", base, "p2", 1024).data)["amount"] == (
        "twelve euros"
    )
    big = poison_record("oversized", base, "p3", 4096)
    assert len(json.loads(big.data)["merchant_id"]) == 4096 and len(big.data) > 4096
    with pytest.raises(ValueError, match="no poison kind"):
        poison_record("gentle", base, "p4", 1)


def test_put_records_calls_hold_at_most_500_records_and_the_byte_limit_in_order() -> None:
    records = [Outgoing(b"x" * 100, "k", "valid", str(i)) for i in range(1_234)]
    parts = list(batches(records))
    assert [len(p) for p in parts] == [500, 500, 234]
    assert [r for p in parts for r in p] == records
    by_size = list(batches(records[:10], max_bytes=350))  # 101 bytes each: three a call
    assert [len(p) for p in by_size] == [3, 3, 3, 1]
    huge = [Outgoing(b"y" * 1_000, "k", "poison:oversized")]
    assert list(batches(huge, max_bytes=10)) == [huge]  # a record alone is never held back
    assert list(batches([])) == []


@pytest.mark.parametrize("aggregate", [False, True], ids=["a record each", "KPL aggregates"])
def test_stream_ingestion_curates_each_valid_row_once_and_quarantines_the_rest(
    aggregate: bool,
) -> None:
    # Given a plan with every poison kind and copies, sent in batches of 100 records
    plan = mix(
        rows(600), seed=2, tag="soak-t", poison_rate=0.02, duplicate_rate=0.03, oversize=4096
    )
    lake = Lake()
    seq = 0
    sent = 0
    for part in batches(plan.records, max_records=100):
        records = []
        for entry in entries(part, aggregate=aggregate):
            seq += 1
            records.append(KinesisRecord(SHARD, str(seq), entry["PartitionKey"], entry["Data"]))
        sent += len(records)
        lake.run(records)
    # (aggregated: 100 records in at most 16 Kinesis records, one per card slot)
    assert sent == plan.total if not aggregate else sent <= 16 * 7
    # Then the ledger is what the soak expects: in = sent, curated = valid, quarantined = rest
    assert lake.counts() == {
        "in_records": plan.total,
        "curated": len(plan.valid_ids),
        "quarantined": plan.poison + plan.duplicates,
    }
    # And each valid transaction is in the curated zone once
    assert lake.curated_ids() == sorted(plan.valid_ids)
    # And each kind for its own reason
    rules = {rule for q in lake.quarantined() for rule in q["rules"]}
    assert rules == {
        "duplicate_key",
        "malformed_json",
        "not_null:amount",
        "not_null:merchant_id",
        "type:amount",
        "max_length:merchant_id",
    }


def test_a_send_stopped_early_is_checked_against_the_plan_of_what_was_sent() -> None:
    plan = mix(rows(1_000), seed=4, tag="soak-t")
    head = plan.head(400)
    assert head.records == plan.records[:400] and head.total == 400
    assert head.valid_ids == [r.transaction_id for r in plan.records[:400] if r.kind == "valid"]
    assert set(head.poison_ids) <= set(plan.poison_ids)
    assert len(head.poison_ids) == head.poison
    assert head.duplicates + head.poison + len(head.valid_ids) == 400
    assert plan.head(plan.total).kinds == plan.kinds
