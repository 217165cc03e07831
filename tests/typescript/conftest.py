"""The every-type contract built with ``--ts-out`` and compiled once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from taskgen_codegen.generate import build, load_config
from tests.typescript.node import compile_package

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def build_typescript(root: Path, contract: str, package: str) -> Path:
    """Copy a fixture contract under ``root``, build its Python and TypeScript clients, compile
    the TypeScript one; returns the npm package's folder."""
    shutil.copytree(FIXTURES / contract, root / contract)
    (root / contract / "taskgen.lock").unlink(missing_ok=True)
    config = load_config(
        root,
        contracts=contract,
        client_package=package,
        worker_out=f"{package}_worker",
        ts_out=f"{package}_ts",
    )
    build(config)
    folder = root / f"{package}_ts"
    compiled = compile_package(folder)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return folder


@pytest.fixture(scope="session")
def every_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The every-type contract's npm package, compiled (``dist/``)."""
    return build_typescript(tmp_path_factory.mktemp("every_ts"), "every_type", "every_client")
