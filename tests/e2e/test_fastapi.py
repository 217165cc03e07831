"""FastAPI on both sides, in one process against the real test Redis.

Worker side: handler parameters beyond the contract are resolved by FastAPI's own solver —
plain, async, cached, nested and yield dependencies, Request and HTTPConnection bound to the
real app whose lifespan the worker ran. Backend side: the provider gives routes the client.
"""

# No `from __future__ import annotations`: routes below are defined inside functions, and
# FastAPI resolves string annotations with module globals only.
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.requests import HTTPConnection

from taskgen.fastapi import ClientProvider, FastAPIDependencies
from taskgen.runtime import (
    Binding,
    Client,
    Context,
    HandlerMismatch,
    TaskClient,
    TaskFailed,
    TaskRejected,
    Worker,
)
from taskgen.testing import EagerClient, running_worker
from tests.support import REPO
from tests.tasks_fixture import ADD, ADD_DRIFTED, AddArgs, AddTextArgs

calls: dict[str, int] = {}
cleanups: list[str] = []


def count(name: str) -> None:
    calls[name] = calls.get(name, 0) + 1


def offset() -> int:
    count("offset")
    return 1000


async def scale(base: Annotated[int, Depends(offset)]) -> int:
    count("scale")
    return base * 2


def pool(request: Request) -> dict[str, Any]:
    state: dict[str, Any] = request.app.state.pool
    return state


async def session(p: Annotated[dict[str, Any], Depends(pool)]) -> AsyncIterator[str]:
    p["open"] += 1
    try:
        yield f"session-{p['open']}"
    finally:
        cleanups.append("session")


@contextlib.asynccontextmanager
async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = {"open": 0, "lifespans": app.state.__dict__.get("lifespans", 0) + 1}
    yield
    cleanups.append("lifespan")


def make_app() -> FastAPI:
    return FastAPI(lifespan=app_lifespan)


async def add_with_dependencies(
    ctx: Context,
    a: int,
    b: int,
    s: Annotated[int, Depends(scale)],
    again: Annotated[int, Depends(offset)],
    uncached: Annotated[int, Depends(offset, use_cache=False)],
    db: Annotated[str, Depends(session)],
    request: Request,
    connection: HTTPConnection,
) -> int:
    assert request.app.state.pool["lifespans"] == 1
    assert connection.headers["x-taskgen-task-id"] == ctx.task_id
    assert db.startswith("session-")
    if a < 0:
        raise ValueError("negative")
    return a + b + s + again + uncached


def binding() -> Binding[AddArgs, int]:
    return Binding(
        ADD,
        add_with_dependencies,
        lambda ctx, args, extras: add_with_dependencies(ctx, args.a, args.b, **extras),
    )


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    calls.clear()
    cleanups.clear()
    yield


async def test_handlers_get_every_kind_of_fastapi_dependency(redis_url: str) -> None:
    worker = Worker([binding()], redis_url=redis_url, injector=FastAPIDependencies(make_app()))
    async with Client.from_url(redis_url) as client, running_worker(worker):
        handle = await client.enqueue(ADD, AddArgs(a=1, b=2))
        assert await handle.result(timeout=10) == 1 + 2 + 2000 + 1000 + 1000
        # offset is cached within a run (once for scale and `again`), not for use_cache=False
        assert calls == {"offset": 2, "scale": 1}
        assert cleanups == ["session"]
        failing = await client.enqueue(ADD, AddArgs(a=-1, b=0))
        with pytest.raises(TaskFailed, match="negative"):
            await failing.result(timeout=10)
        assert cleanups == ["session", "session"], "yield cleanup runs after a failure too"
    assert cleanups[-1] == "lifespan", "the app's lifespan ran once, around the worker"


async def test_dependency_overrides_of_the_app_apply_in_the_worker(redis_url: str) -> None:
    app = make_app()
    app.dependency_overrides[offset] = lambda: 1
    worker = Worker([binding()], redis_url=redis_url, injector=FastAPIDependencies(app))
    async with Client.from_url(redis_url) as client, running_worker(worker):
        handle = await client.enqueue(ADD, AddArgs(a=1, b=2))
        assert await handle.result(timeout=10) == 1 + 2 + 2 + 1 + 1


def test_extra_parameters_that_fastapi_cannot_provide_stop_the_worker() -> None:
    async def bad(ctx: Context, a: int, b: int, mystery: int) -> int:
        return a

    with pytest.raises(HandlerMismatch, match="'mystery' is not in the contract and is not a"):
        Worker(
            [Binding(ADD, bad, lambda c, x, e: bad(c, x.a, x.b, **e))],
            injector=FastAPIDependencies(make_app()),
        )
    with pytest.raises(HandlerMismatch, match="FastAPIDependencies"):
        Worker([binding()])  # Depends parameters, but no injector


class AddClient(TaskClient):
    """A hand-written stand-in for a generated client."""


def test_routes_get_the_client_and_the_schema_is_untouched(redis_url: str) -> None:
    opened: list[AddClient] = []

    def open_client() -> AddClient:
        opened.append(AddClient(Client.from_url(redis_url)))
        return opened[-1]

    provider = ClientProvider(open_client)

    def create_app() -> FastAPI:
        app = FastAPI(lifespan=provider.around(app_lifespan))

        @app.get("/add")
        async def add(
            a: int, b: int, tasks: Annotated[AddClient, Depends(provider)]
        ) -> dict[str, str]:
            handle = await tasks.client.enqueue(ADD, AddArgs(a=a, b=b))
            return {"task_id": handle.id, "client": str(opened.index(tasks))}

        return app

    first, second = create_app(), create_app()
    with TestClient(first) as http, TestClient(second):
        response = http.get("/add", params={"a": 1, "b": 2})
        assert response.status_code == 200 and response.json()["client"] == "0"
        assert first.state.pool["open"] == 0, "the app's own lifespan ran inside"
        assert len(opened) == 2, "each app (factory) has its own client"
    schema = first.openapi()["paths"]["/add"]["get"]
    assert [p["name"] for p in schema["parameters"]] == ["a", "b"]


async def test_the_eager_client_runs_handlers_inline_and_records_them() -> None:
    async def add(ctx: Context, a: int, b: int) -> int:
        if a < 0:
            raise ValueError("negative")
        return a + b

    async with EagerClient([Binding(ADD, add, lambda c, x, e: add(c, x.a, x.b))]) as eager:
        assert await (await eager.enqueue(ADD, AddArgs(a=2, b=3))).result() == 5
        with pytest.raises(TaskFailed, match="negative"):
            await (await eager.enqueue(ADD, AddArgs(a=-1, b=3))).result()
        with pytest.raises(TaskRejected, match=r"\$\.b"):
            await (await eager.enqueue(ADD_DRIFTED, AddTextArgs(a=1, b="x"))).result()
        assert [(e.task, e.args) for e in eager.enqueued] == [
            ("math.add", AddArgs(a=2, b=3)),
            ("math.add", AddArgs(a=-1, b=3)),
            ("math.add", AddTextArgs(a=1, b="x")),
        ]


async def test_the_eager_client_resolves_fastapi_dependencies_too() -> None:
    async with EagerClient([binding()], injector=FastAPIDependencies(make_app())) as eager:
        assert await (await eager.enqueue(ADD, AddArgs(a=1, b=1))).result() == 4002
    assert cleanups == ["session", "lifespan"]


def test_a_worker_without_fastapi_handlers_needs_no_fastapi() -> None:
    script = (
        "import sys; sys.modules['fastapi'] = None\n"
        "import tests.fixtures.rt_worker as w\n"
        "assert 'starlette' not in sys.modules\n"
        "print(type(w.worker).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"TASKGEN_REDIS_URL": "redis://x:1/0", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Worker"
