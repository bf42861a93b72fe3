"""The demo's own helpers: transactions sent as a producer sends them with their truth kept
aside, and the ledger line of the summary."""

from __future__ import annotations

from datetime import UTC, datetime

from fraudops import demo, generator


def test_rows_are_sent_without_their_label_and_the_truth_is_kept_aside() -> None:
    table = generator.generate_transactions(
        200,
        seed=3,
        start=datetime(2026, 11, 1, tzinfo=UTC),
        days=1,
        fraud_rate=0.1,
        as_of=datetime(2027, 11, 1, tzinfo=UTC),
    )
    sent = demo._as_sent(table, "t")
    assert len(sent) == 200 and any(truth for _, truth in sent)
    for row, truth in sent:
        assert "is_fraud" not in row and "label_time" not in row
        assert row["transaction_id"].startswith("t-") and row["card_id"].startswith("t-")
        assert isinstance(row["event_time"], str) and isinstance(truth, bool)
    assert len({r["transaction_id"] for r, _ in sent}) == 200


def test_the_ledger_line_says_whether_the_counts_balance() -> None:
    line = demo._counts({"in_records": 10, "curated": 8, "quarantined": 2, "balanced": True})
    assert line == "10 = curated 8, quarantined 2 (balanced)"
    assert "NOT BALANCED" in demo._counts({"in_records": 3, "curated": 1, "balanced": False})


def test_percentiles_of_the_decision_latency() -> None:
    values = [float(v) for v in range(1, 101)]
    assert demo._pct(values, 50) in (50.0, 51.0) and demo._pct(values, 99) == 99.0
