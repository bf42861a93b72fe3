"""Staged outputs (fraudops_shared.lake.writer): written in the background on a store that takes
concurrent calls, never named by a commit before they are written, a failure raised, nothing
left behind by a discard; a file's valid rows held back to write one object per event day."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from fraudops_shared.contracts import load_contract
from fraudops_shared.lake import writer
from fraudops_shared.lake.writer import PartitionBuffer, StagedOutputs
from fraudops_shared.lake.zones import Zones
from tests.unit.fakes import MemoryBucket
from tests.unit.lake.stores import ConcurrentBucket

CONTRACT = load_contract("transactions")


def day_table(days: list[int], start: int = 0) -> pa.Table:
    """Rows with an id and an event date (the contract's partition column)."""
    return pa.table(
        {
            "transaction_id": [f"t-{start + i}" for i in range(len(days))],
            "event_date": pa.array([date(2026, 11, d) for d in days], pa.date32()),
        }
    )


def outputs(store: Any, background: bool = True) -> StagedOutputs:
    return StagedOutputs(store, Zones("lake"), CONTRACT, "c-1", background=background)


def test_writes_run_in_the_background_and_staged_waits_for_all_of_them() -> None:
    store = ConcurrentBucket(delay=0.03)
    out = outputs(store)
    for i in range(8):
        out.rows_bytes(f"quarantine/t/part-{i}.jsonl", b"{}\n")
    # Then the calls returned before the writes were done, and ran side by side
    assert len(store.keys("_staging/")) < 8
    staged = out.staged  # waits
    assert sorted(staged) == store.keys("_staging/") and len(staged) == 8
    assert store.peak == writer.BACKGROUND_WRITERS
    out.close()


def test_a_store_without_concurrency_is_written_in_the_calling_thread() -> None:
    store = MemoryBucket("lake")
    out = outputs(store)
    out.rows_bytes("quarantine/t/a.jsonl", b"{}\n")
    assert store.keys("_staging/") == ["_staging/c-1/quarantine/t/a.jsonl"]


def refuse(marker: str, message: str) -> Any:
    """A store failure for the keys holding ``marker``."""

    def fail(op: str, key: str) -> None:
        if marker in key:
            raise OSError(message)

    return fail


def test_a_failed_background_write_is_raised_before_any_commit_can_name_it() -> None:
    store = ConcurrentBucket()
    store.fail = refuse("bad", "slow down")
    out = outputs(store)
    out.rows_bytes("quarantine/t/good.jsonl", b"{}\n")
    out.rows_bytes("quarantine/t/bad.jsonl", b"{}\n")
    with pytest.raises(OSError, match="slow down"):
        dict(out.staged)  # what a commit is built from
    out.close()


def test_a_failure_is_raised_by_the_next_write_too() -> None:
    store = ConcurrentBucket(delay=0)
    store.fail = refuse("", "denied")
    out = outputs(store)
    out.rows_bytes("quarantine/t/a.jsonl", b"{}\n")
    time.sleep(0.1)
    with pytest.raises(OSError, match="denied"):
        out.rows_bytes("quarantine/t/b.jsonl", b"{}\n")
    out.close()


def test_no_more_than_max_pending_writes_are_held() -> None:
    store = ConcurrentBucket(delay=0)
    release = threading.Event()

    def held(op: str, key: str) -> None:
        release.wait()

    store.fail = held
    out = outputs(store)
    for i in range(writer.MAX_PENDING):  # accepted at once: they wait in the background
        out.rows_bytes(f"quarantine/t/{i}.jsonl", b"{}\n")
    more = threading.Thread(target=out.rows_bytes, args=("quarantine/t/more.jsonl", b"{}\n"))
    more.start()
    more.join(0.2)
    assert more.is_alive()  # the next one waits for room
    release.set()
    more.join(5)
    assert not more.is_alive()
    assert len(out.staged) == writer.MAX_PENDING + 1
    out.close()


def test_a_discard_leaves_nothing_staged_even_with_writes_in_flight() -> None:
    store = ConcurrentBucket(delay=0.02)
    out = outputs(store)
    for i in range(6):
        out.rows_bytes(f"quarantine/t/{i}.jsonl", b"{}\n")
    out.discard()
    time.sleep(0.1)  # nothing lands after the discard
    assert store.keys("_staging/") == []


def test_a_file_in_event_order_makes_one_object_per_day() -> None:
    store = MemoryBucket("lake")
    out = outputs(store, background=False)
    buffer = PartitionBuffer(out, "f")
    # Given chunks that move through days 1..4, each day spanning chunks
    chunks = [[1, 1, 2], [2, 2, 3], [3, 3, 3], [3, 4], [4]]
    start = 0
    for days in chunks:
        buffer.add(day_table(days, start))
        start += len(days)
    buffer.close()
    # Then each day is one object, written once the day was complete, rows in file order
    assert [k.split("/")[-2:] for k in out.curated_keys] == [
        [f"event_date=2026-11-0{d}", "f-00000.parquet"] for d in (1, 2, 3, 4)
    ]
    rows = [r for k in sorted(out.staged) for r in store.table(k).to_pylist()]
    assert [r["transaction_id"] for r in rows] == [f"t-{i}" for i in range(start)]
    assert "event_date" not in store.table(sorted(out.staged)[0]).column_names


def test_rows_held_past_the_limit_are_written_so_memory_stays_bounded() -> None:
    store = MemoryBucket("lake")
    out = outputs(store, background=False)
    one_chunk = day_table([1, 2] * 50).nbytes
    buffer = PartitionBuffer(out, "f", max_bytes=int(one_chunk * 1.5))
    # Given chunks that all hold both days (no day ever looks complete)
    for n in range(4):
        buffer.add(day_table([1, 2] * 50, start=100 * n))
        assert buffer.held_bytes <= one_chunk * 1.5
    buffer.close()
    # Then each day was written in several objects, numbered, every row once
    names = sorted(k.split("/")[-1] for k in out.curated_keys if "2026-11-01" in k)
    assert names == ["f-00000.parquet", "f-00001.parquet"]
    ids = sorted(r["transaction_id"] for k in out.staged for r in store.table(k).to_pylist())
    assert ids == sorted(f"t-{i}" for i in range(400))
