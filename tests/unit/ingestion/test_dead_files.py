"""Files the batch function gave up on (fraudops_shared.ingestion.dead_files): kept whole and
counted as dead-lettered with the rows they held, once; the same bytes landed again after the
outage are ingested, and the accounting equation balances through all of it."""

from __future__ import annotations

from typing import Any

from fraudops_shared.ingestion.dead_files import account_dead_files, is_file_failure
from fraudops_shared.lake.store import SourceObject
from fraudops_shared.runtime.settings import Limits
from tests.unit.ingestion.files import CONTRACT, NOW, Lake, csv_bytes, row


def on_failure(obj: SourceObject, error: str = "ResourceNotFoundException") -> dict[str, Any]:
    """The record Lambda sends to the on-failure destination of an async invocation."""
    return {
        "version": "1.0",
        "requestContext": {
            "requestId": "req-9",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": error, "errorType": "ClientError"},
        "requestPayload": {
            "Records": [
                {
                    "s3": {
                        "bucket": {"name": obj.bucket},
                        "object": {
                            "key": obj.key,
                            "versionId": obj.version_id,
                            "size": obj.size,
                            "eTag": obj.etag,
                        },
                    }
                }
            ]
        },
    }


def account(lake: Lake, message: dict[str, Any], owner: str = "msg-1") -> list[dict[str, Any]]:
    return account_dead_files(
        message, claims=lake.claims, log=lake.log, store=lake.store, zones=lake.zones,
        owner=owner, now=NOW, limits=Limits(),
    )  # fmt: skip


def test_an_on_failure_record_of_the_batch_function_is_told_from_a_stream_one() -> None:
    obj = SourceObject("b", f"landing/{CONTRACT}/x.csv", "v1", 10, "e")
    assert is_file_failure(on_failure(obj))
    assert not is_file_failure({"requestContext": {}, "KinesisBatchInfo": {"shardId": "s"}})


def test_a_dead_file_is_kept_whole_and_counted_with_its_rows_once(lake: Lake) -> None:
    # Given a file of 4 rows whose every ingest attempt failed (an outage)
    body = csv_bytes([row(i) for i in range(4)])
    obj = lake.put(f"landing/{CONTRACT}/outage.csv", body)
    # When its on-failure record is accounted, twice (SQS delivers at least once)
    (first,) = account(lake, on_failure(obj))
    (again,) = account(lake, on_failure(obj), owner="msg-2")
    # Then the file is kept whole in quarantine and its 4 rows are counted dead-lettered, once
    assert first["status"] == "dead_lettered" and first["rows"] == 4
    assert lake.body(first["file"]) == body
    assert again["status"] == "already_accounted"
    assert lake.counters() == {
        "in_records": 4, "dead_lettered": 4, "files": 1, "files_dead_lettered": 1
    }  # fmt: skip
    # And nothing reached curated/
    assert lake.keys(f"curated/{CONTRACT}/") == []
    # And its manifest says why, with the error the function gave
    manifest = lake.json(first["manifest"])
    assert manifest["status"] == "dead_lettered"
    assert "RetriesExhausted" in manifest["reason"] and "ResourceNotFound" in manifest["reason"]


def test_the_same_bytes_landed_after_the_outage_are_ingested(lake: Lake) -> None:
    # Given a file dead-lettered during an outage
    body = csv_bytes([row(i) for i in range(4)])
    account(lake, on_failure(lake.put(f"landing/{CONTRACT}/outage.csv", body)))
    # When the producer lands the same bytes again once the outage is over
    result = lake.ingest(lake.put(f"landing/{CONTRACT}/outage.csv", body))
    # Then they are curated, and the equation holds with both attempts counted
    assert result.status == "ingested" and result.valid == 4
    c = lake.counters()
    assert c["in_records"] == 8 and c["curated"] == 4 and c["dead_lettered"] == 4
    assert c["in_records"] == c["curated"] + c.get("quarantined", 0) + c["dead_lettered"]


def test_a_file_ingested_after_all_is_not_counted_again(lake: Lake) -> None:
    # Given a file a late retry ingested before its on-failure record was handled
    obj = lake.put(f"landing/{CONTRACT}/late.csv", csv_bytes([row(1), row(2)]))
    lake.ingest(obj)
    before = lake.counters()
    # When the on-failure record arrives
    (outcome,) = account(lake, on_failure(obj))
    # Then nothing changes
    assert outcome["status"] == "already_accounted"
    assert lake.counters() == before


def test_a_dead_file_that_cannot_be_parsed_is_kept_with_no_rows_counted(lake: Lake) -> None:
    obj = lake.put(f"landing/{CONTRACT}/broken.parquet", b"PAR1 not really")
    (outcome,) = account(lake, on_failure(obj))
    assert outcome["status"] == "dead_lettered" and outcome["rows"] == 0
    assert lake.body(outcome["file"]) == b"PAR1 not really"
    assert lake.counters()["files_dead_lettered"] == 1


def test_a_dead_file_of_no_known_contract_is_still_kept(lake: Lake) -> None:
    obj = lake.put("landing/no-such-contract/x.csv", b"a,b\n1,2\n")
    (outcome,) = account(lake, on_failure(obj))
    assert outcome["status"] == "unknown_contract"
    assert lake.body(outcome["file"]) == b"a,b\n1,2\n"
