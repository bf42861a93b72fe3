"""CloudFormation custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``).

LocalStack community has no provider for them (the Pro edition brings its own): a stack with one
"deploys" while LocalStack logs ``No resource provider found``, so e.g. CDK's
``Custom::S3BucketNotifications`` never configures its bucket. This provider does what
CloudFormation does:

* it sends the standard custom-resource request (``RequestType`` Create/Update/Delete,
  ``ResponseURL``, ``StackId``, ``RequestId``, ``LogicalResourceId``, ``ResourceType``,
  ``ResourceProperties`` with every value stringified, ``OldResourceProperties`` on update,
  ``PhysicalResourceId`` on update and delete) to the ``ServiceToken``: a Lambda function
  (invoked RequestResponse) or an SNS topic;
* ``ResponseURL`` is a presigned S3 PUT URL into an internal bucket of the same LocalStack,
  polled until the response arrives, the timeout (``ServiceTimeout`` or
  ``FRAUDOPS_CFN_CUSTOM_RESOURCE_TIMEOUT``, default 300 s) passes, or the Lambda invocation ended
  with a ``FunctionError`` and no response (failed fast, where CloudFormation would wait an hour);
* ``Status`` FAILED fails the resource with CloudFormation's message, which carries the
  ``Reason``; ``Fn::GetAtt`` returns the response's ``Data`` keys, ``Ref`` the
  ``PhysicalResourceId``.

Both LocalStack engines map every ``Custom*`` type to ``AWS::CloudFormation::CustomResource``
before looking its provider up (``ResourceProviderExecutor.try_load_resource_provider``), so the
provider is found either through the ``localstack.cloudformation.resource_providers`` entry point
(:class:`CustomResourceProviderPlugin`) or through :func:`install_custom_resource_provider`, which
``patches.apply_patches`` calls.

What the engine keeps as the resource's properties is the ``Data`` (so ``Fn::GetAtt`` finds it)
plus one bookkeeping key, :data:`STATE_KEY`, holding the physical id and the properties last sent;
an update or delete reads ``OldResourceProperties`` and ``PhysicalResourceId`` from there.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

LOG = logging.getLogger(__name__)

CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"
STATE_KEY = "FraudopsCustomResourceState"
DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 3600.0  # CloudFormation's ServiceTimeout upper bound
RESPONSE_LIMIT = 4096  # bytes CloudFormation accepts in a response object
POLL_INTERVAL = 0.25
PRESIGN_EXPIRY = 2 * 3600
# After a FunctionError, how long a response the function PUT before failing may still take to land
FUNCTION_ERROR_GRACE = 2.0


def is_custom_resource_type(resource_type: str | None) -> bool:
    return resource_type is not None and (
        resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE_TYPE
    )


def stringify(value: Any) -> Any:
    """Property values as CloudFormation sends them to custom resources: every scalar a string.

    LocalStack's engine keeps template booleans and numbers as they are (``true`` stays a bool);
    CloudFormation turns them into ``"true"``, ``"5"``; nested lists and maps are converted too.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify(v) for v in value]
    return value


def attributes_from_data(data: dict[str, Any]) -> dict[str, Any]:
    """What ``Fn::GetAtt`` reads: ``Data`` keys, scalars as strings.

    LocalStack resolves ``Fn::GetAtt X.a.b`` by walking the properties along the dots, and refuses
    numbers and booleans, so a flat ``Data`` key ``"a.b"`` (CDK's AwsCustomResource returns such
    keys) is also stored nested under ``a`` -> ``b`` when that does not clash with another key.
    """
    attributes: dict[str, Any] = {
        k: stringify(v) for k, v in data.items() if k != STATE_KEY and v is not None
    }
    for key, value in list(attributes.items()):
        if "." not in key:
            continue
        *parents, leaf = key.split(".")
        node = attributes
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(leaf, value)
    return attributes


class CustomResourceError(Exception):
    """The custom resource request could not be completed; the message is the stack event reason."""


@dataclass
class _Invocation:
    """The ServiceToken call, made on a thread so the response bucket is polled meanwhile."""

    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None  # the call failed: fail now, no response will come
    function_error: str | None = None  # the Lambda raised: fail unless it answered first


@dataclass
class _Target:
    account_id: str
    region: str
    stack_id: str
    resource_type: str
    logical_resource_id: str


class CustomResourceProvider(ResourceProvider[dict]):
    TYPE = CUSTOM_RESOURCE_TYPE
    SCHEMA: ClassVar[dict[str, Any]] = {
        "typeName": CUSTOM_RESOURCE_TYPE,
        "properties": {
            "ServiceToken": {"type": "string"},
            "ServiceTimeout": {"type": "integer"},
            STATE_KEY: {"type": "object"},
        },
        "required": ["ServiceToken"],
        # no createOnlyProperties: every change is an Update request, the function decides
        "primaryIdentifier": [f"/properties/{STATE_KEY}/PhysicalResourceId"],
        "readOnlyProperties": [f"/properties/{STATE_KEY}"],
        "additionalProperties": True,
    }

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        return self._handle(request, "Create", dict(request.desired_state or {}), None)

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        previous = (request.previous_state or {}).get(STATE_KEY) or {}
        if not previous.get("PhysicalResourceId"):
            # never created (or created before this provider existed): CloudFormation would too
            return self._handle(request, "Create", dict(request.desired_state or {}), None)
        return self._handle(request, "Update", dict(request.desired_state or {}), previous)

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state or request.previous_state or {}
        previous = model.get(STATE_KEY) or {}
        if not previous.get("PhysicalResourceId"):
            # the create never produced a resource: nothing to tell the function about
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        properties = dict(previous.get("ResourceProperties") or {})
        return self._handle(request, "Delete", properties, previous)

    def read(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=request.desired_state)

    # -- the request/response exchange -------------------------------------------------------

    def _handle(
        self,
        request: ResourceRequest[dict],
        request_type: str,
        properties: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> ProgressEvent[dict]:
        properties.pop(STATE_KEY, None)
        target = _Target(
            account_id=request.account_id,
            region=request.region_name,
            stack_id=request.stack_id,
            resource_type=request.resource_type,
            logical_resource_id=request.logical_resource_id,
        )
        resource_properties = stringify(properties)
        old_physical_id = (previous or {}).get("PhysicalResourceId")
        try:
            response = exchange(
                target,
                request_type=request_type,
                resource_properties=resource_properties,
                old_resource_properties=(previous or {}).get("ResourceProperties")
                if request_type == "Update"
                else None,
                physical_resource_id=old_physical_id,
                timeout=_timeout_of(properties),
            )
        except CustomResourceError as e:
            LOG.warning(
                "custom resource %s (%s) %s failed: %s",
                target.logical_resource_id,
                target.resource_type,
                request_type,
                e,
            )
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model=_failed_model(previous),
                message=str(e),
            )

        if request_type == "Delete":
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        data = response.get("Data") or {}
        model = {
            **attributes_from_data(data),
            STATE_KEY: {
                "PhysicalResourceId": response["PhysicalResourceId"],
                "ResourceProperties": resource_properties,
                "Data": data,
                "NoEcho": bool(response.get("NoEcho")),
            },
        }
        if old_physical_id and old_physical_id != response["PhysicalResourceId"]:
            # CloudFormation would send a Delete for the old id in the cleanup phase
            LOG.info(
                "custom resource %s replaced %s with %s; no cleanup Delete is sent for the old id",
                target.logical_resource_id,
                old_physical_id,
                response["PhysicalResourceId"],
            )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)


def _failed_model(previous: dict[str, Any] | None) -> dict[str, Any]:
    # a failed update keeps the resource as it was, so a rollback or delete can still address it
    return {STATE_KEY: previous} if previous and previous.get("PhysicalResourceId") else {}


def _timeout_of(properties: dict[str, Any]) -> float:
    default = float(os.environ.get("FRAUDOPS_CFN_CUSTOM_RESOURCE_TIMEOUT") or DEFAULT_TIMEOUT)
    raw = properties.get("ServiceTimeout")
    try:
        value = float(raw) if raw is not None else default
    except (TypeError, ValueError):
        value = default
    return max(1.0, min(value, MAX_TIMEOUT))


def _endpoint_url() -> str:
    from localstack import config

    return f"{config.get_protocol()}://127.0.0.1:{config.GATEWAY_LISTEN[0].port}"


def _client(service: str, target: _Target, region: str | None = None, **config: Any) -> Any:
    # a plain boto3 client over the gateway: the access key is the stack's account id
    session: Any = boto3.session.Session()
    return session.client(
        service,
        endpoint_url=_endpoint_url(),
        region_name=region or target.region,
        aws_access_key_id=target.account_id,
        aws_secret_access_key="test",
        config=Config(**config) if config else None,
    )


def response_bucket(region: str) -> str:
    return f"cloudformation-custom-resource-response-{region.replace('-', '')}"


def exchange(
    target: _Target,
    *,
    request_type: str,
    resource_properties: dict[str, Any],
    old_resource_properties: dict[str, Any] | None,
    physical_resource_id: str | None,
    timeout: float,
) -> dict[str, Any]:
    """Send one custom-resource request and return the function's (successful) response."""
    service_token = resource_properties.get("ServiceToken")
    if not isinstance(service_token, str) or not service_token:
        raise CustomResourceError("Property ServiceToken is required for custom resources")

    s3 = _client("s3", target, s3={"addressing_style": "path"}, signature_version="s3v4")
    bucket = response_bucket(target.region)
    _ensure_bucket(s3, bucket, target.region)
    request_id = str(uuid.uuid4())
    key = f"{target.logical_resource_id}/{request_id}"
    response_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGN_EXPIRY
    )

    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": target.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": target.logical_resource_id,
        "ResourceType": target.resource_type,
        "ResourceProperties": resource_properties,
    }
    if request_type == "Update":
        event["OldResourceProperties"] = old_resource_properties or {}
    if request_type in ("Update", "Delete"):
        event["PhysicalResourceId"] = physical_resource_id

    LOG.debug("custom resource request to %s: %s", service_token, {**event, "ResponseURL": "..."})
    deadline = time.monotonic() + timeout
    invocation = _send(target, service_token, event, timeout)
    try:
        body = _await_response(s3, bucket, key, invocation, deadline, timeout)
    finally:
        try:
            s3.delete_object(Bucket=bucket, Key=key)
        except Exception:  # best effort: the bucket is ours
            LOG.debug("could not delete custom resource response %s/%s", bucket, key)
    return _parse_response(body, request_type, physical_resource_id)


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    params: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**params)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise CustomResourceError(f"Could not create the response bucket {bucket}: {e}") from e


def _send(
    target: _Target, service_token: str, event: dict[str, Any], timeout: float
) -> _Invocation:
    arn_parts = service_token.split(":")
    service = arn_parts[2] if service_token.startswith("arn:") and len(arn_parts) > 5 else ""
    region = arn_parts[3] if service else target.region
    invocation = _Invocation()
    payload = json.dumps(event)

    if service == "sns":
        try:
            _client("sns", target, region).publish(TopicArn=service_token, Message=payload)
        except ClientError as e:
            invocation.error = f"Could not publish to the ServiceToken topic {service_token}: {e}"
        invocation.done.set()
        return invocation
    if service != "lambda":
        invocation.error = (
            f"Invalid service token: {service_token} "
            "(a Lambda function or SNS topic ARN is expected)"
        )
        invocation.done.set()
        return invocation

    client = _client(
        "lambda",
        target,
        region,
        read_timeout=int(timeout) + 60,
        connect_timeout=10,
        retries={"total_max_attempts": 1},
    )

    def invoke() -> None:
        try:
            result = _invoke_when_ready(client, service_token, payload, time.monotonic() + timeout)
            if result.get("FunctionError"):
                invocation.function_error = _describe_function_error(result)
        except ClientError as e:
            invocation.error = f"Could not invoke the ServiceToken function {service_token}: {e}"
        except Exception as e:  # read timeout, connection reset: no answer is coming from it
            invocation.error = f"Invoking the ServiceToken function {service_token} failed: {e}"
        finally:
            invocation.done.set()

    threading.Thread(target=invoke, name="cfn-custom-resource-invoke", daemon=True).start()
    return invocation


def _invoke_when_ready(client: Any, function: str, payload: str, deadline: float) -> dict[str, Any]:
    """Invoke; a function still Pending (just created in the same stack) is waited for."""
    while True:
        try:
            result = client.invoke(
                FunctionName=function, InvocationType="RequestResponse", Payload=payload
            )
            result["Payload"] = result["Payload"].read()
            return result
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            pending = code == "ResourceConflictException" and "Pending" in str(e)
            if not pending or time.monotonic() >= deadline:
                raise
            threading.Event().wait(min(1.0, max(0.0, deadline - time.monotonic())))


def _describe_function_error(result: dict[str, Any]) -> str:
    detail = ""
    try:
        error = json.loads(result.get("Payload") or b"{}")
        if isinstance(error, dict):
            detail = ": ".join(str(error[k]) for k in ("errorType", "errorMessage") if error.get(k))
    except ValueError:
        detail = (result.get("Payload") or b"")[:500].decode("utf-8", "replace")
    return f"{result.get('FunctionError')}{' - ' + detail if detail else ''}"


def _await_response(
    s3: Any, bucket: str, key: str, invocation: _Invocation, deadline: float, timeout: float
) -> bytes:
    grace_until: float | None = None
    while True:
        body = _get_object(s3, bucket, key)
        if body is not None:
            return body
        now = time.monotonic()
        if invocation.done.is_set():
            if invocation.error:
                raise CustomResourceError(invocation.error)
            if invocation.function_error:
                grace_until = grace_until or now + FUNCTION_ERROR_GRACE
                if now >= grace_until:
                    raise CustomResourceError(
                        "The custom resource function failed without sending a response: "
                        f"{invocation.function_error}"
                    )
        if now >= deadline:
            raise CustomResourceError(
                f"CloudFormation did not receive a response from your Custom Resource within "
                f"{int(timeout)} seconds. Please check your logs for requestId "
                f"[{key.split('/')[-1]}]. "
                "If you are using the Python cfn-response module, you may need to update your "
                "Lambda function code so that CloudFormation can attach the updated version."
            )
        if invocation.done.is_set():
            threading.Event().wait(POLL_INTERVAL)
        else:
            invocation.done.wait(POLL_INTERVAL)  # wakes early when the invocation returns


def _get_object(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise CustomResourceError(f"Could not read the custom resource response: {e}") from e


def _parse_response(
    body: bytes, request_type: str, physical_resource_id: str | None
) -> dict[str, Any]:
    if len(body) > RESPONSE_LIMIT:
        raise CustomResourceError("Response object is too long.")
    try:
        response = json.loads(body or b"{}")
    except ValueError as e:
        raise CustomResourceError(f"Invalid response object: {e}") from e
    if not isinstance(response, dict):
        raise CustomResourceError("Invalid response object: not a JSON object")
    status = response.get("Status")
    if status == "FAILED":
        raise CustomResourceError(
            "Received response status [FAILED] from custom resource. Message returned: "
            f"{response.get('Reason') or 'See the details in CloudWatch Log Stream'}"
        )
    if status != "SUCCESS":
        raise CustomResourceError(f"Invalid response object: invalid Status {status!r}")
    if request_type != "Delete":
        physical = response.get("PhysicalResourceId") or physical_resource_id
        if not physical or not isinstance(physical, str):
            raise CustomResourceError("Invalid PhysicalResourceId")
        response["PhysicalResourceId"] = physical
    data = response.get("Data")
    if data is not None and not isinstance(data, dict):
        raise CustomResourceError("Invalid response object: Data must be a JSON object")
    return response


class CustomResourceProviderPlugin(CloudFormationResourceProviderPlugin):
    """The provider as a plugin, for an entry point instead of the patch::

    "aws::cloudformation::customresource" = "fraudops_emulator.cfn_custom:CustomResourceProviderPlugin"
    """  # noqa: E501

    name = CUSTOM_RESOURCE_TYPE

    def __init__(self) -> None:
        self.factory: type[ResourceProvider] | None = None

    def load(self) -> None:
        self.factory = CustomResourceProvider


def install_custom_resource_provider() -> None:
    """Map every ``Custom::*`` and ``AWS::CloudFormation::CustomResource`` to this provider.

    Both engines (v2 change sets, which ``create_stack`` uses too, and the legacy v1 deployer)
    look providers up through ``ResourceProviderExecutor.try_load_resource_provider``.
    """
    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    original = ResourceProviderExecutor.try_load_resource_provider
    if getattr(original, "_fraudops_custom_resources", False):
        return

    def try_load_resource_provider(resource_type: str) -> ResourceProvider | None:
        if is_custom_resource_type(resource_type):
            return CustomResourceProvider()
        return original(resource_type)

    try_load_resource_provider._fraudops_custom_resources = True  # type: ignore[attr-defined]
    ResourceProviderExecutor.try_load_resource_provider = staticmethod(try_load_resource_provider)
