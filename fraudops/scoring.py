"""`fraudops score`, `fraudops decisions` and `fraudops models compare`: the scoring API called
the way any client must call it (SigV4-signed, service ``lambda``), the decisions table read,
and the shadow compared with the champion over the decisions made so far.

A function URL's host name (``<id>.lambda-url.<region>.localhost``) does not resolve offline, so
on LocalStack the request goes to the gateway with that host name in the signed ``Host`` header,
which is what a resolver would have done; on AWS it goes to the URL itself.
"""

from __future__ import annotations

import errno
import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fraudops import clients, deploy
from fraudops.clients import REGION, client
from fraudops.paths import Layout


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _output(layout: Layout, name: str) -> str:
    return deploy.outputs(layout, name)[name]


def read_body(arg: str) -> bytes:
    """The transaction: inline JSON, or ``@path`` to a file of it."""
    if arg.startswith("@"):
        path = Path(arg[1:])
        if not path.is_file():
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
        return path.read_bytes()
    return arg.encode("utf-8")


def signed_headers(
    url: str, body: bytes, credentials: Credentials, region: str = REGION
) -> dict[str, str]:
    """The SigV4 headers of a POST of ``body`` to a function URL (service ``lambda``)."""
    host = urlsplit(url).netloc
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Host": host, "content-type": "application/json"},
    )
    SigV4Auth(credentials, "lambda", region).add_auth(request)
    return dict(request.headers.items())


def call_api(layout: Layout, body: bytes, *, url: str | None = None, timeout: float = 30) -> Answer:
    """POST one transaction to the scoring API, signed with the layout's credentials (the
    local test ones on LocalStack)."""
    url = url or _output(layout, "ScoringApiUrl")
    headers = signed_headers(url, body, clients.credentials(layout), clients.region(layout))
    path = urlsplit(url).path or "/"
    target = f"{layout.endpoint}{path}" if ".localhost" in urlsplit(url).netloc else url
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Answer(resp.status, json.loads(resp.read() or b"{}"))
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            doc = {"error": {"code": "http", "message": raw.decode("utf-8", "replace")[:500]}}
        return Answer(err.code, doc if isinstance(doc, dict) else {"error": doc})


def decision(layout: Layout, transaction_id: str) -> dict[str, Any] | None:
    table = _output(layout, "DecisionsTableName")
    item = (
        client(layout, "dynamodb")
        .get_item(
            TableName=table, Key={"transaction_id": {"S": transaction_id}}, ConsistentRead=True
        )
        .get("Item")
    )
    return json.loads(item["doc"]["S"]) if item else None


def decisions_by_id(ddb: Any, table: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The decisions of ``ids`` that are in the decisions table (BatchGetItem, consistent
    reads, unprocessed keys retried)."""
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), 100):
        keys = [{"transaction_id": {"S": t}} for t in ids[i : i + 100]]
        request: Any = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            resp = ddb.batch_get_item(RequestItems=request)
            for item in resp["Responses"].get(table, []):
                found[item["transaction_id"]["S"]] = json.loads(item["doc"]["S"])
            request = resp.get("UnprocessedKeys") or {}
    return found


def all_decisions(layout: Layout) -> list[dict[str, Any]]:
    """Every decision in the table (a scan: for a demo or a test; analyses read the decisions
    zone, curated/decisions/, instead)."""
    table = _output(layout, "DecisionsTableName")
    out: list[dict[str, Any]] = []
    for page in client(layout, "dynamodb").get_paginator("scan").paginate(TableName=table):
        out += [json.loads(i["doc"]["S"]) for i in page.get("Items", [])]
    return sorted(out, key=lambda d: (str(d.get("decided_at")), str(d["transaction_id"])))


def compare(decisions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The shadow against the champion over the decisions that carry a shadow score: outcome
    agreement, score correlation (Pearson), alert rates and their difference."""
    pairs = [d for d in decisions if d.get("shadow_score") is not None]
    if not pairs:
        return {"decisions": 0, "message": "no decision carries a shadow score yet"}
    champion = [float(d["score"]) for d in pairs]
    shadow = [float(d["shadow_score"]) for d in pairs]
    agree = sum(d["outcome"] == d.get("shadow_outcome") for d in pairs) / len(pairs)
    alert = sum(d["outcome"] != "approve" for d in pairs) / len(pairs)
    shadow_alert = sum(d.get("shadow_outcome") != "approve" for d in pairs) / len(pairs)
    return {
        "decisions": len(pairs),
        "champion": sorted({str(d["model_id"]) for d in pairs}),
        "shadow": sorted({str(d["shadow_model_id"]) for d in pairs}),
        "outcome_agreement": round(agree, 4),
        "score_correlation": _pearson(champion, shadow),
        "alert_rate_champion": round(alert, 4),
        "alert_rate_shadow": round(shadow_alert, 4),
        "alert_rate_difference": round(shadow_alert - alert, 4),
    }


def _pearson(a: Sequence[float], b: Sequence[float]) -> float | None:
    n = len(a)
    if n < 2:
        return None
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return None
    return round(cov / math.sqrt(va * vb), 4)


def decision_line(d: Mapping[str, Any]) -> str:
    reasons = ", ".join(f"{r['feature']} {r['contribution']:+.3f}" for r in d.get("reasons", []))
    shadow = (
        f"; shadow {d['shadow_model_id']} {d['shadow_score']:.4f} {d['shadow_outcome']}"
        if d.get("shadow_score") is not None
        else ""
    )
    return (
        f"{d['transaction_id']}: {d['outcome'].upper()} score {d['score']:.4f} "
        f"({d['model_id']}, review >= {d['review_threshold']:.4f}) [{d['source']}] "
        f"reasons: {reasons}{shadow}"
    )
