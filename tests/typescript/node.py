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
    return tsc(folder) if emit else tsc(folder, "--noEmit")


def link_app(app: Path, packages: dict[str, Path]) -> None:
    """Give an app folder a ``node_modules`` of the locked dependencies plus ``packages``
    (npm name to folder), as ``npm install <folder>`` would."""
    modules = app / "node_modules"
    modules.mkdir(exist_ok=True)
    for entry in node_modules().iterdir():
        if not entry.name.startswith(".") and not (modules / entry.name).exists():
            (modules / entry.name).symlink_to(entry, target_is_directory=True)
    for name, folder in packages.items():
        (modules / name).symlink_to(folder, target_is_directory=True)


def tsc(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``tsc -p folder`` with the locked TypeScript."""
    compiler = node_modules() / "typescript" / "bin" / "tsc"
    command = [node_or_skip()[0], str(compiler), "-p", str(folder), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


if __name__ == "__main__":
    print(node_modules())
