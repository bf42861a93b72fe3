"""EMF lines printed by a function become PutMetricData requests (the host executor's bridge)."""

from __future__ import annotations

import json

from fraudops_emulator.emf import parse


def test_a_powertools_emf_line_becomes_metric_data() -> None:
    # Given what Powertools prints for two metrics with a service and a contract dimension
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1795000000000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "FraudOps",
                        "Dimensions": [["service", "contract"]],
                        "Metrics": [
                            {"Name": "RecordsIn", "Unit": "Count"},
                            {"Name": "FreshnessLagSeconds", "Unit": "Seconds"},
                        ],
                    }
                ],
            },
            "service": "ingest_batch",
            "contract": "transactions",
            "RecordsIn": [400.0],
            "FreshnessLagSeconds": 12.5,
        }
    ).encode()
    # When parsed
    data = parse(line)
    # Then each metric carries its dimensions, values, unit and timestamp
    records_in, lag = data["FraudOps"]
    assert records_in["MetricName"] == "RecordsIn" and records_in["Values"] == [400.0]
    assert records_in["Dimensions"] == [
        {"Name": "service", "Value": "ingest_batch"},
        {"Name": "contract", "Value": "transactions"},
    ]
    assert lag["Unit"] == "Seconds" and lag["Values"] == [12.5]
    assert records_in["Timestamp"].year == 2026


def test_other_lines_are_ignored() -> None:
    assert parse(b"START RequestId: 1 Version: $LATEST") == {}
    assert parse(b'{"_aws": not json') == {}
    assert parse(b'{"_aws": {"no": "directives"}}') == {}
