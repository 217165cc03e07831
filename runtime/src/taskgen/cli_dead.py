"""``taskgen dead``: dead letters from the command line."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from redis.asyncio import Redis

from taskgen.runtime.deadletters import DeadLetters
from taskgen.runtime.faults import OUTAGE, describe, redact
from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.tls import tls_refusal

T = TypeVar("T")


def _run(redis_url: str, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; an unreachable or TLS-refusing server ends the command with one line."""
    try:
        return asyncio.run(work)
    except OUTAGE as exc:
        refusal = tls_refusal(exc, redis_url)
        message = refusal or f"cannot reach Redis at {redact(redis_url)}: {describe(exc)}"
        typer.secho(f"taskgen dead: {message}", fg="red", err=True)
        raise typer.Exit(2) from None


def list_letters(redis_url: str, queue: str, limit: int, prefix: str = DEFAULT_PREFIX) -> None:
    """Print up to ``limit`` letters of ``queue``."""

    async def read() -> None:
        redis = Redis.from_url(redis_url)
        try:
            letters = DeadLetters(redis, queue, prefix)
            total = await letters.count()
            for letter in await letters.list(limit):
                when = datetime.datetime.fromtimestamp(letter.at / 1000, datetime.UTC)
                typer.echo(
                    f"{letter.entry}  {when:%Y-%m-%d %H:%M:%S}Z  {letter.task}  "
                    f"{letter.task_id}\n    {letter.reason}"
                )
            typer.echo(f"{total} dead letter(s) in queue {queue}")
        finally:
            await redis.aclose()

    _run(redis_url, read())


def change_letters(
    redis_url: str,
    queue: str,
    entries: list[str] | None,
    every: bool,
    *,
    purge: bool,
    prefix: str = DEFAULT_PREFIX,
) -> int:
    """Requeue or purge the named letters (or all); returns the exit code."""
    if bool(entries) == every:
        typer.secho("name the entries to act on, or pass --all (not both)", fg="red", err=True)
        return 2

    async def act() -> int:
        redis = Redis.from_url(redis_url)
        try:
            letters = DeadLetters(redis, queue, prefix)
            chosen = None if every else entries
            return await (letters.purge(chosen) if purge else letters.requeue(chosen))
        finally:
            await redis.aclose()

    done = _run(redis_url, act())
    typer.echo(f"{'purged' if purge else 'requeued'} {done} dead letter(s) of queue {queue}")
    return 0
