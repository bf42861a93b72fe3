"""Runtime patches applied when LocalStack starts (``localstack.hooks.on_infra_start``)."""

from localstack.runtime import hooks


@hooks.on_infra_start()
def apply_patches() -> None:
    """Placeholder: filled in by the zip-validation work."""
