"""Build the dependencies layer with the host's pip, never Docker, and cache it by content.

pip downloads wheels for the Lambda platform (`--platform/--python-version/--implementation`,
binary only), so the result is what the `python3.12` x86_64 runtime needs whatever the host is.
The cache key covers the requirements file and every pip argument, so re-synth is a copy.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingFileAccess,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    DockerVolume,
    ILocalBundling,
)
from aws_cdk import aws_lambda as lambda_

from infra import constants as c

_COMPLETE_MARKER = ".complete"


def pip_arguments(requirements: Path, target: Path) -> list[str]:
    """The pip command line: wheels only, for the Lambda platform, no resolver surprises."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--no-deps",  # requirements.txt pins the full closure; the runtime provides boto3.
        "--only-binary=:all:",
        "--platform",
        c.LAYER_PLATFORM,
        "--python-version",
        c.LAYER_PYTHON_VERSION,
        "--implementation",
        c.LAYER_IMPLEMENTATION,
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]


def cache_key(requirements: Path) -> str:
    """Hash of the requirements and the pip arguments (without paths)."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(" ".join(pip_arguments(Path("req"), Path("out"))[3:]).encode())
    return digest.hexdigest()[:32]


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """`ILocalBundling` that pip-installs a requirements file into `<output>/python`."""

    def __init__(self, requirements: Path, cache_dir: Path = c.BUNDLING_CACHE_DIR) -> None:
        self._requirements = requirements
        self._cache_dir = cache_dir

    def cached_dir(self) -> Path:
        return self._cache_dir / cache_key(self._requirements)

    def build(self) -> Path:
        """Install into the cache once (atomically) and return the cached layer root."""
        final = self.cached_dir()
        if (final / _COMPLETE_MARKER).is_file():
            return final
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=self._cache_dir))
        try:
            done = subprocess.run(
                pip_arguments(self._requirements, work / "python"),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"pip could not build the layer from {self._requirements}:\n{done.stderr}"
                )
            for junk in (work / "python").glob("**/__pycache__"):
                shutil.rmtree(junk, ignore_errors=True)
            (work / _COMPLETE_MARKER).write_text(cache_key(self._requirements))
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final

    def try_bundle(  # the ILocalBundling signature, fixed by jsii
        self,
        output_dir: str,
        *,
        image: DockerImage,
        bundling_file_access: BundlingFileAccess | None = None,
        command: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        local: ILocalBundling | None = None,
        network: str | None = None,
        output_type: BundlingOutput | None = None,
        platform: str | None = None,
        security_opt: str | None = None,
        user: str | None = None,
        volumes: Sequence[DockerVolume | dict[str, Any]] | None = None,
        volumes_from: Sequence[str] | None = None,
        working_directory: str | None = None,
    ) -> bool:
        """Called by CDK instead of Docker; True means the output is ready. The Docker options
        are only for the fallback CDK would use if this returned False, so they are ignored."""
        shutil.copytree(self.build() / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True


def deps_layer_code(requirements: Path = c.DEPS_REQUIREMENTS) -> lambda_.Code:
    """Layer code for the requirements file; the asset hash is the source (the file), so an
    unchanged file reuses the staged asset without running pip."""
    return lambda_.Code.from_asset(
        str(requirements.parent),
        asset_hash_type=AssetHashType.SOURCE,
        exclude=list(c.ASSET_EXCLUDES),
        bundling=BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_12.bundling_image,
            command=[
                "bash",
                "-c",
                "pip install --no-deps -r requirements.txt -t /asset-output/python",
            ],
            local=PipLayerBundling(requirements),
        ),
    )
