"""End to end: a Node backend, compiled with ``tsc --strict`` against the generated npm package,
enqueues to a real Python worker and awaits typed results, a failure and an abort."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import Built, worker_process
from tests.typescript.conftest import compiled, typescript_app
from tests.typescript.node import node_or_skip

APP = Path(__file__).with_name("app")


@pytest.fixture(scope="module")
def backend(shop_ts: tuple[Built, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backend script, compiled with tsc --strict against the npm package."""
    app = typescript_app(APP, tmp_path_factory.mktemp("backend"), shop_ts[1])
    compiled(app)
    return app


def test_node_backend_gets_typed_results_failures_and_aborts(
    shop_ts: tuple[Built, Path], backend: Path, redis_url: str
) -> None:
    built, app = shop_ts[0], backend
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
