"""plux plugin classes: thin, so that importing them costs nothing at LocalStack start."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    """Selected with ``LAMBDA_RUNTIME_EXECUTOR=fraudops-host``."""

    name = "fraudops-host"

    def load(self, *args, **kwargs):
        from fraudops_emulator.executor import HostRuntimeExecutor

        return HostRuntimeExecutor
