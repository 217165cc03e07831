"""``taskgen status``: what each queue holds, how fast it drains, and the live workers.

Rich tables on a terminal; plain columns when piped; ``--json`` for machines. ``--watch``
redraws every few seconds until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec
import typer
from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.connection import redis_from_url
from taskgen.runtime.faults import redact
from taskgen.runtime.inspect import (
    QueueStats,
    WorkerRecord,
    queue_names,
    queues_stats,
    workers,
)
from taskgen.runtime.keys import LEVELS
from taskgen.runtime.tls import tls_refusal

T = TypeVar("T")


class Status(msgspec.Struct, frozen=True):
    """One reading of the queues and the workers serving them."""

    at: int
    queues: list[QueueStats]
    workers: list[WorkerRecord]


def show_status(
    redis_url: str,
    queues: Sequence[str],
    *,
    prefix: str,
    scan: bool,
    as_json: bool,
    watch: bool,
    every: float,
) -> int:
    """Print the status once, or every ``every`` seconds with ``watch``; the exit code."""

    async def read(redis: Redis) -> Status:
        names = list(queues) or await queue_names(redis, prefix=prefix, scan=scan)
        return Status(
            at=time.time_ns() // 1_000_000,
            queues=await queues_stats(redis, names, prefix=prefix),
            workers=await workers(redis, names, prefix=prefix),
        )

    if not watch:
        status = with_redis(redis_url, read)
        if status is None:
            return 1
        _print(status, as_json=as_json, tty=sys.stdout.isatty())
        return 0
    try:
        return with_redis(redis_url, lambda redis: _watch(redis, read, as_json, every)) or 0
    except KeyboardInterrupt:
        return 0


async def _watch(
    redis: Redis, read: Callable[[Redis], Awaitable[Status]], as_json: bool, every: float
) -> int:
    tty = sys.stdout.isatty() and not as_json
    if not tty:
        while True:
            _print(await read(redis), as_json=as_json, tty=False)
            sys.stdout.flush()
            await asyncio.sleep(every)
    from rich.console import Group
    from rich.live import Live

    with Live(auto_refresh=False, screen=False) as live:
        while True:
            status = await read(redis)
            live.update(Group(*_tables(status)), refresh=True)
            await asyncio.sleep(every)


def with_redis(redis_url: str, work: Callable[[Redis], Awaitable[T]]) -> T | None:
    """Run ``work`` on a client of ``redis_url``; None (after a one-line error) if unreachable."""

    async def run() -> T:
        redis = redis_from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
        try:
            return await work(redis)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(run())
    except (RedisError, OSError) as exc:
        refusal = tls_refusal(exc, redis_url)
        if refusal is not None:
            typer.secho(f"taskgen status: {refusal}", fg="red", err=True)
            return None
        typer.secho(
            f"cannot read Redis at {redact(redis_url)}: {exc} "
            "(is it running? pass --redis-url or set TASKGEN_REDIS_URL)",
            fg="red",
            err=True,
        )
        return None


def _print(status: Status, *, as_json: bool, tty: bool) -> None:
    if as_json:
        typer.echo(msgspec.json.encode(status).decode())
    elif tty:
        from rich.console import Console

        console = Console()
        for table in _tables(status):
            console.print(table)
    else:
        typer.echo(plain(status))


QUEUE_COLUMNS = (
    "queue",
    *(level.name.lower() for level in LEVELS),
    "scheduled",
    "retrying",
    "running",
    "dead",
    "oldest wait",
    "done/min",
    "failed/min",
    "retried/min",
)
WORKER_COLUMNS = ("worker", "host", "pid", "queues", "running", "done", "failed", "up", "version")


def queue_row(stats: QueueStats) -> list[str]:
    """One queue's cells, in ``QUEUE_COLUMNS`` order."""
    return [
        stats.queue,
        *(str(stats.ready.get(level.name.lower(), 0)) for level in LEVELS),
        str(stats.scheduled),
        str(stats.retrying),
        str(stats.running),
        str(stats.dead),
        "-" if stats.oldest_wait is None else seconds(stats.oldest_wait),
        str(stats.completed),
        str(stats.failed),
        str(stats.retried),
    ]


def worker_row(worker: WorkerRecord, now: int) -> list[str]:
    """One worker's cells, in ``WORKER_COLUMNS`` order."""
    return [
        worker.consumer,
        worker.host,
        str(worker.pid),
        ",".join(worker.queues),
        f"{worker.running}/{worker.concurrency}",
        str(worker.processed - worker.failed),
        str(worker.failed),
        seconds(max(0, now - worker.started_at) / 1000),
        worker.version,
    ]


def plain(status: Status) -> str:
    """The status as aligned plain-text columns."""
    if not status.queues:
        return "no queues known: no worker has started yet (pass queue names, or --scan)"
    lines = _columns([list(QUEUE_COLUMNS), *(queue_row(q) for q in status.queues)])
    lines.append("")
    if status.workers:
        rows = [worker_row(w, status.at) for w in status.workers]
        lines += _columns([list(WORKER_COLUMNS), *rows])
    else:
        lines.append("no live workers")
    return "\n".join(lines)


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    # Names left, numbers right.
    return [
        "  ".join(
            cell.ljust(width) if i == 0 or not _numeric(rows[1:], i) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _numeric(rows: list[list[str]], column: int) -> bool:
    return all(row[column][:1].isdigit() or row[column] == "-" for row in rows)


def _tables(status: Status) -> list[Any]:
    from rich.box import SIMPLE
    from rich.table import Table

    queues = Table(title="queues", title_justify="left", box=SIMPLE)
    for i, name in enumerate(QUEUE_COLUMNS):
        queues.add_column(name, justify="left" if i == 0 else "right")
    for stats in status.queues:
        queues.add_row(*queue_row(stats))
    live = Table(title="workers", title_justify="left", box=SIMPLE)
    for name in WORKER_COLUMNS:
        numeric = name in {"pid", "done", "failed", "up"}
        live.add_column(name, justify="right" if numeric else "left")
    for worker in status.workers:
        live.add_row(*worker_row(worker, status.at))
    return [queues, live]


def seconds(value: float) -> str:
    """A duration as a person reads it: 0.4s, 12s, 3m05s, 2h10m."""
    if value < 10:
        return f"{value:.1f}s"
    whole = int(value)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
