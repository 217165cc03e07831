"""Golden output: what `taskgen build` writes, byte for byte, for two contracts.

tests/golden/contracts/ is the build of the top-level contracts/ (client ``shop_tasks``,
worker ``worker``); tests/golden/every_type/ is the build of tests/fixtures/every_type, the
contract that uses every type msgspec carries (client ``every_client``, worker
``every_worker``). Each golden folder is also type-checked with ``mypy --strict``.

A change to the generated code shows up here as a diff to review. After an intended change,
rewrite the goldens and commit them with it:

    TASKGEN_UPDATE_GOLDEN=1 ./dev test tests/codegen/test_golden.py
"""

from __future__ import annotations

import ast
import difflib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskgen_codegen.generate import BuildConfig, build
from taskgen_codegen.generate.files import GENERATED_MARK, MANIFEST
from tests.support import CONTRACTS, REPO

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UPDATE = os.environ.get("TASKGEN_UPDATE_GOLDEN") == "1"


@dataclass(frozen=True)
class Case:
    """One contracts folder and the names its build uses."""

    contracts: Path
    client_package: str
    worker: str

    def config(self, root: Path) -> BuildConfig:
        return BuildConfig(
            contracts=str(self.contracts),
            client_package=self.client_package,
            client_out=self.client_package,
            worker_out=self.worker,
            lock="taskgen.lock",
            root=str(root),
        )

    def cli_args(self) -> list[str]:
        return [
            str(self.contracts),
            "--client-package",
            self.client_package,
            "--client-out",
            self.client_package,
            "--worker-out",
            self.worker,
            "--lock",
            "taskgen.lock",
        ]


CASES = {
    "contracts": Case(CONTRACTS, "shop_tasks", "worker"),
    "every_type": Case(FIXTURES / "every_type", "every_client", "every_worker"),
}


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (caches left out), by its relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not {"__pycache__", ".mypy_cache"} & set(p.parts)
    }


def tree_diff(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    """A unified diff from the golden files to the built ones; empty when they are equal."""
    out: list[str] = []
    for path in sorted(expected.keys() | actual.keys()):
        before, after = expected.get(path), actual.get(path)
        if before == after:
            continue
        out.extend(
            difflib.unified_diff(
                (before or b"").decode().splitlines(keepends=True),
                (after or b"").decode().splitlines(keepends=True),
                fromfile=f"golden/{path}" if before is not None else "/dev/null",
                tofile=f"built/{path}" if after is not None else "/dev/null",
            )
        )
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
    return "".join(out)


def generated_files(golden: Path) -> list[Path]:
    """The files the build regenerates (those its manifests list), not the user's."""
    return [
        manifest.parent / line
        for manifest in sorted(golden.rglob(MANIFEST))
        for line in manifest.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_build_matches_the_golden_folder(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    build(case.config(tmp_path))
    built, golden = tree(tmp_path), GOLDEN / name
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(tmp_path, golden, ignore=shutil.ignore_patterns("__pycache__"))
    diff = tree_diff(tree(golden), built)
    if diff:
        pytest.fail(
            f"the build of {name} differs from tests/golden/{name}/; if the change is "
            "intended, rerun with TASKGEN_UPDATE_GOLDEN=1 and commit the goldens\n\n" + diff,
            pytrace=False,
        )


@pytest.mark.parametrize("name", sorted(CASES))
def test_build_is_deterministic_across_roots_cwds_and_hash_seeds(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    first, second = tmp_path / "one", tmp_path / "deeper" / "two"
    elsewhere = tmp_path / "elsewhere"
    for folder in (first, second, elsewhere):
        folder.mkdir(parents=True)
    runs = [
        # relative --root from inside the project, and an absolute one from another folder
        (first, ".", "0"),
        (elsewhere, str(second), "4242"),
    ]
    for cwd, root, seed in runs:
        result = subprocess.run(
            [sys.executable, "-m", "taskgen", "build", *case.cli_args(), "--root", root],
            cwd=cwd,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert tree_diff(tree(first), tree(second)) == ""
    assert tree_diff(tree(GOLDEN / name), tree(first)) == ""


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_modules_are_marked_declare_all_and_never_cast(name: str) -> None:
    golden = GOLDEN / name
    generated = [p for p in generated_files(golden) if p.suffix == ".py"]
    assert generated, f"no manifest lists a Python file under tests/golden/{name}"
    for path in generated:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(golden)
        assert text.startswith(f"# {GENERATED_MARK} "), f"{where}: no generated-file header"
        assert "cast(" not in text and "type: ignore" not in text, f"{where} escapes mypy"
        names = {
            target.id
            for node in ast.parse(text).body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        assert "__all__" in names, f"{where} has no __all__"
    owned = set(tree(golden)) - {p.relative_to(golden).as_posix() for p in generated}
    for relative in owned:
        if relative.endswith(".py"):
            first_line = (golden / relative).read_text(encoding="utf-8").partition("\n")[0]
            assert GENERATED_MARK not in first_line, f"{relative} is the user's: no header"


def test_goldens_are_ruff_formatted() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", "--diff", str(GOLDEN)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def mypy_cache() -> Path:
    """One cache for every mypy run here: the second run reuses the stdlib, msgspec and
    taskgen it has already checked. Kept between sessions, as ``./dev lint`` keeps its own."""
    return REPO / ".mypy_cache" / "golden"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_client_and_worker_pass_mypy_strict(name: str, mypy_cache: Path) -> None:
    case, golden = CASES[name], GOLDEN / name
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "",
            "--strict",
            "--cache-dir",
            str(mypy_cache),
            "-p",
            case.client_package,
            "-p",
            case.worker,
        ],
        cwd=golden,
        env={**os.environ, "MYPYPATH": str(golden / case.client_package)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found")
