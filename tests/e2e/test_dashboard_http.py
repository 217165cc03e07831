"""The dashboard over HTTP, without a browser: what it escapes, what a write needs, the
documented FastAPI mount behind authentication, and the ``taskgen dashboard`` command."""

from __future__ import annotations

import asyncio
import html
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis import Redis as BlockingRedis
from redis.asyncio import Redis
from starlette.testclient import TestClient

from taskgen.dashboard import dashboard
from taskgen.dashboard.guard import READ_ONLY
from taskgen.dashboard.render import age
from taskgen.runtime import Binding, Client, Context, TaskDef, TaskFailed, Worker
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.sync import SyncClient
from taskgen.runtime.taskdef import EnqueueOptions
from taskgen.runtime.wire import TaskStatus
from taskgen.testing import running_worker
from tests.browser import served
from tests.support import REPO

DOC = REPO / "docs" / "dashboard.md"
HOSTILE = '<script>alert("owned")</script>'
HOSTILE_ID = "<img src=x onerror=alert(1)>"


class BreakArgs(msgspec.Struct, frozen=True, kw_only=True):
    note: str


BREAK = TaskDef[BreakArgs, str](
    name="lab.break",
    queue="lab",
    fingerprint="break-v1",
    args=BreakArgs,
    result=str,
    params=(("note", "positional"),),
)


async def broken(ctx: Context, note: str) -> str:
    raise ValueError(f"broke on {note}")


async def dead_letter(redis_url: str, note: str = "a note") -> str:
    """A task of ``lab`` that failed into the dead letters (run by a real worker); its id."""
    worker = Worker(
        [Binding(BREAK, broken, lambda ctx, a, _: broken(ctx, a.note))], redis_url=redis_url
    )
    async with Client.from_url(redis_url, registry="off") as client, running_worker(worker):
        handle = await client.enqueue(BREAK, BreakArgs(note=note))
        with pytest.raises(TaskFailed):
            await handle.result(timeout=10)
    return handle.id


def dead_count(redis_url: str) -> int:
    async def count() -> int:
        redis = Redis.from_url(redis_url)
        try:
            return int(await redis.xlen(QueueKeys("lab").dead))
        finally:
            await redis.aclose()

    return asyncio.run(count())


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


def http(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://dash.test")


async def test_what_tasks_put_in_a_page_is_escaped(redis_url: str, redis: Redis) -> None:
    task_id = await dead_letter(redis_url, HOSTILE)
    app = dashboard(redis=redis, tasks={BREAK.name: BREAK})
    async with http(app) as client:
        for path in ["/queues/lab", f"/tasks/{task_id}"]:
            answer = await client.get(path)
            policy = answer.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy
            page = answer.text
            assert "broke on" in page
            assert HOSTILE not in page
            assert "&lt;script&gt;" in page
        missing = await client.get(f"/tasks/{HOSTILE_ID}")
        assert missing.status_code == 404
        assert HOSTILE_ID not in missing.text and "&lt;img" in missing.text


@pytest.mark.parametrize("action", ["requeue", "purge"])
async def test_a_write_needs_the_pages_token_and_the_same_origin(
    redis_url: str, redis: Redis, action: str
) -> None:
    await dead_letter(redis_url)
    app = dashboard(redis=redis, allow_writes=True, secret="page-token")
    path = f"/queues/lab/{action}"
    async with http(app) as client:
        page = (await client.get("/queues/lab")).text
        assert re.search(r'name="token" value="page-token"', page)
        refused = {
            "no token": ({"all": "1"}, {}),
            "a wrong token": ({"all": "1", "token": "guess"}, {}),
            "another site": ({"all": "1", "token": "page-token"}, {"sec-fetch-site": "cross-site"}),
            "another origin": ({"all": "1", "token": "page-token"}, {"origin": "http://evil.test"}),
        }
        for why, (form, headers) in refused.items():
            answer = await client.post(path, data=form, headers=headers)
            assert answer.status_code == 403, why
            assert answer.text.startswith("refused:"), why
        assert await redis.xlen(QueueKeys("lab").dead) == 1
        answer = await client.post(
            path, data={"all": "1", "token": "page-token"}, headers={"origin": "http://dash.test"}
        )
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/queues/lab?")
        assert await redis.xlen(QueueKeys("lab").dead) == 0


async def test_a_read_only_dashboard_renders_no_form_that_posts(
    redis_url: str, redis: Redis
) -> None:
    task_id = await dead_letter(redis_url)
    app = dashboard(redis=redis, secret="page-token")
    async with http(app) as client:
        for path in ["/", "/queues/lab", f"/tasks/{task_id}", "/workers"]:
            answer = await client.get(path)
            assert answer.status_code == 200
            assert 'method="post"' not in answer.text
        for path in ["/queues/lab/requeue", "/queues/lab/purge", f"/tasks/{task_id}/abort"]:
            form = {"all": "1", "token": "page-token", "queue": "lab", "task": BREAK.name}
            answer = await client.post(path, data=form)
            assert (answer.status_code, answer.text) == (403, READ_ONLY)
    assert await redis.xlen(QueueKeys("lab").dead) == 1


def test_the_documented_fastapi_mount_sits_behind_the_apps_authentication(
    redis_url: str,
) -> None:
    asyncio.run(dead_letter(redis_url))
    code = _snippet("Mounting it in your FastAPI app, behind your authentication")
    namespace: dict[str, Any] = {"REDIS_URL": redis_url, "__name__": "docs_example"}
    exec(compile(code, str(DOC), "exec"), namespace)
    with TestClient(namespace["app"], follow_redirects=False) as client:
        assert client.get("/tasks/").status_code == 401
        assert client.get("/tasks/queues/lab", auth=("ops", "wrong")).status_code == 401
        assert client.post("/tasks/queues/lab/purge", data={"all": "1"}).status_code == 401
        page = client.get("/tasks/queues/lab", auth=("ops", "change-me"))
        assert page.status_code == 200
        assert (
            'href="/tasks/workers"' in page.text
            and 'href="/tasks/static/dashboard.css"' in page.text
        )
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token
        answer = client.post(
            "/tasks/queues/lab/requeue",
            data={"all": "1", "token": token.group(1)},
            auth=("ops", "change-me"),
        )
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/tasks/queues/lab?")
    assert dead_count(redis_url) == 0


def _snippet(heading: str) -> str:
    text = DOC.read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, f"docs/dashboard.md: no python example under {heading!r}"
    return found.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_command_serves_the_dashboard_on_this_machine_only(redis_url: str) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "taskgen", "dashboard", "--port", str(port)]
    command += ["--redis-url", redis_url, "--tasks", "tests.fixtures.dash_tasks"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the dashboard did not answer") from None
                time.sleep(0.05)  # polls the port with a deadline: the server gives no signal
        assert answer.status_code == 200
        assert 'data-queue="shipping"' in answer.text  # the queue --tasks names
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output


def test_the_command_says_what_to_do_with_a_tasks_module_it_cannot_import() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "taskgen", "dashboard", "--tasks", "no_such_module.tasks"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "cannot import 'no_such_module.tasks'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "\N{EN DASH}"),
        (0.04, "0.0s"),
        (9.95, "9.9s"),
        (10, "10s"),
        (59.9, "59s"),
        (60, "1m"),
        (200, "3m 20s"),
        (3600, "1h"),
        (7500, "2h 5m"),
        (86400 * 3 + 3600 * 4 + 5, "3d 4h"),
    ],
)
def test_ages_read_short(seconds: float | None, shown: str) -> None:
    assert age(seconds) == shown


def test_the_client_side_imports_nothing_of_the_dashboard() -> None:
    probe = "import sys, taskgen, taskgen.runtime; print('\\n'.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [m for m in loaded if m.startswith(("taskgen.dashboard", "starlette", "jinja2"))]


TEXT = st.characters(exclude_categories=("Cs",))  # what msgspec can encode: no lone surrogates


@pytest.fixture(scope="module")
def served_board(redis_server: str) -> Iterator[str]:
    """A writable dashboard served by uvicorn (a real server decodes a path once; Starlette's
    TestClient decodes it twice, so it cannot stand in here)."""
    with served(
        dashboard(redis_server, tasks={BREAK.name: BREAK}, allow_writes=True, secret="t")
    ) as base:
        yield base


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(task_id=st.text(TEXT, min_size=1, max_size=30), note=st.text(TEXT, max_size=60))
@example(task_id="\n", note="")
@example(task_id="a/b/abort", note="</pre><script>")
@example(task_id="%2F?#", note="&amp;")
@example(task_id=".", note="")  # dot segments: resolved away by URL clients unless escaped
@example(task_id="..", note="")
@example(task_id="~.", note="")
@example(task_id="~~..", note="")
def test_any_task_id_and_payload_reads_back_exactly_and_its_abort_reaches_it(
    redis_server: str, served_board: str, task_id: str, note: str
) -> None:
    with BlockingRedis.from_url(redis_server) as plain:
        plain.flushdb()  # one example's task must not meet the next one's
    with (
        SyncClient.from_url(redis_server) as enqueuer,
        httpx.Client(base_url=served_board, follow_redirects=False) as client,
    ):
        handle = enqueuer.enqueue(BREAK, BreakArgs(note=note), EnqueueOptions(task_id=task_id))
        found = client.get("/tasks", params={"id": task_id})  # the header's id box
        assert found.status_code == 303
        page = client.get(found.headers["location"])
        assert page.status_code == 200
        shown = re.search(r'<pre class="payload" id="args">(.*?)</pre>', page.text, re.S)
        assert shown and json.loads(html.unescape(shown.group(1))) == {"note": note}
        shown_id = re.search(r"<dt>id</dt><dd><code>(.*?)</code></dd>", page.text, re.S)
        assert shown_id and html.unescape(shown_id.group(1)) == task_id
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action
        form = {"token": "t", "queue": BREAK.queue, "task": BREAK.name}
        aborted = client.post(html.unescape(action.group(1)), data=form)
        assert aborted.status_code == 303
        assert handle.status() is TaskStatus.ABORTED
