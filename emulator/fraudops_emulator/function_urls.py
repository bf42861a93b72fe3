"""Lambda function URLs as AWS serves them: ``AWS_IAM`` (SigV4) auth, the 6 MB request limit.

What LocalStack 2026.3 community does (``localstack/services/lambda_/urlrouter.py``): it routes
``<url-id>.lambda-url.<region>.<anything>`` by the ``Host`` header, builds a payload format 2.0
event and maps the function's answer (``statusCode``, ``headers``, ``body``,
``isBase64Encoded``) to the HTTP response. It never looks at ``AuthType``: an ``AWS_IAM`` URL
invokes for an unsigned request. An over-large request ends in a 500 (the invoke payload check
raises inside the route). This module, installed by :mod:`fraudops_emulator.patches`, wraps the
route handler so that, before anything is invoked:

* a body over 6 MB (6,291,456 bytes), or an event that ends up over the invoke limit, is answered
  413 ``{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction
  operation"}`` (the 413 is AWS's; the message is Lambda's Invoke message, unverified for URLs);
* on an ``AWS_IAM`` URL the SigV4 signature is recomputed over the request as received and the
  request is answered 403 ``{"Message":"Forbidden"}`` (``x-amzn-ErrorType:
  AccessDeniedException``) when it is unsigned, signed for another service or region, signed with
  another secret, altered after signing, or dated more than 15 minutes away from now;
* a signed request's caller goes into the event as ``requestContext.authorizer.iam``; every event
  gets ``requestContext.http.sourceIp`` (LocalStack leaves it empty);
* ``NONE`` URLs are otherwise unchanged.

It also implements ``update`` for CloudFormation's ``AWS::Lambda::Url`` (LocalStack's provider
raises ``NotImplementedError``, the engine logs a warning and reports ``UPDATE_COMPLETE`` with the
old ``AuthType``, ``Cors`` and ``InvokeMode`` left in place).

Not emulated: IAM authorization (``lambda:InvokeFunctionUrl`` / ``lambda:InvokeFunction`` in an
identity or resource policy; LocalStack community enforces no IAM policy anywhere), CORS
preflight, response cookies.

The secret a signature is checked with: the access key's own secret when LocalStack knows the key
(an IAM user's key from ``CreateAccessKey``, or temporary credentials from STS, whose session
token must then match and which must not have expired; an inactive IAM key is refused); any other
access key has the secret ``test``, LocalStack's test credentials (the rule LocalStack applies to
S3 presigned URLs, ``localstack/services/s3/presigned_url.py``).

How a client calls a URL offline
--------------------------------
``FunctionUrl`` is ``http://<url-id>.lambda-url.<region>.localhost:<port>/`` (``LOCALSTACK_HOST``
is ``localhost:<port>``), a name that Python's resolver does not resolve. Connect to the gateway
and send that host name in the ``Host`` header; sign with the ``Host`` header set, so that the
signed host is the URL's::

    from urllib.parse import urlsplit
    import urllib.request
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    url = lam.get_function_url_config(FunctionName=name)["FunctionUrl"]
    host = urlsplit(url).netloc  # <url-id>.lambda-url.us-east-1.localhost:4566
    request = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/score?x=1",  # the gateway, the URL's path and query
        data=body,
        headers={"Host": host, "Content-Type": "application/json"},
    )
    credentials = botocore.session.get_session().get_credentials()  # e.g. test / test
    SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
    urllib.request.urlopen(
        urllib.request.Request(request.url, data=body, headers=dict(request.headers),
                               method="POST")
    )

``requests.post(request.url, data=body, headers=dict(request.headers))`` works the same way;
curl resolves ``*.localhost`` itself, so ``curl http://<url-id>.lambda-url.us-east-1.localhost:
<port>/`` needs no ``Host`` header. Presigned (query-string) SigV4 is accepted too.

Behaviour relied on, from the AWS documentation
-----------------------------------------------
* Lambda developer guide, "Invoking Lambda function URLs": "If your function URL uses the AWS_IAM
  auth type, you must sign each HTTP request using AWS Signature Version 4 (SigV4)." "When your
  function URL receives a request, Lambda also calculates the SigV4 signature. Lambda processes
  the request only if the signatures match." "If your function URL uses the NONE auth type, you
  don't have to sign your requests using SigV4." "requestContext.authorizer: An object that
  contains information about the caller identity, if the function URL uses the AWS_IAM auth
  type." "requestContext.http.sourceIp: The source IP address of the immediate TCP connection
  making the request."
* Lambda quotas: "Invocation payload (request and response): 6 MB each for request and response
  (synchronous)". CloudFormation ``AWS::Lambda::Url``, InvokeMode: "BUFFERED - This is the
  default option. ... The maximum payload size is 6 MB."
* Amazon S3 API reference, "Authenticating Requests (AWS Signature Version 4)": "The signed
  portions (using AWS Signatures) of requests are valid within 15 minutes of the timestamp in the
  request."
* AWS General Reference, "Handling dates in Signature Version 4": "AWS first checks the x-amz-date
  header or parameter for a time stamp. If AWS can't find a value for x-amz-date, it looks for the
  date header." "If the dates don't match, AWS rejects the request" (credential scope date vs.
  time stamp).
* IAM user guide, "Create a signed AWS API request": the canonical URI is the URI-encoded path;
  "Each path segment must be URI-encoded twice (except for Amazon S3 which only gets URI-encoded
  once)"; query parameters are URI-encoded and sorted by name; header values are trimmed and
  sequential spaces collapsed.
* CloudFront developer guide, "Restrict access to an AWS Lambda function URL origin": "Lambda
  doesn't support unsigned payloads." (so ``x-amz-content-sha256`` must, if sent, be the body's
  SHA-256; ``UNSIGNED-PAYLOAD`` is refused).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote

LOG = logging.getLogger(__name__)

REQUEST_PAYLOAD_LIMIT = 6 * 1024 * 1024  # bytes; Lambda's synchronous invoke limit
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600  # seconds, SigV4's upper bound for X-Amz-Expires
DEFAULT_SECRET_ACCESS_KEY = "test"  # noqa: S105 - LocalStack's test credentials
ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "lambda"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

FORBIDDEN_BODY = b'{"Message":"Forbidden"}'
TOO_LARGE_BODY = (
    b'{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}'
)
_CALLER_ENVIRON_KEY = "fraudops.function_url.caller"
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")


class Forbidden(Exception):
    """The request does not authenticate; the message says why (logged, never returned)."""


@dataclass(frozen=True)
class Credential:
    """What an access key signs with, and who it is (``requestContext.authorizer.iam``)."""

    secret_access_key: str
    identity: dict[str, Any]
    session_token: str | None = None  # when set, the request must carry exactly this token


@dataclass(frozen=True)
class SignedRequest:
    """An HTTP request as received: the raw (still percent-encoded) path and query."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    _by_name: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, list[str]] = {}
        for name, value in self.headers:
            by_name.setdefault(name.lower(), []).append(value)
        object.__setattr__(self, "_by_name", by_name)

    def header(self, name: str) -> str | None:
        values = self._by_name.get(name.lower())
        return ",".join(values) if values else None

    def header_values(self, name: str) -> list[str]:
        return self._by_name.get(name.lower(), [])


# --- SigV4, server side (stdlib only) -----------------------------------------------------------


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, and empty segments dropped, as AWS normalizes non-S3 paths."""
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    trailing = "/" if path.endswith("/") and out else ""
    return "/" + "/".join(out) + trailing


def canonical_uri(raw_path: str) -> str:
    """The path as sent (already encoded once), normalized and encoded a second time."""
    return quote(_remove_dot_segments(raw_path), safe="/~")


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_query(raw_query: str, *, exclude: Iterable[str] = ()) -> str:
    skip = set(exclude)
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = unquote(name), unquote(value)
        if name not in skip:
            pairs.append((_uri_encode(name), _uri_encode(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _trim(value: str) -> str:
    return " ".join(value.split())


def canonical_headers(request: SignedRequest, signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = request.header_values(name)
        if not values:
            raise Forbidden(f"signed header {name!r} is not in the request")
        lines.append(f"{name}:{','.join(_trim(v) for v in values)}\n")
    return "".join(lines)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _parse_timestamp(value: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise Forbidden(f"malformed timestamp {value!r}") from exc


def _query_params(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        if name:
            params.setdefault(unquote(name), unquote(value))
    return params


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    scope_date: str
    scope_region: str
    scope_service: str
    signed_headers: list[str]
    signature: str
    timestamp: str
    presigned_expires: int | None  # seconds, for query-string (presigned) requests
    session_token: str | None


def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise Forbidden(f"malformed credential scope {credential!r}")
    return parts[0], parts[1], parts[2], parts[3]


def _parse_authorization(request: SignedRequest) -> _Authorization:
    header = request.header("authorization")
    if header is not None:
        algorithm, _, rest = header.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise Forbidden(f"unsupported authorization {algorithm!r}")
        fields = dict(_AUTH_FIELD.findall(rest))
        if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
            raise Forbidden("incomplete Authorization header")
        access_key, date, region, service = _parse_credential(fields["Credential"])
        if (timestamp := request.header("x-amz-date")) is None:
            date_header = request.header("date")
            if date_header is None:
                raise Forbidden("no X-Amz-Date or Date header")
            try:
                parsed = parsedate_to_datetime(date_header)
            except (TypeError, ValueError) as exc:
                raise Forbidden(f"malformed Date header {date_header!r}") from exc
            timestamp = parsed.astimezone(dt.UTC).strftime(_TIMESTAMP_FORMAT)
        return _Authorization(
            access_key=access_key,
            scope_date=date,
            scope_region=region,
            scope_service=service,
            signed_headers=fields["SignedHeaders"].split(";"),
            signature=fields["Signature"],
            timestamp=timestamp,
            presigned_expires=None,
            session_token=request.header("x-amz-security-token"),
        )
    params = _query_params(request.raw_query)
    if "X-Amz-Algorithm" not in params and "X-Amz-Signature" not in params:
        raise Forbidden("the request is not signed")
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise Forbidden(f"unsupported X-Amz-Algorithm {params.get('X-Amz-Algorithm')!r}")
    missing = {"X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"} - set(
        params
    )
    if missing:
        raise Forbidden(f"presigned request without {', '.join(sorted(missing))}")
    access_key, date, region, service = _parse_credential(params["X-Amz-Credential"])
    try:
        expires = int(params.get("X-Amz-Expires", str(MAX_PRESIGN_EXPIRES)))
    except ValueError as exc:
        raise Forbidden("malformed X-Amz-Expires") from exc
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise Forbidden(f"X-Amz-Expires {expires} is out of range")
    return _Authorization(
        access_key=access_key,
        scope_date=date,
        scope_region=region,
        scope_service=service,
        signed_headers=params["X-Amz-SignedHeaders"].split(";"),
        signature=params["X-Amz-Signature"],
        timestamp=params["X-Amz-Date"],
        presigned_expires=expires,
        session_token=params.get("X-Amz-Security-Token"),
    )


def verify_sigv4(
    request: SignedRequest,
    *,
    region: str,
    lookup: Callable[[str], Credential],
    service: str = SERVICE,
    now: dt.datetime | None = None,
) -> tuple[str, Credential]:
    """Recompute the request's SigV4 signature; return (access key, credential) or raise
    :class:`Forbidden`."""
    auth = _parse_authorization(request)
    if auth.scope_service != service:
        raise Forbidden(f"signed for service {auth.scope_service!r}, not {service!r}")
    if auth.scope_region != region:
        raise Forbidden(f"signed for region {auth.scope_region!r}, not {region!r}")
    when = _parse_timestamp(auth.timestamp)
    if auth.scope_date != auth.timestamp[:8]:
        raise Forbidden("credential scope date does not match the request time stamp")
    now = now or dt.datetime.now(dt.UTC)
    if auth.presigned_expires is None:
        if abs(now - when) > MAX_CLOCK_SKEW:
            raise Forbidden(f"signature time stamp {auth.timestamp} is over 15 minutes from now")
    elif now > when + dt.timedelta(seconds=auth.presigned_expires) or when - now > MAX_CLOCK_SKEW:
        raise Forbidden(f"presigned request dated {auth.timestamp} has expired or is future")

    signed = auth.signed_headers
    if signed != sorted({h.lower() for h in signed}) or "host" not in signed:
        raise Forbidden(f"SignedHeaders {';'.join(signed)!r} unsorted or without host")
    if auth.presigned_expires is None:
        date_header = "x-amz-date" if request.header("x-amz-date") is not None else "date"
        if date_header not in signed:
            raise Forbidden(f"the {date_header} header is not signed")

    body_hash = hashlib.sha256(request.body).hexdigest()
    declared = request.header("x-amz-content-sha256")
    if declared is not None and declared != body_hash:
        raise Forbidden("x-amz-content-sha256 is not the SHA-256 of the body")

    canonical_request = "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(
                request.raw_query,
                exclude=("X-Amz-Signature",) if auth.presigned_expires is not None else (),
            ),
            canonical_headers(request, signed),
            ";".join(signed),
            body_hash,
        ]
    )
    scope = f"{auth.scope_date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            auth.timestamp,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    credential = lookup(auth.access_key)
    key = signing_key(credential.secret_access_key, auth.scope_date, region, service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, auth.signature.lower()):
        raise Forbidden("signature mismatch")
    if credential.session_token is not None and auth.session_token != credential.session_token:
        raise Forbidden("missing or wrong security token for temporary credentials")
    return auth.access_key, credential


# --- LocalStack: credentials, route handler, event, CloudFormation ----------------------------


def localstack_credential(access_key: str, region: str) -> Credential:
    """The secret LocalStack holds for ``access_key`` (IAM user key, STS credentials) or
    ``test``; the identity is the key's user or role, or the account's root."""
    from localstack.aws.accounts import get_account_id_from_access_key_id
    from localstack.services.iam.models import iam_stores
    from localstack.services.sts.models import sts_stores

    account_id = get_account_id_from_access_key_id(access_key)
    iam_store = iam_stores[account_id][region]
    if (user_name := iam_store.ACCESS_KEY_INDEX.get(access_key)) is not None:
        user = iam_store.USERS.get(user_name)
        entity = user.access_keys.get(access_key) if user else None
        if user is None or entity is None:
            raise Forbidden(f"access key {access_key} was deleted")
        if entity.access_key.get("Status") == "Inactive":
            raise Forbidden(f"access key {access_key} is inactive")
        return Credential(
            secret_access_key=entity.access_key["SecretAccessKey"],
            identity=_identity(
                access_key, account_id, user.user["UserId"], user.user["Arn"], user.user["UserId"]
            ),
        )
    if (temporary := sts_stores[account_id][region].credentials.get(access_key)) is not None:
        if temporary.is_expired():
            raise Forbidden(f"temporary credentials {access_key} have expired")
        return Credential(
            secret_access_key=temporary.secret_access_key,
            session_token=temporary.session_token,
            identity=_identity(
                access_key,
                temporary.account_id,
                temporary.user_id,
                temporary.arn,
                temporary.user_id,
            ),
        )
    return Credential(
        secret_access_key=DEFAULT_SECRET_ACCESS_KEY,
        identity=_identity(
            access_key, account_id, account_id, f"arn:aws:iam::{account_id}:root", account_id
        ),
    )


def _identity(
    access_key: str, account_id: str, caller_id: str, user_arn: str, user_id: str
) -> dict[str, Any]:
    return {
        "accessKey": access_key,
        "accountId": account_id,
        "callerId": caller_id,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": user_arn,
        "userId": user_id,
    }


def _raw_query(request: Any) -> str:
    query = request.environ.get("QUERY_STRING", "")
    return query.decode("latin-1") if isinstance(query, bytes) else str(query)


def _signed_request(request: Any, body: bytes) -> SignedRequest:
    from rolo.request import get_raw_path

    try:
        raw_path = get_raw_path(request) or "/"
    except ValueError:
        raw_path = quote(request.path)
    return SignedRequest(
        method=request.method,
        raw_path=raw_path,
        raw_query=_raw_query(request),
        headers=list(request.headers.items()),
        body=body,
    )


def _error(status: int, body: bytes, error_type: str) -> Any:
    from localstack.aws.protocol.serializer import gen_amzn_requestid
    from localstack.http import Response

    response = Response(body, status=status, mimetype="application/json")
    response.headers["x-amzn-RequestId"] = gen_amzn_requestid()
    response.headers["x-amzn-ErrorType"] = error_type
    return response


def _find_url_config(api_id: str, region: str) -> Any:
    from localstack.services.lambda_.invocation.models import lambda_stores

    for account_id in lambda_stores:
        for fn in lambda_stores[account_id][region].functions.values():
            for url_config in fn.function_url_configs.values():
                if url_config.url_id.lower() == api_id.lower():
                    return url_config
    return None


def _install_route_handler() -> None:
    from localstack.aws.api.lambda_ import FunctionUrlAuthType
    from localstack.services.lambda_ import urlrouter
    from localstack.services.lambda_.invocation.lambda_models import (
        RequestEntityTooLargeException,
    )
    from rolo.request import restore_payload

    router_class = urlrouter.FunctionUrlRouter
    original = router_class.handle_lambda_url_invocation
    if getattr(original, "_fraudops", False):
        return

    def handle_lambda_url_invocation(
        self: Any, request: Any, api_id: str, region: str, **url_params: str
    ) -> Any:
        url_config = _find_url_config(api_id, region)
        if url_config is None:  # LocalStack answers an unknown URL as AWS does (403)
            return original(self, request, api_id, region, **url_params)
        # The bytes LocalStack hands the function (form bodies are re-serialized by LocalStack).
        body = restore_payload(request)
        if len(body) > REQUEST_PAYLOAD_LIMIT:
            return _error(413, TOO_LARGE_BODY, "RequestEntityTooLargeException")
        if url_config.auth_type == FunctionUrlAuthType.AWS_IAM:
            try:
                _, credential = verify_sigv4(
                    _signed_request(request, body),
                    region=region,
                    lookup=lambda key: localstack_credential(key, region),
                )
            except Forbidden as exc:
                LOG.info("function URL %s: 403 Forbidden (%s)", api_id, exc)
                return _error(403, FORBIDDEN_BODY, "AccessDeniedException")
            request.environ[_CALLER_ENVIRON_KEY] = credential.identity
        try:
            return original(self, request, api_id, region, **url_params)
        except RequestEntityTooLargeException:  # the event, not the body, is over the limit
            return _error(413, TOO_LARGE_BODY, "RequestEntityTooLargeException")

    handle_lambda_url_invocation._fraudops = True  # type: ignore[attr-defined]
    router_class.handle_lambda_url_invocation = handle_lambda_url_invocation

    original_event = urlrouter.event_for_lambda_url

    def event_for_lambda_url(api_id: str, request: Any) -> dict[str, Any]:
        event: dict[str, Any] = original_event(api_id, request)
        context = event.get("requestContext", {})
        http = context.get("http", {})
        if not http.get("sourceIp") and getattr(request, "remote_addr", None):
            http["sourceIp"] = request.remote_addr
            event.get("headers", {})["x-forwarded-for"] = request.remote_addr
        if (identity := request.environ.get(_CALLER_ENVIRON_KEY)) is not None:
            context["authorizer"] = {"iam": dict(identity)}
            context["accountId"] = identity["accountId"]
        return event

    urlrouter.event_for_lambda_url = event_for_lambda_url


def _install_cfn_update() -> None:
    from localstack.services.cloudformation.resource_provider import (
        OperationStatus,
        ProgressEvent,
        ResourceRequest,
    )
    from localstack.services.lambda_.resource_providers.aws_lambda_url import LambdaUrlProvider

    if getattr(LambdaUrlProvider.update, "_fraudops", False):
        return

    def update(self: Any, request: ResourceRequest[Any]) -> ProgressEvent[Any]:
        model = request.desired_state
        params: dict[str, Any] = {
            "FunctionName": model["TargetFunctionArn"],
            "AuthType": model["AuthType"],
            "Cors": model.get("Cors") or {},
            "InvokeMode": model.get("InvokeMode") or "BUFFERED",
        }
        if qualifier := model.get("Qualifier"):
            params["Qualifier"] = qualifier
        response = request.aws_client_factory.lambda_.update_function_url_config(**params)
        model["FunctionArn"] = response["FunctionArn"]
        model["FunctionUrl"] = response["FunctionUrl"]
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    update._fraudops = True  # type: ignore[attr-defined]
    LambdaUrlProvider.update = update


def install() -> None:
    """Patch LocalStack's function URL route handler and ``AWS::Lambda::Url`` update."""
    _install_route_handler()
    _install_cfn_update()
