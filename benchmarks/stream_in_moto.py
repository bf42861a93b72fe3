"""One tree's stream handler on one Kinesis event, AWS in moto, each AWS call counted by operation.

Run as a script by ``benchmarks.ingestion``, once for this tree and once for the baseline tree
(the commit before the hardening, taken from git), each in a fresh process so both run under the
same conditions:

    python benchmarks/stream_in_moto.py <tree> <event.json> <repeat>

Imports nothing of the project by name (the tree's ``fraudops_shared`` comes first on
``PYTHONPATH``) and prints one JSON document: wall seconds per run, seconds inside moto, the
calls per operation of one run, and the counters the handler committed.

Calls are counted by a botocore ``before-call`` event hook registered on every client the
process creates, so retries inside botocore are not counted twice and nothing is missed.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

BUCKET = "bench-lake"
FEED = "bench-feed"
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "DATA_BUCKET": BUCKET,
    "STREAM_CONTRACT": "transactions",
    "SCORING_FEED_STREAM": FEED,
    "POWERTOOLS_SERVICE_NAME": "ingest_stream",
    "POWERTOOLS_METRICS_NAMESPACE": "FraudOpsBench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
ACCOUNT_KEY = {"pk": {"S": "ACCOUNT#transactions#kinesis"}, "sk": {"S": "COUNTS"}}


class _Context:
    function_name = "bench-ingest-stream"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-ingest-stream"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


class Calls:
    """Counts API calls per ``service.Operation`` and the time moto spends answering them."""

    def __init__(self) -> None:
        self.by_op: Counter[str] = Counter()
        self.moto_s = 0.0

    def install(self) -> None:
        import botocore.session
        from moto.core.botocore_stubber import BotocoreStubber

        create, calls = botocore.session.Session.create_client, self

        def count(model: Any, **_: Any) -> None:
            calls.by_op[f"{model.service_model.service_name}.{model.name}"] += 1

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = create(session, *args, **kwargs)
            client.meta.events.register("before-call.*.*", count)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]
        process = BotocoreStubber.process_request

        def timed(stubber: Any, request: Any) -> Any:
            start = time.perf_counter()
            try:
                return process(stubber, request)
            finally:
                calls.moto_s += time.perf_counter() - start

        BotocoreStubber.process_request = timed  # type: ignore[method-assign,assignment]

    def take(self) -> tuple[Counter[str], float]:
        out = (self.by_op, self.moto_s)
        self.by_op, self.moto_s = Counter(), 0.0
        return out


def _skip_rollback_snapshot() -> None:
    """moto's TransactWriteItems deep-copies the whole table per item (its rollback snapshot):
    O(items x table) per commit, which DynamoDB does not cost. No transaction here fails, so the
    snapshot is skipped (the baseline's ~100 commits per batch would otherwise take minutes)."""
    import moto.dynamodb.models as ddb_models
    from moto.dynamodb.models.table import Table

    def deepcopy(obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    ddb_models.copy = SimpleNamespace(deepcopy=deepcopy)  # type: ignore[assignment]


def _load_handler(tree: Path) -> Any:
    path = tree / "functions" / "ingest_stream" / "app.py"
    spec = importlib.util.spec_from_file_location("bench_ingest_stream", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(tree: Path, event: dict[str, Any], repeat: int) -> dict[str, Any]:
    os.environ.update(ENV)
    import boto3
    from moto import mock_aws

    calls = Calls()
    with mock_aws():
        calls.install()
        _skip_rollback_snapshot()
        dynamodb = boto3.client("dynamodb")
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("kinesis").create_stream(StreamName=FEED, ShardCount=2)
        app = _load_handler(tree)
        times, moto_times, outcome = [], [], {}
        ops: Counter[str] = Counter()
        for i in range(repeat + 1):  # run 0 warms up (imports, contract, clients)
            table = f"bench-state-{uuid.uuid4().hex[:8]}"
            dynamodb.create_table(
                TableName=table,
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            os.environ["STATE_TABLE_NAME"] = table
            calls.take()
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # the EMF documents
                response = app.handler(event, _Context())
            elapsed = time.perf_counter() - start
            ops, moto_s = calls.take()
            if i:
                times.append(elapsed)
                moto_times.append(moto_s)
            item = dynamodb.get_item(TableName=table, Key=ACCOUNT_KEY)["Item"]
            outcome = {
                "curated": int(item["curated"]["N"]),
                "quarantined": int(item["quarantined"]["N"]),
                "failures": len(response.get("batchItemFailures", [])),
            }
            dynamodb.delete_table(TableName=table)
    return {
        "runs_s": times,
        "median_s": statistics.median(times),
        "moto_s": statistics.median(moto_times),
        "calls": dict(sorted(ops.items())),
        **outcome,
    }


if __name__ == "__main__":
    tree, event_path, repeat = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    try:
        out = run(tree, json.loads(event_path.read_text()), repeat)
    except Exception as err:  # reported to the caller, which prints it beside the other figures
        out = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(out))
