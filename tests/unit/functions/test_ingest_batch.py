"""The ingest_batch handler through its entry point, wired to in-memory adapters: an S3 event in,
a file ingested per record (URL-decoded key, exact version), metrics emitted, a summary out."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from tests.unit.ingestion.test_batch import CONTRACT, csv_bytes, row
from tests.unit.support import FakeAws, FakeLambdaContext, load_handler


@pytest.fixture(scope="module")
def ingest_batch() -> ModuleType:
    """Module scope: imported before sockets go off (the X-Ray SDK opens one at import)."""
    return load_handler("ingest_batch")


def s3_event(bucket: str, key: str, size: int, etag: str, version: str) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-27T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": key,
                        "size": size,
                        "eTag": etag,
                        "versionId": version,
                        "sequencer": "001",
                    },
                },
            }
        ]
    }


def test_handler_ingests_each_record_and_emits_metrics(
    ingest_batch: ModuleType,
    fake_aws: FakeAws,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a file landed under a key with a space (S3 events URL-encode keys)
    body = csv_bytes([row(1), row(2, amount="x")])
    obj = fake_aws.bucket.land(f"landing/{CONTRACT}/h%20file.csv", body)
    event = s3_event(
        obj.bucket, obj.key.replace("%20", "%2520"), len(body), obj.etag or "", obj.version_id or ""
    )
    # When the handler runs
    out = ingest_batch.handler(event, lambda_context)
    # Then the file was ingested from the exact key and version
    (summary,) = out["files"]
    assert (summary["status"], summary["rows_in"], summary["valid"]) == ("ingested", 2, 1)
    assert summary["key"] == obj.key
    assert fake_aws.counters.of(CONTRACT, "s3")["in_records"] == 2
    manifest = json.loads(fake_aws.bucket.body(summary["manifest"]))
    assert manifest["source"]["version_id"] == obj.version_id
    # And the contract's metrics were emitted as EMF
    emitted = capsys.readouterr().out
    assert '"RecordsIn"' in emitted and '"FreshnessLagSeconds"' in emitted
    assert '"contract": "transactions"' in emitted or '"contract":"transactions"' in emitted
