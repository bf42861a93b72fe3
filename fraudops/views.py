"""What the CLI's commands show a person: rich tables built from the same documents their
``--json`` prints (docs/cli.md), so the two never say different things."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return "-" if value != value else f"{value:.{digits}f}"  # NaN: nothing measured
    return str(value)


def _table(title: str | None, *columns: str, right: Sequence[str] = ()) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left")
    return table


def models(records: Sequence[Mapping[str, Any]]) -> Table:
    """``fraudops models list``: one row per registered version, newest last."""
    table = _table(
        None, "model", "status", "candidate", "AUPRC", "ROC-AUC", "threshold", "snapshot",
        "created", right=("AUPRC", "ROC-AUC", "threshold"),
    )  # fmt: skip
    for r in records:
        m = r.get("metrics") or {}
        table.add_row(
            str(r["model_id"]), str(r["status"]), _fmt(r.get("candidate")),
            _fmt(m.get("auprc"), 4), _fmt(m.get("roc_auc"), 4),
            _fmt(None if r.get("threshold") is None else float(r["threshold"]), 4),
            _fmt(r.get("snapshot_id")), _fmt(r.get("created_at")),
        )  # fmt: skip
    return table


def model(record: Mapping[str, Any]) -> Table:
    """``fraudops models show``: one version (its baseline aside, everything is in --json)."""
    m = record.get("metrics") or {}
    gate = record.get("gate") or {}
    onnx = record.get("onnx") or {}
    table = Table.grid(padding=(0, 2))
    table.title = f"{record['model_id']}: {record['status']} ({record.get('status_reason', '')})"
    table.title_justify = "left"
    table.add_column(style="bold")
    table.add_column()
    seed, digest = record.get("seed"), str(record.get("snapshot_hash"))[:12]
    rows = [
        ("candidate", f"{record.get('candidate')} ({record.get('kind')}), seed {seed}"),
        ("params", json.dumps(record.get("params"), sort_keys=True)),
        ("snapshot", f"{record.get('snapshot_id')} (hash {digest})"),
        ("contract", f"{record.get('contract')} {record.get('contract_version')}, feature set "
                     f"v{record.get('feature_set_version')} {str(record.get('feature_set'))[:12]}"),
        ("code", str(record.get("code_version"))),
        ("metrics", f"AUPRC {_fmt(m.get('auprc'), 4)}, ROC-AUC {_fmt(m.get('roc_auc'), 4)}, "
                    f"precision {_fmt(m.get('precision'))}, recall {_fmt(m.get('recall'))}, "
                    f"P@{m.get('k')} {_fmt(m.get('precision_at_k'))}, "
                    f"cost/1000 {_fmt(m.get('cost_per_1000'))}"),
        ("threshold", _fmt(record.get("threshold"))),
        ("gate", f"{'passed' if gate.get('passed') else 'failed'} "
                 f"{'; '.join(gate.get('reasons') or [])}".rstrip()),
        ("onnx", f"s3://{onnx.get('bucket')}/{onnx.get('key')} sha256 {onnx.get('sha256')}"),
        ("run", f"{record.get('run_id')}, created {record.get('created_at')}"),
    ]  # fmt: skip
    rows += [
        ("history", f"{h.get('at')} {h.get('status')} {h.get('reason', '')}".rstrip())
        for h in record.get("history") or []
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def quality(summary: Mapping[str, Any]) -> Group:
    """Live precision and recall per window and role, with the label join's counts above."""
    counts = summary.get("labels", {})
    title = (
        f"labels: {counts.get('label_events', 0)} events, "
        f"{counts.get('labelled_transactions', 0)} transactions; matched "
        f"{counts.get('matched', 0)}, unmatched {counts.get('unmatched', 0)}, corrections "
        f"{counts.get('corrections', 0)}, repeats {counts.get('repeats', 0)}, conflicts "
        f"{counts.get('conflicts', 0)}\n"
        f"champion {summary.get('champion') or '-'}, shadow {summary.get('shadow') or '-'}"
    )
    numbers = ("decisions", "labelled", "alerts", "precision", "recall", "AUPRC", "alert %",
               "coverage", "floor")  # fmt: skip
    table = _table(None, "window", "role", *numbers, right=numbers)
    for w in summary.get("windows", []):
        rate = w.get("alert_rate")
        table.add_row(
            str(w["window"]), str(w["role"]), str(w["decisions"]), str(w["labelled"]),
            str(w["alerts"]), _fmt(w["precision"]), _fmt(w["recall"]), _fmt(w["auprc"]),
            _fmt(None if rate is None else 100 * rate), _fmt(w["coverage"]), _fmt(w["floor"]),
        )  # fmt: skip
    return Group(Text(title), table)  # the header is wider than the table: not its title


STATE_STYLE = {"ALARM": "bold red", "OK": "green", "INSUFFICIENT_DATA": "dim"}


def alarms(rows: Sequence[Mapping[str, Any]]) -> Table:
    table = _table("alarms", "state", "alarm")
    for a in rows:
        state = str(a["state"])
        table.add_row(f"[{STATE_STYLE.get(state, '')}]{state}[/]", str(a["alarm"]))
    return table


def decisions(docs: Sequence[Mapping[str, Any]]) -> Table:
    """``fraudops decisions``: the latest decisions, their reasons and any shadow's opinion."""
    table = _table(
        None, "transaction", "outcome", "score", "model", "review >=", "source", "reasons",
        "shadow", right=("score", "review >="),
    )  # fmt: skip
    for d in docs:
        reasons = ", ".join(
            f"{r['feature']} {r['contribution']:+.3f}" for r in d.get("reasons", [])
        )
        shadow = (
            f"{d['shadow_model_id']} {d['shadow_score']:.4f} {d['shadow_outcome']}"
            if d.get("shadow_score") is not None
            else "-"
        )
        table.add_row(
            str(d["transaction_id"]), str(d["outcome"]).upper(), f"{d['score']:.4f}",
            str(d["model_id"]), f"{d['review_threshold']:.4f}", str(d["source"]), reasons,
            shadow,
        )  # fmt: skip
    return table


def stack_outputs(stack: Mapping[str, Any]) -> Table:
    """``fraudops status``: the deployed stack's outputs."""
    table = _table(f"stack {stack['name']}: {stack['status']}", "output", "value")
    for key, value in sorted(stack.get("outputs", {}).items()):
        table.add_row(str(key), str(value))
    return table


def comparison(report: Mapping[str, Any]) -> Group:
    """``fraudops compare``: the shadow beside the champion on the same decisions."""
    title = (
        f"{report['decisions']} decisions: champion {', '.join(report['champion'])}, "
        f"shadow {', '.join(report['shadow'])}"
    )
    table = _table(None, "figure", "value", right=("value",))
    table.add_row("outcome agreement", f"{report['outcome_agreement']:.2%}")
    table.add_row("score correlation", _fmt(report["score_correlation"]))
    table.add_row("alert rate, champion", f"{report['alert_rate_champion']:.2%}")
    table.add_row("alert rate, shadow", f"{report['alert_rate_shadow']:.2%}")
    table.add_row("difference", f"{report['alert_rate_difference']:+.2%}")
    return Group(Text(title), table)
