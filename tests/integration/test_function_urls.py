"""Lambda function URLs as AWS serves them, through a LocalStack started by the tests.

``AWS_IAM`` URLs take only SigV4-signed requests (service ``lambda``): an unsigned, altered,
wrongly signed or stale request is answered 403 ``{"Message":"Forbidden"}`` and the function is
never invoked; a body over 6 MB is answered 413; a ``NONE`` URL invokes for anyone.

How a client reaches a URL offline: ``FunctionUrl`` is
``http://<url-id>.lambda-url.<region>.localhost:<port>/``, which does not resolve here, so the
request goes to the gateway (``127.0.0.1:<port>``) with that host name in the ``Host`` header, and
is signed with the ``Host`` header set (see :func:`sign`). Whether a function ran is read from a
DynamoDB table the echo function writes each request's ``x-probe-id`` to before it answers.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import textwrap
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from fraudops.paths import Layout

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
FORBIDDEN = {"Message": "Forbidden"}
PAYLOAD_LIMIT = 6 * 1024 * 1024

ECHO = """
import json, os
import boto3

table = os.environ["PROBE_TABLE"]
ddb = boto3.client("dynamodb")

def handler(event, context):
    probe = (event.get("headers") or {}).get("x-probe-id")
    if probe:
        ddb.put_item(TableName=table, Item={"pk": {"S": probe}})
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "body": json.dumps({"event": event, "function": context.function_name}),
    }
"""


@dataclass(frozen=True)
class FunctionUrl:
    function: str
    url: str
    auth_type: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, source in files.items():
            zf.writestr(name, textwrap.dedent(source))
    return buf.getvalue()


def sign(
    host: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    access_key: str = "test",
    secret: str = "test",
    token: str | None = None,
    service: str = "lambda",
    region: str = REGION,
    at: dt.datetime | None = None,
) -> dict[str, str]:
    """The headers of a SigV4-signed request to a function URL: the recipe a client follows.

    The ``Host`` header carries the URL's host name and is signed; the request itself goes to the
    gateway (:func:`send`).
    """
    request = AWSRequest(
        method=method,
        url=f"http://gateway.invalid{path}",
        data=body,
        headers={"Host": host, **(headers or {})},
    )
    signer = SigV4Auth(Credentials(access_key, secret, token), service, region)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
            signer.add_auth(request)
    return dict(request.headers.items())


def send(
    layout: Layout, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> Answer:
    request = urllib.request.Request(
        f"http://127.0.0.1:{layout.port}{path}", data=body, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Answer(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lam(aws: Callable[..., Any]) -> Any:
    return aws("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def ddb(aws: Callable[..., Any]) -> Any:
    return aws("dynamodb")


@pytest.fixture(scope="module")
def probe_table(ddb: Any) -> Iterator[str]:
    name = f"furl-probes-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    with contextlib.suppress(ClientError):
        ddb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def echo(lam: Any, probe_table: str) -> Iterator[str]:
    name = f"furl-echo-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": ECHO})},
        Timeout=30,
        Environment={"Variables": {"PROBE_TABLE": probe_table}},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    yield name
    with contextlib.suppress(ClientError):
        lam.delete_function(FunctionName=name)


@pytest.fixture(scope="module")
def iam_url(lam: Any, echo: str) -> FunctionUrl:
    created = lam.create_function_url_config(FunctionName=echo, AuthType="AWS_IAM")
    return FunctionUrl(echo, created["FunctionUrl"], created["AuthType"])


@pytest.fixture(scope="module")
def none_url(lam: Any, echo: str) -> Iterator[FunctionUrl]:
    # A second URL of the same function, on an alias (one URL per qualifier).
    lam.create_alias(FunctionName=echo, Name="public", FunctionVersion="$LATEST")
    created = lam.create_function_url_config(FunctionName=echo, Qualifier="public", AuthType="NONE")
    yield FunctionUrl(echo, created["FunctionUrl"], created["AuthType"])


@pytest.fixture
def invoked(ddb: Any, probe_table: str) -> Callable[[str], bool]:
    """Whether the echo function ran for a probe id (it writes the id before it answers, and a
    function URL invocation is synchronous, so the answer is final once the response is in)."""

    def check(probe: str) -> bool:
        item = ddb.get_item(TableName=probe_table, Key={"pk": {"S": probe}}, ConsistentRead=True)
        return "Item" in item

    return check


def probe_id() -> str:
    return f"probe-{uuid.uuid4().hex}"


# --- what LocalStack answers for the URL --------------------------------------------------------


def test_function_url_is_a_lambda_url_host_on_the_gateway(
    lam: Any, iam_url: FunctionUrl, ls_layout: Layout
) -> None:
    # Given an AWS_IAM function URL
    got = lam.get_function_url_config(FunctionName=iam_url.function)
    # Then its URL is <url-id>.lambda-url.<region>.<LOCALSTACK_HOST>, and its auth type is kept
    parts = urlsplit(got["FunctionUrl"])
    url_id, marker, region, rest = parts.netloc.split(".", 3)
    assert (marker, region, rest) == ("lambda-url", REGION, f"localhost:{ls_layout.port}")
    assert parts.scheme == "http" and parts.path == "/" and len(url_id) == 32
    assert got["AuthType"] == "AWS_IAM"


# --- AWS_IAM: signed requests are invoked -------------------------------------------------------


def test_signed_post_reaches_the_function_and_returns_its_response(
    iam_url: FunctionUrl, ls_layout: Layout, invoked: Callable[[str], bool]
) -> None:
    # Given a correctly signed POST with a JSON body, a path and a query string
    probe = probe_id()
    body = json.dumps({"amount": 12.5, "currency": "EUR"}).encode()
    path = "/score/v1?merchant=m-1&flag=a&flag=b"
    headers = sign(
        iam_url.host,
        "POST",
        path,
        body,
        headers={"Content-Type": "application/json", "x-probe-id": probe},
    )
    # When it is sent to the gateway with the URL's host name
    answer = send(ls_layout, "POST", path, body, headers)
    # Then the function ran and its statusCode, headers and body are the HTTP response
    assert answer.status == 201, answer.body
    assert answer.headers["x-echo"] == "yes"
    assert answer.headers["content-type"] == "application/json"
    assert invoked(probe)
    event = answer.json()["event"]
    # And the event is payload format 2.0
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/score/v1"
    assert event["rawQueryString"] == "merchant=m-1&flag=a&flag=b"
    assert event["queryStringParameters"] == {"merchant": "m-1", "flag": "a,b"}
    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-probe-id"] == probe
    assert event["headers"]["host"] == iam_url.host
    http = event["requestContext"]["http"]
    assert http["method"] == "POST" and http["path"] == "/score/v1"
    assert http["protocol"] == "HTTP/1.1"
    assert http["sourceIp"] == "127.0.0.1"
    context = event["requestContext"]
    assert context["domainName"] == iam_url.host
    assert context["domainPrefix"] == context["apiId"] == iam_url.host.split(".")[0]
    # And the caller is the signing identity (LocalStack's test credentials: the account root)
    assert context["authorizer"]["iam"] == {
        "accessKey": "test",
        "accountId": "000000000000",
        "callerId": "000000000000",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": "arn:aws:iam::000000000000:root",
        "userId": "000000000000",
    }


def test_binary_body_is_base64_encoded_in_the_event(
    iam_url: FunctionUrl, ls_layout: Layout
) -> None:
    body = bytes(range(256))
    headers = sign(
        iam_url.host, "PUT", "/blob", body, headers={"Content-Type": "application/octet-stream"}
    )
    answer = send(ls_layout, "PUT", "/blob", body, headers)
    assert answer.status == 201, answer.body
    event = answer.json()["event"]
    assert event["isBase64Encoded"] is True
    assert event["requestContext"]["http"]["method"] == "PUT"
    assert base64.b64decode(event["body"]) == body


def test_presigned_get_is_invoked(iam_url: FunctionUrl, ls_layout: Layout) -> None:
    # Given a query-string (presigned) SigV4 GET
    request = AWSRequest(
        method="GET", url="http://gateway.invalid/health?x=1", headers={"Host": iam_url.host}
    )
    SigV4QueryAuth(Credentials("test", "test"), "lambda", REGION, expires=60).add_auth(request)
    parts = urlsplit(str(request.url))
    # When it is sent without an Authorization header
    answer = send(ls_layout, "GET", f"{parts.path}?{parts.query}", None, {"Host": iam_url.host})
    # Then the function answers
    assert answer.status == 201, answer.body
    assert answer.json()["event"]["queryStringParameters"]["x"] == "1"


def test_iam_user_access_key_signs_with_its_own_secret(
    aws: Callable[..., Any], iam_url: FunctionUrl, ls_layout: Layout
) -> None:
    # Given an IAM user with an access key created in LocalStack
    iam = aws("iam")
    user = f"furl-caller-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    try:
        # When it signs with its secret, the function runs and sees the user as the caller
        good = sign(
            iam_url.host,
            "GET",
            "/me",
            access_key=key["AccessKeyId"],
            secret=key["SecretAccessKey"],
        )
        answer = send(ls_layout, "GET", "/me", None, good)
        assert answer.status == 201, answer.body
        caller = answer.json()["event"]["requestContext"]["authorizer"]["iam"]
        assert caller["accessKey"] == key["AccessKeyId"]
        assert caller["userArn"] == arn
        # And the default secret "test" does not sign for a key LocalStack knows
        wrong = sign(iam_url.host, "GET", "/me", access_key=key["AccessKeyId"], secret="test")
        assert send(ls_layout, "GET", "/me", None, wrong).status == 403
    finally:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=user)


# --- AWS_IAM: everything else is 403 and never invoked ------------------------------------------


def _assert_forbidden(answer: Answer) -> None:
    assert answer.status == 403, (answer.status, answer.body)
    assert answer.json() == FORBIDDEN
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-amzn-errortype"] == "AccessDeniedException"


def test_unsigned_request_is_forbidden_and_not_invoked(
    iam_url: FunctionUrl, ls_layout: Layout, invoked: Callable[[str], bool]
) -> None:
    probe = probe_id()
    answer = send(
        ls_layout,
        "POST",
        "/score",
        b'{"amount": 1}',
        {"Host": iam_url.host, "Content-Type": "application/json", "x-probe-id": probe},
    )
    _assert_forbidden(answer)
    assert not invoked(probe)


def test_body_altered_after_signing_is_forbidden_and_not_invoked(
    iam_url: FunctionUrl, ls_layout: Layout, invoked: Callable[[str], bool]
) -> None:
    probe = probe_id()
    headers = sign(
        iam_url.host,
        "POST",
        "/score",
        b'{"amount": 1}',
        headers={"Content-Type": "application/json", "x-probe-id": probe},
    )
    _assert_forbidden(send(ls_layout, "POST", "/score", b'{"amount": 9}', headers))
    assert not invoked(probe)


def test_path_or_query_altered_after_signing_is_forbidden(
    iam_url: FunctionUrl, ls_layout: Layout
) -> None:
    headers = sign(iam_url.host, "GET", "/score?limit=1")
    _assert_forbidden(send(ls_layout, "GET", "/score?limit=1000", None, headers))
    _assert_forbidden(send(ls_layout, "GET", "/admin?limit=1", None, headers))


@pytest.mark.parametrize(
    ("case", "kwargs", "extra_headers"),
    [
        ("wrong secret", {"secret": "not-the-secret"}, {}),
        ("another service", {"service": "execute-api"}, {}),
        ("another region", {"region": "eu-west-1"}, {}),
        ("X-Amz-Date 20 minutes old", {"minutes": -20}, {}),
        ("X-Amz-Date 20 minutes ahead", {"minutes": 20}, {}),
        ("unsigned payload", {}, {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}),
    ],
)
def test_bad_signature_is_forbidden_and_not_invoked(
    iam_url: FunctionUrl,
    ls_layout: Layout,
    invoked: Callable[[str], bool],
    case: str,
    kwargs: dict[str, Any],
    extra_headers: dict[str, str],
) -> None:
    probe = probe_id()
    body = b'{"amount": 1}'
    options = dict(kwargs)
    if (minutes := options.pop("minutes", None)) is not None:
        options["at"] = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    headers = sign(
        iam_url.host,
        "POST",
        "/score",
        body,
        headers={"Content-Type": "application/json", "x-probe-id": probe, **extra_headers},
        **options,
    )
    _assert_forbidden(send(ls_layout, "POST", "/score", body, headers))
    assert not invoked(probe), case


def test_clock_skew_within_15_minutes_is_accepted(iam_url: FunctionUrl, ls_layout: Layout) -> None:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    headers = sign(iam_url.host, "GET", "/late", at=at)
    assert send(ls_layout, "GET", "/late", None, headers).status == 201


def test_body_over_6_mb_is_413_and_not_invoked(
    iam_url: FunctionUrl, ls_layout: Layout, invoked: Callable[[str], bool]
) -> None:
    probe = probe_id()
    body = b"x" * (PAYLOAD_LIMIT + 1)
    headers = sign(
        iam_url.host,
        "POST",
        "/score",
        body,
        headers={"Content-Type": "application/json", "x-probe-id": probe},
    )
    answer = send(ls_layout, "POST", "/score", body, headers)
    assert answer.status == 413, answer.body[:200]
    assert "6291456" in answer.json()["Message"]
    assert not invoked(probe)


# --- NONE -------------------------------------------------------------------------------------


def test_none_url_answers_unsigned_requests(
    none_url: FunctionUrl, ls_layout: Layout, invoked: Callable[[str], bool]
) -> None:
    probe = probe_id()
    answer = send(
        ls_layout,
        "POST",
        "/public",
        b'{"hello": 1}',
        {"Host": none_url.host, "Content-Type": "application/json", "x-probe-id": probe},
    )
    assert answer.status == 201, answer.body
    assert invoked(probe)
    event = answer.json()["event"]
    assert event["body"] == '{"hello": 1}'
    assert "authorizer" not in event["requestContext"]
    assert event["requestContext"]["accountId"] == "anonymous"


def test_none_url_still_refuses_bodies_over_6_mb(none_url: FunctionUrl, ls_layout: Layout) -> None:
    body = b"x" * (PAYLOAD_LIMIT + 1)
    answer = send(ls_layout, "POST", "/", body, {"Host": none_url.host})
    assert answer.status == 413


def test_unknown_url_is_403(ls_layout: Layout) -> None:
    host = f"{'x' * 32}.lambda-url.{REGION}.localhost:{ls_layout.port}"
    answer = send(ls_layout, "GET", "/", None, {"Host": host})
    assert answer.status == 403


# --- CloudFormation -----------------------------------------------------------------------------


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def _template(auth_type: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Runtime": "python3.12",
                        "Handler": "index.handler",
                        "Role": ROLE,
                        "Code": {
                            "ZipFile": "def handler(event, context):\n"
                            "    return {'statusCode': 200, 'body': 'cfn'}\n"
                        },
                    },
                },
                "Url": {
                    "Type": "AWS::Lambda::Url",
                    "Properties": {
                        "AuthType": auth_type,
                        "TargetFunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]},
                    },
                },
            },
            "Outputs": {"FunctionUrl": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}}},
        }
    )


def test_cloudformation_url_deploys_and_its_auth_type_updates(
    aws: Callable[..., Any], ls_layout: Layout
) -> None:
    cfn = aws("cloudformation")
    stack = f"furl-{uuid.uuid4().hex[:8]}"

    def settled(*statuses: str) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            found: dict[str, Any] = cfn.describe_stacks(StackName=stack)["Stacks"][0]
            status = found["StackStatus"]
            assert not status.endswith(("FAILED", "ROLLBACK_COMPLETE")), found
            return found if status in statuses else None

        return check

    cfn.create_stack(StackName=stack, TemplateBody=_template("AWS_IAM"))
    try:
        # Given a stack with an AWS_IAM AWS::Lambda::Url
        found = wait_until(settled("CREATE_COMPLETE"))
        url = {o["OutputKey"]: o["OutputValue"] for o in found["Outputs"]}["FunctionUrl"]
        host = urlsplit(url).netloc
        assert ".lambda-url.us-east-1.localhost:" in host
        # Then the URL refuses unsigned requests and answers signed ones
        _assert_forbidden(send(ls_layout, "GET", "/", None, {"Host": host}))
        assert send(ls_layout, "GET", "/", None, sign(host, "GET", "/")).body == b"cfn"
        # When the stack changes the URL's AuthType to NONE
        cfn.update_stack(StackName=stack, TemplateBody=_template("NONE"))
        wait_until(settled("UPDATE_COMPLETE"))
        # Then the URL (unchanged) answers unsigned requests
        answer = send(ls_layout, "GET", "/", None, {"Host": host})
        assert (answer.status, answer.body) == (200, b"cfn")
    finally:
        cfn.delete_stack(StackName=stack)
