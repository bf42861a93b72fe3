"""Decisions are data, on the deployed stack: records put on the decisions stream are validated
against the decisions contract, deduped by transaction_id, curated once under
curated/decisions/, counted in ACCOUNT#decisions#kinesis, and never forwarded to the scoring
feed (which carries the transaction stream's curated rows only).

Counts are compared as deltas of the ledger, so the test does not depend on the others' order.
"""

from __future__ import annotations

import uuid
from typing import Any

from fraudops.paths import Layout
from fraudops_shared.runtime.settings import DECISIONS_CONTRACT
from tests.decision_records import as_bytes, decision
from tests.e2e.ledger import (
    accounts,
    balanced,
    curated_zone,
    put_stream,
    quarantined,
    wait_stream,
)
from tests.e2e.test_scoring_feed_deployed import read_feed


def test_decisions_are_validated_deduped_curated_accounted_and_not_scored(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    # Given three valid decisions (ids unique to this run), a scorer's retry of the second and a
    # decision with an outcome the contract does not allow
    run = uuid.uuid4().hex[:8]
    ids = [f"dec-{run}-{i}" for i in range(3)]
    valid = [decision(i) for i in ids]
    bad = decision(f"dec-{run}-bad", outcome="maybe")
    records = [as_bytes(r) for r in valid] + [as_bytes(valid[1]), as_bytes(bad)]
    before = accounts(ls_layout, outputs, "kinesis", contract=DECISIONS_CONTRACT)
    # When they are put on the decisions stream
    put_stream(aws, outputs, records, key="scorer", stream_output="DecisionsStreamName")
    # Then ACCOUNT#decisions#kinesis counts the five in: three curated, two quarantined
    d = wait_stream(ls_layout, outputs, before, len(records), contract=DECISIONS_CONTRACT)
    assert d == {
        "in_records": 5,
        "curated": 3,
        "quarantined": 2,
        "dead_lettered": 0,
        "expired_unrecoverable": 0,
    }
    assert balanced(d)
    # And curated/decisions/ holds each of the three decisions exactly once
    bucket = outputs["DataBucketName"]
    curated = curated_zone(aws, bucket, contract=DECISIONS_CONTRACT)["transaction_id"]
    ours = [i for i in curated.to_pylist() if i.startswith(f"dec-{run}-")]
    assert sorted(ours) == sorted(ids)
    # And the retry and the invalid decision are quarantined under decisions, with their rules
    s3 = aws("s3")
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"quarantine/{DECISIONS_CONTRACT}/stream/"
        )
        for obj in page.get("Contents", [])
    ]
    rejected = [r for r in quarantined(aws, bucket, keys) if f"dec-{run}-" in r.get("record", "")]
    assert sorted(r["rules"][0] for r in rejected) == ["allowed:outcome", "duplicate_key"]
    # And the scoring feed received none of them (rows are published before their commit, so
    # whatever would have been forwarded is on the feed once the batch is counted)
    feed = read_feed(aws("kinesis"), outputs["ScoringFeedStreamName"], set(), timeout=30)
    assert not {r.get("transaction_id") for r in feed} & {*ids, bad["transaction_id"]}
    assert all(r.get("_contract") != DECISIONS_CONTRACT for r in feed)
