"""The README's worker command works as written, and a missing client package is named."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

TASKGEN = str(Path(sys.executable).parent / "taskgen")


def quickstart(root: Path) -> Path:
    """The repository's contracts and [tool.taskgen], built as the README's set-up does."""
    shutil.copytree(REPO / "contracts", root / "contracts")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    subprocess.run([TASKGEN, "build"], cwd=root, check=True, capture_output=True)
    return root


def readme_worker_command() -> str:
    lines = (REPO / "README.md").read_text().splitlines()
    found = [line for line in lines if "taskgen worker worker.main:worker" in line]
    assert found, "the README shows no command that runs the worker"
    return found[0].partition("#")[0].strip()


def test_the_readme_worker_command_starts_the_worker(tmp_path: Path, redis_url: str) -> None:
    root = quickstart(tmp_path)
    words = shlex.split(readme_worker_command())
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    command = [w for w in words if w not in {f"{k}={v}" for k, v in env.items()}]
    command[0] = TASKGEN if command[0] == "taskgen" else command[0]
    done = subprocess.run(
        [*command, "--burst", "--redis-url", redis_url],
        cwd=root,
        env={"PATH": str(Path(sys.executable).parent), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_a_missing_client_package_is_named_with_the_fix(tmp_path: Path, redis_url: str) -> None:
    root = quickstart(tmp_path)
    done = subprocess.run(
        [TASKGEN, "worker", "worker.main:worker", "--burst", "--redis-url", redis_url],
        cwd=root / "build",
        env={"PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "shop_tasks" in done.stderr and "PYTHONPATH=" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 3, done.stderr
