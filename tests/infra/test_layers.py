"""Pip layers built without Docker: the bundler's rules, every function's size (code and layers)
against Lambda's limit, that the data layer imports on its own, and the stage setting that picks
its source. (The ml and onnx layers' own imports: test_training_infra.)"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import bundling
from infra import constants as c
from infra.app_factory import build_app, cdk_json_context
from tests.infra.synth_support import layer_ids, our_functions, resources, synth

# --- the bundler (no pip) -----------------------------------------------------------------------


def test_pip_targets_both_manylinux_platforms_wheels_only_no_deps(tmp_path: Path) -> None:
    args = bundling.pip_arguments(tmp_path / "requirements.txt", tmp_path / "out")
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms == ["manylinux2014_x86_64", "manylinux_2_28_x86_64"]
    assert "--only-binary=:all:" in args and "--no-deps" in args
    assert args[args.index("--python-version") + 1] == c.LAYER_PYTHON_VERSION


def test_cache_key_follows_requirements_and_trim(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("a==1\n")
    base = bundling.cache_key(req)
    assert bundling.cache_key(req, ("**/tests",)) != base
    req.write_text("a==2\n")
    assert bundling.cache_key(req) != base


def test_trim_removes_matches_and_counts_bytes(tmp_path: Path) -> None:
    root = tmp_path / "python"
    for rel, size in (
        ("pkg/__init__.py", 10),
        ("pkg/tests/test_x.py", 100),
        ("pkg/sub/tests/deep/t.py", 50),
        ("pyarrow/libarrow_flight.so.2500", 1000),
        ("pyarrow/libarrow_python.so", 7),
        ("pyarrow/libarrow_python.so.2500", 7),
        ("pyarrow/libarrow_python.so.2500.1.0", 7),
        ("pyarrow/lib.cpython-312-x86_64-linux-gnu.so", 3),
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    removed = bundling.trim_tree(root, c.DATA_LAYER_TRIM)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    # Then tests and Flight are gone; the versioned libarrow_python (the SONAME) and the
    # extension module stay
    assert left == [
        "pkg/__init__.py",
        "pyarrow/lib.cpython-312-x86_64-linux-gnu.so",
        "pyarrow/libarrow_python.so.2500",
    ]
    assert removed == 100 + 50 + 1000 + 7 + 7


def test_a_layer_over_the_limit_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("anything==1\n")

    def fake_run(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        if "pip" in args:
            target = Path(args[args.index("--target") + 1])
            target.mkdir(parents=True)
            (target / "big.bin").write_bytes(b"x" * 2048)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(bundling.subprocess, "run", fake_run)
    bundler = bundling.PipLayerBundling(req, max_bytes=1024, cache_dir=tmp_path / "cache")
    with pytest.raises(bundling.LayerTooLargeError, match="2,048 bytes"):
        bundler.build()
    assert not bundler.cached_dir().exists()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line):
            pins[m[1].lower().replace("_", "-")] = m[2]
    return pins


def test_requirements_are_exact_pins_and_shared_packages_agree() -> None:
    layers = {
        "deps": _pins(c.DEPS_REQUIREMENTS),
        "data": _pins(c.DATA_REQUIREMENTS),
        "ml": _pins(c.ML_REQUIREMENTS),
        "onnx": _pins(c.ONNX_REQUIREMENTS),
    }
    assert {"awswrangler", "pandas", "pyarrow", "numpy"} <= set(layers["data"])
    assert {"scikit-learn", "scipy", "numpy", "skl2onnx", "onnx", "protobuf"} <= set(layers["ml"])
    assert set(layers["onnx"]) == {"onnxruntime", "numpy"}
    # the shared layer's contracts need PyYAML whatever the data source
    assert "pyyaml" in layers["deps"]
    # The runtime provides the AWS SDK: no layer may ship (and shadow) it
    for pins in layers.values():
        assert not set(pins) & {"boto3", "botocore", "s3transfer", "urllib3"}
    # A package two layers carry is the same pin in both, so whichever layer Lambda extracts
    # last (the order is CDK's, see test_stack) puts the same files in /opt/python
    for (a, pins_a), (b, pins_b) in itertools.combinations(layers.items(), 2):
        for name in set(pins_a) & set(pins_b):
            assert pins_a[name] == pins_b[name], (name, a, b)


# --- the real layers (pip, cached under .cache/layers; `built_layers` is in conftest) ----------


def test_every_function_with_all_its_layers_fits_lambdas_limit(
    template: Template, built_layers: dict[str, Path]
) -> None:
    # Given every function's folder and the layers the template gives it, as built
    role_of = {lid: role for role, lid in layer_ids(template).items()}
    layer_bytes = {role: bundling.tree_size(path) for role, path in built_layers.items()}
    totals: dict[str, int] = {}
    for fn in our_functions(template).values():
        props = fn["Properties"]
        folder = props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        assert (c.FUNCTIONS_DIR / folder / "app.py").is_file(), folder
        sizes = {"code": bundling.tree_size(c.FUNCTIONS_DIR / folder)}
        sizes |= {role_of[ref["Ref"]]: layer_bytes[role_of[ref["Ref"]]] for ref in props["Layers"]}
        totals[folder] = sum(sizes.values())
        print(f"{folder}: unzipped bytes {sizes} total {totals[folder]:,}")
    # Then every function was measured
    assert set(totals) == {
        c.FN_INGEST_BATCH,
        c.FN_INGEST_STREAM,
        c.FN_DLQ_ACCOUNTING,
        c.FN_TRAINING_PREPARE,
        c.FN_TRAINING_TRAIN,
        c.FN_TRAINING_EVALUATE,
        c.FN_TRAINING_REGISTER,
        c.FN_SCORE_STREAM,
        c.FN_SCORE_API,
        c.FN_SCORE_DEAD_LETTERS,
        c.FN_MONITOR_DRIFT,
        c.FN_MONITOR_QUALITY,
        c.FN_RETRAIN_ON_ALARM,
    }
    # And each leaves room for growth: at least 10% under the limit
    for folder, total in totals.items():
        assert total < 0.9 * c.LAMBDA_UNZIPPED_LIMIT_BYTES, (folder, total)


def test_data_layer_is_trimmed_and_precompiled(built_layers: dict[str, Path]) -> None:
    data = built_layers["data"]
    assert not list(data.glob("**/tests"))
    assert not list(data.glob("pyarrow/libarrow_flight*"))
    assert (data / "pyarrow" / "libarrow_python.so.2500").is_file() or list(
        data.glob("pyarrow/libarrow_python.so.[0-9]*")
    )
    if bundling.can_precompile():
        assert list((data / "pandas" / "__pycache__").glob("*.cpython-312.pyc"))


def test_ml_and_onnx_layers_are_trimmed_and_precompiled(built_layers: dict[str, Path]) -> None:
    ml, onnx = built_layers["ml"], built_layers["onnx"]
    for layer in (ml, onnx):
        assert not list(layer.glob("**/tests")) and not list(layer.glob("**/*.pyi"))
        assert not (layer / "bin").exists() and not (layer / "numpy" / "_core" / "include").exists()
    assert not (ml / "onnx" / "backend" / "test").exists()
    assert not (ml / "sklearn" / "datasets" / "data").exists()
    for sub in ("transformers", "quantization", "tools"):
        assert not (onnx / "onnxruntime" / sub).exists(), sub
    # And the packages the functions import are there
    assert (ml / "sklearn" / "ensemble").is_dir() and (ml / "skl2onnx").is_dir()
    assert list((onnx / "onnxruntime" / "capi").glob("onnxruntime_pybind11_state*.so"))
    if bundling.can_precompile():
        assert list((ml / "sklearn" / "__pycache__").glob("*.cpython-312.pyc"))
        assert list((onnx / "onnxruntime" / "__pycache__").glob("*.cpython-312.pyc"))


def test_data_layer_imports_in_isolation_and_writes_parquet(built_layers: dict[str, Path]) -> None:
    # Given an interpreter that sees only the layers (as the host executor runs functions)
    script = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "import io, awswrangler, pandas as pd, pyarrow.parquet as pq, pyarrow.dataset, yaml\n"
        "df = pd.DataFrame({'a': [1, 2], 'b': ['x', None]})\n"
        "buf = io.BytesIO(); df.to_parquet(buf)\n"
        "assert pq.read_table(io.BytesIO(buf.getvalue())).num_rows == 2\n"
        "print(awswrangler.__file__, flush=True)\n"
        # pyarrow's thread pools can abort at interpreter teardown ("terminate called without
        # an active exception"); a Lambda process never tears down, so leave like one
        "import os; os._exit(0)\n"
    )
    runtime_sdk = c.ROOT / ".venvs" / "lambda-runtime" / "python"
    paths = [str(built_layers["data"]), str(built_layers["deps"])]
    if runtime_sdk.is_dir():
        paths.append(str(runtime_sdk))
    else:  # boto3 as the runtime provides it; the venv's copy is the same version
        import boto3

        paths.append(str(Path(boto3.__file__).parent.parent))
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", script, *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(built_layers["data"]))


# --- the stage setting -----------------------------------------------------------------------


def _data_layer_refs(template: Template) -> list[Any]:
    """The first layer of the functions that get the data layer: ingestion's three and
    training's prepare (data sorts first, see test_stack)."""
    return [
        fn["Properties"]["Layers"][0]
        for lid, fn in our_functions(template).items()
        if lid.startswith(("Ingestion", "TrainingPrepare"))
    ]


def test_both_stages_build_the_data_layer_by_default(template: Template) -> None:
    layers = resources(template, "AWS::Lambda::LayerVersion")
    data_id = next(k for k in layers if k.startswith("LayersData"))
    assert _data_layer_refs(template) == [{"Ref": data_id}] * 4
    assert template.find_outputs(c.OUT_DATA_LAYER_ARN)[c.OUT_DATA_LAYER_ARN]["Value"] == {
        "Ref": data_id
    }


def test_aws_stage_can_use_the_managed_pandas_layer(tmp_path: Path) -> None:
    # Given the aws stage with the managed data layer selected
    _, template = synth(tmp_path, "aws", **{c.DATA_LAYER_CONTEXT_KEY: "managed"})
    # Then no data layer is built, and the three ingestion functions and training's prepare use
    # AWS's layer
    assert not [k for k in resources(template, "AWS::Lambda::LayerVersion") if "Data" in k]
    expected = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":lambda:",
                {"Ref": "AWS::Region"},
                f":{c.AWS_SDK_PANDAS_LAYER_ACCOUNT}:layer:{c.AWS_SDK_PANDAS_LAYER_NAME}:"
                f"{c.AWS_SDK_PANDAS_LAYER_VERSION}",
            ],
        ]
    }
    assert _data_layer_refs(template) == [expected] * 4


def test_local_stage_refuses_the_managed_layer_and_unknown_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(c.STAGE_ENV_VAR, "local")
    with pytest.raises(ValueError, match="LocalStack cannot serve it"):
        build_app(
            context={**cdk_json_context(), c.DATA_LAYER_CONTEXT_KEY: "managed"},
            outdir=str(tmp_path / "a"),
        )
    with pytest.raises(ValueError, match="unknown data layer source"):
        build_app(
            context={**cdk_json_context(), c.DATA_LAYER_CONTEXT_KEY: "docker"},
            outdir=str(tmp_path / "b"),
        )
