"""`benchmarks.training`: the pipeline's and the in-process scoring's figures become rows of
bench-results.json; made-up figures shaped as the benchmark collects them, no LocalStack."""

from __future__ import annotations

from typing import Any

from benchmarks.aims import aim_for
from benchmarks.results import row
from benchmarks.training import pipeline_rows, scoring_rows


def execution(wall: float, *, hgb_auprc: float = 0.8, status: str = "SUCCEEDED") -> dict[str, Any]:
    """One execution's results as ``train_once`` returns them."""
    if status != "SUCCEEDED":
        return {"wall_s": wall, "sfn_s": wall - 1, "status": status, "states": []}
    return {
        "wall_s": wall,
        "sfn_s": wall - 1,
        "status": status,
        "states": [
            ["Prepare", 2.0, "", None],
            ["Train", 14.0, "hgb", 12.5],
            ["Train", 3.0, "logreg", 1.5],
            ["TrainCandidates", 15.0, "", None],  # the Map state: not a task state
            ["Evaluate", 4.0, "", None],
            ["Register", 1.0, "", None],
        ],
        "reports": {
            "Prepare": [{"did": "", "duration_ms": 1900.0, "max_memory_mb": 600.0}],
            "Train": [
                {"did": "hgb", "duration_ms": 13900.0, "max_memory_mb": 900.0},
                {"did": "logreg", "duration_ms": 2900.0, "max_memory_mb": 700.0},
            ],
            "Evaluate": [{"did": "", "duration_ms": 3900.0, "max_memory_mb": 400.0}],
        },
        "candidates": {
            "hgb": {"auprc": hgb_auprc, "roc_auc": 0.97, "threshold": 0.4},
            "logreg": {"auprc": 0.5, "roc_auc": 0.9, "threshold": 0.6},
        },
    }


def contract(*runs: dict[str, Any]) -> dict[str, Any]:
    return {
        "rows": 285_000,
        "parquet_mb": 9.1,
        "ingest_s": 20.0,
        "snapshot_s": 2.5,
        "runs": list(runs),
    }


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rows}


def timings(onnx: float, sklearn: float, one_thread: float) -> dict[str, dict[str, float]]:
    return {
        "sklearn": {"median": sklearn, "p99": sklearn * 2},
        "sklearn_1_thread": {"median": one_thread, "p99": one_thread * 2},
        "onnx": {"median": onnx, "p99": onnx * 2},
    }


SCORING: dict[str, Any] = {
    "rows": 285_000,
    "build_s": 3.2,
    "hgb": {
        "kind": "hist_gradient_boosting",
        "fit_s": 11.0,
        "iterations": 200,
        "export_s": 0.8,
        "onnx_bytes": 812_345,
        "session_ms": 9.5,
        "max_abs_diff": 3.2e-07,
        "single_us": timings(40.0, 400.0, 200.0),
        "batch_ms": timings(2.0, 8.0, 10.0),
        "ratio_single": 10.0,
        "ratio_batch": 4.0,
    },
}


def test_each_contract_writes_ingest_snapshot_the_execution_and_every_task_state() -> None:
    rows = pipeline_rows({"transactions": contract(execution(30.0))}, 285_000)
    prefix = "training.pipeline_285k.transactions"
    assert [(r["name"], r["value"], r["unit"]) for r in rows] == [
        (f"{prefix}.ingest", 20.0, "s"),
        (f"{prefix}.snapshot", 2.5, "s"),
        (f"{prefix}.failed_executions", 0, "executions"),
        (f"{prefix}.execution_wall", 30.0, "s"),
        (f"{prefix}.execution_sfn", 29.0, "s"),
        (f"{prefix}.state.prepare", 2.0, "s"),
        (f"{prefix}.state.train.hgb", 14.0, "s"),
        (f"{prefix}.state.train.logreg", 3.0, "s"),
        (f"{prefix}.state.evaluate", 4.0, "s"),
        (f"{prefix}.state.register", 1.0, "s"),
        (f"{prefix}.fit.hgb", 12.5, "s"),
        (f"{prefix}.fit.logreg", 1.5, "s"),
        (f"{prefix}.max_memory.prepare", 600.0, "MB"),
        (f"{prefix}.max_memory.train.hgb", 900.0, "MB"),
        (f"{prefix}.max_memory.train.logreg", 700.0, "MB"),
        (f"{prefix}.max_memory.evaluate", 400.0, "MB"),
        (f"{prefix}.auprc.hgb", 0.8, "auprc"),
        (f"{prefix}.auprc.logreg", 0.5, "auprc"),
        (f"{prefix}.roc_auc.hgb", 0.97, "roc_auc"),
        (f"{prefix}.roc_auc.logreg", 0.9, "roc_auc"),
    ]
    assert all(r["baseline"] is None and r["ratio"] is None for r in rows)


def test_repeated_executions_give_the_median_and_failed_ones_are_counted_not_timed() -> None:
    runs = [
        execution(30.0, hgb_auprc=0.8),
        execution(50.0, hgb_auprc=0.7),
        execution(34.0, hgb_auprc=0.9),
        execution(900.0, status="FAILED"),
    ]
    rows = by_name(pipeline_rows({"transactions": contract(*runs)}, 285_000))
    prefix = "training.pipeline_285k.transactions"
    assert rows[f"{prefix}.execution_wall"]["value"] == 34.0
    assert rows[f"{prefix}.auprc.hgb"]["value"] == 0.8
    assert rows[f"{prefix}.failed_executions"]["value"] == 1


def test_a_contract_whose_executions_all_failed_has_only_its_ingest_snapshot_and_failures() -> None:
    pipeline = {"creditcard_benchmark": contract(execution(12.0, status="FAILED"))}
    rows = pipeline_rows(pipeline, 2_500)
    prefix = "training.pipeline_2k.creditcard_benchmark"
    assert [(r["name"], r["value"]) for r in rows] == [
        (f"{prefix}.ingest", 20.0),
        (f"{prefix}.snapshot", 2.5),
        (f"{prefix}.failed_executions", 1),
    ]


def test_both_contracts_are_written_under_their_own_names() -> None:
    pipeline = {
        "transactions": contract(execution(30.0)),
        "creditcard_benchmark": contract(execution(40.0)),
    }
    names = set(by_name(pipeline_rows(pipeline, 285_000)))
    assert "training.pipeline_285k.transactions.execution_wall" in names
    assert "training.pipeline_285k.creditcard_benchmark.execution_wall" in names


def test_without_the_pipeline_part_there_are_no_pipeline_rows() -> None:
    assert pipeline_rows({}, 285_000) == []


def test_scoring_rows_have_scikit_learn_as_the_baseline_of_onnxruntime() -> None:
    rows = by_name(scoring_rows(SCORING))
    p = "training.scoring_285k.hgb"
    assert rows[f"{p}.single_p50"] == row(f"{p}.single_p50", 40.0, "us", 400.0)
    assert rows[f"{p}.single_p50"]["ratio"] == 10.0  # sklearn / onnx, as printed
    assert rows[f"{p}.single_p99"] == row(f"{p}.single_p99", 80.0, "us", 800.0)
    assert rows[f"{p}.single_p50_vs_1_thread"]["ratio"] == 5.0
    assert rows[f"{p}.batch_500_p50"] == row(f"{p}.batch_500_p50", 2.0, "ms", 8.0)
    assert rows[f"{p}.batch_500_p99"]["ratio"] == 4.0
    assert rows[f"{p}.batch_500_p50_vs_1_thread"]["ratio"] == 5.0


def test_scoring_rows_hold_build_fit_export_size_session_and_parity() -> None:
    rows = scoring_rows(SCORING)
    assert [(r["name"], r["value"], r["unit"]) for r in rows][:6] == [
        ("training.scoring_285k.dataset_build", 3.2, "s"),
        ("training.scoring_285k.hgb.fit", 11.0, "s"),
        ("training.scoring_285k.hgb.onnx_export", 0.8, "s"),
        ("training.scoring_285k.hgb.onnx_size", 812_345, "bytes"),
        ("training.scoring_285k.hgb.session_create", 9.5, "ms"),
        ("training.scoring_285k.hgb.max_abs_diff", 3.2e-07, "abs"),
    ]
    assert len(rows) == 1 + 11  # the build, and eleven per candidate


def test_the_parity_row_is_judged_against_the_evaluate_steps_tolerance() -> None:
    (parity,) = [r for r in scoring_rows(SCORING) if r["name"].endswith(".max_abs_diff")]
    aim = aim_for(parity["name"])
    assert aim is not None and aim.text() == "<= 0.0001 abs"
    assert aim.met(parity) is True
    assert aim.met(row(parity["name"], 2e-4, "abs")) is False
