"""`fraudops destroy` empties the stack's buckets first: CloudFormation refuses to delete a bucket
that still holds objects, versions or delete markers (moto, no LocalStack). And a deploy after
an interrupted one (Ctrl-C) settles the stack first: it waits out what LocalStack is finishing
and deletes a stack no update can start."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from fraudops import clients, deploy
from fraudops.deploy import empty_bucket
from fraudops.paths import Layout


@mock_aws
def test_a_versioned_bucket_is_emptied_of_objects_versions_and_delete_markers() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
    for i in range(3):
        s3.put_object(Bucket="data", Key="curated/a.parquet", Body=f"v{i}".encode())
    s3.put_object(Bucket="data", Key="_staging/b", Body=b"x")
    s3.delete_object(Bucket="data", Key="_staging/b")  # a delete marker over a version
    # When it is emptied, Then every version and marker is gone and the bucket can be deleted
    assert empty_bucket(s3, "data") == 5
    listed = s3.list_object_versions(Bucket="data")
    assert "Versions" not in listed and "DeleteMarkers" not in listed
    s3.delete_bucket(Bucket="data")


@mock_aws
def test_a_bucket_already_gone_is_nothing_to_empty() -> None:
    assert empty_bucket(boto3.client("s3", region_name="us-east-1"), "gone") == 0


class Stack:
    """CloudFormation's answers for the stack, one status per DescribeStacks call."""

    def __init__(self, *statuses: str | None) -> None:
        self.statuses = list(statuses)

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status is None:
            missing = f"Stack {StackName} does not exist"
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": missing}}, "DescribeStacks"
            )
        return {"Stacks": [{"StackStatus": status}]}


def settle_with(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> tuple[str | None, list[str]]:
    destroyed: list[str] = []
    monkeypatch.setattr(deploy, "client", lambda layout, service: stack)
    monkeypatch.setattr(deploy, "destroy", lambda layout: destroyed.append("destroy"))
    monkeypatch.setattr(clients.time, "sleep", lambda s: None)
    return deploy.settle(Layout.from_env(port=4599), timeout=60), destroyed


def test_a_deploy_interrupted_in_progress_is_waited_for_then_updated_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, destroyed = settle_with(
        monkeypatch, Stack("UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE")
    )
    assert (status, destroyed) == ("UPDATE_COMPLETE", [])


def test_a_stack_no_update_can_start_is_deleted_before_the_deploy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, destroyed = settle_with(
        monkeypatch, Stack("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE")
    )
    assert (status, destroyed) == ("ROLLBACK_COMPLETE", ["destroy"])


def test_no_stack_is_nothing_to_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settle_with(monkeypatch, Stack(None)) == (None, [])
