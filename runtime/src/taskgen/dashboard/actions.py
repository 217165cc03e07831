"""The write actions: requeue and purge dead letters, abort a task. Each answers a POST from
the dashboard's own forms, then sends the browser back to the page it came from."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from taskgen.dashboard.guard import WriteGuard
from taskgen.dashboard.pages import board_of, link

#: Largest form body read; a form names a few dead-letter entries at most.
MAX_FORM = 64 * 1024


async def requeue(request: Request) -> Response:
    """Requeue the posted dead-letter entries, or all of the queue's with ``all=1``."""
    return await _letters(request, purge=False)


async def purge(request: Request) -> Response:
    """Delete the posted dead-letter entries, or all of the queue's with ``all=1``."""
    return await _letters(request, purge=True)


async def abort(request: Request) -> Response:
    """Abort a queued, scheduled or running task."""
    form = await _form(request)
    refused = _refusal(request, form)
    if refused:
        return refused
    task_id = request.path_params["task_id"]
    queue, task = _one(form, "queue"), _one(form, "task")
    if not queue or not task:
        return PlainTextResponse("abort needs the task's queue and task name", status_code=400)
    done = await board_of(request).abort(task_id, queue, task)
    notice = "abort requested" if done else "the task had already ended"
    return _back(request, link(request, "task", task_id=task_id), notice, queue=queue)


async def _letters(request: Request, *, purge: bool) -> Response:
    form = await _form(request)
    refused = _refusal(request, form)
    if refused:
        return refused
    queue = request.path_params["queue"]
    entries = form.get("entry", [])
    if not entries and _one(form, "all") != "1":
        return PlainTextResponse("name the dead letters (entry=...) or post all=1", 400)
    board = board_of(request)
    chosen = None if _one(form, "all") == "1" else entries
    done = await (board.purge(queue, chosen) if purge else board.requeue(queue, chosen))
    notice = f"{'purged' if purge else 'requeued'} {done} dead letter(s)"
    then = _one(form, "then")  # posted from a task's page: back to that task
    if then:
        return _back(request, link(request, "task", task_id=then), notice, queue=queue)
    return _back(request, link(request, "queue", queue=queue), notice)


async def _form(request: Request) -> dict[str, list[str]]:
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    return parse_qs(body.decode(errors="replace"))


def _one(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _refusal(request: Request, form: dict[str, list[str]]) -> Response | None:
    guard: WriteGuard = request.app.state.guard
    reason = guard.refusal(request, _one(form, "token"))
    return PlainTextResponse(reason, status_code=403) if reason else None


def _back(request: Request, path: str, notice: str, **query: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode({**query, 'notice': notice})}", status_code=303)
