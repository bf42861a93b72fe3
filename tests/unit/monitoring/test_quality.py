"""Live quality of one window (fraudops_shared.monitoring.quality): the counts are exact, and a
figure the labels cannot support is None rather than a zero or a division error."""

from __future__ import annotations

import pytest

from fraudops_shared.monitoring.quality import window_quality


def test_precision_recall_alert_rate_and_coverage_come_from_the_labelled_decisions() -> None:
    # 10 decisions: 4 alerts (3 fraud, 1 genuine), 4 approvals (1 fraud, 2 genuine, 1 unknown),
    # and 2 more unlabelled alerts
    scores = [0.9, 0.8, 0.7, 0.6, 0.1, 0.2, 0.05, 0.3, 0.95, 0.85]
    alerts = [True, True, True, True, False, False, False, False, True, True]
    verdicts = [True, True, True, False, True, False, False, None, None, None]
    q = window_quality(
        "hourly", "champion", "transactions-v1", scores, alerts, verdicts, min_alerts=2, floor=0.8
    )
    assert (q.tp, q.fp, q.fn, q.tn) == (3, 1, 1, 2)
    assert q.precision == pytest.approx(0.75)
    assert q.recall == pytest.approx(0.75)
    assert q.alert_rate == pytest.approx(0.6)
    assert q.coverage == pytest.approx(0.7)
    assert q.labelled_alerts == 4
    assert q.shortfall == pytest.approx(0.05)  # 0.8 floor - 0.75 live: the alarm's breach
    assert q.auprc is not None and 0.0 < q.auprc <= 1.0


def test_too_few_labelled_alerts_give_no_precision_and_no_shortfall() -> None:
    q = window_quality(
        "hourly",
        "champion",
        "m",
        [0.9, 0.1],
        [True, False],
        [False, False],
        min_alerts=5,
        floor=0.5,
    )
    assert q.precision is None and q.shortfall is None
    assert q.recall is None  # no labelled fraud at all
    assert q.auprc is None  # one class only
    assert q.coverage == 1.0


def test_a_window_without_decisions_reports_coverage_zero_and_nothing_else() -> None:
    q = window_quality("daily", "shadow", None, [], [], [], min_alerts=1)
    assert q.decisions == 0 and q.coverage == 0.0
    assert (q.alert_rate, q.precision, q.recall, q.auprc, q.shortfall) == (None,) * 5


def test_a_window_without_any_label_has_coverage_zero_and_no_quality_figure() -> None:
    q = window_quality(
        "hourly", "champion", "m", [0.9, 0.2], [True, False], [None, None], min_alerts=1, floor=0.5
    )
    assert q.coverage == 0.0 and q.alert_rate == 0.5
    assert (q.precision, q.recall, q.auprc, q.shortfall) == (None, None, None, None)
