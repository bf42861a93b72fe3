"""The CLI's tables (fraudops.views) show what the --json documents hold: every row, the
figures rounded as a person reads them, nothing measured shown as '-', not as nan."""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType

from fraudops import views


def text(renderable: RenderableType) -> str:
    console = Console(record=True, width=250, color_system=None)
    console.print(renderable)
    return console.export_text()


RECORD: dict[str, Any] = {
    "model_id": "transactions-v3", "status": "champion", "status_reason": "promoted",
    "candidate": "gbt", "kind": "hist_gradient_boosting", "seed": 7, "params": {"depth": 3},
    "snapshot_id": "snap-1", "snapshot_hash": "abcdef0123456789", "contract": "transactions",
    "contract_version": "1.2.0", "feature_set_version": 2, "feature_set": "f" * 64,
    "code_version": "5c0eba2", "threshold": 0.4321,
    "metrics": {"auprc": 0.81234, "roc_auc": 0.97, "precision": 0.9, "recall": 0.7, "k": 100,
                "precision_at_k": 0.95, "cost_per_1000": 12.5},
    "gate": {"passed": True, "reasons": []},
    "onnx": {"bucket": "b", "key": "training/m.onnx", "sha256": "9" * 64},
    "history": [{"at": "2026-12-02T10:00:00Z", "status": "champion", "reason": "gate passed"}],
}  # fmt: skip


def test_the_models_table_has_one_row_per_version_and_dashes_for_what_was_not_measured() -> None:
    shown = text(views.models([RECORD, {"model_id": "transactions-v4", "status": "rejected",
                                        "metrics": {"auprc": float("nan")}}]))  # fmt: skip
    assert "transactions-v3" in shown and "0.8123" in shown and "0.4321" in shown
    (v4,) = [line for line in shown.splitlines() if "transactions-v4" in line]
    assert "rejected" in v4 and "nan" not in v4 and "-" in v4


def test_a_model_is_shown_with_its_lineage_gate_artifact_and_history() -> None:
    shown = text(views.model(RECORD))
    for part in ("transactions-v3: champion (promoted)", "snap-1 (hash abcdef012345)",
                 "AUPRC 0.8123", "gate", "passed", "sha256 " + "9" * 64,
                 "2026-12-02T10:00:00Z champion gate passed"):  # fmt: skip
        assert part in shown, part


def test_live_quality_shows_each_window_and_role_with_the_label_join_above() -> None:
    summary = {
        "labels": {"label_events": 40, "labelled_transactions": 38, "matched": 36},
        "champion": "transactions-v3", "shadow": None,
        "windows": [{"window": "1h", "role": "champion", "decisions": 500, "labelled": 36,
                     "alerts": 9, "precision": 0.875, "recall": 0.7, "auprc": None,
                     "alert_rate": 0.018, "coverage": 0.072, "floor": 0.5}],
    }  # fmt: skip
    shown = text(views.quality(summary))
    assert "40 events, 38 transactions; matched 36" in shown
    (row,) = [line for line in shown.splitlines() if "1h" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["1h", "champion", "500", "36", "9", "0.875", "0.700", "-", "1.800",
                     "0.072", "0.500"]  # fmt: skip


def test_alarms_and_decisions_are_one_row_each() -> None:
    alarms = text(views.alarms([{"state": "ALARM", "alarm": "fraudops-drift"},
                                {"state": "OK", "alarm": "fraudops-quality"}]))  # fmt: skip
    assert [line.split()[1:3] for line in alarms.splitlines() if "fraudops-" in line] == [
        ["ALARM", "│"], ["OK", "│"]]  # fmt: skip
    decision = {"transaction_id": "t-1", "outcome": "review", "score": 0.61234,
                "model_id": "transactions-v3", "review_threshold": 0.5, "source": "api",
                "reasons": [{"feature": "amount", "contribution": 0.25}],
                "shadow_model_id": "transactions-v4", "shadow_score": 0.3,
                "shadow_outcome": "approve"}  # fmt: skip
    shown = text(views.decisions([decision]))
    (row,) = [line for line in shown.splitlines() if "t-1" in line]
    for part in ("REVIEW", "0.6123", "0.5000", "amount +0.250", "transactions-v4 0.3000 approve"):
        assert part in row, part


def test_the_comparison_reads_as_figures() -> None:
    shown = text(views.comparison({
        "decisions": 200, "champion": ["transactions-v3"], "shadow": ["transactions-v4"],
        "outcome_agreement": 0.955, "score_correlation": 0.91234, "alert_rate_champion": 0.02,
        "alert_rate_shadow": 0.025, "alert_rate_difference": 0.005,
    }))  # fmt: skip
    assert "200 decisions: champion transactions-v3, shadow transactions-v4" in shown
    assert "95.50%" in shown and "0.912" in shown and "+0.50%" in shown
