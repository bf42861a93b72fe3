"""The label join (fraudops_shared.monitoring.labels): one verdict per transaction whatever the
order and repetition of its events; repeats change nothing, later opposite verdicts correct,
ties conflict until settled, and labels without a decision are unmatched until it appears."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fraudops_shared.monitoring.labels import match, resolve

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def events(*rows: tuple[str, str, bool, int, str]) -> list[dict[str, list[Any]]]:
    """(label_id, transaction_id, is_fraud, hours after T0, source) rows as one zone chunk."""
    return [
        {
            "label_id": [r[0] for r in rows],
            "transaction_id": [r[1] for r in rows],
            "is_fraud": [r[2] for r in rows],
            "label_time": [T0 + timedelta(hours=r[3]) for r in rows],
            "source": [r[4] for r in rows],
        }
    ]


def test_a_single_label_is_the_transactions_verdict() -> None:
    book = resolve(events(("l1", "t1", True, 0, "chargeback")))
    assert book.verdict("t1") is True
    assert book.verdict("t2") is None
    assert book.counts()["labelled_transactions"] == 1


def test_a_repeated_verdict_changes_nothing_and_is_counted_as_a_repeat() -> None:
    book = resolve(
        events(("l1", "t1", False, 0, "analyst"), ("l2", "t1", False, 5, "customer_claim"))
    )
    assert book.verdict("t1") is False
    assert book.verdicts["t1"].label_time == T0  # the first verdict's time is kept
    assert (book.repeats, book.corrections, book.events) == (1, 0, 2)


def test_a_later_opposite_verdict_supersedes_and_is_counted_as_a_correction() -> None:
    book = resolve(events(("l2", "t1", True, 48, "chargeback"), ("l1", "t1", False, 1, "analyst")))
    assert book.verdict("t1") is True  # in label time, not in reading order
    assert book.corrections == 1


def test_reading_the_same_events_twice_or_in_another_order_gives_the_same_book() -> None:
    rows = [
        ("l1", "t1", False, 1, "analyst"),
        ("l2", "t1", True, 9, "chargeback"),
        ("l3", "t2", True, 2, "analyst"),
    ]
    once = resolve(events(*rows))
    again = resolve(events(*reversed(rows)) + events(*rows))
    assert {k: v.is_fraud for k, v in once.verdicts.items()} == {
        k: v.is_fraud for k, v in again.verdicts.items()
    }
    assert (again.corrections, again.repeats, again.events) == (1, 0, 3)
    assert again.duplicate_events == 3  # the second reading of each event id, not counted again


def test_opposite_verdicts_at_the_same_time_conflict_until_a_later_event_settles_them() -> None:
    tie = resolve(events(("a", "t1", True, 3, "analyst"), ("b", "t1", False, 3, "customer_claim")))
    assert tie.verdict("t1") is None
    assert tie.conflicts == 1 and tie.counts()["conflicting_now"] == 1
    settled = resolve(
        events(
            ("a", "t1", True, 3, "analyst"),
            ("b", "t1", False, 3, "customer_claim"),
            ("c", "t1", True, 30, "chargeback"),
        )
    )
    assert settled.verdict("t1") is True
    assert settled.counts()["conflicting_now"] == 0 and settled.corrections == 1


def test_rows_missing_a_key_field_are_left_out() -> None:
    chunk = events(("l1", "t1", True, 0, "analyst"))[0]
    chunk = {k: [*v, None] for k, v in chunk.items()}
    book = resolve([chunk])
    assert book.events == 1 and list(book.verdicts) == ["t1"]


def test_labels_without_a_decision_are_unmatched_until_the_decision_appears() -> None:
    book = resolve(events(("l1", "t1", True, 0, "chargeback"), ("l2", "t9", False, 0, "analyst")))
    assert match(book, {"t1"}).as_dict() == {"matched": 1, "unmatched": 1}
    assert match(book, {"t1", "t9"}).as_dict() == {"matched": 2, "unmatched": 0}


def test_the_decision_ids_are_read_once_as_a_stream_and_a_repeated_id_matches_once() -> None:
    book = resolve(events(("l1", "t1", True, 0, "chargeback"), ("l2", "t2", False, 0, "analyst")))
    ids = iter(["t1", "x1", "t1", "x2", "t1"])  # a one-pass reader, t1 decided in two files
    assert match(book, ids).as_dict() == {"matched": 1, "unmatched": 1}
    assert next(ids, None) is None


def test_no_labels_at_all_is_an_empty_book() -> None:
    book = resolve([])
    assert book.counts()["label_events"] == 0
    assert match(book, {"t1"}).as_dict() == {"matched": 0, "unmatched": 0}
