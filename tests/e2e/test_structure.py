"""The shape of the two distributions: one error base, imports that point one way, small modules."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import taskgen
import taskgen_codegen
from taskgen.errors import TaskgenError
from tests.support import REPO

SOURCES = {"taskgen": REPO / "runtime" / "src", "taskgen_codegen": REPO / "codegen" / "src"}


def modules(package: str) -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    names += [m.name for m in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")]
    return [n for n in names if not n.endswith("__main__")]


def source_files() -> list[Path]:
    return sorted(p for root in SOURCES.values() for p in root.rglob("*.py"))


@pytest.mark.parametrize("package", [taskgen.__name__, taskgen_codegen.__name__])
def test_every_error_taskgen_raises_derives_from_one_base(package: str) -> None:
    outside = []
    for name in modules(package):
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Exception)
                and not issubclass(value, Warning)  # warnings are issued, not raised
                and value.__module__ == name
                and not issubclass(value, TaskgenError)
            ):
                outside.append(f"{name}.{value.__qualname__}")
    assert not outside, f"not a TaskgenError: {outside}"


def test_the_runtime_never_imports_the_code_generator() -> None:
    offenders = []
    for path in (SOURCES["taskgen"] / "taskgen").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("taskgen_codegen")]
    assert not offenders


def test_importing_the_client_side_loads_no_worker_module() -> None:
    probe = (
        "import sys, taskgen, taskgen.runtime; "
        "print('\\n'.join(m for m in sys.modules if m.startswith(('taskgen', 'cronsim', 'typer'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    worker_side = {"worker", "execution", "lease", "reader", "cron", "binding", "supervisor"}
    assert not [m for m in loaded if m.rsplit(".", 1)[-1] in worker_side or "codegen" in m]
    assert "typer" not in loaded and "cronsim" not in loaded
    assert "taskgen.runtime.client" in loaded  # the probe itself works


def test_worker_side_names_still_resolve_from_the_runtime_package() -> None:
    from taskgen import runtime

    assert runtime.Worker.__name__ == "Worker"
    assert runtime.Binding.__module__ == "taskgen.runtime.binding"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = runtime.Nope  # type: ignore[attr-defined]


#: A module past this many lines has more than one reason to change: split it.
MODULE_LINES = 500


def test_no_module_is_too_long_to_read() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in source_files()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    }
    assert not long, f"split these modules (over {MODULE_LINES} lines): {long}"
