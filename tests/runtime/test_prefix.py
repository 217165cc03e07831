"""A deployment's key prefix reaches every part: client, worker and the dead-letter commands."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import redis.asyncio

from taskgen.runtime import Client, TaskRejected
from tests.tasks_fixture import ADD, UNKNOWN, AddArgs, bind_add, running_worker


def dead(*args: str, redis_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "taskgen", "dead", *args, "--redis-url", redis_url],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


async def test_a_prefixed_deployment_keeps_its_keys_and_its_dead_letters_apart(
    redis_url: str,
) -> None:
    async with (
        Client.from_url(redis_url, prefix="acme", registry="off") as client,
        running_worker(redis_url, [bind_add()], prefix="acme"),
    ):
        assert await (await client.enqueue(ADD, AddArgs(a=1, b=2))).result(timeout=10) == 3
        unknown = await client.enqueue(UNKNOWN, AddArgs(a=1, b=2))
        with pytest.raises(TaskRejected):
            await unknown.result(timeout=10)

    keys = {k.decode() async for k in redis.asyncio.Redis.from_url(redis_url).scan_iter()}
    assert keys and all(k.startswith("acme:") for k in keys), sorted(keys)

    listed = await asyncio.to_thread(dead, "list", "math", "--prefix", "acme", redis_url=redis_url)
    assert unknown.id in listed and "1 dead letter(s)" in listed
    default = await asyncio.to_thread(dead, "list", "math", redis_url=redis_url)
    assert "0 dead letter(s)" in default
    await asyncio.to_thread(dead, "purge", "math", "--all", "--prefix", "acme", redis_url=redis_url)
    assert not await redis.asyncio.Redis.from_url(redis_url).xlen("acme:{math}:dead")


def test_the_command_line_defaults_are_the_runtimes() -> None:
    # The CLI spells them itself so that `taskgen --help` imports no runtime module.
    from taskgen import cli
    from taskgen.runtime import keys

    assert (cli.DEFAULT_URL, cli.DEFAULT_PREFIX) == (keys.DEFAULT_URL, keys.DEFAULT_PREFIX)
