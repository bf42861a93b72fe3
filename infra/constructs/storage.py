"""The data lake: one bucket with landing/, curated/, quarantine/ and manifests/ zones, plus its
access logs."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge
from infra.stage import StageConfig


class DataLake(Construct):
    """Zones are prefixes of one bucket: one policy, one notification configuration, and moving
    an object between zones is a copy inside the bucket. S3-managed keys (SSE-S3) keep producers
    that upload to landing/ free of KMS grants; a customer key can replace it without moving data.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)

        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only kind log delivery supports
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(c.ACCESS_LOGS_EXPIRY_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=stage.removal_policy,
        )
        acknowledge(
            self.access_logs_bucket,
            "S1",
            "This bucket is the server access log target of the data lake; logging its own "
            "accesses would log the log writes themselves.",
        )

        self.bucket = s3.Bucket(
            self,
            "DataBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=c.ACCESS_LOGS_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(c.NONCURRENT_VERSION_EXPIRY_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(
                        c.INCOMPLETE_UPLOAD_EXPIRY_DAYS
                    ),
                ),
                # outputs of batches that never committed (a committed batch moves its own out)
                s3.LifecycleRule(
                    prefix=c.STAGING_PREFIX,
                    expiration=Duration.days(c.STAGING_EXPIRY_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
            removal_policy=stage.removal_policy,
        )
        self.landing_prefix = c.LANDING_PREFIX
        self.curated_prefix = c.CURATED_PREFIX
        self.quarantine_prefix = c.QUARANTINE_PREFIX
        self.manifest_prefix = c.MANIFEST_PREFIX
        self.staging_prefix = c.STAGING_PREFIX
        self.training_prefix = c.TRAINING_PREFIX
        self.parked_prefix = c.PARKED_PREFIX
