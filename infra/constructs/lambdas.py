"""Lambda building blocks: the layers (two every function gets, the data layer only ingestion
gets), and a function with its own log group and role, so each function's permissions are only
what its construct grants it."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.bundling import (
    cache_key,
    data_layer_code,
    deps_layer_code,
    ml_layer_code,
    onnx_layer_code,
    tree_digest,
)
from infra.stage import StageConfig

DIGEST_CHARS = 8  # of a layer content digest, in its construct id

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def log_retention(days: int) -> logs.RetentionDays:
    """CloudWatch accepts only some retention periods; a constant outside them fails synth."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(
            f"unsupported log retention {days} days: use {sorted(_RETENTION)}"
        ) from None


def managed_pandas_layer_arn() -> str:
    """AWS's "AWS SDK for pandas" layer in the deploying region (resolved by CloudFormation)."""
    return (
        f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{c.AWS_SDK_PANDAS_LAYER_ACCOUNT}:layer:"
        f"{c.AWS_SDK_PANDAS_LAYER_NAME}:{c.AWS_SDK_PANDAS_LAYER_VERSION}"
    )


class SharedLayers(Construct):
    """`shared`: fraudops_shared (Powertools setup, domain code). `deps`: third-party packages
    the runtime and the shared layer need (Powertools, PyYAML). `data`: awswrangler, pandas,
    pyarrow, numpy for ingestion and training's data preparation, built (trimmed) or AWS's
    managed layer as the stage says. `ml` (training) and `onnx` (evaluation, scoring).
    Built layers come from the host's pip, no Docker. Code, not data: old versions are deleted
    on every stage.

    Each layer's construct id ends with a digest of its content, so new content is a new
    resource (and the old one is removed) instead of a CloudFormation replacement: the effect on
    AWS is the same (a layer version is immutable), and LocalStack 2026.3 loses a replaced
    LayerVersion from the stack (its cleanup deletes the resource's record, not only the old
    version)."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.shared = lambda_.LayerVersion(
            self,
            f"Shared{tree_digest(c.SHARED_LAYER_DIR, c.SHARED_LAYER_EXCLUDES)[:DIGEST_CHARS]}",
            code=lambda_.Code.from_asset(
                str(c.SHARED_LAYER_DIR), exclude=list(c.SHARED_LAYER_EXCLUDES)
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="fraudops_shared: observability setup and domain code",
        )
        self.deps = lambda_.LayerVersion(
            self,
            f"Deps{cache_key(c.DEPS_REQUIREMENTS)[:DIGEST_CHARS]}",
            code=deps_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Third-party packages: aws-lambda-powertools, PyYAML and their closure",
        )
        self.data_source = stage.data_layer
        self.data: lambda_.ILayerVersion
        if stage.data_layer == "managed":
            self.data = lambda_.LayerVersion.from_layer_version_arn(
                self, "Data", managed_pandas_layer_arn()
            )
        else:
            self.data = lambda_.LayerVersion(
                self,
                f"Data{cache_key(c.DATA_REQUIREMENTS, c.DATA_LAYER_TRIM)[:DIGEST_CHARS]}",
                code=data_layer_code(),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description="Dataframes for ingestion: awswrangler, pandas, pyarrow, numpy",
            )
        # Built on every stage (no AWS-managed equivalent): measured 210 MB (ml) and 120 MB
        # (onnx) unzipped with bytecode, each fits beside the deps and shared layers.
        self.ml = lambda_.LayerVersion(
            self,
            f"Ml{cache_key(c.ML_REQUIREMENTS, c.ML_LAYER_TRIM)[:DIGEST_CHARS]}",
            code=ml_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Training: scikit-learn, scipy, numpy, skl2onnx, onnx",
        )
        self.onnx = lambda_.LayerVersion(
            self,
            f"Onnx{cache_key(c.ONNX_REQUIREMENTS, c.ONNX_LAYER_TRIM)[:DIGEST_CHARS]}",
            code=onnx_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Model runtime: onnxruntime (CPU), numpy",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        """What every function gets."""
        return [self.deps, self.shared]

    def with_extra(self, extra: lambda_.ILayerVersion | None) -> list[lambda_.ILayerVersion]:
        """deps, shared and at most one runtime layer (data, ml or onnx): any two runtime layers
        together exceed Lambda's 250 MB. CDK orders a function's layers by construct path
        (cdk.json: recognizeLayerVersion), not by this list, so a file two layers both carry must
        be the same file: the same pin in both (tests/infra checks every shared package)."""
        return [extra, self.deps, self.shared] if extra is not None else self.all


class PythonFunction(Construct):
    """A thin handler from `functions/<folder>/app.py` with the deps and shared layers (and one
    runtime layer: data, ml or onnx, when given), an explicit log group (no Node.js
    log-retention custom resource) and a role that starts with only log writes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        memory_mb: int,
        timeout_seconds: int,
        layers: SharedLayers,
        stage: StageConfig,
        environment: Mapping[str, str] | None = None,
        extra_layer: lambda_.ILayerVersion | None = None,
        ephemeral_storage_mb: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(c.LAMBDA_LOG_RETENTION_DAYS),
            removal_policy=stage.removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"fraudops {folder}: log writes plus what its construct grants",
        )
        self.log_group.grant_write(self.role)
        env = {
            "POWERTOOLS_SERVICE_NAME": folder,
            "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": c.LOG_LEVEL,
            "POWERTOOLS_TRACE_DISABLED": str(stage.powertools_trace_disabled).lower(),
            **(environment or {}),
        }
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=c.LAMBDA_HANDLER,
            code=lambda_.Code.from_asset(
                str(c.FUNCTIONS_DIR / folder), exclude=list(c.ASSET_EXCLUDES)
            ),
            description=description,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            layers=layers.with_extra(extra_layer),
            ephemeral_storage_size=(
                Size.mebibytes(ephemeral_storage_mb) if ephemeral_storage_mb else None
            ),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=env,
        )
