"""Promotion (fraudops_shared.lake.commits.promote): staged objects copied to their curated keys,
several at once on a store that takes concurrent calls, deleted only after every copy, and
finished by running it again whatever point a crash stopped it at."""

from __future__ import annotations

import pytest

from fraudops_shared.lake import commits
from fraudops_shared.lake.commits import promote, staging_key
from tests.unit.fakes import MemoryBucket
from tests.unit.lake.stores import ConcurrentBucket, Killed, kill_at


def staged_objects(store: MemoryBucket, n: int) -> dict[str, str]:
    staged = {}
    for i in range(n):
        final = f"curated/t/event_date=2026-11-{1 + i % 28:02d}/f-{i:05d}.parquet"
        staged[staging_key("c-1", final)] = final
        store.put_bytes(staging_key("c-1", final), f"object {i}".encode(), "x")
    return staged


def promoted(store: MemoryBucket, staged: dict[str, str]) -> bool:
    """Every final key holds its staged bytes, and nothing is left in staging."""
    return store.keys("_staging/") == [] and all(
        store.body(final) == f"object {int(final[-13:-8])}".encode() for final in staged.values()
    )


def test_copies_run_at_once_and_every_one_ends_before_the_first_delete() -> None:
    store = ConcurrentBucket()
    staged = staged_objects(store, 12)
    # When promoted on a store that takes concurrent calls
    assert promote(store, staged) == 12
    # Then copies overlapped, at most the store's concurrency at once
    assert 1 < store.peak <= store.concurrency
    # And no staged object was deleted before the last copy
    ops = [op for op, _ in store.events if op != "put"]
    assert ops == ["copy"] * 12 + ["delete"] * 12
    assert promoted(store, staged)


def test_a_store_that_takes_one_call_at_a_time_is_promoted_in_order() -> None:
    store = MemoryBucket("lake")
    staged = staged_objects(store, 5)
    assert promote(store, staged) == 5
    assert store.calls["copy"] == 5 and promoted(store, staged)


@pytest.mark.parametrize("killed_at", [1, 5, 12])
def test_a_crash_among_the_copies_is_finished_by_running_it_again(killed_at: int) -> None:
    store = ConcurrentBucket()
    staged = staged_objects(store, 12)
    # Given a promotion killed at one of its copies (others may have run alongside)
    kill_at(store, "copy", killed_at)
    with pytest.raises(Killed):
        promote(store, staged)
    # Then nothing was deleted: every object is still staged, some already promoted too
    assert len(store.keys("_staging/")) == 12
    assert not any(op == "delete" for op, _ in store.events)
    # When it runs again (the retry, the next batch, a snapshot), Then it completes
    store.fail = lambda op, key: None
    assert promote(store, staged) == 12
    assert promoted(store, staged)
    # And once more is a no-op
    assert promote(store, staged) == 0 and promoted(store, staged)


def test_a_crash_among_the_deletes_is_finished_by_running_it_again() -> None:
    store = ConcurrentBucket()
    staged = staged_objects(store, 12)
    for source, dest in staged.items():  # every copy made, then killed half-way through deletes
        store.copy_within(source, dest)
    store.delete(sorted(staged)[:6])
    # When promoted again, Then the ones still staged are copied (again) and deleted
    assert promote(store, staged) == 6
    assert promoted(store, staged)


def test_an_object_neither_staged_nor_promoted_is_an_error_whatever_the_concurrency() -> None:
    for store in (MemoryBucket("lake"), ConcurrentBucket()):
        staged = staged_objects(store, 6)
        store.delete(sorted(staged)[2:3])
        with pytest.raises(RuntimeError, match="neither staged nor promoted"):
            promote(store, staged)
        assert len(store.keys("_staging/")) == 5  # nothing deleted


def test_concurrency_is_bounded_by_the_promotion_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commits, "PROMOTE_WORKERS", 2)
    store = ConcurrentBucket()
    staged = staged_objects(store, 8)
    assert promote(store, staged) == 8
    assert store.peak <= 2 and promoted(store, staged)
