"""The one results file every benchmark writes: ``bench-results.json`` at the repository root,
a list of ``{name, value, unit, baseline, ratio}`` rows. Printing stays each benchmark's own;
this keeps the rows comparable across benchmarks and runs (``make bench`` prints them as one
table at the end)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "bench-results.json"


def row(
    name: str,
    value: float,
    unit: str,
    baseline: float | None = None,
    *,
    higher_is_better: bool = False,
) -> dict[str, Any]:
    """One row; ``ratio`` is how many times better than the baseline the value is (above 1 is
    better, whichever way the unit runs), None without a baseline."""
    ratio = None
    if baseline is not None and value and baseline:
        ratio = round(value / baseline if higher_is_better else baseline / value, 3)

    def shown(x: float | None) -> float | None:
        """Four significant digits below 1 (an error of 8.2e-07 stays 8.2e-07), 3 decimals above."""
        if x is None:
            return None
        return float(f"{x:.4g}") if abs(x) < 1 else round(float(x), 3)

    return {
        "name": name,
        "value": shown(value),
        "unit": unit,
        "baseline": shown(baseline),
        "ratio": ratio,
    }


def load(path: Path = RESULTS) -> list[dict[str, Any]]:
    """The rows written so far (none when the file is missing or not a list of rows)."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [r for r in loaded if isinstance(r, dict)] if isinstance(loaded, list) else []


def record(rows: list[dict[str, Any]], path: Path = RESULTS) -> None:
    """Merge ``rows`` into the file: a row of the same name replaced in place, new ones appended;
    written to a temporary file and renamed, so a reader never sees half a file."""
    fresh = {r["name"]: r for r in rows}
    merged = [fresh.pop(r.get("name"), r) for r in load(path)]
    merged += [r for r in rows if r["name"] in fresh]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table (``python -m benchmarks.results`` prints the file)."""
    lines = [f"{'name':<58}{'value':>14} {'unit':<10}{'baseline':>14}{'ratio':>9}"]
    for r in rows:
        base = "" if r.get("baseline") is None else f"{r['baseline']:,.4g}"
        ratio = "" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        lines.append(f"{r['name']:<58}{r['value']:>14,.4g} {r['unit']:<10}{base:>14}{ratio:>9}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(load()))
