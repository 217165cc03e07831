"""The pages (server-rendered) and the JSON their scripts poll for live figures."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from taskgen.dashboard.board import Board
from taskgen.dashboard.guard import WriteGuard
from taskgen.dashboard.render import live, progress

#: Pages load only the dashboard's own script and style, and only a page of the same site may
#: frame them: an injected script would not run, and no other site can overlay the buttons.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
}


def board_of(request: Request) -> Board:
    """The board the app was built with."""
    board: Board = request.app.state.board
    return board


def link(request: Request, name: str, **params: str) -> str:
    """The path of one of the dashboard's routes, under wherever the app is mounted; values
    are percent-encoded, as a task id may hold any character."""
    root: str = request.scope.get("root_path", "")
    quoted = {key: quote(value, safe="") for key, value in params.items()}
    return root.rstrip("/") + str(request.app.url_path_for(name, **quoted))


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A rendered page; every template gets ``link``, the write guard and any notice."""
    guard: WriteGuard = request.app.state.guard
    context.update(
        request=request,
        link=lambda name, **params: link(request, name, **params),
        writes=guard.allow_writes,
        token=guard.token,
        notice=request.query_params.get("notice", ""),
        prefix=board_of(request).prefix,
    )
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=PAGE_HEADERS
    )
    return response


def json(value: Any) -> Response:
    """A JSON answer that no cache keeps."""
    return Response(
        msgspec.json.encode(value),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def overview(request: Request) -> Response:
    """Every queue: depth by priority, delayed, running, retrying, dead, oldest age, rate."""
    return page(request, "overview.html", queues=await board_of(request).queues())


async def queues_json(request: Request) -> Response:
    """The overview's figures, polled by its script."""
    return json(live(await board_of(request).queues()))


async def workers(request: Request) -> Response:
    """The live worker processes."""
    return page(request, "workers.html", workers=await board_of(request).workers())


async def queue(request: Request) -> Response:
    """One queue: its figures and its dead letters with the reason each died."""
    board = board_of(request)
    name = request.path_params["queue"]
    rows = [row for row in await board.queues() if row.name == name]
    letters = await board.dead_letters(name)
    return page(request, "queue.html", queue=name, row=rows[0] if rows else None, letters=letters)


async def find(request: Request) -> Response:
    """The task-id search box's target: on to that task's page."""
    task_id = request.query_params.get("id", "")  # as typed: an id may hold any character
    if not task_id:
        return RedirectResponse(link(request, "overview"), status_code=303)
    return RedirectResponse(link(request, "task", task_id=task_id), status_code=303)


async def task(request: Request) -> Response:
    """One task: state, attempts, times, typed arguments and result, error and traceback."""
    task_id = request.path_params["task_id"]
    view = await board_of(request).task(task_id, request.query_params.get("queue") or None)
    if view is None:
        return page(request, "missing.html", status_code=404, task_id=task_id)
    return page(request, "task.html", view=view, info=view.info)


async def task_json(request: Request) -> Response:
    """A task's state, polled by its page to reload when the state changes."""
    task_id = request.path_params["task_id"]
    view = await board_of(request).task(task_id, request.query_params.get("queue") or None)
    if view is None:
        return json(None)
    return json({"status": view.info.status, "progress": progress(view)})
