"""``taskgen task show``: one task's state, tries, timings, error, and its arguments and result
decoded with the contract's types when ``--tasks`` names where they are."""

from __future__ import annotations

import datetime
import sys
from typing import Any

import msgspec
import typer
from redis.asyncio import Redis

from taskgen.cli_status import seconds, with_redis
from taskgen.runtime.display import progress_type
from taskgen.runtime.inspect import (
    UNTYPED_NOTE,
    TaskInfo,
    decode_for_display,
    queue_names,
    task_info,
    task_types,
)
from taskgen.runtime.taskdef import TaskDef


class Shown(msgspec.Struct, frozen=True):
    """A task as ``--json`` prints it: its info, with the payloads decoded for display."""

    info: TaskInfo
    args: Any
    result: Any
    #: How the payloads were decoded: with the contract's types, or raw (and why).
    decoded: str
    #: The latest typed progress report, decoded like the payloads (None for a number).
    progress: Any = None


def show_task(
    redis_url: str,
    task_id: str,
    *,
    queue: str | None,
    tasks: str | None,
    prefix: str,
    as_json: bool,
) -> int:
    """Print one task; the exit code (1 when no queue holds it)."""
    try:
        types = task_types(tasks) if tasks else None
    except ValueError as exc:
        typer.secho(f"--tasks: {exc}", fg="red", err=True)
        return 2

    async def read(redis: Redis) -> tuple[TaskInfo | None, list[str]]:
        info = await task_info(redis, task_id, queue=queue, prefix=prefix)
        searched = [queue] if queue else await queue_names(redis, prefix=prefix, scan=True)
        return info, searched

    found = with_redis(redis_url, read)
    if found is None:
        return 1
    info, searched = found
    if info is None:
        where = f"queue {queue}" if queue else f"queues {', '.join(searched) or '(none known)'}"
        typer.secho(
            f"no task {task_id} in {where}: never enqueued, or it ended and its result expired",
            fg="red",
            err=True,
        )
        return 1
    shown = decoded(info, types, tasks)
    if as_json:
        typer.echo(msgspec.json.encode(shown).decode())
    else:
        typer.echo(describe(shown, color=sys.stdout.isatty()))
    return 0


def decoded(info: TaskInfo, types: dict[str, TaskDef[Any, Any]] | None, tasks: str | None) -> Shown:
    """The task with its payloads decoded by its TaskDef when ``types`` has it (by name, or
    for an ended task, whose envelope is gone, by the fingerprint its result carries)."""
    task = _task_of(info, types or {})
    if task is not None:
        info = msgspec.structs.replace(info, task=task.name)
        how = f"with the contract's types ({tasks}, fingerprint {task.fingerprint})"
    elif types is None:
        how = UNTYPED_NOTE
    else:
        how = f"raw: {tasks} declares no task {info.task or '(unknown name)'}"
    args = None if info.args is None else decode_for_display(info.args, task and task.args)
    result = None if info.result is None else decode_for_display(info.result, task and task.result)
    progress = (
        None
        if info.progress_value is None
        else decode_for_display(info.progress_value, progress_type(task))
    )
    return Shown(
        info=info,
        args=_unwrapped(args),
        result=_unwrapped(result),
        decoded=how,
        progress=_unwrapped(progress),
    )


def _task_of(info: TaskInfo, types: dict[str, TaskDef[Any, Any]]) -> TaskDef[Any, Any] | None:
    if info.task:
        return types.get(info.task)
    by_print = [t for t in types.values() if info.fingerprint and t.fingerprint == info.fingerprint]
    return by_print[0] if len(by_print) == 1 else None


def _unwrapped(value: Any) -> Any:
    """Drop the per-value note of raw values: ``Shown.decoded`` says it once."""
    if isinstance(value, dict) and set(value) == {"raw", "note"} and value["note"] == UNTYPED_NOTE:
        return value["raw"]
    return value


def describe(shown: Shown, *, color: bool = False) -> str:
    """The task as lines a person reads."""
    info = shown.info
    status = info.status + (" (waiting to retry)" if info.retrying else "")
    if color:
        status = typer.style(status, bold=True)
    lines = [f"task {info.task_id} in queue {info.queue}: {status}"]

    def row(name: str, value: object) -> None:
        if value is not None and value != "":
            lines.append(f"  {name:<12}{value}")

    if info.task:
        fingerprint = f" (fingerprint {info.fingerprint})" if info.fingerprint else ""
        row("task", info.task + fingerprint)
    elif info.fingerprint:
        row("task", f"? (ended: --tasks names it by its fingerprint, {info.fingerprint})")
    row("attempts", f"{info.attempts}, delivery {info.deliveries}")
    row("worker", info.worker)
    row("enqueued", _when(info.enqueued_at))
    row("due", _when(info.due_at))
    row("started", _when(info.started_at))
    row("finished", _when(info.finished_at))
    if info.started_at and info.finished_at:
        row("ran for", seconds((info.finished_at - info.started_at) / 1000))
    row("expires", _when(info.expires_at))
    if shown.progress is not None and info.progress is not None:
        row("progress", f"{_json(shown.progress)} (at {_when(info.progress.at)})")
    elif info.progress is not None:
        message = f"  {info.progress.message}" if info.progress.message else ""
        row("progress", f"{info.progress.value:g}{message} (at {_when(info.progress.at)})")
    if info.error is not None:
        row("error", f"{info.error.type}: {info.error.message}")
        if info.error.traceback:
            lines.append("  traceback")
            lines += ["    " + line for line in info.error.traceback.rstrip().splitlines()]
    if info.dead_letter is not None:
        letter = info.dead_letter
        row("dead letter", f"{letter.entry} at {_when(letter.at)}: {letter.reason}")
    if shown.args is not None:
        row("arguments", _json(shown.args))
    elif info.status in ("done", "failed", "timed_out", "aborted", "expired", "rejected"):
        row("arguments", "(not kept once a task ends; kept in its dead letter if it has one)")
    if shown.result is not None:
        row("result", _json(shown.result))
    if shown.args is not None or shown.result is not None or shown.progress is not None:
        row("decoded", shown.decoded)
    return "\n".join(lines)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _when(ms: int | None) -> str | None:
    if not ms:
        return None
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}Z"
