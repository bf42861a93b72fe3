"""The shared Lambda layer's code, importable from the CLI (one implementation of contracts,
validation and the generator for the functions and for the user's machine)."""

from __future__ import annotations

import sys

from fraudops.paths import project_root


def use_layer_code() -> None:
    """Put ``layers/shared/python`` on sys.path (idempotent); call before importing it."""
    layer = str(project_root() / "layers" / "shared" / "python")
    if layer not in sys.path:
        sys.path.insert(0, layer)
