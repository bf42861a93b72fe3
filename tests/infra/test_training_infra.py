"""Training infrastructure: the state machine (the ASL file with its substitutions, retries and
catches, a role that may invoke the four functions and announce, nothing else), the model events
(rule and queue), the functions' settings, and the ml and onnx layers working on their own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from fraudops_shared.runtime import settings
from infra import constants as c
from infra import provenance
from tests.infra.synth_support import our_functions, resources, state_machine, state_table_id

# ASL placeholder -> construct id of the function whose ARN replaces it
FUNCTION_PLACEHOLDERS = {
    "PrepareFunctionArn": "TrainingPrepare",
    "TrainFunctionArn": "TrainingTrain",
    "EvaluateFunctionArn": "TrainingEvaluate",
    "RegisterFunctionArn": "TrainingRegister",
}
# Lambda task state -> the placeholder of the function it invokes
TASK_FUNCTIONS = {
    "Prepare": "PrepareFunctionArn",
    "Train": "TrainFunctionArn",
    "Evaluate": "EvaluateFunctionArn",
    "Register": "RegisterFunctionArn",
    "RecordFailure": "RegisterFunctionArn",
}
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
PUT_EVENTS = "arn:aws:states:::events:putEvents"
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
RECORDER = "RecordFailure"
FAILURE_PATH = ("RecordFailure", "AnnounceFailure")  # what a Catch leads to: not caught again


def _function_ids(template: Template) -> dict[str, str]:
    """Logical ids of the four training functions, by construct id."""
    functions = our_functions(template)
    return {
        cid: next(lid for lid in functions if lid.startswith(cid + "Function"))
        for cid in FUNCTION_PLACEHOLDERS.values()
    }


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _training_machine(template: Template) -> tuple[str, dict[str, Any]]:
    lid, sm = state_machine(template, c.TRAINING_LOG_SUFFIX)
    return lid, sm["Properties"]


def _substituted(props: dict[str, Any]) -> str:
    """The definition as Step Functions receives it: every `${name}` replaced by its
    substitution (a function ARN shown as `<logical id>.Arn`)."""

    def value(match: re.Match[str]) -> str:
        sub = props["DefinitionSubstitutions"].get(match[1])
        if sub is None:
            return match[0]  # left as is: the assertion below reports it
        if isinstance(sub, str):
            return sub
        logical_id, attribute = sub["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"

    return re.sub(r"\$\{([^}]*)\}", value, props["DefinitionString"])


def _walk(states: dict[str, Any], top: str | None = None) -> Iterator[tuple[str, str, dict]]:
    """(top-level state, state name, state) for every state, inside Map and Parallel too."""
    for name, state in states.items():
        owner = top or name
        yield owner, name, state
        for inner in (
            state.get("ItemProcessor"),
            state.get("Iterator"),
            *state.get("Branches", []),
        ):
            if inner:
                yield from _walk(inner["States"], owner)


def _targets(state: dict[str, Any]) -> set[str]:
    """Every state a state can move to."""
    out = {state["Next"]} if "Next" in state else set()
    out |= {catcher["Next"] for catcher in state.get("Catch", [])}
    out |= {choice["Next"] for choice in state.get("Choices", [])}
    return out | ({state["Default"]} if "Default" in state else set())


# --- the state machine --------------------------------------------------------------------------


def test_training_definition_is_the_asl_file_with_every_placeholder_substituted(
    template: Template,
) -> None:
    # Given the training state machine
    _, props = _training_machine(template)
    on_disk = json.loads(c.TRAINING_ASL.read_text())
    # Then its definition is the ASL file's, placeholders left for Step Functions
    assert json.loads(props["DefinitionString"]) == on_disk
    # And the substitutions are the four function ARNs, the default bus and the event source,
    # exactly the placeholders the file uses
    ids = _function_ids(template)
    assert props["DefinitionSubstitutions"] == {
        **{name: _arn(ids[cid]) for name, cid in FUNCTION_PLACEHOLDERS.items()},
        "EventBusName": "default",
        "EventSource": c.TRAINING_EVENT_SOURCE,
    }
    assert set(re.findall(r"\$\{([^}]*)\}", props["DefinitionString"])) == set(
        props["DefinitionSubstitutions"]
    )
    # And once substituted, no placeholder is left
    rendered = _substituted(props)
    assert "${" not in rendered
    states = {name: state for _, name, state in _walk(json.loads(rendered)["States"])}
    # And each Lambda task invokes its step's function
    invoked = {
        name: s["Parameters"]["FunctionName"]
        for name, s in states.items()
        if s.get("Resource") == LAMBDA_INVOKE
    }
    assert invoked == {
        task: f"<{ids[FUNCTION_PLACEHOLDERS[placeholder]]}.Arn>"
        for task, placeholder in TASK_FUNCTIONS.items()
    }
    # And both announcements put one event from fraudops.training on the default bus
    announced = {
        name: [(e["EventBusName"], e["Source"]) for e in s["Parameters"]["Entries"]]
        for name, s in states.items()
        if s.get("Resource") == PUT_EVENTS
    }
    assert announced == {
        "Announce": [("default", c.TRAINING_EVENT_SOURCE)],
        "AnnounceFailure": [("default", c.TRAINING_EVENT_SOURCE)],
    }


def test_lambda_tasks_retry_transient_errors_and_every_failure_is_recorded() -> None:
    # Given the ASL file's states, Map iterations included
    asl = json.loads(c.TRAINING_ASL.read_text())
    walked = list(_walk(asl["States"]))
    lambda_tasks = {name: (top, s) for top, name, s in walked if s.get("Resource") == LAMBDA_INVOKE}
    assert set(lambda_tasks) == set(TASK_FUNCTIONS)
    for name, (top, task) in lambda_tasks.items():
        # Then every Lambda task retries Lambda's transient errors, with backoff
        retriers = [
            r
            for r in task.get("Retry", [])
            if set(r["ErrorEquals"]) >= LAMBDA_TRANSIENT or r["ErrorEquals"] == ["States.ALL"]
        ]
        assert retriers, name
        assert all(r["MaxAttempts"] >= 2 and r["BackoffRate"] > 1 for r in retriers), name
        # And what still fails is caught (by the task or the Map it runs in) into the recorder,
        # the error kept beside the input under $.failure
        if top not in FAILURE_PATH:
            assert asl["States"][top]["Catch"] == [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": RECORDER}
            ], (name, top)
    # And the recorder gets that error, then the failure is announced and the execution fails
    # (an announcement that cannot be sent does not stop it failing)
    recorder = asl["States"][RECORDER]
    assert recorder["Parameters"]["Payload"]["failure.$"] == "$.failure"
    assert recorder["Parameters"]["Payload"]["action"] == "record_failure"
    assert "Catch" not in recorder and recorder["Next"] == "AnnounceFailure"
    announce_failure = asl["States"]["AnnounceFailure"]
    assert announce_failure["Next"] == "Failed"
    assert [catcher["Next"] for catcher in announce_failure["Catch"]] == ["Failed"]
    # And the Fail state takes its error and cause from the recorder's result
    assert recorder["ResultSelector"] == {"result.$": "$.Payload"}
    assert recorder["ResultPath"] == "$.recorded"
    assert asl["States"]["Failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.recorded.result.error",
        "CausePath": "$.recorded.result.reason",
    }
    # And every transition names a state of its own scope; only Fail and End states stop
    scopes = [asl["States"]] + [
        inner["States"]
        for _, _, s in walked
        for inner in (s.get("ItemProcessor"), s.get("Iterator"), *s.get("Branches", []))
        if inner
    ]
    for scope in scopes:
        for name, state in scope.items():
            assert _targets(state) <= set(scope), name
            assert _targets(state) or state.get("End") or state["Type"] in {"Fail", "Succeed"}


def test_the_fail_state_reports_what_the_recorder_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the register function's failure recorder and a Lambda error as a Catch delivers it
    from fraudops_shared.registry.models import ModelRegistry
    from fraudops_shared.training import registration
    from tests.unit.fakes import MemoryRegistryStore

    cause = json.dumps({"errorMessage": "no snapshot of transactions is registered"})
    result = registration.record_failure(
        {
            "input": {"contract": "transactions"},
            "failure": {"Error": "TrainingDataError", "Cause": cause},
            "run_id": "run-1",
        },
        registry=ModelRegistry(MemoryRegistryStore()),
    )
    # When the state machine's paths are read from the state RecordFailure leaves
    state = {"recorded": {"result": result}}
    states = json.loads(c.TRAINING_ASL.read_text())["States"]
    [entry] = states["AnnounceFailure"]["Parameters"]["Entries"]

    def read(path: str) -> Any:
        value: Any = state
        for key in path.removeprefix("$.").split("."):
            value = value[key]
        return value

    # Then the execution fails with the Lambda's error and message, and the event says so
    assert read(states["Failed"]["ErrorPath"]) == "TrainingDataError"
    assert read(states["Failed"]["CausePath"]) == "no snapshot of transactions is registered"
    assert read(entry["DetailType.$"]) == "Training Failed"


def test_training_role_invokes_the_four_functions_and_puts_events_on_the_default_bus_only(
    template: Template,
) -> None:
    # Given the training state machine's role and its policies
    _, props = _training_machine(template)
    role_id, _ = props["RoleArn"]["Fn::GetAtt"]
    role = resources(template, "AWS::IAM::Role")[role_id]["Properties"]
    [principal] = {s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]}
    assert principal == "states.amazonaws.com"
    policies = resources(template, "AWS::IAM::Policy")
    [policy_id] = [k for k, p in policies.items() if {"Ref": role_id} in p["Properties"]["Roles"]]
    statements = policies[policy_id]["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements)
    # Then beside log delivery and X-Ray (Resource "*", no resource-level permissions), it may
    # invoke exactly the four training functions (no versions or aliases) and put events on the
    # default bus of its own account and region
    services = [s for s in statements if s["Resource"] == "*"]
    assert all(a.startswith(("logs:", "xray:")) for s in services for a in _as_list(s["Action"]))
    grants = {s["Action"]: s["Resource"] for s in statements if s["Resource"] != "*"}
    assert len(grants) == len(statements) - len(services)  # one action per statement
    ids = _function_ids(template)
    assert set(grants) == {"lambda:InvokeFunction", "events:PutEvents"}
    assert sorted(json.dumps(r) for r in grants["lambda:InvokeFunction"]) == sorted(
        json.dumps(_arn(lid)) for lid in ids.values()
    )
    assert grants["events:PutEvents"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":events:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":event-bus/default",
            ],
        ]
    }
    # And nothing else may invoke the training functions: no other role, no resource policy
    arns = {json.dumps(_arn(lid)) for lid in ids.values()}
    for lid, other in policies.items():
        if lid == policy_id:
            continue
        for s in other["Properties"]["PolicyDocument"]["Statement"]:
            assert not arns & {json.dumps(r) for r in _as_list(s["Resource"])}, lid
    for permission in resources(template, "AWS::Lambda::Permission").values():
        assert json.dumps(permission["Properties"]["FunctionName"]) not in arns


def test_training_state_machine_logs_everything_and_is_traced(template: Template) -> None:
    _, props = _training_machine(template)
    [destination] = props["LoggingConfiguration"]["Destinations"]
    group_id, _ = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    group = resources(template, "AWS::Logs::LogGroup")[group_id]["Properties"]
    assert group == {
        "LogGroupName": f"/aws/vendedlogs/states/{c.STACK_NAME}-{c.TRAINING_LOG_SUFFIX}",
        "RetentionInDays": c.STATE_MACHINE_LOG_RETENTION_DAYS,
    }
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["StateMachineType"] == "STANDARD"


# --- model events -------------------------------------------------------------------------------


def _events_queue(template: Template) -> tuple[str, dict[str, Any]]:
    [(lid, queue)] = [
        (k, v) for k, v in resources(template, "AWS::SQS::Queue").items() if "ModelEvents" in k
    ]
    return lid, queue["Properties"]


def _events_rule(template: Template) -> tuple[str, dict[str, Any]]:
    """The rule that delivers to the model-events queue (the other rule on the training source,
    scoring's replay on Model Promoted: test_scoring_infra)."""
    rules = resources(template, "AWS::Events::Rule")
    queue_id, _ = _events_queue(template)
    [(lid, rule)] = [
        (k, v)
        for k, v in rules.items()
        if _arn(queue_id) in [t["Arn"] for t in v["Properties"]["Targets"]]
    ]
    # (and the stack's rules are this one, scoring's replay, the watches' schedules and the
    # retraining guard's release on a training run's end)
    others = ("ScoringReplayOnPromotion", "ModelWatchDriftSchedule", "ModelWatchQualitySchedule",
              "RetrainingTrainingEnded")  # fmt: skip
    assert sorted(k for k in rules if k != lid) == sorted(k for k in rules if k.startswith(others))
    return lid, rule["Properties"]


def test_model_events_rule_sends_training_events_to_the_queue(template: Template) -> None:
    # Given the rule that delivers to the model-events queue
    _, props = _events_rule(template)
    queue_id, _ = _events_queue(template)
    # Then it matches every event of the training source, on the default bus, when enabled
    assert props["EventPattern"] == {"source": [c.TRAINING_EVENT_SOURCE]}
    assert "EventBusName" not in props
    assert props["State"] == "ENABLED"
    # And its one target is the model-events queue
    [target] = props["Targets"]
    assert target["Arn"] == _arn(queue_id)


def test_model_events_queue_takes_eventbridge_deliveries_over_tls_only(template: Template) -> None:
    # Given the model-events queue and its policy
    queue_id, queue = _events_queue(template)
    rule_id, _ = _events_rule(template)
    [policy] = [
        p["Properties"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    # Then it is encrypted and keeps events for the configured days
    assert queue == {
        "MessageRetentionPeriod": c.TRAINING_EVENTS_RETENTION_DAYS * 24 * 3600,
        "SqsManagedSseEnabled": True,
    }
    # And only EventBridge, for this rule, may send, and anything without TLS is denied
    statements = sorted(policy["PolicyDocument"]["Statement"], key=lambda s: s["Effect"])
    assert statements == [
        {
            "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
            "Condition": {"ArnEquals": {"aws:SourceArn": _arn(rule_id)}},
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": _arn(queue_id),
        },
        {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": _arn(queue_id),
        },
    ]


# --- the functions ------------------------------------------------------------------------------

# construct id -> (folder, memory MB, timeout s, ephemeral storage MB or None, its own env)
SETTINGS: dict[str, tuple[str, int, int, int | None, dict[str, str]]] = {
    "TrainingPrepare": (
        c.FN_TRAINING_PREPARE,
        c.TRAINING_PREPARE_MEMORY_MB,
        c.TRAINING_PREPARE_TIMEOUT_SECONDS,
        c.TRAINING_PREPARE_EPHEMERAL_STORAGE_MB,
        {},
    ),
    "TrainingTrain": (
        c.FN_TRAINING_TRAIN,
        c.TRAINING_TRAIN_MEMORY_MB,
        c.TRAINING_TRAIN_TIMEOUT_SECONDS,
        None,
        dict(c.TRAINING_TRAIN_ENV),
    ),
    "TrainingEvaluate": (
        c.FN_TRAINING_EVALUATE,
        c.TRAINING_EVALUATE_MEMORY_MB,
        c.TRAINING_EVALUATE_TIMEOUT_SECONDS,
        None,
        {},
    ),
    "TrainingRegister": (
        c.FN_TRAINING_REGISTER,
        c.TRAINING_REGISTER_MEMORY_MB,
        c.TRAINING_REGISTER_TIMEOUT_SECONDS,
        None,
        {},
    ),
}


def test_training_functions_know_bucket_table_and_code_version_and_are_sized_from_constants(
    template: Template,
) -> None:
    functions = our_functions(template)
    bucket_id = next(
        k
        for k, v in resources(template, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in v["Properties"]
    )
    table_id = state_table_id(template)  # the registry (not scoring's decisions table)
    version = provenance.code_version()
    assert version
    for cid, lid in _function_ids(template).items():
        props = functions[lid]["Properties"]
        folder, memory, timeout, storage, own_env = SETTINGS[cid]
        # Then each reads the data bucket, the registry and the synthesized code version, and
        # has nothing else beside Powertools' settings but its own (train: OpenMP's)
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == folder
        assert {k: v for k, v in env.items() if not k.startswith("POWERTOOLS_")} == {
            settings.DATA_BUCKET_ENV: {"Ref": bucket_id},
            settings.STATE_TABLE_ENV: {"Ref": table_id},
            settings.CODE_VERSION_ENV: version,
            **own_env,
        }, cid
        # And its memory, timeout and /tmp come from constants
        assert props["MemorySize"] == memory, cid
        assert props["Timeout"] == timeout, cid
        if storage is None:
            assert "EphemeralStorage" not in props, cid
        else:
            assert props["EphemeralStorage"] == {"Size": storage}, cid


def test_training_names_are_the_ones_the_shared_layer_uses() -> None:
    # One definition: the stack's constants are the layer's settings, not copies of them
    assert (settings.DATA_BUCKET_ENV, settings.STATE_TABLE_ENV, settings.CODE_VERSION_ENV) == (
        "DATA_BUCKET",
        "STATE_TABLE_NAME",
        "CODE_VERSION",
    )
    assert c.TRAINING_PREFIX is settings.TRAINING_PREFIX
    assert c.TRAINING_EVENT_SOURCE is settings.TRAINING_EVENT_SOURCE
    assert c.SNAPSHOT_PREFIX is settings.SNAPSHOT_PREFIX


def test_code_version_is_the_git_commit_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (c.ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=c.ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.delenv(c.CODE_VERSION_ENV_VAR, raising=False)
    provenance.code_version.cache_clear()
    try:
        assert re.fullmatch(re.escape(head) + r"(\+dirty)?", provenance.code_version())
        monkeypatch.setenv(c.CODE_VERSION_ENV_VAR, " release-42 ")
        provenance.code_version.cache_clear()
        assert provenance.code_version() == "release-42"
    finally:
        monkeypatch.undo()
        provenance.code_version.cache_clear()


# --- the ml and onnx layers on their own (`built_layers` is in conftest) ------------------------

# Run with only the layer and the shared layer on sys.path (-I -S: no site-packages, no
# PYTHONPATH): fit both candidate kinds on a tiny dataset and export them as training does.
ML_SCRIPT = """
import sys
out, sys.path[:0] = sys.argv[1], sys.argv[2:]
import json, os
import numpy as np
from fraudops_shared.training import trainers
rng = np.random.default_rng(7)
# float32-exact features: the ONNX graph reads float32, scikit-learn the same values
x = rng.normal(size=(400, 4)).astype(np.float32).astype(np.float64)
y = (x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=400) > 0.9).astype(np.int64)
np.save(os.path.join(out, "x.npy"), x)
report = {}
for name, kind, params in (
    ("hgb", "hist_gradient_boosting", {"max_iter": 20}),
    ("logreg", "logistic_regression", {"max_iter": 200}),
):
    trained = trainers.fit(name, kind, params, 7, x, y)
    onnx_bytes = trainers.to_onnx(trained.model, x.shape[1], {"fraudops.candidate": name})
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(onnx_bytes)
    np.save(os.path.join(out, name + ".npy"), trainers.fraud_probability(trained.model, x))
    report[name] = type(trained.model).__name__
import sklearn, skl2onnx, onnx
report["files"] = [m.__file__ for m in (np, sklearn, skl2onnx, onnx, trainers)]
print(json.dumps(report), flush=True)
# leave like a Lambda process (no interpreter teardown), as the data layer's test does
os._exit(0)
"""

# Only the onnx layer and the shared layer: load each export (hash checked) and score.
ONNX_SCRIPT = """
import sys
out, sys.path[:0] = sys.argv[1], sys.argv[2:]
import hashlib, json, os
import numpy as np
from fraudops_shared.training import onnx_model
x = np.load(os.path.join(out, "x.npy"))
report = {}
for name in ("hgb", "logreg"):
    with open(os.path.join(out, name + ".onnx"), "rb") as f:
        data = f.read()
    session = onnx_model.load(data, hashlib.sha256(data).hexdigest())
    scores = onnx_model.fraud_probability(session, x)
    reference = np.load(os.path.join(out, name + ".npy"))
    report[name] = {
        "rows": len(scores),
        "max_diff": float(np.max(np.abs(scores - reference))),
        "metadata": onnx_model.metadata(session),
    }
try:
    onnx_model.load(data, "0" * 64)
    report["refused"] = False
except onnx_model.ModelIntegrityError:
    report["refused"] = True
import onnxruntime
report["files"] = [m.__file__ for m in (np, onnxruntime, onnx_model)]
print(json.dumps(report), flush=True)
os._exit(0)
"""


def _isolated(script: str, out: Path, *sys_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", script, str(out), *map(str, sys_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _under(files: list[str], *roots: Path) -> bool:
    return all(any(Path(f).is_relative_to(root) for root in roots) for f in files)


@pytest.fixture(scope="module")
def exported(
    built_layers: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("onnx-exports")
    return out, _isolated(ML_SCRIPT, out, built_layers["ml"], built_layers["shared"])


def test_ml_layer_fits_and_exports_onnx_in_isolation(
    built_layers: dict[str, Path], exported: tuple[Path, dict[str, Any]]
) -> None:
    out, report = exported
    # Then both candidate kinds were fitted and exported, with the ml layer's packages
    assert report["hgb"] == "HistGradientBoostingClassifier"
    assert report["logreg"] == "Pipeline"
    assert _under(report["files"], built_layers["ml"], built_layers["shared"]), report["files"]
    assert all((out / f"{name}.onnx").stat().st_size > 0 for name in ("hgb", "logreg"))


def test_onnx_layer_loads_and_scores_the_export_in_isolation(
    built_layers: dict[str, Path], exported: tuple[Path, dict[str, Any]]
) -> None:
    out, _ = exported
    report = _isolated(ONNX_SCRIPT, out, built_layers["onnx"], built_layers["shared"])
    assert _under(report["files"], built_layers["onnx"], built_layers["shared"]), report["files"]
    for name in ("hgb", "logreg"):
        # Then each export scores every row as scikit-learn did (float32 arithmetic aside)
        assert report[name]["rows"] == 400
        assert report[name]["max_diff"] < 1e-4, (name, report[name]["max_diff"])
        assert report[name]["metadata"] == {"fraudops.candidate": name}
    # And bytes that are not the registered model's are refused
    assert report["refused"] is True
