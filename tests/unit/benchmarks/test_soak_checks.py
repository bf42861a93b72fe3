"""`benchmarks.soak`'s checks on made-up numbers: the accounting equations, ingestion's
outcomes against the plan, duplicate ids in a zone, every valid transaction decided or kept, the
dead letters kept against those counted, and when the run counts as drained. Each must pass
when it should and fail when it should."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from benchmarks.soak import (
    Ledger,
    Outgoing,
    Plan,
    coverage,
    dead_letters_kept,
    decided_or_dead,
    decided_some,
    delta,
    drained,
    equation,
    feed_accounted,
    feed_records,
    ingestion_as_planned,
    once_each,
    parked_ids,
)
from fraudops_shared.ingestion import kpl
from fraudops_shared.runtime.settings import SOURCE_KINESIS, SOURCE_SCORING

INGEST = {
    "in_records": 0,
    "curated": 0,
    "quarantined": 0,
    "dead_lettered": 0,
    "expired_unrecoverable": 0,
}


def plan(valid: int = 8, duplicates: int = 1, poison: int = 1) -> Plan:
    ids = [f"soak-t-{i:06d}" for i in range(valid)]
    records = [Outgoing(b"{}", "k", "valid", t) for t in ids]
    records += [Outgoing(b"{}", "k", "duplicate", ids[0])] * duplicates
    poison_ids = [f"soak-t-poison-{i:05d}" for i in range(poison)]
    records += [Outgoing(b"{", "k", "poison:not_json", p) for p in poison_ids]
    kinds = {"valid": valid, "duplicate": duplicates, "poison:not_json": poison}
    return Plan(records, ids, poison_ids, {k: v for k, v in kinds.items() if v})


def test_the_ingestion_equation_holds_only_when_every_record_is_in_one_place() -> None:
    d = {**INGEST, "in_records": 10, "curated": 8, "quarantined": 1, "dead_lettered": 1}
    ok = equation("ingestion", SOURCE_KINESIS, d)
    assert ok.passed and ok.detail == (
        "in 10 = curated 8 + quarantined 1 + dead_lettered 1 + expired_unrecoverable 0"
    )
    lost = equation("ingestion", SOURCE_KINESIS, {**d, "curated": 7})
    assert not lost.passed and "in 10 !=" in lost.detail
    doubled = equation("ingestion", SOURCE_KINESIS, {**d, "quarantined": 2})
    assert not doubled.passed


def test_the_scoring_equation_counts_decided_parked_and_dead_lettered() -> None:
    d = {
        "in_records": 100_000,
        "decided": 97_000,
        "parked": 0,
        "dead_lettered": 3_000,
        "expired_unrecoverable": 0,
    }
    ok = equation("scoring", SOURCE_SCORING, d)
    assert ok.passed and ok.detail.startswith("in 100,000 = decided 97,000 + parked 0")
    assert not equation("scoring", SOURCE_SCORING, {**d, "in_records": 100_001}).passed
    # a delta taken across counters that did not exist before the run
    assert delta({"in_records": 5, "decided": 5}, {}, ("in_records", "decided", "parked")) == {
        "in_records": 5,
        "decided": 5,
        "parked": 0,
    }


def test_ingestion_outcomes_must_match_the_plan_exactly() -> None:
    p = plan()
    exact = {**INGEST, "in_records": 10, "curated": 8, "quarantined": 2}
    check = ingestion_as_planned(p, exact)
    assert check.passed and check.detail == "in 10: curated 8, quarantined 1 poison + 1 copies"
    # a copy curated instead of quarantined balances the equation but is not the plan
    copy_curated = ingestion_as_planned(p, {**exact, "curated": 9, "quarantined": 1})
    assert not copy_curated.passed
    assert copy_curated.detail == "curated 9 (planned 8); quarantined 1 (planned 2)"
    # a batch dead-lettered on the way: counted, but not curated
    assert not ingestion_as_planned(p, {**exact, "curated": 6, "dead_lettered": 2}).passed


def test_a_zone_passes_with_each_of_the_run_s_ids_once_and_fails_on_a_second_copy() -> None:
    ids = ["soak-t-000001", "soak-t-000002", "other-000001", "other-000001"]
    ok = once_each("curated", ids, "soak-t-", expected=2)
    assert ok.passed  # another run's repeated ids are not this run's business
    assert ok.detail == "2 ids in 2 rows, 0 more than once; 2 expected"
    twice = once_each("curated", [*ids, "soak-t-000002"], "soak-t-", expected=2)
    assert not twice.passed and "1 more than once (e.g. soak-t-000002)" in twice.detail
    short = once_each("curated", ids, "soak-t-", expected=3)
    assert not short.passed  # one missing from the zone
    assert once_each("decisions", [], "soak-t-").passed


def test_every_valid_transaction_must_be_decided_dead_lettered_or_parked() -> None:
    p = plan(valid=6)
    ids = p.valid_ids
    ok = coverage(p, decided=ids[:4], dead=ids[4:5], parked=ids[5:])
    assert ok.passed
    assert ok.detail == (
        "6 valid: 4 decided, 1 dead-lettered, 1 parked, 0 nowhere; 0 poison records decided"
    )
    missing = coverage(p, decided=ids[:4], dead=ids[4:5], parked=[])
    assert not missing.passed and "1 nowhere (e.g. soak-t-000005)" in missing.detail
    # a dead-lettered copy of a decided transaction counts as decided
    assert coverage(p, decided=ids, dead=ids[:2], parked=[]).detail.startswith(
        "6 valid: 6 decided, 0 dead-lettered"
    )
    poisoned = coverage(p, decided=[*ids, p.poison_ids[0]], dead=[], parked=[])
    assert not poisoned.passed and poisoned.detail.endswith("1 poison records decided")


def test_the_dead_letters_kept_must_equal_those_counted() -> None:
    assert dead_letters_kept(3_000, {"dead_lettered": 3_000}).passed
    assert not dead_letters_kept(2_999, {"dead_lettered": 3_000}).passed
    assert dead_letters_kept(0, {}).passed


def test_parked_rows_give_their_transaction_ids_whether_kept_as_rows_or_as_text() -> None:
    rows: list[dict[str, Any]] = [
        {"record": {"transaction_id": "a"}},
        {"record": '{"transaction_id": "b", "amount": 1}'},
        {"record": "{not json"},
        {"record": "base64:AAEC"},
        {"record": {"no": "id"}},
        {},
    ]
    assert parked_ids(rows) == ["a", "b"]


def test_drained_needs_every_record_counted_in_scored_and_its_decision_counted_in() -> None:
    p = plan()
    ing = {**INGEST, "in_records": 10, "curated": 8, "quarantined": 2}
    scoring = {
        "in_records": 8,
        "decided": 6,
        "parked": 0,
        "dead_lettered": 2,
        "expired_unrecoverable": 0,
    }
    decisions = {**INGEST, "in_records": 6, "curated": 6}
    assert drained(p, Ledger(ing, scoring, decisions))
    assert not drained(p, Ledger({**ing, "in_records": 9}, scoring, decisions))
    assert not drained(p, Ledger(ing, {**scoring, "in_records": 7, "dead_lettered": 1}, decisions))
    assert not drained(p, Ledger(ing, scoring, {**decisions, "in_records": 5}))
    # copies on the feed: drained only once scoring accounted every feed record
    assert not drained(p, Ledger(ing, scoring, decisions), feed=9)
    assert drained(p, Ledger(ing, scoring, decisions), feed=8)
    # a feed copy decided again: more than curated is still drained
    more = {**scoring, "in_records": 9, "decided": 7}
    assert drained(p, Ledger(ing, more, {**decisions, "in_records": 7}))


def test_a_ledger_minus_the_one_before_the_run_is_the_run_s_delta() -> None:
    before = Ledger({"in_records": 5, "curated": 5}, {}, {"in_records": 2, "curated": 2})
    after = Ledger(
        {"in_records": 15, "curated": 12, "quarantined": 3},
        {"in_records": 7, "decided": 7},
        {"in_records": 9, "curated": 9},
    )
    d = after.minus(before)
    assert d.ingestion == {**INGEST, "in_records": 10, "curated": 7, "quarantined": 3}
    assert d.scoring["in_records"] == 7 and d.scoring["parked"] == 0
    assert d.decisions["curated"] == 7
    assert after.key() != before.key() and after.key() == after.key()


def test_scoring_must_count_in_every_feed_record_of_the_run_including_copies() -> None:
    feed = Counter({"soak-t-000001": 2, "soak-t-000002": 1})  # one published again
    ok = feed_accounted(feed, {"in_records": 3})
    assert ok.passed
    assert (
        ok.detail == "3 feed records (2 transactions, 1 published again), 3 counted in by scoring"
    )
    assert not feed_accounted(feed, {"in_records": 2}).passed  # a copy not counted
    assert not feed_accounted(feed, {"in_records": 4}).passed  # a record counted twice


def test_a_run_that_decided_nothing_fails_however_well_it_balances() -> None:
    assert decided_some(97, 100).passed
    assert not decided_some(0, 100).passed


class FakeKinesis:
    """Two shards of the scoring feed: KPL aggregates and a plain record, read in pages."""

    def __init__(self, shards: dict[str, list[list[dict[str, Any]]]]) -> None:
        self.shards = shards
        self.asked: list[dict[str, Any]] = []

    def list_shards(self, StreamName: str) -> dict[str, Any]:
        return {"Shards": [{"ShardId": s} for s in self.shards]}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        return {"ShardIterator": f"{kwargs['ShardId']}:0"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard, page = ShardIterator.rsplit(":", 1)
        pages = self.shards[shard]
        n = int(page)
        if n >= len(pages):
            return {"Records": [], "NextShardIterator": f"{shard}:{n}", "MillisBehindLatest": 0}
        return {
            "Records": pages[n],
            "NextShardIterator": f"{shard}:{n + 1}",
            "MillisBehindLatest": 1_000,
        }


def row_bytes(tid: str) -> bytes:
    return json.dumps({"transaction_id": tid, "_contract": "transactions"}).encode()


def test_the_feed_is_read_back_per_transaction_with_aggregates_taken_apart() -> None:
    aggregate = kpl.aggregate([("c1", row_bytes("soak-t-1")), ("c2", row_bytes("soak-t-2"))])
    copy = kpl.aggregate([("c1", row_bytes("soak-t-1"))])
    kinesis = FakeKinesis(
        {
            "shardId-0": [
                [{"Data": aggregate, "PartitionKey": "a"}],
                [{"Data": copy, "PartitionKey": "a"}],
            ],
            "shardId-1": [
                [
                    {"Data": row_bytes("soak-t-3"), "PartitionKey": "b"},
                    {"Data": row_bytes("other-9"), "PartitionKey": "b"},
                ]
            ],
        }
    )
    since = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    found = feed_records(kinesis, "feed", since, "soak-t-")
    assert found == Counter({"soak-t-1": 2, "soak-t-2": 1, "soak-t-3": 1})
    assert [(a["ShardIteratorType"], a["Timestamp"]) for a in kinesis.asked] == [
        ("AT_TIMESTAMP", since),
        ("AT_TIMESTAMP", since),
    ]


def test_a_decided_transaction_must_not_have_every_feed_copy_among_the_dead_letters() -> None:
    feed = Counter({"soak-t-1": 1, "soak-t-2": 2, "soak-t-3": 1})
    # t-2 published twice: one copy decided, the other dead-lettered; t-3 only dead-lettered
    ok = decided_or_dead(feed, Counter({"soak-t-2": 1, "soak-t-3": 1}), ["soak-t-1", "soak-t-2"])
    assert ok.passed
    assert ok.detail == "none (1 dead-lettered copies of transactions decided from another)"
    # t-1 decided by an invocation that never committed, then its batch given up on
    both = decided_or_dead(feed, Counter({"soak-t-1": 1}), ["soak-t-1", "soak-t-2"])
    assert not both.passed
    assert both.detail.startswith("1 decided transactions have every feed copy among the dead")
    # both copies of t-2 dead-lettered, yet decided
    assert not decided_or_dead(feed, Counter({"soak-t-2": 2}), ["soak-t-2"]).passed
