"""Node for the TypeScript client's tests: the binaries, the locked dependencies, a build.

Without node or npm a test skips here with a message, and fails under CI (``CI=true``), as the
browser tests do. The dependencies are installed once per lock (``npm ci`` from the lock the
generator ships, into ``.venv/node/<hash of the lock>``), then linked into each generated
package, so a test run installs nothing when the lock has not changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from taskgen_codegen.typescript.package import lock_template_path

ROOT = Path(__file__).resolve().parents[2]


def node_or_skip() -> tuple[str, str]:
    """The paths of node and npm; without them, skip here but fail in CI (``CI=true``)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    message = "the TypeScript client's tests need node and npm: apt-get install nodejs npm"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def node_modules() -> Path:
    """``node_modules`` installed from the generator's lock (once per lock)."""
    _, npm = node_or_skip()
    lock = lock_template_path().read_bytes()
    folder = ROOT / ".venv" / "node" / hashlib.sha256(lock).hexdigest()[:16]
    modules = folder / "node_modules"
    if (modules / ".package-lock.json").is_file():
        return modules
    folder.mkdir(parents=True, exist_ok=True)
    locked = json.loads(lock)
    (folder / "package-lock.json").write_bytes(lock)
    (folder / "package.json").write_text(json.dumps(_manifest(locked), indent=2))
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return modules


def _manifest(locked: dict[str, Any]) -> dict[str, Any]:
    """The package.json that matches a lock's root entry."""
    root = locked["packages"][""]
    return {key: root[key] for key in ("name", "version", "dependencies", "devDependencies")}


def compile_package(folder: Path, *, emit: bool = True) -> subprocess.CompletedProcess[str]:
    """``tsc -p`` in a generated package (its node_modules linked in first)."""
    link = folder / "node_modules"
    if not link.exists():
        link.symlink_to(node_modules(), target_is_directory=True)
    tsc = node_modules() / "typescript" / "bin" / "tsc"
    command = [node_or_skip()[0], str(tsc), "-p", str(folder)]
    if not emit:
        command.append("--noEmit")
    return subprocess.run(command, capture_output=True, text=True, timeout=180)
