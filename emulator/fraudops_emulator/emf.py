"""CloudWatch embedded metric format (EMF) to PutMetricData, pure Python.

On AWS, CloudWatch Logs turns EMF lines a function prints into metrics. LocalStack community
does not, so metrics written with Powertools never reach CloudWatch and alarms on them can never
fire locally. The host executor sees every line a function prints; for each EMF document it
publishes the same metrics with PutMetricData.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

EMF_PREFIX = b'{"_aws"'
MAX_VALUES = 150  # PutMetricData accepts up to 150 values per datum


def parse(line: bytes) -> dict[str, list[dict[str, Any]]]:
    """``{namespace: [MetricDatum, ...]}`` for one printed line; {} when it is not EMF."""
    if not line.lstrip().startswith(EMF_PREFIX):
        return {}
    try:
        doc = json.loads(line)
        meta = doc["_aws"]
        directives = meta["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return {}
    stamp = meta.get("Timestamp")
    when = datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int | float) else None
    out: dict[str, list[dict[str, Any]]] = {}
    for directive in directives:
        namespace = directive.get("Namespace")
        if not namespace:
            continue
        for dimension_set in directive.get("Dimensions") or [[]]:
            dims = [
                {"Name": name, "Value": str(doc[name])} for name in dimension_set if name in doc
            ]
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                raw = doc.get(name)
                values = raw if isinstance(raw, list) else [raw]
                numbers = [float(v) for v in values if isinstance(v, int | float)]
                if not name or not numbers:
                    continue
                datum: dict[str, Any] = {
                    "MetricName": name,
                    "Dimensions": dims,
                    "Values": numbers[:MAX_VALUES],
                    "Unit": metric.get("Unit") or "None",
                }
                if when:
                    datum["Timestamp"] = when
                out.setdefault(namespace, []).append(datum)
    return out
