"""End to end: a Node backend, compiled with ``tsc --strict`` against the generated npm package,
enqueues to a real Python worker and awaits typed results, a failure and an abort."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskgen_codegen.generate import BuildConfig, build
from tests.support import CONTRACTS, Built, implement_handlers, worker_process
from tests.typescript.node import compile_package, link_app, node_or_skip, tsc

APP = Path(__file__).with_name("app")


@pytest.fixture(scope="module")
def shop_ts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Path]]:
    """The shop contract built with ``--ts-out``, its handlers in place, and the backend
    script compiled against the npm package."""
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
    package = root / "shop_ts"
    compiled = compile_package(package)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    app = root / "app"
    shutil.copytree(APP, app)
    link_app(app, {"shop-tasks": package})
    compiled = tsc(app)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    yield built, app


def test_node_backend_gets_typed_results_failures_and_aborts(
    shop_ts: tuple[Built, Path], redis_url: str
) -> None:
    built, app = shop_ts
    node, _ = node_or_skip()
    with worker_process(redis_url, target="worker.main:worker", cwd=built.root, env=built.env()):
        done = subprocess.run(
            [node, str(app / "dist" / "backend.js")],
            env={**os.environ, "REDIS_URL": redis_url},
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # The handler echoes the invoice: 1250 cents plus the lengths of "widget" and "gadget".
    assert seen["receipt"] == {
        "charge_id": "ch_k1",
        "invoice_id": "inv-1",
        "charged": {"amount_cents": 1262, "currency": "USD"},
    }
    assert seen["status"] == "done"
    assert seen["subscribers"] == len("weekly") * 7 + 1  # the handler: length * 7 + attempt
    assert seen["sent"] is None
    assert seen["failure"] == ["ValueError", "refund of ch_1 refused"]
    assert seen["scheduled"] == "scheduled"
    assert seen["aborted"] is True
    assert seen["abortedResult"] == "TaskAborted"
    assert seen["invalid"] == ("Expected `int`, got `float` - at `$.invoice.total.amount_cents`")
    assert seen["reattached"] == "ch_k1"
