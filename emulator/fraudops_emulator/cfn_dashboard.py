"""CloudFormation provider for ``AWS::CloudWatch::Dashboard`` (LocalStack community has none).

Without it a stack with a dashboard deploys "successfully" while LocalStack logs
``No resource provider found for "AWS::CloudWatch::Dashboard"`` and no dashboard exists.
Create and update are ``PutDashboard`` (CloudWatch v2 provider, LocalStack's default), delete is
``DeleteDashboards``; ``Ref`` is the dashboard name. Without a ``DashboardName`` the name is
generated the way CloudFormation does: ``<stack>-<logical id>-<random>``.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any, ClassVar, TypedDict

from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

TYPE_NAME = "AWS::CloudWatch::Dashboard"
_NAME_MAX = 255
_RANDOM_ALPHABET = string.ascii_uppercase + string.digits


class DashboardProperties(TypedDict, total=False):
    DashboardName: str
    DashboardBody: str


def generate_dashboard_name(stack_name: str, logical_resource_id: str) -> str:
    """``<stack>-<logical id>-<12 random>``, trimmed to the 255 characters PutDashboard allows."""
    suffix = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(12))
    head = re.sub(r"[^A-Za-z0-9_-]", "", f"{stack_name}-{logical_resource_id}")
    return f"{head[: _NAME_MAX - len(suffix) - 1]}-{suffix}"


class DashboardProvider(ResourceProvider[DashboardProperties]):
    TYPE = TYPE_NAME
    SCHEMA: ClassVar[dict[str, Any]] = {
        "typeName": TYPE_NAME,
        "properties": {
            "DashboardName": {"type": "string"},
            "DashboardBody": {"type": "string"},
        },
        "required": ["DashboardBody"],
        "createOnlyProperties": ["/properties/DashboardName"],
        "primaryIdentifier": ["/properties/DashboardName"],
        "additionalProperties": False,
    }

    def create(self, request: ResourceRequest[DashboardProperties]) -> ProgressEvent:
        model = dict(request.desired_state or {})
        if not model.get("DashboardName"):
            model["DashboardName"] = generate_dashboard_name(
                request.stack_name, request.logical_resource_id
            )
        return self._put(request, model)

    def update(self, request: ResourceRequest[DashboardProperties]) -> ProgressEvent:
        model = dict(request.desired_state or {})
        previous = request.previous_state or {}
        if not model.get("DashboardName"):
            # a generated name belongs to the resource, not to the template: keep it
            model["DashboardName"] = previous.get("DashboardName") or generate_dashboard_name(
                request.stack_name, request.logical_resource_id
            )
        return self._put(request, model)

    def delete(self, request: ResourceRequest[DashboardProperties]) -> ProgressEvent:
        model = dict(request.desired_state or request.previous_state or {})
        if name := model.get("DashboardName"):
            request.aws_client_factory.cloudwatch.delete_dashboards(DashboardNames=[name])
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})

    def read(self, request: ResourceRequest[DashboardProperties]) -> ProgressEvent:
        cloudwatch = request.aws_client_factory.cloudwatch
        name = (request.desired_state or {})["DashboardName"]
        found = cloudwatch.get_dashboard(DashboardName=name)
        return ProgressEvent(
            status=OperationStatus.SUCCESS,
            resource_model={"DashboardName": name, "DashboardBody": found["DashboardBody"]},
        )

    @staticmethod
    def _put(request: ResourceRequest[DashboardProperties], model: dict) -> ProgressEvent:
        body = model.get("DashboardBody")
        if not isinstance(body, str) or not body:
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model=model,
                error_code="InvalidRequest",
                message="Property DashboardBody is required and must be a string",
            )
        request.aws_client_factory.cloudwatch.put_dashboard(
            DashboardName=model["DashboardName"], DashboardBody=body
        )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)


class DashboardProviderPlugin(CloudFormationResourceProviderPlugin):
    name = TYPE_NAME

    def __init__(self) -> None:
        self.factory: type[ResourceProvider] | None = None

    def load(self) -> None:
        self.factory = DashboardProvider
