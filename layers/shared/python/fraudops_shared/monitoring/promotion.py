"""Promotion on live evidence: the shadow becomes champion only if, on the same labelled
decisions (those it scored beside the champion), its precision and recall at its own threshold
are no worse than the champion's. Too few labels is no evidence, and no evidence refuses too;
an operator may force it, and the forcing is recorded with the numbers (the CLI's ``--force``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fraudops_shared.monitoring.quality_watch import CHAMPION_ON_SHADOW

EVIDENCE_WINDOW = "daily"


@dataclass(frozen=True)
class Evidence:
    allowed: bool
    reason: str
    shadow: Mapping[str, Any] | None
    champion: Mapping[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        keep = ("model_id", "decisions", "labelled", "labelled_alerts", "precision", "recall")

        def brief(w: Mapping[str, Any] | None) -> dict[str, Any] | None:
            return None if w is None else {k: w.get(k) for k in keep}

        return {"allowed": self.allowed, "reason": self.reason,
                "shadow": brief(self.shadow), "champion": brief(self.champion)}  # fmt: skip


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def judge_shadow(summary: Mapping[str, Any], window: str = EVIDENCE_WINDOW) -> Evidence:
    """Whether the quality watch's ``summary`` supports promoting its shadow."""
    by_role = {w["role"]: w for w in summary.get("windows", []) if w.get("window") == window}
    shadow, champion = by_role.get("shadow"), by_role.get(CHAMPION_ON_SHADOW)
    if shadow is None or champion is None:
        return Evidence(False, "no shadow has been scored beside the champion in the "
                        f"{window} window: no live evidence", shadow, champion)  # fmt: skip
    figures = (shadow["precision"], shadow["recall"], champion["precision"], champion["recall"])
    if any(f is None for f in figures):
        return Evidence(False, (
            f"not enough labelled evidence in the {window} window: the shadow has "
            f"{shadow['labelled_alerts']} labelled alerts and {shadow['tp'] + shadow['fn']} "
            f"labelled frauds, the champion on the same decisions {champion['labelled_alerts']} "
            f"and {champion['tp'] + champion['fn']} (each figure needs the stated minimum)"
        ), shadow, champion)  # fmt: skip
    numbers = (
        f"shadow precision {_fmt(shadow['precision'])} recall {_fmt(shadow['recall'])}, "
        f"champion precision {_fmt(champion['precision'])} recall {_fmt(champion['recall'])} "
        f"on the same {shadow['labelled']} labelled decisions ({window})"
    )
    if shadow["precision"] < champion["precision"] or shadow["recall"] < champion["recall"]:
        return Evidence(False, f"the shadow is worse: {numbers}", shadow, champion)
    return Evidence(True, f"the shadow is no worse: {numbers}", shadow, champion)
