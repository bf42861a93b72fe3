"""`fraudops dashboard`: the body's compact form parsed as CloudWatch reads it, queries batched
within GetMetricData's limit, a CloudWatch that refuses math or percentiles degraded around,
and one polyline per series in the SVG (no chart at all for a widget without data)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fraudops import cli, dashboard
from fraudops.dashboard import Row, Series, WidgetData

END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=1)


def body(*widgets: dict[str, Any]) -> str:
    return json.dumps({"widgets": list(widgets)})


def metric_widget(metrics: list[list[Any]], **props: Any) -> dict[str, Any]:
    return {"type": "metric", "width": 12, "properties": {"metrics": metrics, **props}}


# --- the body ----------------------------------------------------------------------------------


def test_dot_repeats_the_previous_rows_value_at_its_position() -> None:
    [widget] = dashboard.parse_body(
        body(
            metric_widget(
                [
                    ["FraudOps", "RecordsIn", "service", "ingest_batch", "contract", "a"],
                    [".", "RecordsValid", ".", ".", ".", "b", {"stat": "Sum"}],
                    ["...", "c"],
                ],
                period=60,
            )
        )
    )
    first, second, third = widget.rows
    assert (first.namespace, first.name, first.dims) == (
        "FraudOps",
        "RecordsIn",
        (("service", "ingest_batch"), ("contract", "a")),
    )
    assert (first.stat, first.period) == ("Average", 60)  # the widget's defaults
    assert (second.namespace, second.name, second.stat) == ("FraudOps", "RecordsValid", "Sum")
    assert second.dims == (("service", "ingest_batch"), ("contract", "b"))
    # "..." takes every value of the row above but the ones given
    assert (third.name, third.dims[-1]) == ("RecordsValid", ("contract", "c"))


def test_a_dot_with_nothing_above_it_is_an_error() -> None:
    with pytest.raises(dashboard.DashboardError):
        dashboard.parse_body(body(metric_widget([[".", "RecordsIn"]])))


def test_math_rows_keep_their_ids_and_hide_their_inputs() -> None:
    [widget] = dashboard.parse_body(
        body(
            metric_widget(
                [
                    [{"expression": "100 * b / a", "id": "rate", "label": "rate %"}],
                    ["NS", "In", {"id": "a", "visible": False}],
                    ["NS", "Bad", {"id": "b", "visible": False, "yAxis": "right"}],
                ]
            )
        )
    )
    rate, a, b = widget.rows
    assert (rate.id, rate.expression, rate.label, rate.visible) == (
        "rate",
        "100 * b / a",
        "rate %",
        True,
    )
    assert (a.id, a.visible, b.axis) == ("a", False, "right")


def test_alarm_and_text_widgets_are_read_too() -> None:
    alarm, text, log = dashboard.parse_body(
        body(
            {"type": "alarm", "properties": {"title": "A", "alarms": ["arn:x:alarm:one"]}},
            {"type": "text", "properties": {"markdown": "## Scoring"}},
            {"type": "log", "properties": {"query": "fields @message"}},
        )
    )
    assert (alarm.kind, alarm.alarms) == ("alarm", ("arn:x:alarm:one",))
    assert (text.kind, text.markdown) == ("text", "## Scoring")
    assert log.kind == "log"
    assert dashboard.alarm_name("arn:aws:cloudwatch:us-east-1:1:alarm:FraudOps-drift") == (
        "FraudOps-drift"
    )


# --- queries -----------------------------------------------------------------------------------


def test_queries_are_prefixed_per_widget_and_expressions_follow_their_inputs() -> None:
    widget = dashboard.parse_body(
        body(
            {"type": "text", "properties": {"markdown": "x"}},
            metric_widget(
                [
                    [{"expression": "IF(a > 0, 100 * FILL(b, 0) / a, 0)", "id": "r"}],
                    ["NS", "In", {"id": "a", "visible": False, "stat": "Sum", "period": 60}],
                    ["NS", "Bad", {"id": "b", "visible": False, "stat": "Sum", "period": 60}],
                ]
            ),
        )
    )[1]
    rate, a, b = dashboard.widget_queries(widget, timedelta(hours=1))
    assert rate["Expression"] == "IF(w1_a > 0, 100 * FILL(w1_b, 0) / w1_a, 0)"
    assert (rate["Id"], rate["ReturnData"]) == ("w1_r", True)
    assert (a["Id"], a["ReturnData"], a["MetricStat"]["Period"]) == ("w1_a", False, 60)
    assert b["MetricStat"]["Stat"] == "Sum"


def test_a_long_range_gets_a_coarser_period() -> None:
    [widget] = dashboard.parse_body(body(metric_widget([["NS", "In", {"period": 60}]])))
    [query] = dashboard.widget_queries(widget, timedelta(days=7))
    assert query["MetricStat"]["Period"] == 420  # 7 days in at most 1,440 points
    assert dashboard.auto_period(timedelta(hours=3)) == 60


def test_rename_ids_leaves_quoted_text_alone() -> None:
    search = "SEARCH('{NS,a} MetricName=\"a\"', 'Sum', 60) + a"
    assert dashboard.rename_ids(search, {"a": "w0_a"}) == (
        "SEARCH('{NS,a} MetricName=\"a\"', 'Sum', 60) + w0_a"
    )


def test_widgets_are_packed_into_calls_of_at_most_500_queries() -> None:
    units: list[list[dict[str, Any]]] = [[{}] * n for n in (300, 150, 60, 500, 1)]
    assert dashboard.batches(units) == [[0, 1], [2], [3], [4]]
    assert all(sum(len(units[i]) for i in b) <= 500 for b in dashboard.batches(units))
    with pytest.raises(dashboard.DashboardError):
        dashboard.batches([[{}] * 501])


def test_search_expressions_are_parsed_for_list_metrics() -> None:
    search = dashboard.parse_search(
        'SEARCH(\'{FraudOps,contract,feature,service} MetricName="FeaturePSI" '
        "service=\"monitor_drift\"', 'Maximum', 60)"
    )
    assert search == dashboard.Search(
        namespace="FraudOps",
        dims=("contract", "feature", "service"),
        metric_name="FeaturePSI",
        terms=(("service", "monitor_drift"),),
        stat="Maximum",
        period=60,
    )
    assert dashboard.parse_search("SEARCH('{NS} cpu OR mem', 'Sum', 60)") is None  # partial
    assert dashboard.parse_search("a + b") is None


def test_since_reads_minutes_hours_and_days() -> None:
    assert dashboard.parse_since("30m") == timedelta(minutes=30)
    assert dashboard.parse_since("1h") == timedelta(hours=1)
    assert dashboard.parse_since("2d") == timedelta(days=2)
    assert dashboard.format_since(timedelta(hours=3)) == "3h"
    for bad in ("", "1y", "h", "0h", "-1h"):
        with pytest.raises(dashboard.DashboardError):
            dashboard.parse_since(bad)


def test_the_command_takes_out_since_and_json() -> None:
    args = cli.build_parser().parse_args(["dashboard", "--out", "r.html"])
    assert (args.out, args.since, args.json, args.func) == (
        "r.html",
        "3h",
        False,
        cli.cmd_dashboard,
    )
    args = cli.build_parser().parse_args(
        ["dashboard", "--out", "r.html", "--since", "1h", "--json"]
    )
    assert (args.since, args.json) == ("1h", True)


# --- a CloudWatch that refuses math and percentiles (LocalStack's) -------------------------------


def refused(message: str) -> ClientError:
    return ClientError({"Error": {"Code": "InternalError", "Message": message}}, "GetMetricData")


class RefusingCloudWatch:
    """Answers metric queries with two points each; refuses a call holding an expression or a
    percentile, as LocalStack does. ListMetrics knows two features."""

    def __init__(self, refuse: bool = True) -> None:
        self.refuse = refuse
        self.calls: list[list[str]] = []

    def get_metric_data(self, MetricDataQueries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self.calls.append([q["Id"] for q in MetricDataQueries])
        for q in MetricDataQueries if self.refuse else ():
            if "Expression" in q:
                raise refused("'MetricStat'")
            if q["MetricStat"]["Stat"].startswith("p"):
                raise refused(repr(q["MetricStat"]["Stat"]))
        return {
            "MetricDataResults": [
                {
                    "Id": q["Id"],
                    "Label": q.get("Label", ""),
                    "Timestamps": [END - timedelta(minutes=2), END - timedelta(minutes=7)],
                    "Values": [2.0, 1.0],
                    "StatusCode": "Complete",
                }
                for q in MetricDataQueries
            ]
        }

    def get_paginator(self, name: str) -> Any:
        assert name == "list_metrics"

        class Pages:
            def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                dims = [{"Name": "service", "Value": "monitor_drift"}]
                return [
                    {
                        "Metrics": [
                            {
                                "Namespace": kw["Namespace"],
                                "MetricName": kw["MetricName"],
                                "Dimensions": [*dims, {"Name": "feature", "Value": f}],
                            }
                            for f in ("amount", "velocity")
                        ]
                        + [  # another dimension set: not the search's schema
                            {"Namespace": "NS", "MetricName": "FeaturePSI", "Dimensions": dims}
                        ]
                    }
                ]

        return Pages()


def test_a_refusing_cloudwatch_gets_inputs_for_math_and_list_metrics_for_search() -> None:
    widgets = dashboard.parse_body(
        body(
            metric_widget(
                [
                    [{"expression": "100 * b / a", "id": "rate", "label": "rate %"}],
                    ["NS", "In", {"id": "a", "visible": False, "label": "in"}],
                    ["NS", "Bad", {"id": "b", "visible": False, "label": "bad"}],
                ]
            ),
            metric_widget(
                [
                    [
                        {
                            "expression": 'SEARCH(\'{NS,feature,service} MetricName="FeaturePSI" '
                            "service=\"monitor_drift\"', 'Maximum', 60)",
                            "id": "psi",
                        }
                    ]
                ]
            ),
            metric_widget(
                [["NS", "Latency", {"stat": "p99"}], ["NS", "Latency", {"stat": "Maximum"}]]
            ),
            metric_widget([["NS", "Other", {"stat": "p99"}], ["NS", "Other", {"stat": "Sum"}]]),
        )
    )
    cw = RefusingCloudWatch()
    data = dashboard.fetch(cw, widgets, START, END)
    rate, search, latency, other = (data[w.index] for w in widgets)
    assert [s.label for s in rate.series] == ["in", "bad"]
    assert "metric math not evaluated" in rate.notes[0]
    assert [s.label for s in search.series] == ["amount", "velocity"]
    assert "SEARCH not evaluated" in search.notes[0]
    assert [s.label for s in latency.series] == ["Latency Maximum"]
    assert "refused" in latency.notes[0] and "p99" in latency.notes[0]
    assert [s.label for s in other.series] == ["Other Sum"]
    assert all(len(s.points) == 2 for d in data.values() for s in d.series)
    # learnt once: the p99 of the last widget is never asked for
    assert not any("w3_m0" in call for call in cw.calls[-2:])
    assert ["w3_m1"] in cw.calls


def test_a_cloudwatch_that_answers_everything_is_asked_once() -> None:
    widgets = dashboard.parse_body(
        body(*(metric_widget([["NS", f"M{i}", {"stat": "p99"}]]) for i in range(3)))
    )
    cw = RefusingCloudWatch(refuse=False)
    data = dashboard.fetch(cw, widgets, START, END)
    assert cw.calls == [["w0_m0", "w1_m0", "w2_m0"]]
    assert all(d.points == 2 and not d.notes for d in data.values())


# --- SVG and HTML ------------------------------------------------------------------------------


def polylines(svg: str) -> list[int]:
    return [len(p.split()) for p in re.findall(r'<polyline points="([^"]*)"', svg)]


def test_one_polyline_per_series_with_one_vertex_per_point() -> None:
    series = [
        Series("a", [(START + timedelta(minutes=m), float(m)) for m in range(0, 60, 5)]),
        Series("b", [(START + timedelta(minutes=m), 1.0) for m in (10, 20, 30)], axis="right"),
        Series("empty", []),
    ]
    svg = dashboard.render_svg(series, START, END, [(5.0, "alarm")])
    assert svg is not None
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert polylines(svg) == [12, 3]
    assert 'data-label="a"' in svg and 'data-label="b"' in svg
    assert "axis-left" in svg and "axis-right" in svg and "axis-time" in svg
    assert 'class="annotation"' in svg
    # every vertex inside the viewBox
    for xy in " ".join(re.findall(r'<polyline points="([^"]*)"', svg)).split():
        x, y = map(float, xy.split(","))
        assert 0 <= x <= dashboard.W and 0 <= y <= dashboard.H


def test_a_widget_without_data_says_so_and_draws_no_chart() -> None:
    [widget] = dashboard.parse_body(body(metric_widget([["NS", "In"]], title="Quiet")))
    assert dashboard.render_svg([Series("a", [])], START, END) is None
    html = dashboard.render_widget(widget, WidgetData([Series("a", [])]), {}, START, END)
    assert "no data in range" in html
    assert "<svg" not in html and "<polyline" not in html


def test_the_report_is_one_self_contained_file(tmp_path: Path) -> None:
    widgets = dashboard.parse_body(
        body(
            {"type": "alarm", "properties": {"title": "Alarms", "alarms": ["arn:a:alarm:x<y"]}},
            {"type": "text", "properties": {"markdown": "## <Scoring>"}},
            metric_widget([["NS", "In"]], title="In"),
            metric_widget([["NS", "Out"]], title="Out"),
        )
    )
    data = {
        2: WidgetData([Series("in", [(START, 1.0), (END, 2.0)])]),
        3: WidgetData([Series("out", [])]),
    }
    states = {"x<y": {"state": "ALARM", "reason": "r", "updated": END}}
    page = dashboard.render_html("FraudOps-ingestion", widgets, data, states, START, END)
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page
    for needle in ("src=", "href=", "<script", "url("):
        assert needle not in page
    assert "x&lt;y" in page and "&lt;Scoring&gt;" in page  # escaped
    assert 'class="state-alarm"' in page
    assert page.count('data-widget="metric"') == 2
    assert "no data in range" in page  # the second chart
    assert "2026-01-01 11:00 UTC to 2026-01-01 12:00 UTC (last 1h)" in page
    assert dashboard.summary(tmp_path / "r.html", widgets, data) == {
        "path": str(tmp_path / "r.html"),
        "widgets": 4,
        "metric_widgets": 2,
        "widgets_with_data": 1,
        "series": 1,
        "points": 2,
    }


def test_the_rows_axis_and_colour_reach_the_series() -> None:
    rows = {"w0_a": Row(id="a", label="x", axis="right", color="#123456")}
    [series] = dashboard.to_series(
        [{"Id": "w0_a", "Label": "x", "ReturnData": True}, {"Id": "w0_h", "ReturnData": False}],
        [
            {"Id": "w0_a", "Label": "", "Timestamps": [END, START], "Values": [2.0, 1.0]},
            {"Id": "w0_h", "Label": "", "Timestamps": [END], "Values": [1.0]},  # hidden
        ],
        rows,
    )
    assert (series.label, series.axis, series.color) == ("x", "right", "#123456")
    assert series.points == [(START, 1.0), (END, 2.0)]  # sorted by time
