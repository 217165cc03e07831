"""The dashboard's ASGI app: routes, templates, and the Redis connection they share."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from taskgen.dashboard import actions, pages
from taskgen.dashboard.board import Board
from taskgen.dashboard.guard import WriteGuard
from taskgen.dashboard.render import FILTERS
from taskgen.runtime.connection import async_redis
from taskgen.runtime.keys import DEFAULT_PREFIX, DEFAULT_URL
from taskgen.runtime.signing import Signing
from taskgen.runtime.taskdef import TaskDef

HERE = Path(__file__).parent


#: Path segments that URLs resolve away ("." and ".."), and the same behind '~' escapes.
DOTS = re.compile(r"~*\.{1,2}")


class TaskIdConvertor(Convertor[str]):
    """A task id in a path: any text a client chose, '/' and line breaks included.

    An id of "." or ".." would be resolved away by browsers and HTTP clients (even
    percent-encoded), so such ids travel with a '~' in front, and ids that already look like
    that get one more: the mapping stays one to one."""

    regex = "[\\s\\S]+"

    def convert(self, value: str) -> str:
        return value[1:] if value.startswith("~") and DOTS.fullmatch(value) else value

    def to_string(self, value: str) -> str:
        return f"~{value}" if DOTS.fullmatch(value) else value


# Starlette keeps convertors in one table per process; the name is ours alone.
register_url_convertor("taskgen_task_id", TaskIdConvertor())


def dashboard(
    redis_url: str = DEFAULT_URL,
    *,
    tasks: str | Mapping[str, TaskDef[Any, Any]] | None = None,
    prefix: str = DEFAULT_PREFIX,
    allow_writes: bool = False,
    redis: Redis | None = None,
    secret: str | None = None,
    signing: Signing | None = None,
) -> Starlette:
    """The dashboard as an ASGI app, to run or to ``app.mount("/tasks", dashboard(...))``.

    ``tasks``: the contract's TaskDefs (or a module naming them, see ``inspect.task_types``)
    so arguments and results show typed. ``allow_writes``: offer requeue, purge and abort;
    only behind your own authentication. ``redis``: a connection to share instead of the URL.
    ``secret``: the form token, when several processes serve one dashboard. ``signing``: sign
    the outcome of a task it aborts, and re-sign a requeued letter whose signature checks out
    (docs/deployment.md, "Signing")."""
    connection = redis if redis is not None else async_redis(redis_url)
    board = Board(connection, prefix=prefix, types=_types(tasks), signing=signing)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Run only when served on its own: a mounted app's lifespan is its host's.
        yield
        await board.close()
        if redis is None:
            await connection.aclose()

    app = Starlette(routes=_routes(), lifespan=lifespan)
    app.state.board = board
    app.state.guard = WriteGuard(allow_writes, secret)
    app.state.templates = _templates()
    return app


def _types(tasks: str | Mapping[str, TaskDef[Any, Any]] | None) -> dict[str, TaskDef[Any, Any]]:
    if tasks is None:
        return {}
    if isinstance(tasks, str):
        from taskgen.runtime.inspect import task_types

        return task_types(tasks)
    return dict(tasks)


def _routes() -> list[Route | Mount]:
    return [
        # The POST routes come first, so that ".../abort" is not read as part of a task id.
        Route("/queues/{queue}/requeue", actions.requeue, methods=["POST"], name="requeue"),
        Route("/queues/{queue}/purge", actions.purge, methods=["POST"], name="purge"),
        Route(
            "/tasks/{task_id:taskgen_task_id}/abort", actions.abort, methods=["POST"], name="abort"
        ),
        Route("/", pages.overview, name="overview"),
        Route("/workers", pages.workers, name="workers"),
        Route("/queues/{queue}", pages.queue, name="queue"),
        Route("/tasks", pages.find, name="find"),
        Route("/tasks/{task_id:taskgen_task_id}", pages.task, name="task"),
        Route("/api/queues", pages.queues_json, name="queues_json"),
        Route("/api/tasks/{task_id:taskgen_task_id}", pages.task_json, name="task_json"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def _templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(FILTERS)
    return Jinja2Templates(env=environment)
