"""Promotion on live evidence (fraudops_shared.monitoring.promotion): the shadow is promoted only
when it is no worse than the champion on the same labelled decisions, and a refusal says why
with the numbers."""

from __future__ import annotations

from typing import Any

from fraudops_shared.monitoring.promotion import judge_shadow


def window(role: str, precision: float | None, recall: float | None, **kw: Any) -> dict:
    return {"window": "daily", "role": role, "model_id": f"m-{role}", "decisions": 100,
            "labelled": 80, "labelled_alerts": 20, "tp": 15, "fn": 5, "precision": precision,
            "recall": recall, **kw}  # fmt: skip


def summary(*windows: dict) -> dict:
    return {"windows": list(windows)}


def test_a_shadow_no_worse_on_both_figures_may_be_promoted() -> None:
    e = judge_shadow(summary(window("shadow", 0.8, 0.7), window("champion_on_shadow", 0.8, 0.6)))
    assert e.allowed and "no worse" in e.reason and "0.700" in e.reason


def test_a_shadow_worse_on_precision_or_recall_is_refused_with_the_numbers() -> None:
    e = judge_shadow(summary(window("shadow", 0.5, 0.9), window("champion_on_shadow", 0.8, 0.6)))
    assert not e.allowed
    assert "shadow precision 0.500" in e.reason and "champion precision 0.800" in e.reason
    e = judge_shadow(summary(window("shadow", 0.9, 0.5), window("champion_on_shadow", 0.8, 0.6)))
    assert not e.allowed and "worse" in e.reason


def test_too_few_labels_or_no_shadow_is_no_evidence_and_refuses() -> None:
    e = judge_shadow(summary(window("shadow", None, 0.7), window("champion_on_shadow", 0.8, 0.6)))
    assert not e.allowed and "not enough labelled evidence" in e.reason
    e = judge_shadow(summary(window("champion", 0.8, 0.6)))
    assert not e.allowed and "no live evidence" in e.reason
    assert e.as_dict()["shadow"] is None
