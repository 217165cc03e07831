"""The every-type contract built with ``--ts-out`` and compiled once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from taskgen_codegen.generate import BuildConfig, build, load_config
from tests.support import CONTRACTS, Built, implement_handlers
from tests.typescript.node import compile_package, link_app, node_or_skip, tsc

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


@pytest.fixture(scope="session")
def shop_ts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Built, Path]:
    """The shop contract built with ``--ts-out`` (package ``shop-tasks``, compiled), with its
    handlers in place."""
    node_or_skip()
    root = tmp_path_factory.mktemp("shop_ts")
    shutil.copytree(CONTRACTS, root / "contracts", ignore=shutil.ignore_patterns("__pycache__"))
    config = BuildConfig(
        contracts="contracts",
        client_package="shop_tasks",
        client_out="shop_tasks",
        worker_out="worker",
        ts_out="shop_ts",
        root=str(root),
    )
    build(config)
    built = Built(root, root / "shop_tasks", root / "worker")
    implement_handlers(built)
    compiled = compile_package(root / "shop_ts")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return built, root / "shop_ts"


def typescript_app(source: Path, root: Path, package: Path) -> Path:
    """A copy of an app folder (its .ts files, package.json, tsconfig.json) under ``root``,
    whose ``node_modules`` holds the locked dependencies and the package as ``shop-tasks``."""
    app = root / source.name
    shutil.copytree(source, app, ignore=shutil.ignore_patterns("node_modules", "dist"))
    link_app(app, {"shop-tasks": package})
    return app


def compiled(app: Path) -> None:
    """Compile an app with tsc; fail the test with tsc's output if it does not compile."""
    done = tsc(app)
    assert done.returncode == 0, done.stdout + done.stderr
