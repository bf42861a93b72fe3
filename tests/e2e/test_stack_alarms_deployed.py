"""The ingestion and stream alarms of the deployed stack driven to ALARM by their cause and back
to OK (the local stage's 60 s periods): rejected and late data, consumers falling behind, a dead
letter nobody could account for, records expired before their read-back.

Runs after the snapshot tests (file order): a champion exists, so streamed transactions are
decided, not parked."""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fraudops import generator, ingest
from fraudops.clients import poll
from fraudops.paths import Layout
from infra import constants as c
from tests.e2e.alarm_support import PERIOD, alarm, all_reach, paused
from tests.e2e.ledger import CONTRACT, accounts, as_json, balanced, delta, put_stream
from tests.e2e.scoring_support import decisions_of, send_in_order, transactions, wait_decided

DATA_ALARMS = [
    f"{c.ALARM_REJECTION_RATE}-batch-{CONTRACT}",
    f"{c.ALARM_REJECTION_RATE}-batch-creditcard_benchmark",
    f"{c.ALARM_REJECTION_RATE}-stream-{CONTRACT}",
    f"{c.ALARM_FRESHNESS_LAG}-batch-{CONTRACT}",
    f"{c.ALARM_FRESHNESS_LAG}-stream-{CONTRACT}",
]
# how long a consumer is stopped: past the local stage's age threshold (30 s)
OUTAGE_S = c.ITERATOR_AGE_THRESHOLD_LOCAL_MS / 1000 + 15


def none_in_alarm(aws: Any, keys: list[str]) -> None:
    """Earlier modules' traffic (generated days old: late) may have left some in ALARM; with
    no traffic each clears, so a test starts from alarms its own cause must fire."""
    poll(lambda: all(alarm(aws, k)["StateValue"] != "ALARM" for k in keys),
         timeout=6 * PERIOD, interval=5, what=f"{keys} out of ALARM")  # fmt: skip


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(as_json(r) + b"\n" for r in rows))
    return path


@pytest.mark.timeout(1800)  # earlier traffic's alarms clearing, two periods to fire, quiet ones
def test_rejected_and_late_data_fire_the_ingestion_alarms_and_a_quiet_period_clears_them(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], tmp_path: Path
) -> None:
    none_in_alarm(aws, DATA_ALARMS)
    tag = f"data-{uuid.uuid4().hex[:6]}"
    rounds = iter(range(1_000))

    def one_round() -> bool:
        # Given producers sending, every 30 s: transactions without a card (not_null:card_id)
        # as a file and on the stream, benchmark rows with a negative Time (min: 0), and valid
        # transactions generated one to two days ago (the freshness alarm: 900 s, two periods)
        i = next(rounds)
        old = transactions(10, 5, seed=700 + i, tag=f"{tag}-old{i}")
        bad = [
            {**r, "card_id": None} for r in transactions(10, 5, seed=800 + i, tag=f"{tag}-bad{i}")
        ]
        bench = generator.generate_creditcard_benchmark(10, seed=900 + i)
        bench = bench.set_column(bench.schema.get_field_index("Time"), "Time",
                                 pa.array([-1.0] * bench.num_rows))  # fmt: skip
        files = (
            (write_jsonl(tmp_path / f"bad-{i}.jsonl", bad), CONTRACT),
            (write_jsonl(tmp_path / f"late-{i}.jsonl", old), CONTRACT),
            (generator.write_table(bench, tmp_path / f"bench-{i}.csv", "csv"),
             "creditcard_benchmark"),
        )  # fmt: skip
        for path, contract in files:
            ingest.ingest_file(ls_layout, path, contract, wait=False)
        # (other transactions than the file's: the same ids again would be duplicate keys)
        send_in_order(aws, outputs, transactions(10, 5, seed=750 + i, tag=f"{tag}-sold{i}"))
        put_stream(aws, outputs, [as_json(r) for r in bad], key=f"{tag}-bad")
        # Then every one of the five alarms fires
        return all(alarm(aws, k)["StateValue"] == "ALARM" for k in DATA_ALARMS)

    try:
        poll(one_round, timeout=8 * PERIOD, interval=30, what="the ingestion alarms in ALARM")
    except TimeoutError as e:
        states = {k: alarm(aws, k)["StateValue"] for k in DATA_ALARMS}
        raise AssertionError(f"{e}: {states}") from None
    names = {alarm(aws, k)["MetricName"] for k in DATA_ALARMS}
    assert names == {c.METRIC_REJECTED_PERCENT, c.METRIC_FRESHNESS_LAG}
    # When the producers stop, Then quiet periods (missing data: not breaching) clear them
    all_reach(aws, DATA_ALARMS, "OK", periods=8)


@pytest.mark.timeout(1200)  # the alarms of earlier traffic clear first
def test_stopped_consumers_fall_behind_fire_their_age_alarms_and_clear_on_catching_up(
    aws: Any, outputs: dict[str, str]
) -> None:
    keys = [c.ALARM_ITERATOR_AGE, c.ALARM_SCORING_ITERATOR_AGE]
    none_in_alarm(aws, keys)
    rows = transactions(20, 10, seed=711, tag=f"behind-{uuid.uuid4().hex[:6]}")
    ids = [r["transaction_id"] for r in rows]

    def still_undecided() -> bool:
        assert decisions_of(aws, outputs, ids) == {}, "decided while its consumers were stopped"
        return False

    def outage() -> None:
        # the outage itself: every second of it, nothing of these transactions is decided
        with contextlib.suppress(TimeoutError):
            poll(still_undecided, timeout=OUTAGE_S, interval=3, what="the outage")

    # Given ingestion and the scorer stopped (their mappings disabled)
    with paused(aws, outputs[c.OUT_SCORE_STREAM_FN], outputs[c.OUT_SCORING_FEED_ARN]):
        with paused(aws, outputs[c.OUT_INGEST_STREAM_FN], outputs[c.OUT_STREAM_ARN]):
            send_in_order(aws, outputs, rows)
            outage()
        # When ingestion starts again, its records are older than the threshold; it forwards
        # them to the feed, where they wait for the scorer in turn
        outage()
    # Then both consumers say how far behind they were and both alarms fire
    fired = all_reach(aws, keys, "ALARM", periods=5)
    assert set(fired.values()) == {"ALARM"}
    assert {alarm(aws, k)["MetricName"] for k in keys} == {c.METRIC_RECORD_AGE}
    # And every transaction is decided once they catch up, after which the alarms clear
    assert set(wait_decided(aws, outputs, ids, timeout=300)) == set(ids)
    all_reach(aws, keys, "OK")


@pytest.mark.timeout(1200)  # the alarms of earlier traffic clear first
def test_dead_letters_nobody_accounted_for_or_expired_fire_their_alarms_and_clear(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    keys = [
        c.ALARM_DLQ_DEPTH,
        *(f"{c.ALARM_EXPIRED_RECORDS}-{k}" for k in ("ingestion", "scoring")),
    ]
    none_in_alarm(aws, keys)
    sqs = aws("sqs")
    unaccounted = outputs[c.OUT_UNACCOUNTED_DLQ_URL]
    # Given a stream batch Lambda gave up on, whose on-failure record the accounting function
    # could not handle within the queue's receive limit: SQS moves it to the unaccounted queue
    # (what is placed there here; the records themselves were ingested, as a bisected half is)
    rows = transactions(3, 1, seed=721, tag=f"unacc-{uuid.uuid4().hex[:6]}")
    before = accounts(ls_layout, outputs, "kinesis")
    put = aws("kinesis").put_records(
        StreamName=outputs[c.OUT_STREAM_NAME],
        Records=[{"Data": as_json(r), "PartitionKey": "one-shard"} for r in rows],
    )["Records"]
    assert len({p["ShardId"] for p in put}) == 1
    wait_decided(aws, outputs, [r["transaction_id"] for r in rows])
    message = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
        "responseContext": {"functionError": "Unhandled"},
        "KinesisBatchInfo": {
            "shardId": put[0]["ShardId"],
            "startSequenceNumber": put[0]["SequenceNumber"],
            "endSequenceNumber": put[-1]["SequenceNumber"],
            "batchSize": len(put),
            "streamArn": outputs[c.OUT_STREAM_ARN],
        },
    }
    sqs.send_message(QueueUrl=unaccounted, MessageBody=json.dumps(message))
    # And records of given-up batches found expired from the shard by the two read-back
    # functions: the metric they publish then (a shard cannot be trimmed on LocalStack, whose
    # retention is at least 24 h, so the cause itself is shown by the unit tests)
    cw = aws("cloudwatch")
    for service in (c.FN_DLQ_ACCOUNTING, c.FN_SCORE_DEAD_LETTERS):
        cw.put_metric_data(Namespace=c.METRICS_NAMESPACE, MetricData=[{
            "MetricName": "RecordsExpired", "Value": 2, "Unit": "Count",
            "Dimensions": [{"Name": c.METRIC_DIM_SERVICE, "Value": service}]}])  # fmt: skip
    # Then the three alarms fire
    all_reach(aws, keys, "ALARM")
    # When the operator redrives the unaccounted queue to the stream's on-failure queue (the
    # cause fixed), Then the accounting function reads the batch back, finds it committed and
    # keeps nothing twice; the queue empties and every alarm clears
    source, target = (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for url in (unaccounted, outputs[c.OUT_DLQ_URL])
    )
    sqs.start_message_move_task(SourceArn=source, DestinationArn=target)
    all_reach(aws, keys, "OK")
    d = delta(accounts(ls_layout, outputs, "kinesis"), before)
    assert d["in_records"] == len(rows) and d["dead_lettered"] == 0 and balanced(d), d
