"""The one dashboard: every widget group of the platform (ingestion, rejections by rule,
freshness, dead letters, scoring latency, decisions and alert rate, drift, live quality,
training runs, alarm states), its name and logical id unchanged since Monitoring built it."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from fraudops import dashboard as report
from fraudops_shared.runtime import settings
from infra import constants as c
from infra.constructs.dashboard import LOGICAL_ID
from tests.infra.synth_support import resources


def _body(template: Template) -> dict[str, Any]:
    """The body with its intrinsics as placeholders (alarm ARNs as `<logical id>`)."""
    [(lid, dash)] = resources(template, "AWS::CloudWatch::Dashboard").items()
    assert lid == LOGICAL_ID
    assert dash["Properties"]["DashboardName"] == f"{c.STACK_NAME}-{c.DASHBOARD_SUFFIX}"
    parts = dash["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = "".join(
        p if isinstance(p, str) else f"<{p.get('Fn::GetAtt', [p.get('Ref')])[0]}>" for p in parts
    )
    return dict(json.loads(text))


def _widgets(template: Template) -> dict[str, report.Widget]:
    return {w.title: w for w in report.parse_body(_body(template)) if w.kind == "metric"}


def _names(widget: report.Widget) -> set[str]:
    return {r.name for r in widget.rows if r.expression is None}


def test_the_dashboard_has_every_widget_group(template: Template) -> None:
    widgets = _widgets(template)
    expected = {
        "Records in / valid / rejected": {"RecordsIn", "RecordsValid", "RecordsRejected"},
        "Rejected share of each file or batch (%, average)": {c.METRIC_REJECTED_PERCENT},
        "Freshness lag (s): average and max": {c.METRIC_FRESHNESS_LAG},
        "Dead letters and iterator age": {
            "ApproximateNumberOfMessagesVisible",
            "RecordsExpired",
            c.METRIC_RECORD_AGE,
        },
        "Decision latency (ms): p50, p99 and max": {"DecisionLatency"},
        "Decisions by outcome and alert rate": {"Decisions", "RecordsDecided"},
        "Drift (PSI): alarm metric and score": {
            settings.METRIC_DRIFT_PSI,
            settings.METRIC_SCORE_PSI,
        },
        "Live precision and recall": {
            settings.METRIC_LIVE_PRECISION,
            settings.METRIC_LIVE_RECALL,
        },
        "Label coverage and alert rate": {
            settings.METRIC_LABEL_COVERAGE,
            settings.METRIC_ALERT_RATE,
        },
        "Training runs": {
            "ExecutionsStarted",
            "ExecutionsSucceeded",
            "ExecutionsFailed",
            "ExecutionsTimedOut",
        },
    }
    for title, names in expected.items():
        assert title in widgets, title
        assert _names(widgets[title]) == names, title


def test_rejections_by_rule_and_drift_per_feature_search_their_open_dimension(
    template: Template,
) -> None:
    widgets = _widgets(template)
    for title, metric, open_dim, service in (
        ("Rejections by rule", "RecordsRejectedByRule", "rule", c.FN_INGEST_BATCH),
        ("Drift (PSI) per feature", settings.METRIC_FEATURE_PSI, "feature", c.FN_MONITOR_DRIFT),
    ):
        searches = [report.parse_search(r.expression) for r in widgets[title].rows if r.expression]
        assert searches and all(searches), title
        assert any(
            s is not None
            and s.metric_name == metric
            and open_dim in s.dims
            and s.namespace == c.METRICS_NAMESPACE
            and (c.METRIC_DIM_SERVICE, service) in s.terms
            for s in searches
        ), title


def test_latency_shows_p50_and_p99_of_both_scorers(template: Template) -> None:
    rows = _widgets(template)["Decision latency (ms): p50, p99 and max"].rows
    got = {(dict(r.dims)[c.METRIC_DIM_SERVICE], r.stat) for r in rows}
    assert {
        (fn, stat) for fn in (c.FN_SCORE_STREAM, c.FN_SCORE_API) for stat in ("p50", "p99")
    } <= got


def test_alert_rate_is_review_plus_decline_over_decided(template: Template) -> None:
    widget = _widgets(template)["Decisions by outcome and alert rate"]
    [stream] = [r for r in widget.rows if r.expression and r.label.startswith("stream")]
    assert stream.expression == (
        "IF(decided_stream > 0, 100 * (FILL(review_stream, 0) + FILL(decline_stream, 0)) "
        "/ decided_stream, 0)"
    )
    assert stream.axis == "right"
    outcomes = {dict(r.dims).get("outcome") for r in widget.rows if r.name == "Decisions"}
    assert outcomes == {"approve", "review", "decline"}


def test_quality_widgets_cover_both_roles_and_windows(template: Template) -> None:
    rows = _widgets(template)["Live precision and recall"].rows
    got = {(r.name, dict(r.dims)["role"], dict(r.dims)["window"]) for r in rows}
    assert got == {
        (name, role, window)
        for name in (settings.METRIC_LIVE_PRECISION, settings.METRIC_LIVE_RECALL)
        for role in settings.QUALITY_ROLES
        for window in settings.QUALITY_WINDOWS
    }
    assert all(dict(r.dims)[c.METRIC_DIM_SERVICE] == c.FN_MONITOR_QUALITY for r in rows)


def test_every_alarm_has_its_state_on_the_dashboard(template: Template) -> None:
    [alarms] = [w for w in report.parse_body(_body(template)) if w.kind == "alarm"]
    assert set(alarms.alarms) == {f"<{a}>" for a in resources(template, "AWS::CloudWatch::Alarm")}
