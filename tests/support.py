"""Helpers shared by tests: building the example contracts, running real worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from taskgen_codegen.generate import BuildConfig, build

REPO = Path(__file__).resolve().parent.parent
CONTRACTS = REPO / "contracts"
SHOP_HANDLERS = Path(__file__).resolve().parent / "fixtures" / "shop_handlers"


@dataclass(frozen=True)
class Built:
    """A build of a contracts folder: where the client and the worker package are."""

    root: Path
    client_dir: Path
    worker_dir: Path

    @property
    def pythonpath(self) -> list[str]:
        return [str(self.client_dir), str(self.root)]

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([*self.pythonpath, env.get("PYTHONPATH", "")])
        env.update(extra)
        return env


def build_contracts(
    root: Path, contracts: Path = CONTRACTS, package: str = "shop_tasks", worker: str = "worker"
) -> Built:
    """Copy ``contracts`` under ``root`` and build it there."""
    shutil.copytree(contracts, root / "contracts", ignore=shutil.ignore_patterns("__pycache__"))
    config = BuildConfig(
        contracts="contracts",
        client_package=package,
        client_out=package,
        worker_out=worker,
        root=str(root),
    )
    build(config)
    return Built(root, root / package, root / worker)


def implement_handlers(built: Built, handlers: Path = SHOP_HANDLERS) -> None:
    """Put the user's handler implementations in place of the generated stubs."""
    for source in handlers.rglob("*.py"):
        target = built.worker_dir / "handlers" / source.relative_to(handlers)
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


def use_build(built: Built) -> None:
    """Make the built packages importable in this process."""
    for path in reversed(built.pythonpath):
        if path not in sys.path:
            sys.path.insert(0, path)


def taskgen(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``taskgen`` command line against ``url`` (output piped, so plain text)."""
    return subprocess.run(
        [sys.executable, "-m", "taskgen", *args, "--redis-url", url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextmanager
def worker_process(
    redis_url: str,
    *args: str,
    target: str,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """A real ``taskgen worker`` process; stopped with SIGTERM, which must exit cleanly.

    Its output is read as it comes (a worker logs a line per task: a full pipe would block
    it), and shown if it exits with an error."""
    environment = dict(env if env is not None else os.environ)
    environment["TASKGEN_REDIS_URL"] = redis_url
    process = subprocess.Popen(
        [sys.executable, "-m", "taskgen", "worker", target, *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lines.extend, args=(process.stdout,), daemon=True)
    reader.start()
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=10)
        output = "".join(lines)
        if process.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"worker exited with {process.returncode}:\n{output}")
