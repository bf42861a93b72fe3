"""Real-time scoring on the deployed stack: transactions put on the Kinesis stream are ingested,
forwarded to the scoring feed and decided once by the champion, with the per-card features
training computes offline; the signed API answers on the same code path; records that arrive
before any champion are parked and decided once one is promoted; a tampered champion is refused
while the last verified one keeps serving.

The tests run in file order: the first ones need a stack with no champion yet (this module runs
before the training tests, which accept the champion they find)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fraudops import scoring, snapshot
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.aws.s3 import S3Bucket
from fraudops_shared.aws.scoring import card_key
from fraudops_shared.features.online import CardState
from fraudops_shared.lake import snapshot_store
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.runtime.settings import SOURCE_SCORING
from tests.e2e.ledger import CONTRACT, balanced, curated_zone
from tests.e2e.scoring_support import (
    FEATURES,
    promote,
    register,
    scoring_counts,
    send_in_order,
    transactions,
    wait_decided,
)
from tests.unit.scoring.champions import model_bytes

# --- before any champion ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def early(ls_layout: Layout, aws: Any, outputs: dict[str, str]) -> list[dict[str, Any]]:
    """Transactions that reach the scorer before any champion exists: parked."""
    before = scoring_counts(ls_layout, outputs)
    rows = transactions(20, 4, seed=81, tag=f"park-{uuid.uuid4().hex[:6]}")
    send_in_order(aws, outputs, rows)
    poll(
        lambda: scoring_counts(ls_layout, outputs).get("parked", 0) >= before.get("parked", 0) + 20,
        timeout=180,
        what="20 records parked",
    )
    return rows


def test_without_a_champion_the_feed_parks_and_the_api_answers_503(
    early: list[dict[str, Any]], ls_layout: Layout, outputs: dict[str, str]
) -> None:
    counts = scoring_counts(ls_layout, outputs)
    assert "parked" in counts and balanced(counts, SOURCE_SCORING)
    answer = scoring.call_api(ls_layout, json.dumps(early[0]).encode())
    assert answer.status == 503 and answer.body["error"]["code"] == "no_champion"


@pytest.fixture(scope="module")
def champion(
    early: list[dict[str, Any]], ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> Iterator[dict[str, Any]]:
    record = register(ls_layout, aws, outputs, model_bytes("logistic_regression"))
    promote(ls_layout, int(record["version"]))
    yield record


def test_parked_records_are_decided_once_a_champion_is_promoted(
    champion: dict[str, Any], early: list[dict[str, Any]], ls_layout: Layout, aws: Any,
    outputs: dict[str, str],
) -> None:  # fmt: skip
    # The API's environment that answered 503 above serves the champion at its next call, not
    # a refresh bound later ("no champion" is never cached)
    (row,) = transactions(1, 1, seed=84, tag=f"first-{uuid.uuid4().hex[:6]}")
    answer = scoring.call_api(ls_layout, json.dumps(row).encode())
    assert answer.status == 200, answer.body
    assert answer.body["decision"]["model_id"] == champion["model_id"]
    found = wait_decided(aws, outputs, [r["transaction_id"] for r in early], timeout=180)
    assert {d["source"] for d in found.values()} == {"replay"}
    assert {d["model_id"] for d in found.values()} == {champion["model_id"]}
    poll(lambda: scoring_counts(ls_layout, outputs).get("parked", 1) == 0, timeout=60,
         what="parked back to 0")  # fmt: skip
    counts = scoring_counts(ls_layout, outputs)
    assert counts["in_records"] == counts["decided"]


# --- the feed -----------------------------------------------------------------------------------


def test_the_feed_is_decided_once_with_the_features_training_computes(
    champion: dict[str, Any], ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    tag = f"par-{uuid.uuid4().hex[:6]}"
    rows = transactions(1500, 30, seed=82, tag=tag)
    before = scoring_counts(ls_layout, outputs)
    # When 1,500 transactions of 30 cards arrive in event-time order
    send_in_order(aws, outputs, rows)
    ids = [r["transaction_id"] for r in rows]
    found = wait_decided(aws, outputs, ids)
    # Then each has one decision by the champion, with three reasons
    assert {d["model_id"] for d in found.values()} == {champion["model_id"]}
    assert all(len(d["reasons"]) == 3 for d in found.values())
    # (the counters move with each batch's commit, just after its decisions are written)
    poll(
        lambda: scoring_counts(ls_layout, outputs)["in_records"] - before["in_records"] >= 1500,
        timeout=60, what="1,500 more records counted",
    )  # fmt: skip
    counts = scoring_counts(ls_layout, outputs)
    assert counts["in_records"] == counts["decided"] + counts.get("parked", 0)
    # And the features it used are the ones training computes from a snapshot (offline, point
    # in time): equal within 1e-6, every feature of every transaction
    snap = snapshot.create(ls_layout, CONTRACT)
    files = S3Bucket(aws("s3"), outputs["DataBucketName"])
    loaded = snapshot_store.load_snapshot(files, snap["snapshot_id"])
    table = snapshot_store.read_table(files, loaded)
    offline = FEATURES.matrix(
        {c: table.column(c).to_numpy(zero_copy_only=False) for c in FEATURES.input_columns}
    )
    where = {t: i for i, t in enumerate(table.column("transaction_id").to_pylist())}
    online = np.array([found[t]["features"] for t in ids], dtype=np.float64)
    expected = np.round(offline[[where[t] for t in ids]].astype(np.float64), 6)
    diff = np.abs(online - expected)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    assert diff.max() <= 1e-6, (FEATURES.names[worst[1]], ids[worst[0]], diff.max())

    # And the decisions zone holds each decision once (decisions are ingested like data)
    def zoned() -> bool:
        zone = curated_zone(aws, outputs["DataBucketName"], contract="decisions")
        mine = [t for t in zone.column("transaction_id").to_pylist() if t.startswith(tag)]
        return len(mine) == 1500 and len(set(mine)) == 1500

    poll(zoned, timeout=180, interval=3, what="1,500 decisions in curated/decisions/")


# --- the signed API -----------------------------------------------------------------------------


def post(layout: Layout, url: str, body: bytes, headers: dict[str, str]) -> int:
    target = f"{layout.endpoint}/"
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_the_signed_api_decides_refuses_and_keeps_one_decision_per_transaction(
    champion: dict[str, Any], ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    url = outputs["ScoringApiUrl"]
    (row,) = transactions(1, 1, seed=83, tag=f"api-{uuid.uuid4().hex[:6]}")
    body = json.dumps(row).encode()
    # An unsigned call, and one signed with the wrong secret, never reach the function
    host = url.split("/")[2]
    assert post(ls_layout, url, body, {"Host": host}) == 403
    from botocore.credentials import Credentials

    wrong = scoring.signed_headers(url, body, Credentials("test", "not-the-secret"))
    wrong["X-Amz-Date"] = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    assert post(ls_layout, url, body, wrong) == 403
    # A body over the limit is 413; a transaction that breaks the contract is 400 with its rules
    big = scoring.signed_headers(url, b" " * (6 * 1024 * 1024 + 10), Credentials("test", "test"))
    assert post(ls_layout, url, b" " * (6 * 1024 * 1024 + 10), big) == 413
    bad = scoring.call_api(ls_layout, json.dumps({**row, "amount": -3}).encode())
    assert bad.status == 400 and "range:amount" in bad.body["error"]["rules"]
    # The same transaction 50 times at once: one decision, the card's state moved once
    answers: list[Any] = []
    failures: list[str] = []

    def send() -> None:
        try:  # fifty cold starts on a 2-core host: allow minutes, not seconds
            answers.append(scoring.call_api(ls_layout, body, timeout=180))
        except Exception as err:  # reported below, not lost in a thread
            failures.append(f"{type(err).__name__}: {err}")

    threads = [threading.Thread(target=send) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert [a.status for a in answers] == [200] * 50, [a.body for a in answers if a.status != 200]
    assert len({json.dumps(a.body["decision"], sort_keys=True) for a in answers}) == 1
    assert sum(not a.body["duplicate"] for a in answers) == 1
    item = aws("dynamodb").get_item(
        TableName=outputs["StateTableName"],
        Key={"pk": {"S": card_key(CONTRACT, row["card_id"])}, "sk": {"S": "STATE"}},
        ConsistentRead=True,
    )["Item"]
    assert FEATURES.windows is not None
    assert len(CardState.from_bytes(bytes(item["state"]["B"]), FEATURES.windows)) == 1
    # And the scored transaction was ingested like any other: curated once
    poll(
        lambda: row["transaction_id"]
        in curated_zone(aws, outputs["DataBucketName"]).column("transaction_id").to_pylist(),
        timeout=120, interval=2, what="the API's transaction curated",
    )  # fmt: skip


# --- the champion changes -----------------------------------------------------------------------


def test_a_tampered_champion_is_refused_and_a_promotion_reaches_every_scorer(
    champion: dict[str, Any], ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    registry = ModelRegistry(DynamoRegistryStore(aws("dynamodb"), outputs["StateTableName"]))
    # Given a version whose recorded hash is not its artifact's (tampered after registration),
    # made champion behind the CLI's back (the CLI would refuse it)
    tampered = register(ls_layout, aws, outputs, model_bytes("hist_gradient_boosting"),
                        sha=hashlib.sha256(b"other bytes").hexdigest())  # fmt: skip
    registry.promote(CONTRACT, int(tampered["version"]), reason="tampered (test)")
    # Then the last verified champion keeps deciding, past the refresh bound
    deadline = time.monotonic() + 25
    tag = f"tam-{uuid.uuid4().hex[:6]}"
    i = 0
    while time.monotonic() < deadline:
        (row,) = transactions(1, 1, seed=84 + i, tag=f"{tag}-{i}")
        answer = scoring.call_api(ls_layout, json.dumps(row).encode())
        assert answer.status == 200 and answer.body["decision"]["model_id"] == champion["model_id"]
        i += 1
        time.sleep(1)
    # And the refusal is counted where the model-rejected alarm reads it
    cloudwatch = aws("cloudwatch")

    def refusals() -> float:
        end = datetime.now(UTC) + timedelta(minutes=1)
        points = cloudwatch.get_metric_statistics(
            Namespace="FraudOps", MetricName="ModelRejected",
            Dimensions=[{"Name": "service", "Value": "score_api"},
                        {"Name": "contract", "Value": CONTRACT}],
            StartTime=end - timedelta(hours=1), EndTime=end, Period=3600, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        return float(sum(p["Sum"] for p in points))

    assert poll(refusals, timeout=60, what="ModelRejected metric") >= 1
    # When a valid version is promoted, Then every decision after the bound names it
    fresh = register(ls_layout, aws, outputs, model_bytes("hist_gradient_boosting"))
    promote(ls_layout, int(fresh["version"]))
    promoted_at = time.monotonic()
    names: list[tuple[float, str]] = []
    while time.monotonic() < promoted_at + 35:
        (row,) = transactions(1, 1, seed=200 + len(names), tag=f"{tag}-p{len(names)}")
        answer = scoring.call_api(ls_layout, json.dumps(row).encode())
        names.append((time.monotonic() - promoted_at, answer.body["decision"]["model_id"]))
        time.sleep(1)
    late = {m for t, m in names if t > 17}
    assert late == {fresh["model_id"]}, names


def test_no_card_or_customer_id_reaches_the_scoring_logs(
    champion: dict[str, Any], ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    # Given transactions scored on both paths (this module's tests), with ids we can look for
    rows = transactions(5, 5, seed=90, tag=f"pii-{uuid.uuid4().hex[:6]}")
    for r in rows[:2]:
        assert scoring.call_api(ls_layout, json.dumps(r).encode()).status == 200
    send_in_order(aws, outputs, rows[2:])
    wait_decided(aws, outputs, [r["transaction_id"] for r in rows])
    secrets = {r["card_id"] for r in rows} | {r["customer_id"] for r in rows}
    secrets |= {r["device_id"] for r in rows if r.get("device_id")}
    # Then no log line of the scoring functions holds one of them
    logs = aws("logs")
    for key in ("ScoreStreamFunctionName", "ScoreApiFunctionName"):
        group = f"/aws/lambda/{outputs[key]}"
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
        text = "\n".join(e["message"] for p in pages for e in p["events"])
        assert text, f"no log lines in {group}"
        assert not [s for s in secrets if s in text], group
