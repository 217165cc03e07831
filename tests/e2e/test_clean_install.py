"""A backend's install: the generated client in a fresh venv, from local wheels, with no index.

It proves the client resolves to our runtime (not the unrelated public ``taskgen``), that a
backend gets the runtime's dependencies and nothing of the tool, that importing the client
loads no worker or codegen module, and that it talks to a worker run from another environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO, Built, build_contracts, implement_handlers, worker_process

WHEELHOUSE = Path(sys.prefix) / "wheelhouse"

#: Everything a backend that installs the generated client may get: the client, the runtime
#: and the runtime's own dependencies.
CLIENT_SET = {"shop-tasks", "taskgen-runtime", "redis", "hiredis", "msgspec"}

BACKEND = """
import asyncio, json, sys, time
started = time.perf_counter()
import shop_tasks
imported = time.perf_counter() - started
from shop_tasks import ShopTasks

async def main() -> None:
    async with ShopTasks.from_url(sys.argv[1]) as tasks:
        handle = await tasks.emails.count_subscribers("weekly")
        count = await handle.result(timeout=30)
    modules = sorted(m for m in sys.modules if m.startswith("taskgen"))
    print(json.dumps({"result": count, "modules": modules, "import_seconds": imported}))

asyncio.run(main())
"""


def pip(*args: str) -> str:
    """The dev environment's pip (a fresh venv has none; ``--python`` points pip at it)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Built:
    built = build_contracts(tmp_path_factory.mktemp("shop"))
    implement_handlers(built)
    return built


@pytest.fixture(scope="module")
def backend_python(shop: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding only what ``pip install shop-tasks`` brings, from local wheels."""
    if not WHEELHOUSE.is_dir():
        pytest.fail(f"no {WHEELHOUSE}: ./dev downloads the runtime's dependencies there")
    wheels = tmp_path_factory.mktemp("wheels")
    for project in (REPO / "runtime", REPO / "codegen", shop.client_dir):
        pip(
            "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(wheels), str(project)
        )
    env = tmp_path_factory.mktemp("backend") / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    links = ["--find-links", str(wheels), "--find-links", str(WHEELHOUSE)]
    pip("--python", str(python), "install", "--quiet", "--no-index", *links, "shop-tasks")
    yield python


def test_the_client_installs_the_runtime_and_its_dependencies_only(backend_python: Path) -> None:
    installed = json.loads(pip("--python", str(backend_python), "list", "--format", "json"))
    names = {p["name"].lower() for p in installed}
    assert names == CLIENT_SET
    assert "taskgen" not in names  # the unrelated public project of that name
    for tool in ("jinja2", "typer", "taskgen_codegen", "cronsim", "rich", "pydantic"):
        found = subprocess.run(
            [str(backend_python), "-c", f"import {tool}"], capture_output=True, check=False
        )
        assert found.returncode != 0, f"{tool} is importable in a client-only install"


def test_a_backend_there_gets_a_result_from_a_worker_elsewhere(
    backend_python: Path, shop: Built, redis_url: str
) -> None:
    with worker_process(
        redis_url, "--concurrency", "4", target="worker.main:worker", env=shop.env()
    ):
        done = subprocess.run(
            [str(backend_python), "-c", BACKEND, redis_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=shop.root.parent,  # nothing of the build or the repository on its path
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert isinstance(report["result"], int)
    loaded = set(report["modules"])
    worker_side = {
        "taskgen.runtime.worker",
        "taskgen.runtime.execution",
        "taskgen.runtime.lease",
        "taskgen.runtime.reader",
        "taskgen.runtime.cron",
        "taskgen.runtime.binding",
        "taskgen.runtime.supervisor",
        "taskgen.cli",
    }
    assert not loaded & worker_side, sorted(loaded & worker_side)
    assert not any(m.startswith("taskgen_codegen") for m in loaded)
