"""`fraudops` fails in one line: what is wrong, then the fix, with a non-zero exit code and no
traceback; `--endpoint` reaches the boto3 clients; every command takes `--json`.

The failures are faked where the command would talk to AWS (the stack lookup, the HTTP call, the
pipeline), or are real when no network is needed (a missing file, an unknown contract, no
credentials in the environment)."""

from __future__ import annotations

import argparse
import email.message
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from fraudops import cli, clients, deploy, ingest, localstack, snapshot, training
from fraudops.paths import Layout
from fraudops_shared import contracts

LOCAL = "http://localhost:4566"
START_IT = "start it with `fraudops up` (or `make up`)"
NOT_DEPLOYED = f"fraudops: the stack FraudOps is not deployed on {LOCAL}: run `fraudops deploy`\n"
CREDENTIALS = (
    "fraudops: AWS credentials are missing: set AWS_PROFILE or "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (see `aws configure`)\n"
)
API_URL = "http://abc123.lambda-url.us-east-1.localhost:4566/"
DEPLOYED = {
    "deployed": True,
    "name": "FraudOps",
    "status": "CREATE_COMPLETE",
    "outputs": {"ScoringApiUrl": API_URL, "StateTableName": "state", "DataBucketName": "data"},
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No endpoint, port or AWS credentials from the shell; no AWS config files; no IMDS."""
    for name in (
        "FRAUDOPS_ENDPOINT",
        "FRAUDOPS_PORT",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRAUDOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def stack(monkeypatch: pytest.MonkeyPatch, found: Any) -> None:
    """The stack lookup answers ``found``, or raises it."""

    def lookup(layout: Layout) -> dict[str, Any]:
        if isinstance(found, BaseException):
            raise found
        return dict(found)

    monkeypatch.setattr(deploy, "stack_resources", lookup)


def no_aws(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("no AWS call was expected")


def api_answers(monkeypatch: pytest.MonkeyPatch, fake: Any) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", fake)


# --- LocalStack not running -------------------------------------------------------------------


def test_a_command_against_a_stopped_localstack_says_how_to_start_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, EndpointConnectionError(endpoint_url=f"{LOCAL}/"))
    code, out, err = run(capsys, "models", "list")
    assert (code, out) == (3, "")
    assert err == f"fraudops: LocalStack is not running on {LOCAL}: {START_IT}\n"


def test_the_scoring_api_refusing_the_connection_is_localstack_not_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, DEPLOYED)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    api_answers(monkeypatch, refused)
    code, _, err = run(capsys, "--port", "4600", "score", '{"transaction_id": "t1"}')
    assert code == 3
    assert err == f"fraudops: LocalStack is not running on http://localhost:4600: {START_IT}\n"


def test_deploy_checks_localstack_before_running_cdk(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(localstack, "health_ok", lambda endpoint, timeout=5.0: False)
    monkeypatch.setattr(deploy, "_cdklocal", no_aws)
    code, _, err = run(capsys, "deploy")
    assert code == 3
    assert err == f"fraudops: LocalStack is not running on {LOCAL}: {START_IT}\n"


def test_a_localstack_elsewhere_that_does_not_answer_is_not_started_with_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, EndpointConnectionError(endpoint_url="http://ls.example:4566/"))
    code, _, err = run(capsys, "--endpoint", "http://ls.example:4566", "monitor")
    assert code == 3
    assert err == (
        "fraudops: LocalStack is not running on http://ls.example:4566: start it there, "
        "or point --endpoint at one that runs\n"
    )


# --- stack not deployed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["monitor"],
        ["retrain", "status"],
        ["models", "list"],
        ["models", "compare"],
        ["decisions"],
        ["snapshot", "--contract", "transactions"],
        ["train"],
        ["score", "{}"],
        ["dashboard", "--out", "report.html"],
    ],
    ids=" ".join,
)
def test_every_command_says_the_stack_is_not_deployed_the_same_way(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, {"deployed": False, "name": "FraudOps"})
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (1, "", NOT_DEPLOYED)


def test_ingest_and_labels_say_the_stack_is_not_deployed_once_the_file_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, {"deployed": False, "name": "FraudOps"})
    data = tmp_path / "data.csv"
    data.write_text("transaction_id\nt1\n")
    assert run(capsys, "ingest", str(data), "--contract", "transactions") == (1, "", NOT_DEPLOYED)
    assert run(capsys, "labels", str(data)) == (1, "", NOT_DEPLOYED)


def test_a_stack_without_an_output_needs_a_redeploy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, {**DEPLOYED, "outputs": {"StateTableName": "state"}})
    code, _, err = run(capsys, "decisions")
    assert code == 1
    assert err == (
        f"fraudops: the stack FraudOps has no output DecisionsTableName on {LOCAL}: "
        "run `fraudops deploy`\n"
    )


class FakeCloudFormation:
    def __init__(self, code: str, message: str) -> None:
        self.error = {"Error": {"Code": code, "Message": message}}

    def describe_stacks(self, **kwargs: Any) -> Any:
        raise ClientError(self.error, "DescribeStacks")  # type: ignore[arg-type]


def test_cloudformation_saying_the_stack_does_not_exist_is_not_deployed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = FakeCloudFormation("ValidationError", "Stack with id FraudOps does not exist")
    monkeypatch.setattr(deploy, "client", lambda layout, service: missing)
    layout = Layout.from_env()
    assert deploy.stack_resources(layout) == {"deployed": False, "name": "FraudOps"}
    # but a refusal is not mistaken for a missing stack
    denied = FakeCloudFormation("AccessDenied", "not allowed")
    monkeypatch.setattr(deploy, "client", lambda layout, service: denied)
    with pytest.raises(ClientError):
        deploy.stack_resources(layout)


# --- no snapshot ------------------------------------------------------------------------------


def fake_training_run(monkeypatch: pytest.MonkeyPatch, reason: str) -> None:
    arn = "arn:aws:states:us-east-1:000000000000:execution:training:run-1"
    monkeypatch.setattr(training, "start", lambda layout, contract, **kw: arn)
    monkeypatch.setattr(training, "follow", lambda layout, arn, **kw: {"status": "FAILED"})
    result = {
        "execution_arn": arn,
        "run_id": "run-1",
        "execution_status": "FAILED",
        "seconds": 2.0,
        "error": "TrainingDataError",
        "reason": reason,
        "status": "failed",
        "run_record": {"status": "failed", "reason": reason},
    }
    monkeypatch.setattr(training, "result", lambda layout, desc: result)


def test_training_without_a_snapshot_says_how_to_take_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_training_run(
        monkeypatch,
        "SNAPSHOT_NOT_FOUND: no snapshot of transactions is registered: take one with "
        "`fraudops snapshot --contract transactions`",
    )
    expected = (
        "fraudops: training failed: no snapshot of transactions is registered: take one with "
        "`fraudops snapshot --contract transactions`\n"
    )
    code, out, err = run(capsys, "train", "--wait")
    assert (code, err) == (1, expected)
    # --json still prints the run's document, for scripts
    code, out, err = run(capsys, "train", "--wait", "--json")
    assert (code, err) == (1, expected)
    assert json.loads(out)["reason"].startswith("SNAPSHOT_NOT_FOUND: ")


def test_training_on_a_snapshot_that_does_not_exist_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = "transactions-20990101T000000Z-000000000000"
    fake_training_run(monkeypatch, f"SNAPSHOT_NOT_FOUND: snapshot {sid} does not exist")
    code, _, err = run(capsys, "train", "--wait", "--snapshot", sid)
    assert code == 1
    assert err == (
        f"fraudops: training failed: snapshot {sid} does not exist: take one with "
        "`fraudops snapshot --contract transactions`, or name another\n"
    )


def test_a_snapshot_of_a_contract_without_data_says_to_land_some_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def empty(layout: Layout, contract: str) -> Any:
        raise snapshot.EmptySnapshotError(contract)

    monkeypatch.setattr(snapshot, "create", empty)
    code, _, err = run(capsys, "snapshot", "--contract", "creditcard_benchmark")
    assert code == 1
    assert err == (
        "fraudops: contract 'creditcard_benchmark' has no committed curated data to snapshot: "
        "land data first (`fraudops ingest FILE --contract creditcard_benchmark`)\n"
    )


# --- no champion ------------------------------------------------------------------------------

NO_CHAMPION = (
    "fraudops: no champion for transactions: train one (`fraudops train`) and promote it\n"
)


def test_scoring_before_any_champion_says_to_train_and_promote_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, DEPLOYED)
    body = {"error": {"code": "no_champion", "message": "no verified champion model yet"}}

    def unavailable(request: urllib.request.Request, timeout: float) -> Any:
        assert request.full_url == f"{LOCAL}/"  # the function URL's path, through the gateway
        raise urllib.error.HTTPError(
            API_URL,
            503,
            "Service Unavailable",
            email.message.Message(),
            io.BytesIO(json.dumps(body).encode()),
        )

    api_answers(monkeypatch, unavailable)
    assert run(capsys, "score", '{"transaction_id": "t1"}') == (1, "", NO_CHAMPION)
    code, out, err = run(capsys, "score", '{"transaction_id": "t1"}', "--json")
    assert (code, json.loads(out), err) == (1, body, NO_CHAMPION)


def test_an_invalid_transaction_is_one_line_with_the_broken_rules(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, DEPLOYED)
    body = {
        "error": {
            "code": "invalid_transaction",
            "message": "the transaction breaks the contract",
            "rules": ["amount_range"],
            "reasons": ["amount: -3 is below 0"],
        }
    }

    def invalid(request: urllib.request.Request, timeout: float) -> Any:
        raw = io.BytesIO(json.dumps(body).encode())
        raise urllib.error.HTTPError(API_URL, 400, "Bad Request", email.message.Message(), raw)

    api_answers(monkeypatch, invalid)
    code, _, err = run(capsys, "score", '{"amount": -3}')
    assert code == 2
    assert err == (
        "fraudops: the scoring API refused the transaction (400 invalid_transaction): "
        "amount: -3 is below 0\n"
    )


class NoChampionRegistry:
    def champion_pointer(self, contract: str) -> None:
        return None


def test_a_rollback_without_a_champion_says_to_train_and_promote_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(training, "_registry", lambda layout: NoChampionRegistry())
    assert run(capsys, "models", "rollback") == (1, "", NO_CHAMPION)


# --- wrong contract name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["snapshot", "--contract", "transaction"],
        ["ingest", "missing.csv", "--contract", "transaction"],
        ["train", "--contract", "transaction"],
        ["models", "list", "--contract", "transaction"],
        ["models", "promote", "3", "--contract", "transaction"],
    ],
    ids=" ".join,
)
def test_an_unknown_contract_is_refused_with_the_known_ones_before_any_call(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy, "stack_resources", no_aws)
    known = ", ".join(contracts.available_contracts())
    assert known == "creditcard_benchmark, decisions, labels, transactions"
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == f"fraudops: unknown contract 'transaction': known: {known}\n"


# --- file not found ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["ingest", "{missing}", "--contract", "transactions"],
        ["labels", "{missing}"],
        ["score", "@{missing}"],
        ["train", "--config", "{missing}"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_missing_file_is_named_before_any_call(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(deploy, "stack_resources", no_aws)
    missing = str(tmp_path / "nope.json")
    code, out, err = run(capsys, *(a.format(missing=missing) for a in argv))
    assert (code, out) == (2, "")
    assert err == f"fraudops: no such file: {missing}: check the path\n"


def test_a_config_that_is_not_json_says_what_is_expected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "train", "--config", "[1, 2]")
    assert (code, err) == (
        2,
        "fraudops: --config is not a JSON object: pass a JSON object or a file holding one\n",
    )


# --- AWS credentials --------------------------------------------------------------------------


def test_aws_without_credentials_says_how_to_provide_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a real resolution: the environment holds no credentials, no profile, no config file
    stack(monkeypatch, DEPLOYED)
    api_answers(monkeypatch, no_aws)
    assert run(capsys, "--endpoint", "aws", "score", "{}") == (1, "", CREDENTIALS)


def test_half_a_key_pair_is_missing_credentials_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    stack(monkeypatch, DEPLOYED)
    api_answers(monkeypatch, no_aws)
    assert run(capsys, "--endpoint", "aws", "score", "{}") == (1, "", CREDENTIALS)


def test_a_boto3_call_without_credentials_says_the_same(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack(monkeypatch, NoCredentialsError())
    assert run(capsys, "--endpoint", "aws", "monitor") == (1, "", CREDENTIALS)


def test_credentials_aws_refuses_are_to_be_refreshed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = {"Error": {"Code": "ExpiredToken", "Message": "The security token expired"}}
    stack(monkeypatch, ClientError(expired, "DescribeStacks"))  # type: ignore[arg-type]
    code, _, err = run(capsys, "--endpoint", "aws", "monitor")
    assert code == 1
    assert err == (
        "fraudops: AWS rejected the credentials (ExpiredToken): refresh them (`aws sso login`, "
        "or new keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n"
    )


# --- other failures a user can fix ------------------------------------------------------------


def test_a_wait_that_runs_out_says_to_wait_longer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def slow(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("no manifest for s3://data/landing/transactions/a.csv within 1 s")

    monkeypatch.setattr(ingest, "ingest_file", slow)
    code, _, err = run(capsys, "ingest", "a.csv", "--contract", "transactions", "--timeout", "1")
    assert code == 1
    assert err == (
        "fraudops: no manifest for s3://data/landing/transactions/a.csv within 1 s: "
        "wait longer with --timeout\n"
    )


def test_an_unknown_decision_says_how_to_find_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fraudops import scoring

    monkeypatch.setattr(scoring, "decision", lambda layout, tid: None)
    code, _, err = run(capsys, "decisions", "--transaction-id", "t-404")
    assert code == 1
    assert err == (
        "fraudops: no decision for t-404: check the id (`fraudops decisions` lists the latest)\n"
    )


def test_an_unexpected_error_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    stack(monkeypatch, ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        cli.main(["monitor"])


# --- --endpoint -------------------------------------------------------------------------------


class RecordingBoto3:
    """``boto3.client`` that records its arguments; CloudFormation knows no stack."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, service: str, **kwargs: Any) -> Any:
        self.calls.append((service, kwargs))
        return FakeCloudFormation("ValidationError", "Stack with id FraudOps does not exist")


@pytest.fixture
def boto3_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingBoto3]:
    recorder = RecordingBoto3()
    monkeypatch.setattr(boto3, "client", recorder)
    yield recorder


def test_an_endpoint_elsewhere_reaches_the_clients_with_the_localstack_credentials(
    boto3_client: RecordingBoto3, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--endpoint", "http://ls.example:4566", "models", "list")
    assert boto3_client.calls == [
        (
            "cloudformation",
            {
                "endpoint_url": "http://ls.example:4566",
                "region_name": "us-east-1",
                "aws_access_key_id": "test",
                "aws_secret_access_key": "test",
            },
        )
    ]
    assert (code, err) == (
        1,
        "fraudops: the stack FraudOps is not deployed on http://ls.example:4566: "
        "run `fraudops deploy`\n",
    )


def test_endpoint_aws_uses_the_normal_chain_no_endpoint_url_and_no_test_keys(
    boto3_client: RecordingBoto3,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    code, _, err = run(capsys, "--endpoint", "aws", "models", "list")
    assert boto3_client.calls == [
        ("cloudformation", {"endpoint_url": None, "region_name": "eu-west-1"})
    ]
    assert (code, err) == (
        1,
        "fraudops: the stack FraudOps is not deployed on aws: deploy it with `make deploy-aws`\n",
    )


def test_fraudops_endpoint_is_the_default_and_an_explicit_port_wins_over_it(
    boto3_client: RecordingBoto3,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FRAUDOPS_ENDPOINT", "http://ls.example:4566")
    run(capsys, "models", "list")
    run(capsys, "--port", "4600", "models", "list")
    urls = [kwargs["endpoint_url"] for _, kwargs in boto3_client.calls]
    assert urls == ["http://ls.example:4566", "http://localhost:4600"]


def test_an_endpoint_on_this_machine_is_its_port() -> None:
    layout = Layout.from_env(endpoint="http://localhost:4600/")
    assert (layout.port, layout.is_local, layout.endpoint) == (4600, True, "http://localhost:4600")
    aws = Layout.from_env(endpoint="aws")
    assert (aws.on_aws, aws.is_local, aws.endpoint_url, clients.region(aws)) == (
        True,
        False,
        None,
        "us-east-1",  # no region configured: ours
    )


def test_an_endpoint_that_is_not_a_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--endpoint", "ls.example:4566", "status"])
    assert exited.value.code == 2
    assert "not an endpoint: 'ls.example:4566': use http://host:port or aws" in (
        capsys.readouterr().err
    )
    monkeypatch.setenv("FRAUDOPS_ENDPOINT", "nowhere")
    assert run(capsys, "models", "list") == (
        2,
        "",
        "fraudops: not an endpoint: 'nowhere': use http://host:port or aws\n",
    )


@pytest.mark.parametrize("command", ["up", "down", "demo"])
def test_commands_that_start_or_stop_this_machines_localstack_refuse_another_endpoint(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(localstack, "start", no_aws)
    monkeypatch.setattr(localstack, "stop", no_aws)
    for endpoint, where in (("aws", "AWS"), ("http://ls.example:4566", "http://ls.example:4566")):
        code, out, err = run(capsys, "--endpoint", endpoint, command)
        assert (code, out) == (2, "")
        assert err == (
            f"fraudops: `fraudops {command}` works on the LocalStack of this machine, not "
            f"{where}: drop --endpoint (or unset FRAUDOPS_ENDPOINT)\n"
        )


@pytest.mark.parametrize("command", ["deploy", "destroy"])
def test_deploy_and_destroy_refuse_aws_with_the_cdk_command_to_use(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy, "_cdklocal", no_aws)
    code, _, err = run(capsys, "--endpoint", "aws", command)
    assert code == 2
    assert err == (
        f"fraudops: `fraudops {command}` works on LocalStack, not AWS: "
        f"on AWS run `FRAUDOPS_STAGE=aws npx cdk {command}`\n"
    )


def test_status_on_aws_reports_the_stack_and_no_localstack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(localstack, "status", no_aws)
    stack(monkeypatch, {"deployed": False, "name": "FraudOps"})
    code, out, _ = run(capsys, "--endpoint", "aws", "status", "--json")
    assert code == 0
    assert json.loads(out) == {
        "endpoint": "aws",
        "localstack": None,
        "stack": {"deployed": False, "name": "FraudOps"},
    }


# --- --json -----------------------------------------------------------------------------------


def leaf_parsers(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, sub in subs[0].choices.items():
        yield from leaf_parsers(sub, (*prefix, name))


def test_every_command_takes_json() -> None:
    leaves = dict(leaf_parsers(cli.build_parser()))
    assert len(leaves) == 21  # 17 commands, `models` being 5
    without = [
        " ".join(name) for name, p in leaves.items() if "--json" not in p._option_string_actions
    ]
    assert without == []


def test_down_json_says_whether_it_stopped_anything(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "down", "--json")
    assert code == 0
    assert json.loads(out) == {
        "stopped": False,
        "pid": None,
        "message": "LocalStack is not running",
    }


def test_deploy_json_keeps_cdk_output_off_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_deploy(layout: Layout) -> dict[str, Any]:
        print("$ cdklocal deploy FraudOps")
        return DEPLOYED

    monkeypatch.setattr(deploy, "deploy", fake_deploy)
    code, out, err = run(capsys, "deploy", "--json")
    assert (code, json.loads(out)) == (0, DEPLOYED)
    assert "$ cdklocal deploy FraudOps" in err


def test_destroy_and_generate_print_a_small_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy, "destroy", lambda layout: None)
    code, out, _ = run(capsys, "destroy", "--json")
    assert (code, json.loads(out)) == (
        0,
        {"destroyed": True, "name": "FraudOps", "endpoint": LOCAL},
    )
    target = tmp_path / "tx.csv"
    code, out, _ = run(capsys, "generate", "--rows", "50", "--out", str(target), "--json")
    assert (code, json.loads(out)) == (
        0,
        {"path": str(target), "rows": 50, "contract": "transactions", "expected_rejections": {}},
    )


def test_ctrl_c_during_a_deploy_prints_one_line_with_what_to_do_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The CDK CLI gets the same SIGINT and dies of it (-2): that is an interruption, not a CDK
    failure, so no CDK log is dumped and no traceback is printed."""
    monkeypatch.setattr(localstack, "health_ok", lambda endpoint, timeout=5.0: True)
    monkeypatch.setattr(deploy, "settle", lambda layout: None)
    cdk = tmp_path / "node_modules" / ".bin" / "cdklocal"
    cdk.parent.mkdir(parents=True)
    cdk.write_text("#!/bin/sh\nkill -INT $$\n")
    cdk.chmod(0o755)
    monkeypatch.setattr(Layout, "node_bin", property(lambda self: cdk.parent))
    code, out, err = run(capsys, "deploy")
    assert code == 130
    assert err.splitlines()[-1] == cli.INTERRUPTED
    assert "Traceback" not in out + err
