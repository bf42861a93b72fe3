"""The state table's adapters against moto: file claims, the commit log (one transaction per
commit, every condition it depends on), the dedupe index's heads and pages, the counters and
the snapshot catalog. The claim and commit behaviours run against the in-memory fakes too, so
the fakes the use-case tests rely on behave as the adapters do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import numpy as np
import pytest

from fraudops_shared.aws.commit_log import DynamoCommitLog, DynamoKeyIndex
from fraudops_shared.aws.dynamodb import (
    DynamoFileClaims,
    DynamoSnapshotCatalog,
    batch_get,
    read_accounts,
)
from fraudops_shared.ingestion.claims import ClaimLostError
from fraudops_shared.ingestion.dedupe import Page
from fraudops_shared.lake.commits import Commit, CommitConflict, FileCompletion, ShardPosition
from fraudops_shared.lake.store import SourceObject
from tests.unit.conftest import TABLE_NAME
from tests.unit.fakes import Counters, MemoryCommitLog, MemoryFileClaims, MemoryKeyIndex

TABLE = TABLE_NAME
C = "transactions"


@pytest.fixture
def client(table: Any) -> Any:
    return boto3.client("dynamodb")


def test_batch_get_reads_every_key_in_pages_of_100(client: Any) -> None:
    for i in range(250):
        client.put_item(TableName=TABLE, Item={"pk": {"S": f"X#{i}"}, "sk": {"S": "S"}})
    keys = [{"pk": {"S": f"X#{i}"}, "sk": {"S": "S"}} for i in range(260)]
    assert len(batch_get(client, TABLE, keys)) == 250


# --- claims and commits: the DynamoDB adapters and the fakes behave alike ------------------------

OBJ = SourceObject("lake", "landing/transactions/a.csv", "v1", 10, "etag")


@dataclass
class State:
    claims: Any
    log: Any
    index: Any
    counters: Any  # () -> the contract's counters of a source


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> State:
    if request.param == "memory":
        counters = Counters()
        claims = MemoryFileClaims()
        log = MemoryCommitLog(counters, claims, {})
        return State(claims, log, MemoryKeyIndex(log), lambda source="s3": counters.of(C, source))
    client = request.getfixturevalue("client")
    return State(
        DynamoFileClaims(client, TABLE),
        DynamoCommitLog(client, TABLE),
        DynamoKeyIndex(client, TABLE),
        lambda source="s3": read_accounts(client, TABLE).get(C, {}).get(source, {}),
    )


def file_commit(commit_id: str, owner: str, outcome: str = "ingested", **kw: Any) -> Commit:
    return Commit(
        commit_id, C, "s3", f"manifests/{C}/{commit_id}.json", {"files": 1, "curated": 5},
        completion=FileCompletion("sha", owner, outcome), **kw,
    )  # fmt: skip


def test_a_file_claim_is_held_until_committed_or_stale(state: State) -> None:
    claims = state.claims
    # Given content claimed by request 1
    assert claims.claim("sha", C, OBJ, "req-1", 1000, 900).status == "claimed"
    # When request 1 claims again (an async retry keeps its id), Then it still holds it
    again = claims.claim("sha", C, OBJ, "req-1", 1001, 900)
    assert again.status == "claimed" and again.taken_over
    # When another request comes before the claim is stale, Then it is busy
    busy = claims.claim("sha", C, OBJ, "req-2", 1002, 900)
    assert busy.status == "busy" and busy.source_id == OBJ.source_id
    # When it comes after, Then it takes the claim over, and request 1 can no longer commit
    taken = claims.claim("sha", C, OBJ, "req-2", 3000, 900)
    assert taken.status == "claimed" and taken.taken_over
    with pytest.raises(ClaimLostError):
        state.log.commit(file_commit("c1", "req-1"), expires_at=9_999_999_999)
    assert state.counters() == {}


def test_committing_a_file_adds_the_counters_once(state: State) -> None:
    state.claims.claim("sha", C, OBJ, "req-1", 1000, 900)
    state.log.commit(file_commit("c1", "req-1"), expires_at=9_999_999_999)
    assert state.counters() == {"files": 1, "curated": 5}
    # When the content is claimed again, Then it is completed, naming its manifest and commit
    done = state.claims.claim("sha", C, OBJ, "req-9", 5000, 900)
    assert done.status == "completed" and done.manifest_key == f"manifests/{C}/c1.json"
    assert done.commit_id == "c1" and done.source is not None and done.source["key"] == OBJ.key
    # And committing again is refused: the counters never move twice
    with pytest.raises((ClaimLostError, CommitConflict)):
        state.log.commit(file_commit("c1", "req-1"), expires_at=9_999_999_999)
    assert state.counters() == {"files": 1, "curated": 5}


def test_a_fixable_quarantine_can_be_claimed_again_from_another_landing(state: State) -> None:
    state.claims.claim("sha", C, OBJ, "req-1", 1000, 900)
    state.log.commit(
        file_commit("c1", "req-1", "quarantined_file:not_gzip"), expires_at=9_999_999_999
    )
    # When the same S3 event comes again, Then it is completed (nothing to redo)
    assert state.claims.claim("sha", C, OBJ, "req-2", 1001, 900).status == "completed"
    # When the same bytes land under another key, Then that is a second attempt
    renamed = SourceObject("lake", "landing/transactions/a-fixed.csv", "v2", 10, "etag")
    retry = state.claims.claim("sha", C, renamed, "req-3", 1002, 900)
    assert retry.status == "claimed" and retry.attempt == 2


def test_a_released_claim_is_free_and_only_the_holder_releases(state: State) -> None:
    claims = state.claims
    claims.claim("sha", C, OBJ, "req-1", 1000, 900)
    claims.release("sha", C, "req-2")  # not the holder: nothing happens
    assert claims.claim("sha", C, OBJ, "req-2", 1001, 900).status == "busy"
    claims.release("sha", C, "req-1")
    assert claims.claim("sha", C, OBJ, "req-2", 1002, 900).status == "claimed"


def stream_commit(commit_id: str, expected: str | None, first: str, last: str, **kw: Any) -> Commit:
    return Commit(
        commit_id, C, "kinesis", f"manifests/{C}/stream/{commit_id}.json",
        {"in_records": 2, "curated": 2},
        position=ShardPosition("tx", "shard-0", expected, first, last), **kw,
    )  # fmt: skip


def test_a_shard_checkpoint_moves_only_from_where_it_was(state: State) -> None:
    log = state.log
    log.commit(stream_commit("s1", None, "1", "5", staged={"st/a": "cu/a"}), expires_at=1)
    cp = log.checkpoint("tx", "shard-0")
    assert cp is not None and (cp.last, cp.commit_id, cp.promoted) == ("5", "s1", False)
    # When a commit expects another checkpoint (a concurrent invocation), Then it is refused
    with pytest.raises(CommitConflict):
        log.commit(stream_commit("s2", "3", "6", "9"), expires_at=1)
    # When the next batch expects the checkpoint it read, Then it moves on
    log.commit(stream_commit("s2", "5", "6", "9"), expires_at=1)
    assert log.checkpoint("tx", "shard-0").last == "9"
    assert state.counters("kinesis") == {"in_records": 4, "curated": 4}
    # And the commits' ranges answer which records are committed
    assert sorted(log.covered("tx", "shard-0", "4", "7")) == [(1, 5), (6, 9)]
    assert log.covered("tx", "shard-0", "10", "12") == []
    # And the committed manifests are listed for snapshots
    assert set(log.committed(C)) == {
        f"manifests/{C}/stream/s1.json",
        f"manifests/{C}/stream/s2.json",
    }
    # And a promotion is recorded on the commit
    record = log.record("s1")
    assert record is not None and not record.promoted and record.staged == {"st/a": "cu/a"}
    log.mark_promoted(record)
    assert log.record("s1").promoted


def test_promoting_marks_the_checkpoint_only_while_it_is_the_commits_own(state: State) -> None:
    log = state.log
    log.commit(stream_commit("s1", None, "1", "5", staged={"st/a": "cu/a"}), expires_at=1)
    assert not log.checkpoint("tx", "shard-0").promoted
    # When the commit is promoted while the checkpoint is still its own, Then both say so
    log.mark_promoted(log.record("s1"))
    assert log.record("s1").promoted and log.checkpoint("tx", "shard-0").promoted
    # When a later commit moved the checkpoint before an earlier one's promotion was marked
    log.commit(stream_commit("s2", "5", "6", "9", staged={"st/c": "cu/c"}), expires_at=1)
    log.commit(stream_commit("s3", "9", "10", "12", staged={"st/b": "cu/b"}), expires_at=1)
    log.mark_promoted(log.record("s2"))
    # Then the earlier commit is marked and the checkpoint (s3's, unpromoted) is left alone
    assert log.record("s2").promoted
    cp = log.checkpoint("tx", "shard-0")
    assert (cp.commit_id, cp.promoted) == ("s3", False)


def test_sequence_numbers_compare_as_numbers(state: State) -> None:
    big = "49590338271490256608559692538361571095921575989136588898"
    state.log.commit(stream_commit("s1", None, "9", big), expires_at=1)
    assert state.log.checkpoint("tx", "shard-0").last == big
    state.log.commit(stream_commit("s2", big, str(int(big) + 1), str(int(big) + 5)), expires_at=1)
    assert state.log.covered("tx", "shard-0", "10", "11") == [(9, int(big))]


def test_an_index_head_serialises_writers_of_the_same_day(state: State) -> None:
    pages = [Page("2026-11-27", "c1", 0, np.array([3, 1, 2], np.uint64), 1000)]
    state.index.put_pages(C, pages, expires_at=9_999_999_999)
    # Given two writers that both read the day's head as 0
    assert state.index.heads(C, ["2026-11-27"]) == {}
    first = Commit("c1", C, "s3", "m1", {"curated": 3}, heads={"2026-11-27": 0})
    second = Commit("c2", C, "s3", "m2", {"curated": 3}, heads={"2026-11-27": 0})
    state.log.commit(first, expires_at=9_999_999_999)
    # Then only the first commits; the second must read again
    with pytest.raises(CommitConflict):
        state.log.commit(second, expires_at=9_999_999_999)
    assert state.index.heads(C, ["2026-11-27", "2026-11-28"]) == {"2026-11-27": 1}
    # And the pages read back with their commit, which is now committed
    (page,) = state.index.pages(C, "2026-11-27", 0)
    assert page.commit_id == "c1" and sorted(page.hashes.tolist()) == [1, 2, 3]
    assert state.index.pages(C, "2026-11-27", 2000) == []
    assert set(state.index.commits(["c1", "c2"])) == {"c1"}


def test_a_dead_letter_commit_is_counted_once_and_never_an_origin(state: State) -> None:
    dl = Commit("dlq-1", C, "kinesis", "m", {"in_records": 2, "dead_lettered": 2}, dead_letter=True)
    state.log.commit(dl, expires_at=9_999_999_999)
    with pytest.raises(CommitConflict) as err:
        state.log.commit(dl, expires_at=9_999_999_999)
    assert getattr(err.value, "already_committed", False)
    assert state.counters("kinesis") == {"in_records": 2, "dead_lettered": 2}
    assert state.index.commits(["dlq-1"]) == {}


# --- snapshot catalog -----------------------------------------------------------------------------


def test_the_snapshot_catalog_keeps_summaries_newest_last(client: Any) -> None:
    catalog = DynamoSnapshotCatalog(client, TABLE)
    for stamp, sid in (("2025-03-01T12:00:00Z", "s-1"), ("2025-03-02T12:00:00Z", "s-2")):
        catalog.register(
            C, stamp, {"snapshot_id": sid, "row_count": 10, "key": f"k/{sid}", "x": None}
        )
    # Then each is an item under SNAPSHOT#<contract>, sorted by creation time
    key = {"pk": {"S": f"SNAPSHOT#{C}"}, "sk": {"S": "2025-03-01T12:00:00Z#s-1"}}
    item = client.get_item(TableName=TABLE, Key=key)["Item"]
    assert item["row_count"] == {"N": "10"} and item["key"] == {"S": "k/s-1"} and "x" not in item
    assert catalog.latest(C) == {"snapshot_id": "s-2", "row_count": 10, "key": "k/s-2"}
    assert catalog.latest("creditcard_benchmark") is None
