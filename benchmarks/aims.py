"""The aims the benchmarks state, in one place: per row name of ``bench-results.json`` (or an
``fnmatch`` pattern of names) a comparator and a number in the row's unit (``<= 1 s``), or on
the row's ratio to its baseline (``ratio >= 1``), and where the aim is written.
``python -m benchmarks.results`` shows each row's aim and whether the row meets it.

Only aims that the benchmarks' docstrings, comments or prints (or README.md, docs/*.md) state
are here: a row without one shows no aim. A missed aim is reported, never an error.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Aim:
    """Rows named like ``pattern`` should have their ``on`` figure (``value``, in ``unit``, or
    ``ratio``) ``op`` ``target``; ``source`` says where the aim is stated."""

    pattern: str
    op: str
    target: float
    unit: str
    source: str
    on: str = "value"

    @classmethod
    def parse(cls, pattern: str, text: str, source: str) -> Aim:
        """``"<= 1 s"``, ``">= 1000 records/s"``, ``"== 1 bool"`` or ``"ratio >= 1"``."""
        words = text.split()
        on = "ratio" if words[0] == "ratio" else "value"
        if on == "ratio":
            words = words[1:]
        if len(words) < 2 or words[0] not in COMPARE or (on == "ratio" and len(words) > 2):
            raise ValueError(f"aim of {pattern}: cannot read {text!r}")
        return cls(pattern, words[0], float(words[1]), " ".join(words[2:]), source, on)

    def text(self) -> str:
        """As the table shows it: ``<= 1 s``, ``>= 1,000 records/s``, ``ratio >= 1``."""
        number = f"{self.target:,.6g}"
        if self.on == "ratio":
            return f"ratio {self.op} {number}"
        return f"{self.op} {number} {self.unit}".rstrip()

    def met(self, row: Mapping[str, Any]) -> bool | None:
        """Whether ``row`` meets the aim; None when its figure is missing (no value, no ratio)
        or the row is not in the aim's unit (a number in another unit says nothing)."""
        figure = row.get(self.on)
        if isinstance(figure, bool) or not isinstance(figure, int | float):
            return None
        if self.on == "value" and row.get("unit") != self.unit:
            return None
        return COMPARE[self.op](float(figure), self.target)


# (row name or fnmatch pattern, aim, where it is stated); the first matching pattern applies.
STATED: tuple[tuple[str, str, str], ...] = (
    ("drift_psi_1m_decisions", "<= 1 s", "drift.py docstring (streamed PSI)"),
    ("alarm_to_training_started_localstack", "<= 60 s", "monitoring.py docstring and print"),
    ("ingest.stream_10k.decode_to_commit_in_memory", "<= 500 ms", "ingestion.py docstring"),
    ("ingest.stream_10k.aws_calls", "<= 20 calls", "ingestion.py docstring"),
    (
        "ingest.stream_10k.records_per_s_per_shard_*",
        ">= 1000 records/s",
        "ingestion.py docstring (a shard takes in 1,000/s)",
    ),
    ("scoring.put_to_decision_p50", "<= 1.5 s", "scoring_deployed.py AIM_P50_S"),
    ("scoring.cold_init_total", "<= 1500 ms", "scoring_deployed.py AIM_COLD_MS"),
    ("scoring.package_unzipped", "<= 160 MB", "scoring_deployed.py AIM_PACKAGE_MB"),
    (
        "validation_*_rows_pandera_agrees",
        "== 1 bool",
        "validation.py docstring (the two must agree)",
    ),
    (
        "training.scoring_*.max_abs_diff",
        "<= 0.0001 abs",
        "README.md (evaluate's parity check) and TrainingConfig.parity_tolerance",
    ),
)
AIMS: tuple[Aim, ...] = tuple(Aim.parse(*stated) for stated in STATED)


def aim_for(name: str, aims: tuple[Aim, ...] = AIMS) -> Aim | None:
    """The first aim whose pattern matches ``name`` (case-sensitive); None without one."""
    return next((a for a in aims if fnmatchcase(name, a.pattern)), None)
