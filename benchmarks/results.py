"""The one results file every benchmark writes: ``bench-results.json`` at the repository root,
a list of ``{name, value, unit, baseline, ratio}`` rows. Printing stays each benchmark's own;
this keeps the rows comparable across benchmarks and runs, and ``make bench`` ends with

    .venv/bin/python -m benchmarks.results [--file PATH] [--json]

which prints them as one table (figure, value, unit, baseline, ratio, aim, met?) under a line
on the machine (cores, load average, memory, Python, date). Aims come from ``benchmarks.aims``
and are judged when printing; the file keeps the five keys. ``--json`` prints the rows with
``aim`` and ``met`` added instead. A missed aim is reported, not an error: the exit code is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from benchmarks.aims import AIMS, Aim, aim_for

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


def annotated(rows: Iterable[dict[str, Any]], aims: tuple[Aim, ...] = AIMS) -> list[dict[str, Any]]:
    """Copies of the rows with ``aim`` (its text, None without one) and ``met`` (True, False,
    None without an aim or a figure to judge) added; the rows themselves are left as they are."""
    out = []
    for r in rows:
        aim = aim_for(str(r.get("name", "")), aims)
        out.append({**r, "aim": aim.text() if aim else None, "met": aim.met(r) if aim else None})
    return out


def _number(x: Any) -> str:
    """Four significant digits, thousands separated; whole numbers from 10,000 up in full."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return "" if x is None else str(x)
    return f"{x:,.0f}" if abs(x) >= 10_000 else f"{x:,.4g}"


def _met(row: dict[str, Any]) -> Text:
    if row["aim"] is None:
        return Text("—", style="dim")
    if row["met"] is None:
        return Text("?", style="yellow")  # an aim, but no figure (or another unit) to judge
    return Text("yes", style="green") if row["met"] else Text("no", style="bold red")


def print_rows(rows: list[dict[str, Any]]) -> None:
    """The rows as they go to ``bench-results.json``: name, value, unit, baseline, ratio."""
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        vs = "" if r["baseline"] is None else f"   baseline {r['baseline']}, ratio {r['ratio']}"
        print(f"  {r['name']:<{width}} {r['value']:>10} {r['unit']}{vs}")


def table(rows: Iterable[dict[str, Any]], aims: tuple[Aim, ...] = AIMS) -> Table:
    """The rows as one table: figure, value, unit, baseline, ratio, aim, met?."""
    out = Table(box=None, header_style="bold", pad_edge=False)
    out.add_column("figure", overflow="fold")
    out.add_column("value", justify="right", no_wrap=True)
    out.add_column("unit", no_wrap=True)
    out.add_column("baseline", justify="right", no_wrap=True)
    out.add_column("ratio", justify="right", no_wrap=True)
    out.add_column("aim", no_wrap=True)
    out.add_column("met?", justify="center", no_wrap=True)
    for r in annotated(rows, aims):
        ratio = "" if r.get("ratio") is None else f"{_number(r['ratio'])}x"
        out.add_row(
            str(r.get("name", "")),
            _number(r.get("value")),
            str(r.get("unit") or ""),
            _number(r.get("baseline")),
            ratio,
            r["aim"] or "",
            _met(r),
        )
    return out


def markdown(rows: Iterable[dict[str, Any]], aims: tuple[Aim, ...] = AIMS) -> str:
    """The same table in Markdown, for the README (``--markdown``)."""
    lines = ["| figure | value | unit | baseline | ratio | aim | met? |",
             "| --- | ---: | --- | ---: | ---: | --- | :---: |"]  # fmt: skip
    for r in annotated(rows, aims):
        ratio = "" if r.get("ratio") is None else f"{_number(r['ratio'])}x"
        met = "—" if r["aim"] is None else "?" if r["met"] is None else "yes" if r["met"] else "no"
        cells = [f"`{r.get('name', '')}`", _number(r.get("value")), str(r.get("unit") or ""),
                 _number(r.get("baseline")), ratio, r["aim"] or "", met]  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def machine(now: datetime | None = None) -> str:
    """One line on the machine: cores, load average (now), total memory, Python, date."""
    try:
        one, five, fifteen = os.getloadavg()
        loadavg = f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"
    except OSError:
        loadavg = "load average unknown"
    memory = "memory unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    date = (now or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").rstrip()
    return (
        f"machine: {os.cpu_count()} cores, {loadavg}, {memory}, "
        f"Python {platform.python_version()}, {date}"
    )


def summary(rows: list[dict[str, Any]]) -> str:
    """How the aims went: met, missed, not judged, and the rows without an aim."""
    judged = [r for r in rows if r["aim"] is not None]
    met = sum(r["met"] is True for r in judged)
    missed = sum(r["met"] is False for r in judged)
    line = f"aims: {met} met, {missed} missed"
    if unknown := len(judged) - met - missed:
        line += f", {unknown} without a figure to judge (?)"
    return line + f"; {len(rows) - len(judged)} of {len(rows)} rows have no stated aim (—)"


def show(rows: list[dict[str, Any]], path: Path, console: Console) -> None:
    """The machine line, the table of ``rows`` (read from ``path``), the aims' summary."""
    console.print(machine(), highlight=False, soft_wrap=True)
    if not rows:
        console.print(f"no rows in {path}", highlight=False, soft_wrap=True)
        return
    when = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    written = f"{path}: {len(rows)} rows, last written {when:%Y-%m-%d %H:%M %Z}"
    console.print(written, highlight=False, soft_wrap=True)
    console.print(table(rows))
    console.print(summary(annotated(rows)), highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print bench-results.json as one table.")
    parser.add_argument("--file", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--json", action="store_true", help="the rows with aim and met, as JSON")
    parser.add_argument("--markdown", action="store_true", help="the table in Markdown (README)")
    args = parser.parse_args(argv)
    rows = load(args.file)
    if args.json:
        print(json.dumps(annotated(rows), indent=2))
        return 0
    if args.markdown:
        print(f"{machine()}\n\n{markdown(rows)}\n\n{summary(annotated(rows))}")
        return 0
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:  # a log or a pipe: as wide as the table, not 80 columns
            options = console.options.update(max_width=1000)
            wide = console.measure(table(rows), options=options).maximum
            console = Console(highlight=False, width=max(80, wide))
    show(rows, args.file, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
