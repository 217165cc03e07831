"""The snippets of docs/fastapi.md for blocking routes and plain Starlette run as written."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from taskgen.runtime import SyncClient, TaskStatus
from taskgen_codegen.generate import BuildConfig, build
from tests.support import REPO

DOC = REPO / "docs" / "fastapi.md"


def snippet(heading: str) -> str:
    """The first python block under a heading of docs/fastapi.md."""
    text = DOC.read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, f"docs/fastapi.md: no python example under {heading!r}"
    return found.group(1)


@pytest.fixture
def shop_tasks(tmp_path: Path) -> Iterator[None]:
    """The generated client of the repository's contracts, importable as ``shop_tasks``."""
    config = BuildConfig(
        contracts=str(REPO / "contracts"),
        client_package="shop_tasks",
        client_out="shop_tasks",
        worker_out=None,
        lock="taskgen.lock",
        root=str(tmp_path),
    )
    build(config)
    sys.path.insert(0, str(tmp_path / "shop_tasks"))
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path / "shop_tasks"))
        for name in [m for m in sys.modules if m.split(".")[0] == "shop_tasks"]:
            del sys.modules[name]


@pytest.mark.parametrize(
    "heading", ["Blocking routes (`def`): the blocking twin", "Plain Starlette"]
)
def test_the_documented_app_enqueues(heading: str, redis_url: str, shop_tasks: None) -> None:
    namespace: dict[str, Any] = {"REDIS_URL": redis_url, "__name__": "docs_example"}
    exec(compile(snippet(heading), str(DOC), "exec"), namespace)
    with TestClient(namespace["app"]) as http:
        response = http.post("/refunds/ch_1")
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    with SyncClient.from_url(redis_url) as client:
        assert client.status("billing", task_id) is TaskStatus.QUEUED
