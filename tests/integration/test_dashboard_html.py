"""`fraudops dashboard` on LocalStack, opened in a browser: the synthesized stack's dashboard body,
put as CloudFormation would put it (intrinsics resolved), data for every metric it names, the
report rendered, then loaded in headless Chromium (Debian's, installed by `make install`): every
chart drew, with data points. The screenshot and the HTML are kept under test-artifacts/.

LocalStack's CloudWatch evaluates neither metric math, SEARCH nor percentiles (measured: each
answers InternalError), so on it the rate widgets show their inputs, the SEARCH widgets the
metrics ListMetrics finds, and the latency widget its Maximum only; the report says so under each.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from fraudops import dashboard
from fraudops.paths import Layout
from tests.infra.synth_support import synth

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# Without these Chromium waits on the network it cannot reach (updates, sync, QUIC probes).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
CHROMIUM_TIMEOUT_S = 180
ACCOUNT = "000000000000"
REGION = "us-east-1"
POINTS = 6  # datapoints put per metric, one per period, ending now


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium; missing on a developer machine skips, under CI it fails."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium, or `make install`)")
    return CHROMIUM


def resolve(value: Any, resources: dict[str, Any]) -> Any:
    """The intrinsics a dashboard body uses (Fn::Join, Ref, Fn::GetAtt), as on LocalStack."""
    if isinstance(value, dict):
        if "Ref" in value:
            pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
            return pseudo.get(value["Ref"], value["Ref"])
        if "Fn::GetAtt" in value:
            lid, attr = value["Fn::GetAtt"]
            res = resources[lid]
            if res["Type"] == "AWS::CloudWatch::Alarm" and attr == "Arn":
                name = res["Properties"]["AlarmName"]
                return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
            return f"{lid}-{attr}"
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(str(resolve(p, resources)) for p in parts)
    return value


@pytest.fixture(scope="module")
def deployed_body(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(name, body) of the synthesized dashboard (local stage), intrinsics resolved."""
    _, template = synth(tmp_path_factory.mktemp("cdk-dashboard"), "local")
    resources = template.to_json()["Resources"]
    [props] = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    return str(props["DashboardName"]), str(resolve(props["DashboardBody"], resources))


def put_data(cloudwatch: Any, widgets: list[dashboard.Widget], now: datetime) -> int:
    """POINTS datapoints, one per period, for every metric the widgets name (a SEARCH: two
    values of each dimension it leaves open); a state for every alarm. The number of metrics."""
    metrics: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = {}
    for widget in widgets:
        for row in widget.rows:
            if row.expression is None:
                metrics[(row.namespace, row.name, row.dims)] = row.period
            elif (search := dashboard.parse_search(row.expression)) is not None:
                open_dims = [d for d in search.dims if d not in dict(search.terms)]
                for n in range(2):
                    dims = tuple(sorted((*search.terms, *((d, f"{d}_{n}") for d in open_dims))))
                    metrics[(search.namespace, search.metric_name or "", dims)] = (
                        search.period or 300
                    )
    for (namespace, name, dims), period in metrics.items():
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    "Timestamp": now - timedelta(seconds=period * k + 5),
                    "Value": float(
                        1 + (k * 7 + zlib.crc32(repr(dims).encode() + name.encode())) % 9
                    ),
                }
                for k in range(POINTS)
            ],
        )
    for widget in widgets:
        for n, arn in enumerate(widget.alarms):
            name = dashboard.alarm_name(arn)
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                Namespace="FraudOps",
                MetricName="RecordsIn",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanThreshold",
            )
            state = ("OK", "ALARM", "INSUFFICIENT_DATA")[n % 3]
            cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
    return len(metrics)


class Charts(HTMLParser):
    """Per metric widget (a section data-widget="metric"): its title, whether it has an <svg>,
    the point count of each polyline, and whether it says "no data in range"."""

    def __init__(self) -> None:
        super().__init__()
        self.widgets: list[dict[str, Any]] = []
        self.depth = 0  # section nesting inside the current metric widget

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("data-widget") == "metric":
            self.widgets.append({"title": a.get("data-title"), "svg": False, "polylines": []})
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "section":
            self.depth += 1
        elif tag == "svg":
            self.widgets[-1]["svg"] = True
        elif tag == "polyline":
            self.widgets[-1]["polylines"].append(len((a.get("points") or "").split()))
        elif tag == "p" and "nodata" in (a.get("class") or ""):
            self.widgets[-1]["nodata"] = True

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "section":
            self.depth -= 1


def run_chromium(chromium: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="fraudops-chromium-") as profile:
        return subprocess.run(
            [str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=CHROMIUM_TIMEOUT_S,
            check=False,
        )


@pytest.fixture(scope="module")
def report(
    ls_layout: Layout,
    aws: Callable[..., Any],
    deployed_body: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, Any], list[dashboard.Widget]]]:
    name, body = deployed_body
    cloudwatch = aws("cloudwatch")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=body)
    widgets = dashboard.parse_body(body)
    now = datetime.now(UTC)
    assert put_data(cloudwatch, widgets, now) > 50
    out = tmp_path_factory.mktemp("dashboard") / "report.html"
    summary = dashboard.render(ls_layout, out, timedelta(hours=1), name=name)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard.html").write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    yield summary, widgets
    cloudwatch.delete_dashboards(DashboardNames=[name])


def test_the_report_has_every_widget_of_the_deployed_dashboard(
    report: tuple[dict[str, Any], list[dashboard.Widget]],
) -> None:
    summary, widgets = report
    charts = [w for w in widgets if w.kind == "metric"]
    assert summary["widgets"] == len(widgets)
    assert summary["metric_widgets"] == len(charts) >= 12
    assert summary["widgets_with_data"] == len(charts)
    assert summary["points"] >= 2 * summary["series"] > 0
    html = Path(summary["path"]).read_text(encoding="utf-8")
    assert "no data in range" not in html
    # self-contained: nothing to fetch, and a policy that forbids fetching
    assert "default-src 'none'" in html
    for needle in ("src=", "href=", "<script", "@import", "url("):
        assert needle not in html, needle


def test_every_widget_draws_a_chart_with_data_points(
    report: tuple[dict[str, Any], list[dashboard.Widget]], chromium: Path
) -> None:
    summary, widgets = report
    page = Path(summary["path"]).as_uri()
    # When Chromium has loaded and laid out the report
    dom = run_chromium(chromium, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = Charts()
    parser.feed(dom.stdout)
    # Then every metric widget of the body is there with an SVG chart of data points
    titles = [w.title for w in widgets if w.kind == "metric"]
    assert [w["title"] for w in parser.widgets] == titles
    for widget in parser.widgets:
        assert widget["svg"], widget
        assert not widget.get("nodata"), widget
        assert widget["polylines"] and max(widget["polylines"]) >= 2, widget

    # And the screenshot is kept as an artifact
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    done = run_chromium(chromium, f"--screenshot={shot}", "--window-size=1600,4600", page)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\ndashboard screenshot: {shot}\ndashboard report: {ARTIFACTS / 'dashboard.html'}")


def test_the_report_notes_what_this_cloudwatch_did_not_evaluate(
    report: tuple[dict[str, Any], list[dashboard.Widget]],
) -> None:
    summary, _ = report
    html = Path(summary["path"]).read_text(encoding="utf-8")
    # LocalStack: the rate widgets' math, the SEARCH widgets and the percentiles
    assert "metric math not evaluated by this CloudWatch" in html
    assert "SEARCH not evaluated by this CloudWatch" in html
    assert "p99: refused by this CloudWatch" in html


def test_the_alarm_table_lists_every_alarm_with_its_state(
    report: tuple[dict[str, Any], list[dashboard.Widget]],
) -> None:
    summary, widgets = report
    [alarms] = [w for w in widgets if w.kind == "alarm"]
    html = Path(summary["path"]).read_text(encoding="utf-8")
    assert f'data-alarms="{len(alarms.alarms)}"' in html
    assert "NOT FOUND" not in html
    for arn in alarms.alarms:
        assert f"<td>{dashboard.alarm_name(arn)}</td>" in html
