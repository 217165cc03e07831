"""``taskgen dead``: dead letters from the command line."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable

import typer
from redis.exceptions import RedisError

from taskgen.cli_signing import signing_options
from taskgen.runtime.connection import redis_from_url
from taskgen.runtime.deadletters import DeadLetters
from taskgen.runtime.faults import describe, redact
from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.tls import tls_refusal


def _against_redis(redis_url: str, work: Callable[[], Awaitable[None]]) -> int:
    """Run ``work``; a bad URL or an unreachable Redis is one line on stderr and exit code 1."""

    async def run() -> None:
        await work()

    try:
        asyncio.run(run())
    except ValueError as bad:
        if "URL" not in str(bad):
            raise
        typer.secho(f"taskgen dead: --redis-url {redact(redis_url)!r}: {bad}", fg="red", err=True)
        return 2
    except (RedisError, OSError) as error:
        refusal = tls_refusal(error, redis_url)
        if refusal:
            typer.secho(f"taskgen dead: {refusal}", fg="red", err=True)
            return 2
        typer.secho(
            f"taskgen dead: cannot use Redis at {redact(redis_url)}: {describe(error)}",
            fg="red",
            err=True,
        )
        return 1
    return 0


def list_letters(redis_url: str, queue: str, limit: int, prefix: str = DEFAULT_PREFIX) -> None:
    """Print up to ``limit`` letters of ``queue``."""

    async def read() -> None:
        redis = redis_from_url(redis_url)
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

    raise typer.Exit(_against_redis(redis_url, read))


def change_letters(
    redis_url: str,
    queue: str,
    entries: list[str] | None,
    every: bool,
    *,
    purge: bool,
    prefix: str = DEFAULT_PREFIX,
    signing_key_file: str | None = None,
    old_signing_key_files: list[str] | None = None,
) -> int:
    """Requeue or purge the named letters (or all); returns the exit code."""
    if bool(entries) == every:
        typer.secho("name the entries to act on, or pass --all (not both)", fg="red", err=True)
        return 2
    try:
        signing = signing_options(signing_key_file, old_signing_key_files, False)
    except ValueError as bad:
        typer.secho(f"taskgen dead: {bad}", fg="red", err=True)
        return 2

    async def act() -> int:
        redis = redis_from_url(redis_url)
        try:
            letters = DeadLetters(redis, queue, prefix, signing=signing)
            chosen = None if every else entries
            return await (letters.purge(chosen) if purge else letters.requeue(chosen))
        finally:
            await redis.aclose()

    done = 0

    async def report() -> None:
        nonlocal done
        done = await act()

    if code := _against_redis(redis_url, report):
        return code
    typer.echo(f"{'purged' if purge else 'requeued'} {done} dead letter(s) of queue {queue}")
    return 0
