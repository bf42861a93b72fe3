"""The dedupe index's table check (fraudops_shared.ingestion.dedupe): days found by one
dictionary encoding (the same names as ``str`` of each value), each row hashed once, the kept
hashes by day, days a batch already read not read again, a day nobody committed read once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa

from fraudops_shared.ingestion.dedupe import (
    DedupeIndex,
    check_table,
    day_codes,
    day_strings,
    key_hashes,
)
from tests.unit.fakes import (
    Counters,
    MemoryBucket,
    MemoryCommitLog,
    MemoryFileClaims,
    MemoryKeyIndex,
)


def table(days: Sequence[date | None], ids: list[str] | None = None) -> pa.Table:
    return pa.table(
        {
            "transaction_id": ids or [f"t-{i}" for i in range(len(days))],
            "event_date": pa.array(days, pa.date32()),
        }
    )


def index() -> tuple[DedupeIndex, MemoryKeyIndex]:
    store = MemoryKeyIndex(MemoryCommitLog(Counters(), MemoryFileClaims(), {}))
    return DedupeIndex(store, "transactions", "transaction_id"), store


def test_day_names_are_str_of_each_value_nulls_included() -> None:
    days = [date(2026, 11, 2), None, date(2026, 11, 1), date(2026, 11, 2)]
    names, codes = day_codes(table(days), "event_date")
    assert [names[c] for c in codes.tolist()] == [str(d) for d in days]
    assert day_strings(table(days), "event_date") == ["2026-11-02", "None", "2026-11-01",
                                                      "2026-11-02"]  # fmt: skip
    # And a table without the day column is one bucket
    assert day_strings(table(days), None) == ["all"] * 4
    assert day_strings(table(days).drop_columns(["event_date"]), "event_date") == ["all"] * 4


def test_the_check_hashes_each_row_once_and_keeps_the_new_ones_by_day() -> None:
    idx, _ = index()
    days = [date(2026, 11, 1 + i % 3) for i in range(30)]
    t = table(days)
    check = check_table(idx, t, day_column="event_date", reader=MemoryBucket("lake"))
    assert not check.duplicate.any()
    assert np.array_equal(check.hashes, key_hashes(t.column("transaction_id")))
    assert check.days == [str(d) for d in days]
    kept = check.kept_by_day()
    assert sorted(kept) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    for day, hashes in kept.items():
        rows = [i for i, d in enumerate(days) if str(d) == day]
        assert np.array_equal(hashes, check.hashes[rows])


def test_kept_hashes_leave_the_duplicates_out() -> None:
    idx, _ = index()
    t = table([date(2026, 11, 1)] * 4)
    check = check_table(idx, t, day_column="event_date", reader=MemoryBucket("lake"))
    check.duplicate[[1, 3]] = True
    assert np.array_equal(check.kept_by_day()["2026-11-01"], check.hashes[[0, 2]])


def test_a_day_nobody_committed_is_read_once_and_known_days_are_not_read_again() -> None:
    idx, store = index()
    reader = MemoryBucket("lake")
    first = table([date(2026, 11, 1), date(2026, 11, 2)], ["a", "b"])
    check_table(idx, first, day_column="event_date", reader=reader)
    assert store.calls == {"heads": 1}  # no head: no page of that day can be trusted
    # When later parts of the same batch bring the same days again
    later = table([date(2026, 11, 1), date(2026, 11, 2)], ["c", "d"])
    check_table(idx, later, day_column="event_date", reader=reader, known={"2026-11-01"})
    # Then only the day the batch did not name as known is asked for, and its pages never
    assert store.calls == {"heads": 2}
    check_table(idx, later, day_column="event_date", reader=reader,
                known={"2026-11-01", "2026-11-02"})  # fmt: skip
    assert store.calls == {"heads": 2}
    assert idx.known_heads == {"2026-11-01": 0, "2026-11-02": 0}
