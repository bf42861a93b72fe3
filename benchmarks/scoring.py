"""Scoring benchmark: one transaction and one feed batch through the scoring code, in process.
Prints figures, never asserts on them, and writes its rows to ``bench-results.json``:

    .venv/bin/python -m benchmarks.scoring [--calls 10000] [--batch 10000] [--repeat 3]

1. One transaction, warm: the card's state already holds 20 transactions, the champion (the
   boosted trees the pipeline trains, on the contract's feature set) is loaded; each call
   computes the window features from the state, scores with onnxruntime and computes the top
   three reasons (``scoring.engine.decide``): p50 and p99 over ``--calls`` calls, each a
   different transaction. Baseline in the same run: scikit-learn's ``predict_proba`` of the same
   model on the same rows, one row per call (``scoring_single_p99`` row: ratio = baseline /
   value).
2. A feed batch of ``--batch`` transactions of ~2,000 cards through ``scoring.stream`` with the
   unit tests' in-memory adapters (decode to committed counters), and the same batch through the
   AWS adapters with AWS in moto, every call counted by a botocore hook (state reads and writes
   are batched: the calls grow with cards / 100 and decisions / 25, not with records).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from benchmarks import results as bench_results
from benchmarks.results import row
from fraudops import generator
from fraudops_shared.contracts import load_contract
from fraudops_shared.features import online
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.scoring.engine import decide
from fraudops_shared.scoring.models import ModelCache
from fraudops_shared.scoring.stream import StreamScoring
from fraudops_shared.training import trainers

CONTRACT = "transactions"
START = datetime(2026, 10, 1, tzinfo=UTC)
PARAMS = {"max_iter": 200, "max_leaf_nodes": 31, "learning_rate": 0.1}


def champion(fs: Any) -> tuple[Any, bytes]:
    """The pipeline's boosted trees, trained on generated transactions with the feature set."""
    table = generator.generate_transactions(
        60_000, seed=3, start=START, days=30, fraud_rate=0.01, as_of=START + timedelta(days=90)
    )
    cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in fs.input_columns}
    x = fs.matrix(cols)
    y = np.asarray(table.column("is_fraud").fill_null(False).to_pylist(), dtype=int)
    fit = trainers.fit("hgb", "hist_gradient_boosting", PARAMS, 7, x, y)
    data = trainers.to_onnx(fit.model, len(fs.names), {"fraudops.features": ",".join(fs.names)})
    return fit.model, data


class Source:
    def __init__(self, record: dict[str, Any], data: bytes) -> None:
        self.record, self.data = record, data

    def pointer(self, contract: str) -> dict[str, Any]:
        return {"version": 1}

    def version(self, contract: str, version: int) -> dict[str, Any]:
        return self.record

    def artifact(self, ref: Any) -> bytes:
        return self.data


def transactions(n: int, cards: int, at: datetime) -> list[dict[str, Any]]:
    rows = generator.generate_transactions(n, seed=5, start=at, days=1, n_cards=cards).to_pylist()
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows
    ]


def bench_single(models: ModelCache, sk_model: Any, calls: int) -> list[dict[str, Any]]:
    fs = models.features
    spec = fs.windows
    assert spec is not None
    champ, _ = models.current()
    assert champ is not None
    history = transactions(20, 1, START + timedelta(days=40))
    card = history[0]["card_id"]
    state = online.apply_batch(spec, {}, history).states[card]
    later = START + timedelta(days=41)
    probes = [{**r, "card_id": card} for r in transactions(calls, 50, later)]
    x_rows = [online.featurise(fs, {card: state}, [p])[0] for p in probes]

    def one(p: dict[str, Any]) -> None:
        decide([p], {card: state}, fs, champ, None, source="api", now=later,
               started=time.perf_counter())  # fmt: skip

    for p in probes[:200]:  # warm-up
        one(p)
    ours = []
    for p in probes:
        t = time.perf_counter()
        one(p)
        ours.append(time.perf_counter() - t)
    sk = []
    for x in x_rows[: min(calls, 2000)]:
        t = time.perf_counter()
        sk_model.predict_proba(x)
        sk.append(time.perf_counter() - t)
    p50, p99 = (np.percentile(ours, q) * 1e6 for q in (50, 99))
    s50, s99 = (np.percentile(sk, q) * 1e6 for q in (50, 99))
    print(f"One transaction (features from a warm state, onnxruntime, 3 reasons), {calls:,} calls")
    print(f"  ours          p50 {p50:8.1f} us   p99 {p99:8.1f} us")
    print(f"  scikit-learn  p50 {s50:8.1f} us   p99 {s99:8.1f} us  (predict_proba only)")
    print(f"  ratio p99 {s99 / p99:.1f}x, p50 {s50 / p50:.1f}x")
    return [
        row("scoring_single_p99", p99, "us", s99),
        row("scoring_single_p50", p50, "us", s50),
    ]


def bench_batch(models: ModelCache, n: int, repeat: int) -> list[dict[str, Any]]:
    from tests.unit.scoring.fakes import (
        MemoryCardStates,
        MemoryDecisionStore,
        MemoryParked,
        MemoryPublisher,
        MemoryScoringLog,
    )

    contract = load_contract(CONTRACT)
    at = START + timedelta(days=45)
    rows = transactions(n, max(1, n // 5), at)
    for r in rows:
        r["_contract"] = CONTRACT
    kinesis = [
        KinesisRecord("shardId-000000000000", str(10_000 + i), "slot", json.dumps(r).encode())
        for i, r in enumerate(rows)
    ]
    times, summary = [], {}
    for i in range(repeat + 1):
        states = MemoryCardStates()
        batch = StreamScoring(
            contract, models.features, stream="feed", models=models, states=states,
            decisions=MemoryDecisionStore(), sink=MemoryPublisher(), flags=MemoryPublisher(),
            log=MemoryScoringLog(), parked=MemoryParked(), now=at + timedelta(hours=1),
        )  # fmt: skip
        t = time.perf_counter()
        for record in kinesis:
            batch.add(record)
        result = batch.finish()
        if i:
            times.append(time.perf_counter() - t)
        summary = result.summary()
    ms = statistics.median(times) * 1000
    print(f"Feed batch of {n:,} ({len({r['card_id'] for r in rows}):,} cards), adapters in memory")
    print(f"  decode to committed: {ms:,.0f} ms median of {repeat}; {summary['outcomes']}")
    calls = count_calls(models, kinesis, at)
    total = sum(calls.values())
    print(f"  AWS calls with the real adapters (moto): {total}: " + ", ".join(
        f"{k} {v}" for k, v in sorted(calls.items())))  # fmt: skip
    out = [row(f"scoring.batch_{n // 1000}k.in_memory", ms, "ms")]
    out.append(row(f"scoring.batch_{n // 1000}k.aws_calls", total, "calls"))
    return out


def count_calls(models: ModelCache, kinesis: list[KinesisRecord], at: datetime) -> Counter[str]:
    """The batch through the AWS adapters, AWS in moto, each call counted (botocore hook)."""
    import boto3
    from moto import mock_aws

    from fraudops_shared.aws import clients
    from fraudops_shared.aws.scoring import (
        DynamoCardStates,
        DynamoDecisionStore,
        DynamoScoringLog,
        EventBridgeFlags,
        KinesisDecisionSink,
        S3ParkedStore,
    )

    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="t",
                      AWS_SECRET_ACCESS_KEY="t")  # fmt: skip
    calls: Counter[str] = Counter()
    with mock_aws():
        clients.reset()
        ddb, s3, kin = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("kinesis")
        schemas: dict[str, Any] = {
            "state": [("pk", "HASH"), ("sk", "RANGE")],
            "decisions": [("transaction_id", "HASH")],
        }
        for name, keys in schemas.items():
            ddb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        s3.create_bucket(Bucket="lake")
        kin.create_stream(StreamName="decisions", ShardCount=1)
        count = lambda model, **_: calls.update([model.name])  # noqa: E731
        events: Any = boto3.client("events")
        made = [ddb, s3, kin, events]
        for c in made:
            c.meta.events.register("before-call.*.*", count)
        batch = StreamScoring(
            load_contract(CONTRACT), models.features, stream="feed", models=models,
            states=DynamoCardStates(ddb, "state", workers=1),
            decisions=DynamoDecisionStore(ddb, "decisions", workers=1),
            sink=KinesisDecisionSink(kin, "decisions"),
            flags=EventBridgeFlags(events, "fraudops.scoring"),
            log=DynamoScoringLog(ddb, "state"), parked=S3ParkedStore(s3, "lake"),
            now=at + timedelta(hours=1),
        )  # fmt: skip
        for record in kinesis:
            batch.add(record)
        batch.finish()
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    fs = feature_set(CONTRACT)
    t = time.perf_counter()
    sk_model, data = champion(fs)
    print(f"champion trained in {time.perf_counter() - t:.1f} s ({len(data):,} bytes of ONNX)")
    import hashlib

    record = {
        "version": 1, "model_id": f"{CONTRACT}-v1", "feature_set": fs.digest, "threshold": 0.5,
        "metrics": {"decline_threshold": 0.9},
        "onnx": {"sha256": hashlib.sha256(data).hexdigest(), "key": "m", "bucket": "b"},
    }  # fmt: skip
    models = ModelCache(Source(record, data), CONTRACT, fs)
    models.current()
    rows = bench_single(models, sk_model, args.calls)
    rows += bench_batch(models, args.batch, args.repeat)
    bench_results.record(rows)
    print(f"{len(rows)} rows written to bench-results.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
