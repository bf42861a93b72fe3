"""The scoring handlers through their entry points, wired to the in-memory world of the scoring
tests: a feed event in, decisions, metrics and the partial-batch response out; a function URL
event in, an HTTP answer out (200, 400, 503), never a 500 for a body."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from types import ModuleType
from typing import Any

import pytest

from fraudops_shared.runtime import settings
from tests.unit.scoring.champions import transaction
from tests.unit.scoring.world import World
from tests.unit.support import FakeLambdaContext, load_handler


def wired(monkeypatch: pytest.MonkeyPatch, world: World, folder: str) -> ModuleType:
    """The handler module, loaded with wiring pointing at ``world`` (its globals are built at
    import, as on a cold start)."""
    from fraudops_shared.aws import wiring

    monkeypatch.setenv(settings.STREAM_CONTRACT_ENV, "transactions")
    monkeypatch.setattr(wiring, "model_cache", lambda contract, features: world.models)
    monkeypatch.setattr(wiring, "scoring_adapters", lambda: {
        "states": world.states, "decisions": world.decisions, "sink": world.sink,
        "flags": world.flags})  # fmt: skip
    monkeypatch.setattr(wiring, "scoring_log", lambda: world.log)
    monkeypatch.setattr(wiring, "parked_store", lambda: world.parked)
    monkeypatch.setattr(wiring, "transaction_sink", lambda: world.transactions)
    return load_handler(folder)


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.champion(1)
    yield w


def feed_event(rows: list[Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/feed",
                "eventID": f"shardId-000000000000:{100 + i}",
                "kinesis": {
                    "partitionKey": "slot-01",
                    "sequenceNumber": str(100 + i),
                    "data": base64.b64encode(
                        r if isinstance(r, bytes) else json.dumps(r).encode()
                    ).decode(),
                    "approximateArrivalTimestamp": 1795000000.0,
                },
            }
            for i, r in enumerate(rows)
        ]
    }


def run(handler: Any, event: dict[str, Any]) -> tuple[Any, str]:
    out = io.StringIO()
    with redirect_stdout(out):  # the EMF documents and log lines
        response = handler(event, FakeLambdaContext())
    return response, out.getvalue()


def test_the_stream_handler_decides_the_feed_and_reports_its_metrics(
    monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    app = wired(monkeypatch, world, "score_stream")
    response, printed = run(app.handler, feed_event([transaction(i) for i in range(3)] + [b"{x"]))
    assert response == {"batchItemFailures": []}
    assert len(world.decisions.items) == 3
    assert world.counts() == {"in_records": 4, "decided": 3, "parked": 1}
    metrics = [json.loads(line) for line in printed.splitlines() if '"_aws"' in line]
    names = {m["Name"] for doc in metrics for d in doc["_aws"]["CloudWatchMetrics"]
             for m in d["Metrics"]}  # fmt: skip
    assert {"RecordsDecided", "RecordsParked", "Decisions", "ChampionVersion"} <= names


def test_a_promotion_event_replays_the_parked_records(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    app = wired(monkeypatch, world, "score_stream")
    run(app.handler, feed_event([transaction(i) for i in range(2)]))
    assert world.counts()["parked"] == 2
    world.champion(1)
    promoted = {"source": "fraudops.training", "detail-type": "Model Promoted",
                "detail": {"contract": "transactions", "version": 1}}  # fmt: skip
    done, _ = run(app.handler, promoted)
    assert done["champion"] == 1 and world.counts()["decided"] == 2


def url_event(body: bytes, b64: bool = False) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": base64.b64encode(body).decode() if b64 else body.decode(),
        "isBase64Encoded": b64,
    }


@pytest.mark.parametrize("b64", [False, True])
def test_the_api_handler_answers_a_decision(
    monkeypatch: pytest.MonkeyPatch, world: World, b64: bool
) -> None:
    app = wired(monkeypatch, world, "score_api")
    response, _ = run(app.handler, url_event(json.dumps(transaction(1)).encode(), b64))
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["decision"]["transaction_id"] == "t-00001"


def test_the_api_handler_answers_400_and_503_never_500(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    app = wired(monkeypatch, world, "score_api")
    bad, _ = run(app.handler, url_event(b'{"amount": "NaN"'))
    assert bad["statusCode"] == 400
    assert json.loads(bad["body"])["error"]["rules"] == ["malformed_json"]
    none, _ = run(app.handler, url_event(json.dumps(transaction(1)).encode()))
    assert none["statusCode"] == 503
    assert json.loads(none["body"])["error"]["code"] == "no_champion"
