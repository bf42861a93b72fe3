"""The scoring feed on the deployed stack: every valid transaction put on the transaction stream
reaches the feed of validated transactions (the real-time scoring input), and no invalid one does.

Delivery to the feed is at least once; with no failure injected, each arrives exactly once.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fraudops import generator
from fraudops.paths import Layout
from fraudops_shared.ingestion import kpl

POLL_SECONDS = 120


def _record(row: dict[str, Any]) -> bytes:
    return json.dumps(row, default=lambda v: v.isoformat()).encode()


def read_feed(kinesis: Any, stream: str, want: set[str], timeout: float) -> list[dict[str, Any]]:
    """Every user record on the feed (de-aggregated: the feed is KPL-aggregated by card slot)
    from TRIM_HORIZON, polling until the wanted transaction ids have
    all arrived (then one more pass, so late duplicates would be seen) or ``timeout`` passes."""
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    iterators = {
        s["ShardId"]: kinesis.get_shard_iterator(
            StreamName=stream, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for s in shards
    }
    seen: list[dict[str, Any]] = []
    deadline, settled = time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        for shard, iterator in list(iterators.items()):
            if not iterator:
                continue
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            iterators[shard] = page.get("NextShardIterator")
            seen += [
                json.loads(data) | {"_key": key}
                for r in page["Records"]
                for key, data in kpl.deaggregate(r["Data"], r["PartitionKey"])
            ]
        if want <= {r.get("transaction_id") for r in seen}:
            if settled:
                break
            settled = True
        time.sleep(2)
    return seen


def test_valid_transactions_reach_the_scoring_feed_and_invalid_ones_do_not(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    kinesis = aws("kinesis")
    # Given 12 valid transactions (ids unique to this run) and 3 invalid ones
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    run = uuid.uuid4().hex[:8]
    rows = generator.generate_transactions(15, seed=41, start=start, days=2).to_pylist()
    rows = [{**r, "transaction_id": f"feed-{run}-{i}"} for i, r in enumerate(rows)]
    valid, spoiled = rows[:12], rows[12:]
    invalid = [
        {**spoiled[0], "amount": -3},  # below the contract's minimum
        {**spoiled[1], "mcc": "74"},  # not four digits
        {**spoiled[2], "card_id": None},  # a required column missing
    ]
    bad_ids = {r["transaction_id"] for r in invalid}
    records = [_record(r) for r in valid + invalid] + [b"{not json"]
    # When they are put on the transaction stream
    kinesis.put_records(
        StreamName=outputs["TransactionStreamName"],
        Records=[{"Data": r, "PartitionKey": f"p{i}"} for i, r in enumerate(records)],
    )
    # Then the scoring feed receives exactly the valid transaction ids
    want = {r["transaction_id"] for r in valid}
    feed = read_feed(kinesis, outputs["ScoringFeedStreamName"], want, POLL_SECONDS)
    ours = [r for r in feed if str(r.get("transaction_id", "")).startswith(f"feed-{run}-")]
    ids = [r["transaction_id"] for r in ours]
    assert set(ids) == want, f"missing {want - set(ids)}, unexpected {set(ids) - want}"
    # And no invalid one, and (no failure injected) each valid one exactly once
    assert not bad_ids & set(ids)
    assert len(ids) == len(want), sorted(ids)
    # And each carries its contract, lineage and the card as partition key
    by_id = {r["transaction_id"]: r for r in valid}
    for rec in ours:
        assert rec["_contract"] == "transactions" and rec["_contract_version"]
        assert rec["_record_id"].startswith("shardId-")
        assert rec["_key"] == rec["card_id"] == by_id[rec["transaction_id"]]["card_id"]
