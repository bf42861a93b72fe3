"""The decisions stream in the template: encrypted like the other streams, read by the stream
function through a mapping of the same settings as the transaction stream's, named in
STREAM_CONTRACTS (the stream function's and the dead-letter function's), published as outputs,
and watched by the stream alarms (they are per function, so they cover its mapping too)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from fraudops_shared.contracts import load_contract
from fraudops_shared.runtime import settings
from infra import constants as c
from tests.infra.synth_support import our_functions, resources

STREAM_NAME = "deployed-decisions-stream-name"  # what {"Ref": <stream>} resolves to on deploy


def _stream_id(template: Template, name: str) -> str:
    [lid] = [k for k in resources(template, "AWS::Kinesis::Stream") if name in k]
    return lid


def _kinesis_mappings(template: Template) -> dict[str, dict[str, Any]]:
    """Each Kinesis event source mapping's properties, by the logical id of its stream."""
    out = {}
    for esm in resources(template, "AWS::Lambda::EventSourceMapping").values():
        props = esm["Properties"]
        source = props["EventSourceArn"].get("Fn::GetAtt", [""])[0]
        if source in resources(template, "AWS::Kinesis::Stream"):
            out[source] = props
    return out


def _render(value: Any, refs: dict[str, str]) -> Any:
    """A template value as deployed: Fn::Join joined, {"Ref": id} replaced by refs[id]."""
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(str(_render(p, refs)) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return refs[value["Ref"]]
    return value


def test_the_decisions_stream_is_encrypted_provisioned_and_retained_as_the_others(
    template: Template,
) -> None:
    streams = resources(template, "AWS::Kinesis::Stream")
    props = streams[_stream_id(template, "DecisionsStream")]["Properties"]
    transactions = streams[_stream_id(template, "TransactionStream")]["Properties"]
    assert props == {
        "ShardCount": c.DECISIONS_STREAM_SHARD_COUNT,
        "RetentionPeriodHours": c.DECISIONS_STREAM_RETENTION_HOURS,
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
    }
    assert props["RetentionPeriodHours"] == transactions["RetentionPeriodHours"]
    assert props["StreamEncryption"] == transactions["StreamEncryption"]


def test_the_stream_function_maps_the_decisions_stream_as_it_maps_the_transaction_stream(
    template: Template,
) -> None:
    decisions, transactions = (
        _stream_id(template, "DecisionsStream"),
        _stream_id(template, "TransactionStream"),
    )
    feed = _stream_id(template, "ScoringFeed")
    mappings = _kinesis_mappings(template)
    functions = our_functions(template)
    stream_fn = next(k for k in functions if k.startswith("IngestionIngestStream"))
    score_fn = next(k for k in functions if k.startswith("ScoringScoreStream"))
    # Then the stream function maps exactly the two ingested streams, and the feed is mapped to
    # the scorer alone (its mapping's settings: test_scoring_infra)
    assert {stream: m["FunctionName"] for stream, m in mappings.items()} == {
        decisions: {"Ref": stream_fn},
        transactions: {"Ref": stream_fn},
        feed: {"Ref": score_fn},
    }
    dlq_id = next(k for k in resources(template, "AWS::SQS::Queue") if "StreamDLQ" in k)
    props = mappings[decisions]
    # And the decisions mapping feeds the stream function, with partial batch responses,
    # bisection, bounded retries and age, the batch size, and failures to the stream DLQ
    assert props["FunctionName"] == {"Ref": stream_fn}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == c.STREAM_RETRY_ATTEMPTS
    assert props["MaximumRecordAgeInSeconds"] == c.STREAM_MAX_RECORD_AGE_SECONDS
    assert props["BatchSize"] == c.STREAM_BATCH_SIZE
    assert props["ParallelizationFactor"] == c.STREAM_PARALLELIZATION_FACTOR == 1
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    }
    # And in every setting the same as the transaction stream's mapping
    assert {k: v for k, v in props.items() if k != "EventSourceArn"} == {
        k: v for k, v in mappings[transactions].items() if k != "EventSourceArn"
    }


def test_stream_contracts_names_the_decisions_stream_for_both_stream_consumers(
    template: Template,
) -> None:
    decisions = _stream_id(template, "DecisionsStream")
    consumers = ("IngestionIngestStream", "IngestionDeadLetterAccounting")
    for lid, fn in our_functions(template).items():
        env = fn["Properties"]["Environment"]["Variables"]
        if not lid.startswith(consumers):
            assert settings.STREAM_CONTRACTS_ENV not in env, lid
            continue
        # Then STREAM_CONTRACTS, as deployed, maps the decisions stream's name to decisions
        # (the transaction stream is not in it: it carries STREAM_CONTRACT)
        rendered = _render(env[settings.STREAM_CONTRACTS_ENV], {decisions: STREAM_NAME})
        assert json.loads(rendered) == {STREAM_NAME: settings.DECISIONS_CONTRACT}, lid
        assert env[settings.STREAM_CONTRACT_ENV] == settings.DEFAULT_STREAM_CONTRACT, lid
    assert load_contract(c.DECISIONS_CONTRACT).name == settings.DECISIONS_CONTRACT


def test_the_decisions_stream_is_an_output(template: Template) -> None:
    decisions = _stream_id(template, "DecisionsStream")
    outputs = template.find_outputs("*")
    assert c.OUT_DECISIONS_STREAM_NAME == "DecisionsStreamName"
    assert c.OUT_DECISIONS_STREAM_ARN == "DecisionsStreamArn"
    assert outputs[c.OUT_DECISIONS_STREAM_NAME]["Value"] == {"Ref": decisions}
    assert outputs[c.OUT_DECISIONS_STREAM_ARN]["Value"] == {"Fn::GetAtt": [decisions, "Arn"]}


def test_the_stream_alarms_are_per_function_so_they_watch_the_decisions_mapping_too(
    template: Template,
) -> None:
    alarms = {
        a["Properties"]["AlarmName"].removeprefix(f"{c.STACK_NAME}-"): a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == c.METRIC_RECORD_AGE
    }
    # Then two lag alarms: stream ingestion's and the scorer's (of the feed)
    assert set(alarms) == {c.ALARM_ITERATOR_AGE, c.ALARM_SCORING_ITERATOR_AGE}
    # each on the age its function publishes (the service dimension only, no stream or mapping):
    # the stream function's covers both its mappings, the transactions' and the decisions'
    dims = {name: props["Dimensions"] for name, props in alarms.items()}
    assert dims == {
        c.ALARM_ITERATOR_AGE: [{"Name": c.METRIC_DIM_SERVICE, "Value": c.FN_INGEST_STREAM}],
        c.ALARM_SCORING_ITERATOR_AGE: [{"Name": c.METRIC_DIM_SERVICE, "Value": c.FN_SCORE_STREAM}],
    }
    # RecordsExpired: each dead-letter function's (ingestion's, whatever the contract, and
    # scoring's), one simple alarm each (LocalStack evaluates no metric math)
    expired = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if f"-{c.ALARM_EXPIRED_RECORDS}-" in a["Properties"]["AlarmName"]
    ]
    services = {a["Dimensions"][0]["Value"] for a in expired}
    assert services == {c.FN_DLQ_ACCOUNTING, c.FN_SCORE_DEAD_LETTERS}
    assert all(a["MetricName"] == "RecordsExpired" and a["Statistic"] == "Sum" for a in expired)
