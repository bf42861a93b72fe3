"""LocalStack plugins that let fraudops run on a host with no Docker engine.

Installed into LocalStack's own virtual environment (never the project's): LocalStack
discovers them through the entry points declared in ``emulator/pyproject.toml``.
"""
