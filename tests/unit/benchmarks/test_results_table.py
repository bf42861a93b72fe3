"""`python -m benchmarks.results`: one table of bench-results.json with each row's stated aim and
whether the row meets it, under a line on the machine; the file itself keeps its five keys."""

from __future__ import annotations

import ast
import io
import json
import os
import platform
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from benchmarks import aims, results
from benchmarks.aims import Aim, aim_for

ROOT = Path(__file__).resolve().parents[3]
FIVE_KEYS = {"name", "value", "unit", "baseline", "ratio"}


def printed(argv: list[str]) -> tuple[int, str]:
    """What ``python -m benchmarks.results`` prints for ``argv``, as plain text."""
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    code = results.main(argv, console=console)
    return code, out.getvalue()


def written(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "bench-results.json"
    results.record(rows, path)
    return path


def line_of(text: str, name: str) -> str:
    """The table's line of row ``name``, its cells separated by one space."""
    (line,) = [ln for ln in text.splitlines() if ln.split() and ln.split()[0] == name]
    return " ".join(line.split())


def test_a_row_under_its_aim_is_met_and_one_over_it_is_not() -> None:
    aim = aim_for("drift_psi_1m_decisions")
    assert aim is not None and aim.text() == "<= 1 s"
    assert aim.met(results.row("drift_psi_1m_decisions", 0.4, "s", 3.9)) is True
    assert aim.met(results.row("drift_psi_1m_decisions", 1.0, "s")) is True
    assert aim.met(results.row("drift_psi_1m_decisions", 1.6, "s", 3.9)) is False


def test_a_rate_aim_is_met_at_or_above_its_number_for_every_name_of_its_pattern() -> None:
    for name in ("low", "high"):
        full = f"ingest.stream_10k.records_per_s_per_shard_{name}"
        aim = aim_for(full)
        assert aim is not None and aim.text() == ">= 1,000 records/s"
        assert aim.met(results.row(full, 999.0, "records/s")) is False
        assert aim.met(results.row(full, 1000.0, "records/s")) is True


def test_a_row_without_a_stated_aim_has_no_aim_and_shows_a_dash(tmp_path: Path) -> None:
    row = results.row("scoring_single_p99", 211.3, "us", 402.9)
    assert aim_for("scoring_single_p99") is None
    (annotated,) = results.annotated([row])
    assert (annotated["aim"], annotated["met"]) == (None, None)
    code, text = printed(["--file", str(written(tmp_path, [row]))])
    assert code == 0
    assert line_of(text, "scoring_single_p99") == "scoring_single_p99 211.3 us 402.9 1.907x —"


def test_a_row_in_another_unit_than_its_aim_is_not_judged() -> None:
    row = results.row("drift_psi_1m_decisions", 400.0, "ms")
    (annotated,) = results.annotated([row])
    assert annotated["aim"] == "<= 1 s"
    assert annotated["met"] is None


def test_an_aim_on_the_ratio_is_judged_on_the_ratio_not_the_value() -> None:
    aim = Aim.parse("x.*", "ratio >= 1", "a test")
    assert aim.text() == "ratio >= 1"
    assert aim.met({"name": "x.a", "value": 5.0, "unit": "s", "ratio": 0.8}) is False
    assert aim.met({"name": "x.a", "value": 0.1, "unit": "s", "ratio": 1.25}) is True
    assert aim.met({"name": "x.a", "value": 0.1, "unit": "s", "ratio": None}) is None


@pytest.mark.parametrize("text", ["about 1 s", "<=", "ratio >= 1 s", "=< 1 s", "<= one s"])
def test_an_aim_that_cannot_be_read_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Aim.parse("x", text, "a test")


def test_the_printed_table_holds_every_row_its_aim_and_met_and_the_machine_line(
    tmp_path: Path,
) -> None:
    rows = [
        results.row("drift_psi_1m_decisions", 0.412, "s", 3.91),
        results.row("alarm_to_training_started_localstack", 74.2, "s", 60.0),
        results.row("ingest.s3_csv_1m.rows_per_s", 41234.5, "rows/s"),
    ]
    code, text = printed(["--file", str(written(tmp_path, rows))])
    assert code == 0  # a missed aim is reported, not an error
    lines = text.splitlines()
    assert lines[0].startswith(f"machine: {os.cpu_count()} cores, load average ")
    assert f"Python {platform.python_version()}" in lines[0]
    assert lines[2].split() == ["figure", "value", "unit", "baseline", "ratio", "aim", "met?"]
    assert (
        line_of(text, "drift_psi_1m_decisions")
        == "drift_psi_1m_decisions 0.412 s 3.91 9.49x <= 1 s yes"
    )
    assert (
        line_of(text, "alarm_to_training_started_localstack")
        == "alarm_to_training_started_localstack 74.2 s 60 0.809x <= 60 s no"
    )
    assert (
        line_of(text, "ingest.s3_csv_1m.rows_per_s")
        == "ingest.s3_csv_1m.rows_per_s 41,234 rows/s —"
    )
    assert lines[-1] == "aims: 1 met, 1 missed; 1 of 3 rows have no stated aim (—)"


def test_the_machine_line_states_cores_load_memory_python_and_the_date() -> None:
    line = results.machine(datetime(2026, 12, 2, 14, 5, tzinfo=UTC))
    assert line.startswith(f"machine: {os.cpu_count()} cores, load average ")
    assert "(1, 5, 15 min)" in line
    if Path("/proc/meminfo").exists():
        assert " GiB memory, " in line
    assert line.endswith(f"Python {platform.python_version()}, 2026-12-02 14:05 UTC")


def test_the_results_file_keeps_exactly_the_five_keys_after_printing(tmp_path: Path) -> None:
    path = written(
        tmp_path,
        [
            results.row("drift_psi_1m_decisions", 0.4, "s", 3.9),
            results.row("scoring_single_p50", 80.0, "us", 160.0),
        ],
    )
    before = path.read_text()
    assert printed(["--file", str(path)])[0] == 0
    assert printed(["--file", str(path), "--json"])[0] == 0
    assert path.read_text() == before
    assert [set(r) for r in json.loads(before)] == [FIVE_KEYS, FIVE_KEYS]


def test_json_output_adds_aim_and_met_to_each_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(
        tmp_path,
        [
            results.row("scoring.cold_init_total", 1720.0, "ms"),
            results.row("validation_1m_rows_pandera_agrees", 1, "bool"),
            results.row("scoring_single_p50", 80.0, "us", 160.0),
        ],
    )
    assert results.main(["--file", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["aim"], r["met"]) for r in shown] == [
        ("scoring.cold_init_total", "<= 1,500 ms", False),
        ("validation_1m_rows_pandera_agrees", "== 1 bool", True),
        ("scoring_single_p50", None, None),
    ]
    assert all(set(r) == FIVE_KEYS | {"aim", "met"} for r in shown)


def test_markdown_output_is_the_same_table_for_the_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(
        tmp_path,
        [
            results.row("scoring.cold_init_total", 1720.0, "ms"),
            results.row("scoring_single_p50", 80.0, "us", 160.0),
        ],
    )
    assert results.main(["--file", str(path), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ")
    rows = [ln for ln in out.splitlines() if ln.startswith("| `")]
    assert rows == [
        "| `scoring.cold_init_total` | 1,720 | ms |  |  | <= 1,500 ms | no |",
        "| `scoring_single_p50` | 80 | us | 160 | 2x |  | — |",  # baseline / value: 2x faster
    ]
    assert "aims: 0 met, 1 missed" in out


def test_a_missing_file_prints_the_machine_and_no_rows(tmp_path: Path) -> None:
    code, text = printed(["--file", str(tmp_path / "absent.json")])
    assert code == 0
    assert text.splitlines()[0].startswith("machine: ")
    assert text.splitlines()[1] == f"no rows in {tmp_path / 'absent.json'}"


def names_written() -> set[str]:
    """Every row name the benchmarks pass to ``row(...)``, an f-string's fields as ``*``."""
    names = set()
    for path in (ROOT / "benchmarks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called != "row":
                continue
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            elif isinstance(first, ast.JoinedStr):
                names.add(
                    "".join(
                        str(v.value) if isinstance(v, ast.Constant) else "*" for v in first.values
                    )
                )
    return names


def test_every_aim_names_a_row_that_a_benchmark_writes() -> None:
    names = names_written()
    assert "drift_psi_1m_decisions" in names  # the scan finds rows at all
    orphans = [
        a.pattern
        for a in aims.AIMS
        if not any(fnmatchcase(n, a.pattern) or fnmatchcase(a.pattern, n) for n in names)
    ]
    assert orphans == []


def test_make_bench_ends_by_printing_the_table() -> None:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("bench:"))
    recipe = []
    for ln in lines[start + 1 :]:
        if not ln.startswith("\t"):
            break
        recipe.append(ln)
    assert "$(PY) -m benchmarks.drift" in [ln.strip() for ln in recipe]
    assert recipe[-1] == "\t$(PY) -m benchmarks.results"
