"""Soak run on the deployed stack (bounded, loopback only): ``make soak``, or

    FRAUDOPS_PORT=4620 FRAUDOPS_STATE_DIR=/tmp/soak-state \\
        .venv/bin/python -m benchmarks.soak [--transactions 100000] [--rate 0] [--seed N]
            [--no-aggregate] [--fault-at 0.4] [--fault-seconds 10] [--restart-at 0.7] [--no-faults]
            [--send-timeout 3600] [--drain-timeout 1800] [--redeploy] [--keep-retraining]
            [--keep-watches] [--report-dir soak-report]

1. Setup, as ``fraudops demo`` does it (its own steps, called): LocalStack started when it is not
   running, the stack deployed when it is not (CDK's output in a log file), a champion trained
   (history landed through S3, a snapshot, the training state machine) when there is none.
   Automatic retraining (``fraudops monitor``'s guard) and the model watches (scheduled every
   minute locally, where under load their runs pile up) are held for the run, restored after.
2. The stream: ``--transactions`` generated transactions of many cards (``fraudops.generator``),
   in event-time order, partitioned by card, PutRecords of at most 500 records (and 4 MiB) at
   ``--rate`` records/s (0: as fast as LocalStack takes them), packed as KPL aggregates by card
   slot (``--no-aggregate``: one Kinesis record each). Aggregation is what high-volume producers
   do (the Kinesis Producer Library), and it keeps the local run possible: kinesis-mock's
   PutRecords costs each entry a hash of every record already in its shard (``groupBy`` on the
   shard's record vector), so one shard of ~25k plain records took a whole core. Mixed in
   (``mix``): ~0.5 % poison records (cut-off JSON, JSON without required fields, a field of the
   wrong type, a record of 128 KiB whose merchant_id is far over the contract's 64 characters;
   Kinesis's own limit is 1 MiB) and ~1 % exact copies of earlier records (same transaction id,
   same bytes, sent later).
3. Faults, each printed when it happens: once ``--fault-at`` of the valid transactions are
   accounted by scoring, fault injection (``fraudops.faults``) switched on in the scoring stream
   function for ``--fault-seconds`` and off again (by scoring's progress, not the producer's:
   LocalStack can take records far faster than it scores them, so a fault timed by records
   sent could find nothing scored yet, and dead-letter the whole run); once ``--restart-at`` of
   the records are sent, the ingestion stream function's environments restarted (ingestion
   keeps up with the producer).
   Sending stops at ``--send-timeout`` seconds: the run is then checked on what was sent.
4. Drain: the ledger (``ACCOUNT#<contract>#<source>`` counters) polled until every record sent is
   counted in, every record of the run on the scoring feed (read back from the feed once the
   counters have been still for 30 s: copies published twice count) is accounted by scoring
   (decided, parked or dead-lettered) and every decision is counted in by the decisions'
   ingestion; at most ``--drain-timeout`` seconds.
5. Checks, each PASS or FAIL with its numbers: the ingestion, scoring and decisions-ingestion
   accounting equations exact on the run's deltas; ingestion's outcomes as planned (every valid
   transaction curated, every poison record and copy quarantined); the curated and decisions
   zones hold each of the run's transaction ids once; scoring counted in each of the run's
   records on the scoring feed once (read back from the feed: ingestion publishes at least
   once, so a batch retried after its publish puts copies there); some transactions decided;
   every valid transaction decided or kept (dead-lettered under parked/<contract>/dead/, or
   parked), no poison record decided; no transaction both decided and (every copy of it)
   dead-lettered; the dead letters kept equal the dead letters counted; the dashboard's HTML
   has charts with data.
6. Figures: the sustained rate (unique transactions decided per second, first put to last
   decision), the send rate, and per minute the records sent, ingested and decided beside the
   iterator age (``RecordAgeMs``, Maximum, of ingest_stream and score_stream); rows
   ``soak.*`` in ``bench-results.json``; ``<report-dir>/dashboard.html``.

Exit status 0 only when every check passed. LocalStack keeps running (``fraudops down`` stops it).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.table import Table

from benchmarks import results as bench_results
from benchmarks.results import row
from fraudops_shared.runtime.settings import (
    DECISIONS_CONTRACT,
    INGESTION_OUTCOMES,
    SCORING_OUTCOMES,
    SOURCE_KINESIS,
    SOURCE_SCORING,
    balanced,
    outcomes_of,
)
from infra import constants as c

CONTRACT = "transactions"
CONSUMERS = ("ingest_stream", "score_stream")
POISON_KINDS = ("not_json", "missing_fields", "wrong_type", "oversized")
MISSING_FIELDS = ("amount", "merchant_id")
OVERSIZE_BYTES = 128 * 1024
PUT_RECORDS_MAX = 500
PUT_BYTES_MAX = 4 * 1024 * 1024  # PutRecords takes 5 MiB a call
INGEST_TERMS = ("in_records", *INGESTION_OUTCOMES)
SCORING_TERMS = ("in_records", *SCORING_OUTCOMES)
POLL_S = 2.0
QUIET_S = 30.0
AGE_PERIOD_S = 60


# --- the stream: valid transactions with poison records and copies mixed in ---------------------


@dataclass(frozen=True)
class Outgoing:
    """One Kinesis record to put: ``kind`` is ``valid``, ``duplicate`` or ``poison:<kind>``;
    ``transaction_id`` is the id it carries (a poison record's own, never a valid one's)."""

    data: bytes
    key: str
    kind: str
    transaction_id: str | None = None


@dataclass
class Plan:
    records: list[Outgoing]
    valid_ids: list[str]  # each valid transaction once, in the order sent
    poison_ids: list[str]  # the ids poison records carry: none may ever be decided
    kinds: dict[str, int]  # records per kind

    @property
    def total(self) -> int:
        return len(self.records)

    @property
    def duplicates(self) -> int:
        return self.kinds.get("duplicate", 0)

    @property
    def poison(self) -> int:
        return sum(n for kind, n in self.kinds.items() if kind.startswith("poison:"))

    def head(self, n: int) -> Plan:
        """The plan of the first ``n`` records (a send stopped at its time limit)."""
        records = self.records[:n]
        return Plan(
            records=records,
            valid_ids=[str(r.transaction_id) for r in records if r.kind == "valid"],
            poison_ids=[str(r.transaction_id) for r in records if r.kind.startswith("poison:")],
            kinds=dict(Counter(r.kind for r in records)),
        )


def encode(row_: Mapping[str, Any]) -> bytes:
    return json.dumps(row_).encode()


def poison_record(kind: str, base: Mapping[str, Any], pid: str, oversize: int) -> Outgoing:
    """A record ingestion must quarantine, built from a valid row ``base`` with its own id."""
    key = str(base["card_id"])
    if kind == "not_json":
        whole = encode({**base, "transaction_id": pid})
        return Outgoing(whole[: len(whole) // 2], key, f"poison:{kind}", pid)  # cut off
    if kind == "missing_fields":
        bad = {k: v for k, v in base.items() if k not in MISSING_FIELDS}
    elif kind == "wrong_type":
        bad = {**base, "amount": "twelve euros"}
    elif kind == "oversized":
        bad = {**base, "merchant_id": "m" * oversize}
    else:
        raise ValueError(f"no poison kind {kind!r}")
    return Outgoing(encode({**bad, "transaction_id": pid}), key, f"poison:{kind}", pid)


def mix(
    rows: Sequence[Mapping[str, Any]],
    *,
    seed: int,
    tag: str,
    poison_rate: float = 0.005,
    duplicate_rate: float = 0.01,
    oversize: int = OVERSIZE_BYTES,
) -> Plan:
    """``rows`` in their order, with ``round(n * poison_rate)`` poison records (the kinds in
    turn) and ``round(n * duplicate_rate)`` exact copies of earlier rows put at random places
    after them; the same ``seed`` gives the same records."""
    rng = random.Random(seed)  # noqa: S311 (test data, reproducible by seed)
    n = len(rows)
    valid = [
        Outgoing(encode(r), str(r["card_id"]), "valid", str(r["transaction_id"])) for r in rows
    ]
    after: dict[int, list[Outgoing]] = {}  # sent right after valid[i]
    for _ in range(round(n * duplicate_rate) if n else 0):
        original = rng.randrange(n)
        after.setdefault(rng.randrange(original, n), []).append(
            replace(valid[original], kind="duplicate")
        )
    kinds = [POISON_KINDS[i % len(POISON_KINDS)] for i in range(round(n * poison_rate) if n else 0)]
    rng.shuffle(kinds)
    poison_ids = []
    for i, kind in enumerate(kinds):
        pid = f"{tag}-poison-{i:05d}"
        bad = poison_record(kind, rows[rng.randrange(n)], pid, oversize)
        after.setdefault(rng.randrange(n), []).append(bad)
        poison_ids.append(pid)
    records: list[Outgoing] = []
    for i, record in enumerate(valid):
        records.append(record)
        records.extend(after.get(i, ()))
    return Plan(
        records=records,
        valid_ids=[str(r.transaction_id) for r in valid],
        poison_ids=poison_ids,
        kinds=dict(Counter(r.kind for r in records)),
    )


def batches(
    records: Iterable[Outgoing], max_records: int = PUT_RECORDS_MAX, max_bytes: int = PUT_BYTES_MAX
) -> Iterator[list[Outgoing]]:
    """PutRecords calls in order: at most ``max_records`` records and ``max_bytes`` each."""
    part: list[Outgoing] = []
    size = 0
    for record in records:
        cost = len(record.data) + len(record.key.encode())
        if part and (len(part) >= max_records or size + cost > max_bytes):
            yield part
            part, size = [], 0
        part.append(record)
        size += cost
    if part:
        yield part


def entries(part: Sequence[Outgoing], *, aggregate: bool) -> list[dict[str, Any]]:
    """One PutRecords call's entries: a record each, or (``aggregate``) KPL aggregates of them
    packed by card slot, each card's records in order, as the Kinesis Producer Library sends."""
    from fraudops_shared.ingestion.scoring_feed import aggregate_entries

    records = [{"Data": r.data, "PartitionKey": r.key} for r in part]
    return aggregate_entries(records) if aggregate else records


# --- the ledger and the checks -------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """The counters the run moves: transactions through ingestion (kinesis) and scoring, and
    the decisions through ingestion (their own contract)."""

    ingestion: dict[str, int]
    scoring: dict[str, int]
    decisions: dict[str, int]

    def minus(self, before: Ledger) -> Ledger:
        return Ledger(
            ingestion=delta(self.ingestion, before.ingestion, INGEST_TERMS),
            scoring=delta(self.scoring, before.scoring, SCORING_TERMS),
            decisions=delta(self.decisions, before.decisions, INGEST_TERMS),
        )

    def key(self) -> tuple[int, ...]:
        return tuple(
            d.get(k, 0)
            for d, terms in (
                (self.ingestion, INGEST_TERMS),
                (self.scoring, SCORING_TERMS),
                (self.decisions, INGEST_TERMS),
            )
            for k in terms
        )


def delta(after: Mapping[str, int], before: Mapping[str, int], terms: Sequence[str]) -> dict:
    return {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in terms}


def accounted(scoring: Mapping[str, int]) -> int:
    return sum(int(scoring.get(k, 0)) for k in SCORING_OUTCOMES)


def scored_share(plan: Plan, d: Ledger) -> float:
    """The share of the run's valid transactions accounted by scoring so far."""
    return accounted(d.scoring) / max(len(plan.valid_ids), 1)


def drained(plan: Plan, d: Ledger, feed: int | None = None) -> bool:
    """Every record sent counted in by ingestion; every record of the run on the scoring feed
    (``feed``, read back: more than the curated rows when a batch published twice; the curated
    rows while unknown) accounted by scoring; every decision counted in by the decisions'
    ingestion."""
    scored = max(d.ingestion.get("curated", 0), feed or 0)
    return (
        d.ingestion.get("in_records", 0) >= plan.total
        and d.scoring.get("in_records", 0) >= scored
        and accounted(d.scoring) >= scored
        and d.decisions.get("in_records", 0) >= d.scoring.get("decided", 0)
    )


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def equation(name: str, source: str, d: Mapping[str, int]) -> Check:
    """``in = the sum of the source's outcomes``, exactly, on a delta."""
    ok = balanced(source, dict(d))
    terms = " + ".join(f"{k} {d.get(k, 0):,}" for k in outcomes_of(source))
    return Check(name, ok, f"in {d.get('in_records', 0):,} {'=' if ok else '!='} {terms}")


def ingestion_as_planned(plan: Plan, d: Mapping[str, int]) -> Check:
    """Every record counted in once; every valid one curated; every poison record and copy
    quarantined; nothing dead-lettered or expired."""
    want = {
        "in_records": plan.total,
        "curated": len(plan.valid_ids),
        "quarantined": plan.poison + plan.duplicates,
        "dead_lettered": 0,
        "expired_unrecoverable": 0,
    }
    off = [f"{k} {d.get(k, 0):,} (planned {v:,})" for k, v in want.items() if d.get(k, 0) != v]
    shown = (
        f"in {plan.total:,}: curated {len(plan.valid_ids):,}, quarantined "
        f"{plan.poison:,} poison + {plan.duplicates:,} copies"
    )
    return Check("ingestion outcomes as planned", not off, "; ".join(off) if off else shown)


def once_each(name: str, ids: Iterable[str], prefix: str, expected: int | None = None) -> Check:
    """No id starting with ``prefix`` (the run's) twice; ``expected`` distinct ids if given."""
    counts = Counter(i for i in ids if i.startswith(prefix))
    twice = sorted(i for i, n in counts.items() if n > 1)
    ok = not twice and (expected is None or len(counts) == expected)
    detail = f"{len(counts):,} ids in {sum(counts.values()):,} rows, {len(twice):,} more than once"
    if twice:
        detail += f" (e.g. {', '.join(twice[:3])})"
    if expected is not None:
        detail += f"; {expected:,} expected"
    return Check(name, ok, detail)


def coverage(
    plan: Plan, decided: Iterable[str], dead: Iterable[str], parked: Iterable[str]
) -> Check:
    """Every valid transaction decided, or kept and counted (dead-lettered, parked); no poison
    record decided."""
    valid, decided_ = set(plan.valid_ids), set(decided)
    dead_, parked_ = set(dead) - decided_, set(parked) - decided_
    missing = valid - decided_ - dead_ - parked_
    poison_decided = set(plan.poison_ids) & decided_
    detail = (
        f"{len(valid):,} valid: {len(valid & decided_):,} decided, {len(valid & dead_):,} "
        f"dead-lettered, {len(valid & parked_ - dead_):,} parked, {len(missing):,} nowhere"
    )
    if missing:
        detail += f" (e.g. {', '.join(sorted(missing)[:3])})"
    detail += f"; {len(poison_decided):,} poison records decided"
    return Check(
        "every valid transaction decided or kept", not missing and not poison_decided, detail
    )


def feed_accounted(feed: Counter[str], d: Mapping[str, int]) -> Check:
    """Scoring counted in each record of the run on the feed once: ``feed`` is the run's
    records read back from the scoring feed, per transaction id (ingestion publishes at least
    once: a batch retried after its publish publishes again)."""
    records, counted = sum(feed.values()), d.get("in_records", 0)
    again = records - len(feed)
    return Check(
        "scoring counted each feed record once",
        records == counted,
        f"{records:,} feed records ({len(feed):,} transactions, {again:,} published again), "
        f"{counted:,} counted in by scoring",
    )


def decided_or_dead(feed: Counter[str], dead: Counter[str], decided: Iterable[str]) -> Check:
    """Each feed record has one outcome in the ledger: a transaction all of whose copies on the
    feed were dead-lettered (counted ``dead_lettered``, kept for an operator to land again) has
    no decision. One that has was decided by an invocation that never committed (its decisions
    stored and published, its counts not), then given up on: the ledger says dead-lettered, the
    decisions table and zone say decided."""
    decided_ = set(decided)
    both = sorted(t for t in decided_ if dead.get(t, 0) and dead[t] >= feed.get(t, 0))
    copies = sum(n for t, n in dead.items() if t in decided_) - sum(dead[t] for t in both)
    if both:
        detail = (
            f"{len(both):,} decided transactions have every feed copy among the dead letters "
            f"(counted dead_lettered, not decided; e.g. {', '.join(both[:2])})"
        )
    else:
        detail = f"none ({copies:,} dead-lettered copies of transactions decided from another)"
    return Check("no transaction both decided and dead-lettered", not both, detail)


def decided_some(decided: int, valid: int) -> Check:
    """A run that decided nothing has not exercised scoring, however well it balances (a
    short run can be all inside the scorer's fault: shorten --fault-seconds for it)."""
    detail = f"{decided:,} of {valid:,} decided"
    if not decided:
        detail += " (a run inside the scorer's fault: lower --fault-seconds for a short run)"
    return Check("transactions decided", decided > 0, detail)


def dead_letters_kept(rows_kept: int, d: Mapping[str, int]) -> Check:
    counted = d.get("dead_lettered", 0)
    return Check(
        "dead letters kept = counted",
        rows_kept == counted,
        f"{rows_kept:,} records under parked/{CONTRACT}/dead/, {counted:,} counted dead_lettered",
    )


def parked_ids(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The transaction ids of parked rows (``record``: the decoded row, or its text)."""
    out = []
    for r in rows:
        record = r.get("record")
        if isinstance(record, str):
            try:
                record = json.loads(record)
            except ValueError:
                continue
        if isinstance(record, dict) and isinstance(record.get("transaction_id"), str):
            out.append(record["transaction_id"])
    return out


# --- figures: rates, and the iterator age beside the throughput per minute -----------------------


@dataclass(frozen=True)
class Sample:
    at: datetime
    sent: int
    ingested: int
    decided: int


def minute_of(at: datetime, start: datetime) -> int:
    return int((at - start).total_seconds() // 60)


def ages_by_minute(
    points: Mapping[str, Sequence[Mapping[str, Any]]], start: datetime
) -> dict[str, dict[int, float]]:
    """GetMetricStatistics datapoints (``Timestamp``, ``Maximum``) per consumer as the largest
    age per minute since ``start`` (a whole minute)."""
    out: dict[str, dict[int, float]] = {}
    for consumer, datapoints in points.items():
        per = out.setdefault(consumer, {})
        for dp in datapoints:
            m = minute_of(dp["Timestamp"], start)
            if m >= 0:
                per[m] = max(per.get(m, 0.0), float(dp["Maximum"]))
    return out


def counts_by_minute(samples: Sequence[Sample], start: datetime) -> dict[int, Sample]:
    """The last sample of each minute (cumulative counts)."""
    out: dict[int, Sample] = {}
    for s in sorted(samples, key=lambda s: s.at):
        out[minute_of(s.at, start)] = s
    return out


def _age(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:,.1f} s"


def timeline_rows(
    start: datetime,
    end: datetime,
    ages: Mapping[str, Mapping[int, float]],
    samples: Sequence[Sample] = (),
    events: Sequence[tuple[datetime, str]] = (),
) -> list[list[str]]:
    """One row a minute from ``start`` (a whole minute) to ``end``: minute, UTC time, records
    sent, ingested and decided in it, the largest iterator age per consumer, what happened."""
    counts = counts_by_minute(samples, start)
    notes: dict[int, list[str]] = {}
    for at, what in events:
        notes.setdefault(minute_of(at, start), []).append(what)
    rows, last = [], Sample(start, 0, 0, 0)
    for m in range(max(minute_of(end, start), 0) + 1):
        now = counts.get(m, last)
        rows.append(
            [
                str(m),
                (start + timedelta(minutes=m)).strftime("%H:%M"),
                f"{now.sent - last.sent:,}",
                f"{now.ingested - last.ingested:,}",
                f"{now.decided - last.decided:,}",
                *(_age(ages.get(c, {}).get(m)) for c in CONSUMERS),
                "; ".join(notes.get(m, [])),
            ]
        )
        last = now
    return rows


def timeline_table(rows: Sequence[Sequence[str]]) -> Table:
    t = Table(title="per minute: throughput and iterator age (RecordAgeMs, Maximum)")
    for name in ("min", "UTC", "sent", "ingested", "decided"):
        t.add_column(name, justify="right")
    for consumer in CONSUMERS:
        t.add_column(f"age {consumer}", justify="right")
    t.add_column("events")
    for r in rows:
        t.add_row(*r)
    return t


def sustained_rate(decided: int, first_put: datetime, last_decision: datetime | None) -> float:
    """Unique transactions decided per second, from the first put to the last decision."""
    if last_decision is None or decided <= 0:
        return 0.0
    return decided / max((last_decision - first_put).total_seconds(), 1e-3)


def rows_of(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The run's rows for ``bench-results.json``."""
    out = [
        row("soak.transactions", figures["transactions"], "transactions"),
        row("soak.sustained_rate", figures["sustained_rate"], "transactions/s"),
        row("soak.send_rate", figures["send_rate"], "records/s"),
    ]
    for consumer in CONSUMERS:
        if (age := figures["age_max_ms"].get(consumer)) is not None:
            out.append(row(f"soak.iterator_age_max.{consumer}", age, "ms"))
    out.append(row("soak.duration", figures["duration_s"], "s"))
    return out


# --- the deployed stack -------------------------------------------------------------------------


def counters(ddb: Any, table: str, contract: str, source: str) -> dict[str, int]:
    """One ``ACCOUNT#<contract>#<source>`` item (a GetItem, not the ledger's scan)."""
    from fraudops_shared.aws.dynamodb import account_key

    item = ddb.get_item(TableName=table, Key=account_key(contract, source), ConsistentRead=True)
    return {k: int(v["N"]) for k, v in (item.get("Item") or {}).items() if "N" in v}


def deployed_outputs(layout: Any) -> dict[str, str] | None:
    """The stack's outputs when it is deployed and complete, else None."""
    from botocore.exceptions import ClientError

    from fraudops import deploy
    from fraudops.clients import client

    try:
        [stack] = client(layout, "cloudformation").describe_stacks(StackName=deploy.stack_name())[
            "Stacks"
        ]
    except ClientError:
        return None
    status = str(stack["StackStatus"])
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status or "DELETE" in status:
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def objects_since(s3: Any, bucket: str, prefix: str, since: datetime) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["LastModified"] >= since:
                keys.append(obj["Key"])
    return keys


def zone_ids(s3: Any, bucket: str, prefix: str, since: datetime) -> list[str]:
    """``transaction_id`` of every Parquet object under ``prefix`` written since ``since``: what
    a reader of the prefix reads."""
    import pyarrow.parquet as pq

    out: list[str] = []
    for key in objects_since(s3, bucket, prefix, since):
        if key.endswith(".parquet"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            table = pq.read_table(io.BytesIO(body), columns=["transaction_id"])
            out += [str(v) for v in table.column("transaction_id").to_pylist()]
    return out


def feed_records(
    kinesis: Any, stream: str, since: datetime, prefix: str, max_calls: int = 10_000
) -> Counter[str]:
    """The user records on the scoring feed (KPL aggregates taken apart) since ``since`` whose
    transaction id starts with ``prefix``, counted per id."""
    from fraudops_shared.ingestion import kpl

    found: Counter[str] = Counter()
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=shard["ShardId"],
            ShardIteratorType="AT_TIMESTAMP",
            Timestamp=since,
        )["ShardIterator"]
        for _ in range(max_calls):
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in page["Records"]:
                data, key = record["Data"], record["PartitionKey"]
                parts = kpl.deaggregate(data, key) if kpl.is_aggregated(data) else [(key, data)]
                for _, part in parts:
                    tid = json.loads(part).get("transaction_id")
                    if isinstance(tid, str) and tid.startswith(prefix):
                        found[tid] += 1
            iterator = page.get("NextShardIterator")
            if not iterator or (not page["Records"] and not page.get("MillisBehindLatest")):
                break
    return found


def jsonl_rows(s3: Any, bucket: str, keys: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for key in keys:
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        out += [json.loads(line) for line in text.splitlines() if line.strip()]
    return out


def record_ages(cloudwatch: Any, start: datetime, end: datetime) -> dict[str, list[dict]]:
    """RecordAgeMs (Maximum, 60 s periods) of each consumer between ``start`` and ``end``."""
    out = {}
    for consumer in CONSUMERS:
        found = cloudwatch.get_metric_statistics(
            Namespace=c.METRICS_NAMESPACE,
            MetricName=c.METRIC_RECORD_AGE,
            Dimensions=[{"Name": c.METRIC_DIM_SERVICE, "Value": consumer}],
            StartTime=start,
            EndTime=end,
            Period=AGE_PERIOD_S,
            Statistics=["Maximum", "SampleCount"],
        )
        out[consumer] = list(found.get("Datapoints") or [])
    return out


def cold_starts(logs: Any, function: str, since: datetime, limit_pages: int = 50) -> int | None:
    """REPORT lines with an Init Duration (new environments) in the function's log since."""
    group, count, token = f"/aws/lambda/{function}", 0, None
    try:
        for _ in range(limit_pages):
            kwargs: dict[str, Any] = {
                "logGroupName": group,
                "startTime": int(since.timestamp() * 1000),
                "filterPattern": "REPORT",
            }
            if token:
                kwargs["nextToken"] = token
            page = logs.filter_log_events(**kwargs)
            count += sum("Init Duration" in e.get("message", "") for e in page.get("events", []))
            token = page.get("nextToken")
            if not token:
                break
    except Exception:
        return None
    return count


class Chaos:
    """The run's faults on the pipeline's progress: the scorer's fault on when ``fault_at`` of
    the transactions are scored, for ``fault_seconds``; the ingestion function's environments
    restarted when ``restart_at`` of the records are sent (0 or less: not at all). The
    configuration changes run one after another on a worker thread, as an operator's would:
    the producer does not wait for them."""

    def __init__(
        self,
        layout: Any,
        outputs: Mapping[str, str],
        *,
        fault_at: float,
        fault_seconds: float,
        restart_at: float,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.layout, self.outputs, self.say, self.clock = layout, dict(outputs), say, clock
        self.fault_at, self.fault_seconds, self.restart_at = fault_at, fault_seconds, restart_at
        self.fault = "idle" if fault_seconds > 0 and fault_at > 0 else "done"
        self.fault_until: float | None = None
        self.restarted = restart_at <= 0
        self.events: list[tuple[datetime, str]] = []
        self.restart_time: datetime | None = None
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soak-chaos")
        self.pending: list[Any] = []

    @property
    def busy(self) -> bool:
        """A fault on (or being switched), or a change still running."""
        return self.fault not in ("idle", "done") or any(not f.done() for f in self.pending)

    def _note(self, what: str) -> None:
        self.events.append((datetime.now(UTC), what))
        self.say(f"[bold yellow]{datetime.now(UTC):%H:%M:%S}[/] {what}")

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.pending.append(self.pool.submit(fn, *args))

    def _reap(self) -> None:
        """Raise here what a finished change raised on the worker."""
        for f in [f for f in self.pending if f.done()]:
            self.pending.remove(f)
            f.result()

    def step(self, scored: float, sent: float) -> None:
        """Shares of the run so far: transactions accounted by scoring, records sent."""
        self._reap()
        if self.fault == "idle" and scored >= self.fault_at:
            self.fault = "switching on"
            self._submit(self._fault_on, scored)
        if self.fault == "on" and self.fault_until is not None and self.clock() >= self.fault_until:
            self.fault = "switching off"
            self._submit(self._fault_off)
        if not self.restarted and sent >= self.restart_at:
            self.restarted = True
            self._submit(self._restart, sent)

    def _fault_on(self, fraction: float) -> None:
        from fraudops import faults

        self._note(f"switching the fault on in score_stream ({fraction:.0%} scored)")
        faults.set_fault(self.layout, c.OUT_SCORE_STREAM_FN, True, outputs=self.outputs)
        self.fault_until = self.clock() + self.fault_seconds
        self.fault = "on"
        self._note(f"fault ON in score_stream for {self.fault_seconds:.0f} s")

    def _fault_off(self) -> None:
        from fraudops import faults

        faults.set_fault(self.layout, c.OUT_SCORE_STREAM_FN, False, outputs=self.outputs)
        self.fault = "done"
        self._note("fault OFF in score_stream")

    def _restart(self, fraction: float) -> None:
        from fraudops import faults

        self._note(f"restarting ingest_stream's environments ({fraction:.0%} sent)")
        done = faults.restart_environments(
            self.layout, c.OUT_INGEST_STREAM_FN, outputs=self.outputs
        )
        self.restart_time = datetime.fromisoformat(done["restarted_at"])
        self._note("ingest_stream environments restarted (new ones from the next invocation)")

    def close(self) -> None:
        """Wait for the changes under way; never leave the scorer failing."""
        from concurrent.futures import wait

        wait(self.pending)
        self.pool.shutdown()
        failed = [e for f in self.pending if (e := f.exception()) is not None]
        self.pending = []
        if self.fault not in ("done", "idle"):
            try:
                self._fault_off()
            except Exception as err:
                failed.append(err)
        for problem in failed:
            self.say(f"[bold red]a fault change failed: {type(problem).__name__}: {problem}[/]")


@dataclass
class Soak:
    layout: Any
    args: argparse.Namespace
    tag: str = field(default_factory=lambda: f"soak-{uuid.uuid4().hex[:6]}")
    outputs: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[datetime, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        from fraudops.demo import Demo

        self.seed = self.args.seed if self.args.seed is not None else int(self.tag[-6:], 16) % 9_000
        self.demo = Demo(self.layout, max(self.args.rate, 1), self.args.transactions)

    def aws(self, service: str) -> Any:
        """A client that waits for a LocalStack slowed by the load (the default 60 s read
        timeout and 4 retries gave up on a 2-core machine running three LocalStacks)."""
        from botocore.config import Config

        from fraudops.clients import client

        patient = Config(
            connect_timeout=10, read_timeout=180, retries={"mode": "standard", "max_attempts": 8}
        )
        return client(self.layout, service, config=patient)

    def say(self, text: str) -> None:
        from fraudops.console import console

        console.print(text)

    # --- setup: the demo's own steps -----------------------------------------------------------

    def setup(self) -> None:
        from fraudops import localstack, training

        st = localstack.status(self.layout)
        found = deployed_outputs(self.layout) if st.healthy and not self.args.redeploy else None
        if found:
            self.demo.step("LocalStack on the host, the stack deployed")
            self.say(f"LocalStack {st.endpoint} (pid {st.pid}); stack deployed, not redeployed")
            self.outputs = found
        else:
            self.demo.platform()
            self.outputs = dict(self.demo.outputs)
        self.demo.outputs = self.outputs
        champion = self.champion(training)
        if champion is None:
            self.demo.history()
            self.demo.train()
            champion = self.champion(training)
        if champion is None:
            raise RuntimeError("no champion: see `fraudops models list`")
        self.say(f"champion: {champion['model_id']} (v{champion.get('version')})")

    def champion(self, training: Any) -> dict[str, Any] | None:
        models = training.list_models(self.layout, CONTRACT)
        return next((m for m in models if m["status"] == "champion"), None)

    def retraining_paused(self, paused: bool | None) -> bool:
        """Set the retraining guard's pause (None: leave it); what it was before."""
        from fraudops_shared.aws.retrain import DynamoRetrainGuard

        guard = DynamoRetrainGuard(self.aws("dynamodb"), self.outputs["StateTableName"])
        was = bool(guard.item(CONTRACT).get("paused"))
        if paused is not None and paused != was:
            guard.set_paused(CONTRACT, paused)
        return was

    def pause_watches(self) -> dict[str, int | None]:
        """Hold the model watches (drift, quality: scheduled every minute on the local stage)
        for the run: their reserved concurrency set to 0, so no invocation starts. Under load
        their runs outlast the minute and pile up (40 environments seen, listing the lake all
        the while), LocalStack slows down, and the stream functions time out batch after batch.
        Disabling the schedules' rules did not stop LocalStack's scheduler (measured). The
        previous settings, for ``resume_watches``."""
        lam = self.aws("lambda")
        before: dict[str, int | None] = {}
        for key in (c.OUT_MONITOR_DRIFT_FN, c.OUT_MONITOR_QUALITY_FN):
            if name := self.outputs.get(key):
                found = lam.get_function_concurrency(FunctionName=name)
                before[name] = found.get("ReservedConcurrentExecutions")
                lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        return before

    def resume_watches(self, before: Mapping[str, int | None]) -> None:
        lam = self.aws("lambda")
        for name, reserved in before.items():
            if reserved is None:
                lam.delete_function_concurrency(FunctionName=name)
            else:
                lam.put_function_concurrency(
                    FunctionName=name, ReservedConcurrentExecutions=reserved
                )

    # --- the stream ------------------------------------------------------------------------------

    def plan(self) -> Plan:
        from fraudops import demo, generator

        n = self.args.transactions
        end = datetime.now(UTC).replace(microsecond=0)
        table = generator.generate_transactions(
            n,
            seed=self.seed,
            start=end - timedelta(days=1),
            days=1,
            fraud_rate=0.02,
            n_cards=max(n // 8, 1),
        )
        rows = [r for r, _ in demo._as_sent(table, self.tag)]
        return mix(
            rows,
            seed=self.seed,
            tag=self.tag,
            poison_rate=self.args.poison_rate,
            duplicate_rate=self.args.duplicate_rate,
        )

    def ledger(self, ddb: Any) -> Ledger:
        table = self.outputs["StateTableName"]
        return Ledger(
            ingestion=counters(ddb, table, CONTRACT, SOURCE_KINESIS),
            scoring=counters(ddb, table, CONTRACT, SOURCE_SCORING),
            decisions=counters(ddb, table, DECISIONS_CONTRACT, SOURCE_KINESIS),
        )

    def put(self, kinesis: Any, part: list[Outgoing]) -> None:
        """One PutRecords; the records it refused (throttled) put again until taken (the
        feed's own publisher, patient: LocalStack throttles under this load). With
        ``--aggregate`` the batch's records go as KPL aggregates (ingestion takes them apart)."""
        from fraudops_shared.aws.kinesis import KinesisRecordSink
        from fraudops_shared.ingestion.scoring_feed import put_entries

        records = entries(part, aggregate=self.args.aggregate)
        put_entries(KinesisRecordSink(kinesis, self.outputs["TransactionStreamName"]), records,
                    attempts=20)  # fmt: skip

    def stream(
        self, plan: Plan, before: Ledger, chaos: Chaos, since: datetime
    ) -> tuple[Ledger, datetime, float, int]:
        """Send the plan (faults on their schedule; at most --send-timeout seconds), then poll
        until drained and quiet; the run's ledger delta, the first put's time, the send's
        seconds and the records sent."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from fraudops.console import console

        kinesis, ddb = self.aws("kinesis"), self.aws("dynamodb")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        rate, valid = self.args.rate, len(plan.valid_ids)
        with Progress(*columns, console=console) as bar:
            chaos.say = bar.console.print
            sent_task = bar.add_task("records sent", total=plan.total)
            in_task = bar.add_task("ingested (counted in)", total=plan.total)
            done_task = bar.add_task("scored (decided, parked, dead-lettered)", total=valid)
            d, last_poll, sent = before.minus(before), 0.0, 0

            def poll() -> Ledger:
                """The run's delta now; the last one when the counters cannot be read."""
                try:
                    now = self.ledger(ddb).minus(before)
                except (BotoCoreError, ClientError) as exc:
                    chaos.say(f"[dim]counters not read this time ({type(exc).__name__})[/]")
                    return d
                at = datetime.now(UTC)
                self.samples.append(
                    Sample(at, sent, now.ingestion["in_records"], now.scoring["decided"])
                )
                bar.update(in_task, completed=now.ingestion["in_records"])
                bar.update(done_task, completed=accounted(now.scoring))
                return now

            first_put, t0 = datetime.now(UTC), time.monotonic()
            limit = self.args.send_timeout
            for part in batches(plan.records):
                if limit > 0 and time.monotonic() - t0 > limit:
                    chaos.say(f"[yellow]sending stopped at its limit ({limit:.0f} s)[/]")
                    break
                self.put(kinesis, part)
                sent += len(part)
                bar.update(sent_task, completed=sent)
                chaos.step(scored_share(plan, d), sent / plan.total)
                if rate > 0 and (ahead := t0 + sent / rate - time.monotonic()) > 0:
                    time.sleep(ahead)
                if time.monotonic() - last_poll >= POLL_S:
                    d, last_poll = poll(), time.monotonic()
            send_s = time.monotonic() - t0
            chaos.say(f"sent {sent:,} records in {send_s:,.1f} s ({sent / send_s:,.0f}/s)")
            plan = plan.head(sent) if sent < plan.total else plan
            deadline = time.monotonic() + self.args.drain_timeout
            last_key, quiet_since, feed_key = None, time.monotonic(), None
            feed_stream, prefix = self.outputs["ScoringFeedStreamName"], f"{self.tag}-"
            while time.monotonic() < deadline:
                d = poll()
                chaos.step(scored_share(plan, d), 1.0)
                if d.key() != last_key:
                    last_key, quiet_since = d.key(), time.monotonic()
                quiet = time.monotonic() - quiet_since >= QUIET_S
                if not chaos.busy and quiet and drained(plan, d) and d.key() != feed_key:
                    # the cheap signs say done: every feed record accounted? (read once per
                    # state of the counters: a batch in flight leaves them still for a while)
                    feed_key = d.key()
                    feed = sum(feed_records(kinesis, feed_stream, since, prefix).values())
                    if drained(plan, d, feed):
                        break
                time.sleep(POLL_S * 2.5)
            else:
                chaos.say(f"[red]not drained within {self.args.drain_timeout:.0f} s[/]")
        return self.ledger(ddb).minus(before), first_put, send_s, sent

    # --- checks -------------------------------------------------------------------------------

    def verify(self, plan: Plan, d: Ledger, since: datetime) -> tuple[list[Check], dict]:
        from fraudops.scoring import decisions_by_id
        from fraudops_shared.runtime.settings import PARKED_PREFIX

        s3, ddb, bucket = self.aws("s3"), self.aws("dynamodb"), self.outputs["DataBucketName"]
        prefix = f"{self.tag}-"
        checks = [
            equation("ingestion equation (transactions, kinesis)", SOURCE_KINESIS, d.ingestion),
            ingestion_as_planned(plan, d.ingestion),
            equation("scoring equation (transactions, scoring)", SOURCE_SCORING, d.scoring),
            equation(
                "decisions ingestion equation (decisions, kinesis)", SOURCE_KINESIS, d.decisions
            ),
        ]
        curated = zone_ids(s3, bucket, f"curated/{CONTRACT}/", since)
        checks.append(
            once_each(
                "curated zone: each transaction once",
                curated,
                prefix,
                d.ingestion.get("curated", 0),
            )
        )
        decided = decisions_by_id(
            ddb, self.outputs["DecisionsTableName"], plan.valid_ids + plan.poison_ids
        )
        keyed_right = all(doc.get("transaction_id") == tid for tid, doc in decided.items())
        checks.append(
            Check(
                "decisions table: one decision per transaction",
                keyed_right,
                f"{len(decided):,} of the run's transactions decided; scoring counted "
                f"{d.scoring.get('decided', 0):,} decisions (a feed copy counts again)",
            )
        )
        zone = zone_ids(s3, bucket, f"curated/{DECISIONS_CONTRACT}/", since)
        checks.append(
            once_each(
                "decisions zone: each transaction once",
                zone,
                prefix,
                len([t for t in decided if t.startswith(prefix)]),
            )
        )
        parked_keys = objects_since(s3, bucket, f"{PARKED_PREFIX}{CONTRACT}/", since)
        dead_keys = [k for k in parked_keys if "/dead/" in k]
        dead_rows = jsonl_rows(s3, bucket, dead_keys)
        other_rows = jsonl_rows(s3, bucket, [k for k in parked_keys if "/dead/" not in k])
        dead = [t for t in parked_ids(dead_rows) if t.startswith(prefix)]
        dead_counts = Counter(dead)
        parked = [t for t in parked_ids(other_rows) if t.startswith(prefix)]
        feed = feed_records(
            self.aws("kinesis"), self.outputs["ScoringFeedStreamName"], since, prefix
        )
        checks.append(feed_accounted(feed, d.scoring))
        checks.append(decided_some(len(decided), len(plan.valid_ids)))
        checks.append(coverage(plan, decided, dead, parked))
        checks.append(decided_or_dead(feed, dead_counts, decided))
        checks.append(dead_letters_kept(len(dead_rows), d.scoring))
        last = max(
            (datetime.fromisoformat(doc["decided_at"]) for doc in decided.values()), default=None
        )
        facts = {
            "feed_copies": sum(feed.values()) - len(feed),
            "decided": len(decided),
            "dead": len(set(dead)),
            "parked": len(set(parked)),
            "last_decision": last,
            "dead_keys": dead_keys,
        }
        return checks, facts

    def dashboard(self, since: timedelta) -> Check:
        from fraudops import dashboard

        out = Path(self.args.report_dir) / "dashboard.html"
        try:
            done = dashboard.render(self.layout, out, since)
        except Exception as exc:  # the checks are printed whatever the dashboard does
            return Check("dashboard HTML shows the run", False, f"{type(exc).__name__}: {exc}")
        return Check(
            "dashboard HTML shows the run",
            done["widgets_with_data"] > 0,
            f"{done['path']}: {done['widgets_with_data']} of {done['metric_widgets']} charts "
            f"with data, {done['series']} series, {done['points']} points",
        )

    # --- the run --------------------------------------------------------------------------------

    def run(self) -> int:
        from fraudops.console import console

        self.setup()
        paused_before = None if self.args.keep_retraining else self.retraining_paused(True)
        watches = {} if self.args.keep_watches else self.pause_watches()
        self.demo.step(f"Soak: {self.args.transactions:,} transactions through Kinesis")
        plan = self.plan()
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(plan.kinds.items()))
        self.say(f"run {self.tag} (seed {self.seed}): {plan.total:,} records: {kinds}")
        if paused_before is not None:
            self.say("automatic retraining paused for the run")
        if watches:
            self.say("model watches held for the run (reserved concurrency 0): drift, quality")
        chaos = Chaos(
            self.layout,
            self.outputs,
            fault_at=0.0 if self.args.no_faults else self.args.fault_at,
            fault_seconds=self.args.fault_seconds,
            restart_at=0.0 if self.args.no_faults else self.args.restart_at,
            say=self.say,
        )
        ddb = self.aws("dynamodb")
        before = self.ledger(ddb)
        since = datetime.now(UTC) - timedelta(seconds=60)
        try:
            d, first_put, send_s, sent = self.stream(plan, before, chaos, since)
        finally:
            chaos.close()  # never leave the scorer failing
            try:
                if paused_before is not None:
                    self.retraining_paused(paused_before)
                self.resume_watches(watches)
            except (BotoCoreError, ClientError) as exc:
                self.say(f"[red]not restored (retraining, watches): {type(exc).__name__}: {exc}[/]")
        self.events = chaos.events
        drained_at = datetime.now(UTC)
        if sent < plan.total:  # checked against what was sent
            self.say(f"[yellow]{sent:,} of {plan.total:,} records sent in --send-timeout[/]")
            plan = plan.head(sent)

        self.demo.step("Checks")
        checks, facts = self.verify(plan, d, since)
        span = timedelta(seconds=(drained_at - first_put).total_seconds() + 180)
        checks.append(self.dashboard(span))
        table = Table("check", "result", "numbers", title=f"soak {self.tag}")
        for check in checks:
            result = "[green]PASS[/]" if check.passed else "[bold red]FAIL[/]"
            table.add_row(check.name, result, check.detail)
        console.print(table)

        self.demo.step("Figures")
        grid = first_put.replace(second=0, microsecond=0)
        try:
            points = record_ages(self.aws("cloudwatch"), grid, drained_at + timedelta(minutes=1))
        except Exception as exc:
            self.say(f"RecordAgeMs could not be read: {type(exc).__name__}: {exc}")
            points = {}
        ages = ages_by_minute(points, grid)
        console.print(
            timeline_table(timeline_rows(grid, drained_at, ages, self.samples, self.events))
        )
        age_max = {c: max(ages[c].values()) if ages.get(c) else None for c in CONSUMERS}
        for consumer, age in age_max.items():
            if age is None:
                self.say(f"{consumer}: no RecordAgeMs data (a stack deployed before the metric?)")
        if chaos.restart_time is not None:
            fn = self.outputs[c.OUT_INGEST_STREAM_FN]
            n = cold_starts(self.aws("logs"), fn, chaos.restart_time)
            self.say(f"ingest_stream cold starts since its restart: {'?' if n is None else n}")
        rate = sustained_rate(facts["decided"], first_put, facts["last_decision"])
        figures = {
            "transactions": len(plan.valid_ids),
            "sustained_rate": rate,
            "send_rate": plan.total / send_s if send_s else 0.0,
            "age_max_ms": age_max,
            "duration_s": (drained_at - first_put).total_seconds(),
        }
        self.say(
            f"sustained rate: {rate:,.1f} transactions/s decided end to end "
            f"({facts['decided']:,} unique decided, first put {first_put:%H:%M:%S}, last decision "
            f"{facts['last_decision'] or '-'}); send rate {figures['send_rate']:,.0f} records/s; "
            f"dead-lettered {facts['dead']:,}, parked {facts['parked']:,}; "
            f"{facts['feed_copies']:,} feed records published again (at least once)"
        )
        rows = rows_of(figures)
        bench_results.record(rows)
        bench_results.print_rows(rows)
        failed = [check.name for check in checks if not check.passed]
        verdict = f"[bold red]FAILED: {', '.join(failed)}[/]" if failed else "[green]PASS[/]"
        self.say(
            f"soak {self.tag}: {verdict} ({len(checks) - len(failed)} of {len(checks)} checks) "
            f"in {time.monotonic() - self.started:,.0f} s. LocalStack keeps running: "
            "`fraudops down` stops it."
        )
        return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.split("\n")[0]
    )
    p.add_argument("--transactions", type=int, default=100_000)
    p.add_argument("--rate", type=int, default=0, help="records/s; 0: as fast as possible")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--aggregate", action=argparse.BooleanOptionalAction, default=True,
        help="send KPL aggregates, as the Kinesis Producer Library does (default); "
        "--no-aggregate: one Kinesis record per transaction",
    )  # fmt: skip
    p.add_argument("--poison-rate", type=float, default=0.005)
    p.add_argument("--duplicate-rate", type=float, default=0.01)
    p.add_argument("--fault-at", type=float, default=0.4, help="share of transactions scored")
    p.add_argument(
        "--fault-seconds", type=float, default=10.0,
        help="a scorer failing at once burns through its backlog: 10 s dead-letters thousands",
    )  # fmt: skip
    p.add_argument("--restart-at", type=float, default=0.7, help="share of records sent")
    p.add_argument("--no-faults", action="store_true", help="neither the fault nor the restart")
    p.add_argument(
        "--send-timeout",
        type=float,
        default=3600.0,
        help="stop sending after this many seconds (0: no limit); checks what was sent",
    )
    p.add_argument("--drain-timeout", type=float, default=1800.0)
    p.add_argument("--redeploy", action="store_true", help="deploy even when the stack is there")
    p.add_argument(
        "--keep-retraining",
        action="store_true",
        help="leave automatic retraining as it is (paused for the run otherwise)",
    )
    p.add_argument(
        "--keep-watches",
        action="store_true",
        help="let the drift and quality watches run (held for the run otherwise)",
    )
    p.add_argument("--report-dir", default="soak-report")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from fraudops.paths import Layout

    args = build_parser().parse_args(argv)
    return Soak(Layout.from_env(), args).run()


if __name__ == "__main__":
    sys.exit(main())
