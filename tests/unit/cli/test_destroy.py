"""`fraudops destroy` empties the stack's buckets first: CloudFormation refuses to delete a bucket
that still holds objects, versions or delete markers (moto, no LocalStack)."""

from __future__ import annotations

import boto3
from moto import mock_aws

from fraudops.deploy import empty_bucket


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
