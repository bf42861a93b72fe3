"""`fraudops dashboard`: the deployed CloudWatch dashboard rendered into one self-contained HTML
file: the dashboard's own body (GetDashboard), its metrics (GetMetricData) and its alarms'
states (DescribeAlarms), every chart an inline SVG. The file loads nothing (its Content-Security-
Policy forbids it): it opens offline and can be attached to an incident.

Pure parts (body -> widgets -> queries, results -> SVG/HTML) are apart from the calls to
CloudWatch (``fetch``, ``alarm_states``, ``render``), so they are tested without AWS.

The body is CloudWatch's compact form: a metric row is ``[namespace, name, dim, value, ...,
{options}]`` where ``"."`` repeats the previous row's value at that position and a leading
``"..."`` the previous row's values up to the ones given; ``{"expression": ..., "id": ...}``
rows are metric math (their inputs usually hidden, ``"visible": false``).

Where CloudWatch refuses a query (LocalStack's evaluates neither metric math, SEARCH nor
percentiles: it answers InternalError), the widget degrades instead of failing the report: a
math expression is replaced by its input metrics (shown, not evaluated: this module computes no
math), a SEARCH by the metrics ListMetrics finds for its schema and exact terms, and a metric
still refused is left out; each degradation is written under the widget's chart.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from fraudops.errors import UserError
from fraudops.paths import Layout

MAX_QUERIES = 500  # GetMetricData: at most 500 queries per call
MAX_POINTS = 1440  # per series: a longer range gets a coarser period, as the console does
MAX_ALARM_NAMES = 100  # DescribeAlarms: at most 100 names per call
DEFAULT_STAT = "Average"
DEFAULT_PERIOD = 300
DEFAULT_WIDTH = 6
# Errors that are about the caller, not the query: never hidden behind a degraded widget.
FATAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "Throttling",
        "ThrottlingException",
        "ResourceNotFound",
    }
)
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
IDENT = re.compile(r"'[^']*'|\"[^\"]*\"|[A-Za-z_][A-Za-z0-9_]*")
SEARCH_CALL = re.compile(
    r"^\s*SEARCH\(\s*'(?P<query>[^']*)'\s*,\s*'(?P<stat>[^']*)'\s*(?:,\s*(?P<period>\d+)\s*)?\)\s*$",
    re.IGNORECASE,
)
SEARCH_TERM = re.compile(r'([A-Za-z_][A-Za-z0-9_.:-]*)\s*=\s*(?:"([^"]*)"|(\S+))')


class DashboardError(UserError):
    """Something the user can fix: no dashboard, a range that does not parse."""


# --- time range -------------------------------------------------------------------------------


def parse_since(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d``, ``1w``."""
    match = SINCE.match(text)
    if not match or int(match.group(1)) == 0:
        raise DashboardError(f"not a time range: {text!r} (like 30m, 1h, 2d)")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


def format_since(since: timedelta) -> str:
    seconds = int(since.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"


def auto_period(since: timedelta) -> int:
    """The smallest period (a multiple of 60 s) that keeps a series within MAX_POINTS."""
    return max(60, math.ceil(since.total_seconds() / MAX_POINTS / 60) * 60)


# --- the body ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a metric widget: a metric or an expression."""

    id: str
    label: str
    stat: str = DEFAULT_STAT
    period: int = DEFAULT_PERIOD
    visible: bool = True
    axis: str = "left"
    color: str | None = None
    namespace: str = ""
    name: str = ""
    dims: tuple[tuple[str, str], ...] = ()
    expression: str | None = None

    @property
    def is_search(self) -> bool:
        return bool(self.expression) and SEARCH_CALL.match(self.expression or "") is not None


@dataclass(frozen=True)
class Widget:
    index: int
    kind: str  # metric | alarm | text, or another CloudWatch type (not rendered)
    title: str
    width: int = DEFAULT_WIDTH
    rows: tuple[Row, ...] = ()
    alarms: tuple[str, ...] = ()  # alarm ARNs
    markdown: str = ""
    annotations: tuple[tuple[float, str], ...] = ()  # horizontal: value, label


def _expand(items: Sequence[Any], prev: Sequence[str]) -> list[str]:
    """A row's positional values with ``.`` and ``...`` taken from the previous row."""
    if items and items[0] == "...":
        tail = [str(v) for v in items[1:]]
        if len(tail) > len(prev):
            raise DashboardError(f"'...' row {list(items)} is longer than the row before it")
        return [*prev[: len(prev) - len(tail)], *tail]
    out: list[str] = []
    for j, value in enumerate(items):
        if value == ".":
            if j >= len(prev):
                raise DashboardError(f"'.' at position {j} has no value above it: {list(items)}")
            out.append(prev[j])
        else:
            out.append(str(value))
    return out


def default_label(name: str, dims: Sequence[tuple[str, str]], stat: str) -> str:
    return " ".join([name, *(v for _, v in dims), stat])


def parse_metrics(metrics: Sequence[Sequence[Any]], stat: str, period: int) -> tuple[Row, ...]:
    """A widget's ``properties.metrics`` as rows (ids ``m<i>`` / ``e<i>`` unless given)."""
    rows: list[Row] = []
    prev: list[str] = []
    for i, raw in enumerate(metrics):
        items = list(raw)
        opts: dict[str, Any] = items.pop() if items and isinstance(items[-1], dict) else {}
        common: dict[str, Any] = {
            "stat": str(opts.get("stat", stat)),
            "period": int(opts.get("period", period)),
            "visible": bool(opts.get("visible", True)),
            "axis": "right" if opts.get("yAxis") == "right" else "left",
            "color": opts.get("color"),
        }
        if "expression" in opts:
            expression = str(opts["expression"])
            rows.append(
                Row(
                    id=str(opts.get("id") or f"e{i}"),
                    label=str(opts.get("label") or expression),
                    expression=expression,
                    **common,
                )
            )
            continue
        values = _expand(items, prev)
        if len(values) < 2 or len(values) % 2:
            raise DashboardError(f"metric row {raw!r}: namespace, name, then name/value pairs")
        prev = values
        dims = tuple(zip(values[2::2], values[3::2], strict=True))
        rows.append(
            Row(
                id=str(opts.get("id") or f"m{i}"),
                label=str(opts.get("label") or default_label(values[1], dims, common["stat"])),
                namespace=values[0],
                name=values[1],
                dims=dims,
                **common,
            )
        )
    return tuple(rows)


def parse_body(body: str | Mapping[str, Any]) -> list[Widget]:
    doc = json.loads(body) if isinstance(body, str) else body
    widgets: list[Widget] = []
    for index, raw in enumerate(doc.get("widgets", [])):
        props = raw.get("properties", {})
        kind = str(raw.get("type", "metric"))
        common: dict[str, Any] = {
            "index": index,
            "kind": kind,
            "title": str(props.get("title", "")),
            "width": int(raw.get("width", DEFAULT_WIDTH)),
        }
        if kind == "metric":
            horizontal = props.get("annotations", {}).get("horizontal", [])
            widgets.append(
                Widget(
                    rows=parse_metrics(
                        props.get("metrics", []),
                        str(props.get("stat", DEFAULT_STAT)),
                        int(props.get("period", DEFAULT_PERIOD)),
                    ),
                    annotations=tuple(
                        (float(a["value"]), str(a.get("label", "")))
                        for a in horizontal
                        if isinstance(a, dict) and "value" in a
                    ),
                    **common,
                )
            )
        elif kind == "alarm":
            widgets.append(Widget(alarms=tuple(props.get("alarms", [])), **common))
        elif kind == "text":
            widgets.append(Widget(markdown=str(props.get("markdown", "")), **common))
        else:
            widgets.append(Widget(**common))
    return widgets


# --- queries ----------------------------------------------------------------------------------


def rename_ids(expression: str, names: Mapping[str, str]) -> str:
    """The expression with its references to other rows renamed (quoted text left alone)."""
    return IDENT.sub(lambda m: names.get(m.group(0), m.group(0)), expression)


def widget_queries(widget: Widget, since: timedelta) -> list[dict[str, Any]]:
    """GetMetricData queries of one widget, ids prefixed ``w<index>_`` so that widgets can share
    a call; periods at least ``auto_period(since)``."""
    names = {row.id: f"w{widget.index}_{row.id}" for row in widget.rows}
    floor = auto_period(since)
    queries: list[dict[str, Any]] = []
    for row in widget.rows:
        query: dict[str, Any] = {"Id": names[row.id], "Label": row.label, "ReturnData": row.visible}
        if row.expression is not None:
            query["Expression"] = rename_ids(row.expression, names)
        else:
            query["MetricStat"] = {
                "Metric": {
                    "Namespace": row.namespace,
                    "MetricName": row.name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in row.dims],
                },
                "Period": max(row.period, floor),
                "Stat": row.stat,
            }
        queries.append(query)
    return queries


def batches(units: Sequence[list[dict[str, Any]]], limit: int = MAX_QUERIES) -> list[list[int]]:
    """Widgets (their query lists) packed in order into calls of at most ``limit`` queries; a
    widget's queries stay in one call (expressions refer to their inputs by id)."""
    out: list[list[int]] = []
    size = 0
    for i, unit in enumerate(units):
        if len(unit) > limit:
            raise DashboardError(f"a widget with {len(unit)} metrics (at most {limit})")
        if not out or size + len(unit) > limit:
            out.append([])
            size = 0
        out[-1].append(i)
        size += len(unit)
    return out


def references(expression: str) -> set[str]:
    return {t for t in IDENT.findall(expression) if t[0] not in "'\""}


@dataclass(frozen=True)
class Search:
    """A SEARCH expression in the form this module can resolve with ListMetrics: a metric schema
    ``{namespace,dim,...}`` and exact ``key="value"`` terms."""

    namespace: str
    dims: tuple[str, ...]
    metric_name: str | None
    terms: tuple[tuple[str, str], ...]
    stat: str
    period: int | None


def parse_search(expression: str) -> Search | None:
    match = SEARCH_CALL.match(expression)
    if not match:
        return None
    query = match.group("query").strip()
    schema = re.match(r"^\{([^}]*)\}\s*", query)
    if not schema:
        return None
    namespace, *dims = (p.strip().strip('"') for p in schema.group(1).split(","))
    rest = query[schema.end() :]
    terms: dict[str, str] = {}
    for term in SEARCH_TERM.finditer(rest):
        terms[term.group(1)] = term.group(2) if term.group(2) is not None else term.group(3)
    if SEARCH_TERM.sub("", rest).strip():  # partial-match words, booleans: not resolvable here
        return None
    period = match.group("period")
    return Search(
        namespace=namespace,
        dims=tuple(dims),
        metric_name=terms.pop("MetricName", None),
        terms=tuple(sorted(terms.items())),
        stat=match.group("stat"),
        period=int(period) if period else None,
    )


def degrade(
    queries: Sequence[dict[str, Any]],
    expand: Callable[[Search], list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Expression-free queries for a CloudWatch without metric math or SEARCH: each math
    expression's inputs shown in its place, each SEARCH resolved by ``expand``; and notes."""
    by_id = {q["Id"]: q for q in queries}
    shown: set[str] = set()
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    for q in queries:
        if "Expression" not in q:
            continue
        if (search := parse_search(q["Expression"])) is not None:
            found = expand(search)
            for n, metric in enumerate(found):
                out.append({**metric, "Id": f"{q['Id']}_s{n}"})
            notes.append(
                f"{q['Label'] or 'SEARCH'}: SEARCH not evaluated by this CloudWatch; the "
                f"{len(found)} metrics ListMetrics finds for it are shown"
            )
            continue
        inputs = [i for i in sorted(references(q["Expression"])) if i in by_id]
        shown.update(inputs)
        notes.append(
            f"{q['Label']}: metric math not evaluated by this CloudWatch; its inputs are shown"
        )
    for q in queries:
        if "MetricStat" in q:
            out.append({**q, "ReturnData": q["ReturnData"] or q["Id"] in shown})
    return out, notes


# --- results ----------------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    points: list[tuple[datetime, float]]
    axis: str = "left"
    color: str | None = None


@dataclass
class WidgetData:
    series: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(len(s.points) for s in self.series)


def to_series(
    queries: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]], rows: Mapping[str, Row]
) -> list[Series]:
    """Results of the queries that return data (CloudWatch may answer for hidden ones too:
    LocalStack does), one series per result (a SEARCH gives several under one id)."""
    wanted = {q["Id"]: q for q in queries if q.get("ReturnData", True)}
    out: list[Series] = []
    for result in results:
        query = wanted.get(result["Id"])
        if query is None:
            continue
        row = rows.get(result["Id"]) or rows.get(result["Id"].rsplit("_s", 1)[0])
        several = sum(r["Id"] == result["Id"] for r in results) > 1
        label = (result.get("Label") or query["Label"]) if several else query["Label"]
        points = sorted(zip(result["Timestamps"], result["Values"], strict=True))
        out.append(
            Series(
                label=str(label),
                points=[(t, float(v)) for t, v in points if math.isfinite(float(v))],
                axis=row.axis if row else "left",
                color=row.color if row else None,
            )
        )
    return out


# --- CloudWatch calls -------------------------------------------------------------------------


def get_metric_data(
    cloudwatch: Any, queries: Sequence[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """All pages, values merged per (id, label)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": list(queries),
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = cloudwatch.get_metric_data(**kwargs)
        for r in page["MetricDataResults"]:
            key = (r["Id"], r.get("Label", ""))
            slot = merged.setdefault(
                key, {"Id": r["Id"], "Label": key[1], "Timestamps": [], "Values": []}
            )
            slot["Timestamps"].extend(r.get("Timestamps", []))
            slot["Values"].extend(r.get("Values", []))
        if not page.get("NextToken"):
            return list(merged.values())
        kwargs["NextToken"] = page["NextToken"]


def _refused(exc: ClientError) -> bool:
    """CloudWatch refused the queries themselves (not the caller)."""
    return exc.response.get("Error", {}).get("Code", "") not in FATAL_CODES


def _describe(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip()


def list_search(cloudwatch: Any, search: Search, floor: int) -> list[dict[str, Any]]:
    """The metrics a SEARCH would find (its schema's exact dimension set and its exact terms),
    as metric queries labelled by the dimensions the search leaves open."""
    kwargs: dict[str, Any] = {
        "Namespace": search.namespace,
        "Dimensions": [{"Name": k, "Value": v} for k, v in search.terms],
    }
    if search.metric_name:
        kwargs["MetricName"] = search.metric_name
    found: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("list_metrics").paginate(**kwargs):
        found.extend(page["Metrics"])
    fixed = dict(search.terms)
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for metric in found:
        dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
        key = (metric["MetricName"], dims)
        if key in seen or (search.dims and {k for k, _ in dims} != set(search.dims)):
            continue
        seen.add(key)
        label = " ".join(v for k, v in dims if k not in fixed) or metric["MetricName"]
        out.append(
            {
                "Label": label,
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": metric["Namespace"],
                        "MetricName": metric["MetricName"],
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    },
                    "Period": max(search.period or DEFAULT_PERIOD, floor),
                    "Stat": search.stat,
                },
            }
        )
    return sorted(out, key=lambda q: str(q["Label"]))[:MAX_QUERIES]


class Fetcher:
    """GetMetricData over widgets, learning what this CloudWatch refuses: after one refused math
    or SEARCH expression every expression widget is degraded (``degrade``) without asking again,
    and after one refused statistic (LocalStack: any percentile) every query of that statistic
    is left out with a note. A refused call costs a round trip and its retries; the learning
    keeps the count of refused calls to a few per kind instead of a few per widget."""

    def __init__(self, cloudwatch: Any, start: datetime, end: datetime) -> None:
        self.cloudwatch = cloudwatch
        self.start, self.end = start, end
        self.floor = auto_period(end - start)
        self.math_refused: str | None = None  # the error, once an expression was refused
        self.refused_stats: dict[str, str] = {}  # statistic -> the error

    def call(self, queries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return get_metric_data(self.cloudwatch, queries, self.start, self.end)

    def _known_refused(self, query: dict[str, Any]) -> str | None:
        stat = query.get("MetricStat", {}).get("Stat")
        return self.refused_stats.get(stat) if stat else None

    def split(
        self, queries: list[dict[str, Any]], notes: list[str], *, refused: bool = False
    ) -> list[dict[str, Any]]:
        """Independent queries: halves until a refused one is alone; its statistic is learnt.
        ``refused``: these very queries were just refused (no need to ask again)."""
        kept = []
        for q in queries:
            if (why := self._known_refused(q)) is not None:
                notes.append(f"{q['Label']}: refused by this CloudWatch ({why})")
            else:
                kept.append(q)
        if not kept:
            return []
        if not (refused and len(kept) == len(queries) > 1):
            try:
                return self.call(kept)
            except ClientError as exc:
                if not _refused(exc):
                    raise
                if len(kept) == 1:
                    why = _describe(exc)
                    if stat := kept[0].get("MetricStat", {}).get("Stat"):
                        self.refused_stats[stat] = why
                    notes.append(f"{kept[0]['Label']}: refused by this CloudWatch ({why})")
                    return []
        half = len(kept) // 2
        first = self.split(kept[:half], notes)
        return [*first, *self.split(kept[half:], notes)]

    def widget(self, queries: list[dict[str, Any]], rows: Mapping[str, Row]) -> WidgetData:
        """One widget alone: as it is, else degraded and split."""
        has_math = any("Expression" in q for q in queries)
        blocked = any(self._known_refused(q) for q in queries)
        if not blocked and not (has_math and self.math_refused):
            try:
                return WidgetData(to_series(queries, self.call(queries), rows))
            except ClientError as exc:
                if not _refused(exc):
                    raise
                why = _describe(exc)
        else:
            why = self.math_refused or ""
        plain, notes = degrade(queries, lambda s: list_search(self.cloudwatch, s, self.floor))
        # no expression is left to read a hidden metric: only the shown ones are asked for
        shown = [q for q in plain if q["ReturnData"]]
        learnt = len(self.refused_stats)
        results = self.split(shown, notes, refused=not has_math and why != "")
        if has_math and results and len(self.refused_stats) == learnt:
            self.math_refused = why  # the same metrics, no statistic refused: math was
        return WidgetData(to_series(shown, results, rows), notes)


def fetch(
    cloudwatch: Any,
    widgets: Sequence[Widget],
    start: datetime,
    end: datetime,
) -> dict[int, WidgetData]:
    """Every metric widget's series, in calls of at most MAX_QUERIES queries; a refused call is
    retried widget by widget (``Fetcher``)."""
    fetcher = Fetcher(cloudwatch, start, end)
    charts = [w for w in widgets if w.kind == "metric"]
    units = [widget_queries(w, end - start) for w in charts]
    rows = [{f"w{w.index}_{r.id}": r for r in w.rows} for w in charts]
    data: dict[int, WidgetData] = {}
    for batch in batches(units):
        try:
            results = fetcher.call([q for i in batch for q in units[i]])
        except ClientError as exc:
            if not _refused(exc):
                raise
            for i in batch:
                data[charts[i].index] = fetcher.widget(units[i], rows[i])
            continue
        for i in batch:
            data[charts[i].index] = WidgetData(to_series(units[i], results, rows[i]))
    return data


def alarm_name(arn: str) -> str:
    return arn.split(":alarm:", 1)[1] if ":alarm:" in arn else arn


def alarm_states(cloudwatch: Any, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """State, reason and time of each named alarm (metric and composite), by name."""
    names = sorted({alarm_name(a) for a in arns})
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(names), MAX_ALARM_NAMES):
        kwargs: dict[str, Any] = {
            "AlarmNames": names[i : i + MAX_ALARM_NAMES],
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        }
        while True:
            page = cloudwatch.describe_alarms(**kwargs)
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                out[alarm["AlarmName"]] = {
                    "state": alarm.get("StateValue", "UNKNOWN"),
                    "reason": alarm.get("StateReason", ""),
                    "updated": alarm.get("StateUpdatedTimestamp"),
                }
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return out


# --- SVG and HTML -----------------------------------------------------------------------------

W, H = 640, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 58, 16, 12, 28


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float) -> str:
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.2g}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _color(series: Series, n: int) -> str:
    color = series.color or PALETTE[n % len(PALETTE)]
    return color if re.fullmatch(r"#[0-9a-fA-F]{3,8}", color) else PALETTE[n % len(PALETTE)]


def render_svg(
    series: Sequence[Series],
    start: datetime,
    end: datetime,
    annotations: Sequence[tuple[float, str]] = (),
    width: int = W,
) -> str | None:
    """A line chart: time axis, a value axis per side in use, one polyline per series (a dot
    on each point when there are few), horizontal annotations in range. None: nothing to draw."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return None
    right = [s for s in drawn if s.axis == "right"]
    pad_right = PAD_LEFT if right else PAD_RIGHT
    x0, x1 = PAD_LEFT, width - pad_right
    y0, y1 = H - PAD_BOTTOM, PAD_TOP
    t0, t1 = start.timestamp(), end.timestamp()
    span = max(t1 - t0, 1.0)

    def x(t: datetime) -> float:
        return x0 + (x1 - x0) * (t.timestamp() - t0) / span

    def scale(side: list[Series]) -> tuple[list[float], Callable[[float], float]]:
        values = [v for s in side for _, v in s.points]
        low, high = min(0.0, min(values)), max(values)
        ticks = nice_ticks(low, high if high > low else low + 1.0)
        lo, hi = ticks[0], ticks[-1]
        return ticks, lambda v: y0 - (y0 - y1) * (v - lo) / (hi - lo)

    left = [s for s in drawn if s.axis != "right"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {H}" class="chart" '
        f'role="img" preserveAspectRatio="none">',
        f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" class="plot"/>',
    ]
    scales: dict[str, Callable[[float], float]] = {}
    for side, items in (("left", left), ("right", right)):
        if not items:
            continue
        ticks, y = scale(items)
        scales[side] = y
        lx = x0 - 6 if side == "left" else x1 + 6
        anchor = "end" if side == "left" else "start"
        parts.append(f'<g class="axis axis-{side}">')
        for tick in ticks:
            ty = y(tick)
            if side == "left":
                parts.append(
                    f'<line x1="{x0}" x2="{x1}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>'
                )
            parts.append(
                f'<text x="{lx}" y="{ty + 4:.1f}" text-anchor="{anchor}">{_esc(_fmt(tick))}</text>'
            )
        parts.append("</g>")
    long_range = span > 86_400
    parts.append('<g class="axis axis-time">')
    for n in range(5):
        t = t0 + span * n / 4
        when = datetime.fromtimestamp(t, UTC)
        label = when.strftime("%m-%d %H:%M" if long_range else "%H:%M")
        tx = x0 + (x1 - x0) * n / 4
        anchor = ("start", "middle", "middle", "middle", "end")[n]
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y0}" y2="{y0 + 4}" class="tick"/>')
        parts.append(f'<text x="{tx:.1f}" y="{H - 8}" text-anchor="{anchor}">{label}</text>')
    parts.append("</g>")
    y_left = scales.get("left") or scales["right"]
    for value, label in annotations:
        ay = y_left(value)
        if y1 <= ay <= y0:
            parts.append(
                f'<line x1="{x0}" x2="{x1}" y1="{ay:.1f}" y2="{ay:.1f}" class="annotation"/>'
                f'<text x="{x1 - 4}" y="{ay - 4:.1f}" text-anchor="end" class="annotation">'
                f"{_esc(label)} {_esc(_fmt(value))}</text>"
            )
    for n, s in enumerate(series):
        if not s.points:
            continue
        y = scales["right" if s.axis == "right" else "left"]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s.points)
        color = _color(s, n)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.6" '
            f'data-label="{_esc(s.label)}" data-points="{len(s.points)}"><title>'
            f"{_esc(s.label)}</title></polyline>"
        )
        if len(s.points) <= 60:
            parts.extend(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2" fill="{color}"/>'
                for t, v in s.points
            )
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{_color(s, n)}"></span>{_esc(s.label)}'
        f'{" (right)" if s.axis == "right" else ""} <span class="count">'
        f"{len(s.points)} pts</span></li>"
        for n, s in enumerate(series)
    )
    return f'<ul class="legend">{items}</ul>'


def _markdown(text: str) -> str:
    """Headings and paragraphs (the dashboard's text widgets are headings), escaped."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        level = len(stripped) - len(stripped.lstrip("#"))
        if 0 < level <= 6:
            out.append(f"<h{level + 1}>{_esc(stripped[level:].strip())}</h{level + 1}>")
        else:
            out.append(f"<p>{_esc(stripped)}</p>")
    return "".join(out)


def _span(width: int) -> str:
    return f"grid-column: span {max(1, min(24, width))}"


def render_widget(
    widget: Widget,
    data: WidgetData | None,
    states: Mapping[str, Mapping[str, Any]],
    start: datetime,
    end: datetime,
) -> str:
    title = f"<h2>{_esc(widget.title)}</h2>" if widget.title else ""
    if widget.kind == "metric":
        data = data or WidgetData()
        px = max(W // 2, W * widget.width // 12)  # text keeps its size at any width
        svg = render_svg(data.series, start, end, widget.annotations, px)
        body = (
            f"{svg}{_legend([s for s in data.series if s.points])}"
            if svg
            else '<p class="nodata">no data in range</p>'
        )
        notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in data.notes)
        drawn = [s for s in data.series if s.points]
        return (
            f'<section class="widget metric" data-widget="metric" '
            f'data-title="{_esc(widget.title)}" data-series="{len(drawn)}" '
            f'data-points="{data.points}" style="{_span(widget.width)}">'
            f"{title}{body}{notes}</section>"
        )
    if widget.kind == "alarm":
        rows = []
        for arn in widget.alarms:
            name = alarm_name(arn)
            state = states.get(name)
            value = state["state"] if state else "NOT FOUND"
            updated = state.get("updated") if state else None
            when = (
                updated.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(updated, datetime) else ""
            )
            reason = state.get("reason", "") if state else ""
            rows.append(
                f'<tr class="state-{_esc(value.lower().replace(" ", "_"))}"><td>{_esc(name)}</td>'
                f"<td>{_esc(value)}</td><td>{_esc(when)}</td><td>{_esc(reason)}</td></tr>"
            )
        return (
            f'<section class="widget alarms" data-widget="alarm" data-alarms="{len(rows)}" '
            f'style="{_span(widget.width)}">{title}<table><thead><tr><th>alarm</th><th>state</th>'
            f"<th>since</th><th>reason</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</section>"
        )
    if widget.kind == "text":
        return (
            f'<section class="widget text" data-widget="text" style="{_span(widget.width)}">'
            f"{_markdown(widget.markdown)}</section>"
        )
    return (
        f'<section class="widget other" data-widget="{_esc(widget.kind)}" '
        f'style="{_span(widget.width)}">{title}<p class="nodata">a {_esc(widget.kind)} widget: '
        "not rendered here</p></section>"
    )


CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:16px;background:#f4f5f7;color:#16191f}
header h1{font-size:20px;margin:0 0 4px}header p{margin:0 0 12px;color:#545b64}
.grid{display:grid;grid-template-columns:repeat(24,1fr);gap:10px}
.widget{background:#fff;border:1px solid #d5dbdb;border-radius:4px;padding:8px;min-width:0}
.widget h2{font-size:14px;margin:0 0 6px}.widget.text{background:none;border:none;padding:0}
.widget.text h2,.widget.text h3{font-size:16px;margin:8px 0 0}
.chart{width:100%;height:auto;display:block}.chart .plot{fill:#fff;stroke:#d5dbdb}
.chart text{font-size:10px;fill:#545b64}.chart .grid{stroke:#eaeded}.chart .tick{stroke:#879596}
.chart line.annotation{stroke:#d13212;stroke-dasharray:4 3}.chart text.annotation{fill:#d13212}
.legend{list-style:none;margin:4px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:2px 12px}
.legend li{font-size:11px}.legend .count{color:#879596}
.swatch{display:inline-block;width:10px;height:3px;margin:0 4px 3px 0;vertical-align:middle}
.nodata{color:#879596;text-align:center;padding:40px 0;margin:0}
.note{color:#8a6d3b;font-size:11px;margin:4px 0 0}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:2px 6px;font-size:12px}
tr.state-alarm td:nth-child(2){color:#d13212;font-weight:600}
tr.state-ok td:nth-child(2){color:#1d8102}tr.state-insufficient_data td:nth-child(2){color:#879596}
"""


def render_html(
    name: str,
    widgets: Sequence[Widget],
    data: Mapping[int, WidgetData],
    states: Mapping[str, Mapping[str, Any]],
    start: datetime,
    end: datetime,
) -> str:
    stamp = "%Y-%m-%d %H:%M UTC"
    since = format_since(end - start)
    sections = "".join(render_widget(w, data.get(w.index), states, start, end) for w in widgets)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_esc(name)}: last {since}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{_esc(name)}</h1><p class="range" data-start="{start.isoformat()}" '
        f'data-end="{end.isoformat()}">{start.strftime(stamp)} to {end.strftime(stamp)} '
        f"(last {since})</p></header>"
        f'<main class="grid">{sections}</main></body></html>\n'
    )


def summary(
    out: Path,
    widgets: Sequence[Widget],
    data: Mapping[int, WidgetData],
) -> dict[str, Any]:
    charts = [data.get(w.index, WidgetData()) for w in widgets if w.kind == "metric"]
    return {
        "path": str(out),
        "widgets": len(widgets),
        "metric_widgets": len(charts),
        "widgets_with_data": sum(1 for d in charts if d.points),
        "series": sum(1 for d in charts for s in d.series if s.points),
        "points": sum(d.points for d in charts),
    }


# --- the command ------------------------------------------------------------------------------


def dashboard_name(layout: Layout) -> str:
    """The deployed stack's dashboard (its output)."""
    from fraudops import deploy
    from infra.constants import OUT_DASHBOARD_NAME

    return deploy.outputs(layout, OUT_DASHBOARD_NAME)[OUT_DASHBOARD_NAME]


def cloudwatch_client(layout: Layout) -> Any:
    """``clients.client``'s CloudWatch client with one retry, not four: a query CloudWatch
    refuses (LocalStack: InternalError on math and percentiles) is refused again, and the
    default backoff would spend seconds on each before the widget degrades."""
    from botocore.config import Config

    from fraudops.clients import client

    return client(
        layout, "cloudwatch", config=Config(retries={"mode": "standard", "max_attempts": 2})
    )


def render(
    layout: Layout,
    out: Path,
    since: timedelta,
    *,
    name: str | None = None,
    now: datetime | None = None,
    cloudwatch: Any = None,
) -> dict[str, Any]:
    """Write the dashboard (the deployed stack's unless ``name``) over the last ``since`` to
    ``out``; the summary: path, widgets, metric_widgets, widgets_with_data, series, points."""
    cloudwatch = cloudwatch or cloudwatch_client(layout)
    name = name or dashboard_name(layout)
    try:
        body = cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]
    except ClientError as exc:
        raise DashboardError(f"no dashboard {name!r}: {_describe(exc)}") from exc
    widgets = parse_body(body)
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    start = end - since
    data = fetch(cloudwatch, widgets, start, end)
    states = alarm_states(cloudwatch, [a for w in widgets for a in w.alarms])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(name, widgets, data, states, start, end), encoding="utf-8")
    return {
        "dashboard": name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        **summary(out, widgets, data),
    }
