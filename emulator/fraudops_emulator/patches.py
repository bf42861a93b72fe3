"""Runtime patches applied when LocalStack starts (``localstack.hooks.on_infra_start``).

Checks that the Docker init and AWS itself make and that a host executor must make instead:
unsafe zip archives are refused at upload, oversized invoke payloads are refused at the API,
function URLs check ``AWS_IAM`` (SigV4) auth and the 6 MB limit (see ``function_urls.py``);
async invocations queued across a function update are delivered (``async_events.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from localstack.runtime import hooks

from fraudops_emulator.archives import unsafe_zip_entries

LOG = logging.getLogger(__name__)

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024  # RequestResponse: 6 MB
ASYNC_PAYLOAD_LIMIT = 1024 * 1024  # Event: 1 MB


def _patch_zip_validation() -> None:
    from localstack.aws.api.lambda_ import InvalidParameterValueException
    from localstack.services.lambda_.invocation import lambda_service

    original = lambda_service.is_zip_file

    def is_zip_file(content: bytes) -> bool:
        if not original(content):
            return False
        if bad := unsafe_zip_entries(content):
            raise InvalidParameterValueException(
                "Could not unzip uploaded file. Please check your file, then try to upload again. "
                f"Entries escape the extraction directory: {', '.join(bad[:5])}",
                Type="User",
            )
        return True

    lambda_service.is_zip_file = is_zip_file


def _patch_payload_limit() -> None:
    from localstack.aws.api.lambda_ import InvocationType
    from localstack.services.lambda_.invocation.lambda_models import (
        RequestEntityTooLargeException,
    )
    from localstack.services.lambda_.invocation.lambda_service import LambdaService

    original = LambdaService.invoke

    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        payload = kwargs.get("payload")
        is_async = kwargs.get("invocation_type") == InvocationType.Event
        limit = ASYNC_PAYLOAD_LIMIT if is_async else SYNC_PAYLOAD_LIMIT
        if payload is not None and len(payload) > limit:
            raise RequestEntityTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        return original(self, *args, **kwargs)

    LambdaService.invoke = invoke


def _patch_function_urls() -> None:
    from fraudops_emulator.function_urls import install

    install()


def _patch_async_rollover() -> None:
    from fraudops_emulator.async_events import install

    install()


@hooks.on_infra_start()
def apply_patches() -> None:
    for patch in (
        _patch_zip_validation,
        _patch_payload_limit,
        _patch_function_urls,
        _patch_async_rollover,
    ):
        try:
            patch()
        except Exception:  # a LocalStack upgrade moved something: say so, keep serving
            LOG.exception("fraudops emulator patch %s failed", patch.__name__)

    # --- CloudFormation custom resources (Custom::*): see fraudops_emulator/cfn_custom.py ---
    try:
        from fraudops_emulator.cfn_custom import install_custom_resource_provider

        install_custom_resource_provider()
    except Exception:
        LOG.exception("fraudops emulator patch install_custom_resource_provider failed")
