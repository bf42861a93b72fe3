"""The layout rules, checked: only `fraudops_shared.aws` imports boto3 or botocore, handlers stay
thin, modules stay small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared" / "python" / "fraudops_shared"
MAX_HANDLER_LINES = 60
MAX_MODULE_LINES = 500
AWS_SDK = ("boto3", "botocore")


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "module", sorted(LAYER.rglob("*.py")), ids=lambda p: str(p.relative_to(LAYER))
)
def test_only_the_aws_adapters_import_the_aws_sdk(module: Path) -> None:
    uses_sdk = imported_roots(module) & set(AWS_SDK)
    if module.relative_to(LAYER).parts[0] == "aws":
        return
    assert not uses_sdk, f"{module.relative_to(LAYER)} imports {sorted(uses_sdk)}"


def test_every_module_of_the_layer_is_small_enough_to_read() -> None:
    sizes = {p.relative_to(LAYER): len(p.read_text().splitlines()) for p in LAYER.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_handlers_are_thin() -> None:
    handlers = sorted((ROOT / "functions").glob("*/app.py"))
    assert handlers
    lengths = {h.parent.name: len(h.read_text().splitlines()) for h in handlers}
    assert {name: n for name, n in lengths.items() if n > MAX_HANDLER_LINES} == {}


# What each runtime layer provides (layers/*/requirements.txt); a function has at most one.
RUNTIME_PACKAGES = {
    "data": {"pyarrow", "numpy", "pandas", "awswrangler"},
    "ml": {"sklearn", "scipy", "numpy", "skl2onnx", "onnx", "joblib", "threadpoolctl"},
    "onnx": {"onnxruntime", "numpy"},
    None: set(),
}
# The runtime layer of each function (infra/constructs: extra_layer=...).
FUNCTION_LAYER = {
    "ingest_batch": "data",
    "ingest_stream": "data",
    "dlq_accounting": "data",
    "training_prepare": "data",
    "training_train": "ml",
    "training_evaluate": "onnx",
    "training_register": None,
    "score_stream": "onnx",
    "score_api": "onnx",
    "score_dead_letters": "onnx",
    "monitor_drift": "data",
    "monitor_quality": "data",
    "retrain_on_alarm": "data",
}
IMPORT_WITH_ONLY = """
import importlib.util, sys
blocked = set(sys.argv[2].split(",")) - {""}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"No module named {name!r} (not in this function's layers)")
        return None
sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
"""


@pytest.mark.parametrize("folder", sorted(FUNCTION_LAYER))
def test_each_handler_imports_with_only_the_layers_it_is_given(folder: str) -> None:
    """A module-level import of a package the function's layers lack fails on Lambda at init
    (Runtime.ImportModuleError), long after the unit tests passed in a venv that has it all."""
    import subprocess
    import sys

    everything = set().union(*RUNTIME_PACKAGES.values())
    blocked = everything - RUNTIME_PACKAGES[FUNCTION_LAYER[folder]]
    handler = ROOT / "functions" / folder / "app.py"
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_WITH_ONLY, str(handler), ",".join(sorted(blocked))],
        capture_output=True,
        text=True,
        env={
            "AWS_DEFAULT_REGION": "us-east-1",
            "PATH": "/usr/bin:/bin",
            # what the stack sets and a handler may read while it initialises
            "STREAM_CONTRACT": "transactions",
            "STATE_TABLE_NAME": "state",
            "DATA_BUCKET": "lake",
            "DECISIONS_TABLE_NAME": "decisions",
            "DECISIONS_STREAM": "decisions",
            "POWERTOOLS_TRACE_DISABLED": "true",
        },
    )
    assert done.returncode == 0, done.stderr[-1500:]


def test_every_function_has_its_layer_stated() -> None:
    folders = {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
    assert folders == set(FUNCTION_LAYER)
