"""``./dev bench --flows``: what a chain step and a chord member cost against plain tasks.

One worker process (tests/fixtures/chain_worker.py, concurrency 16) runs ``flow.inc`` (returns
n + 1) for every shape:

- plain, parallel: N tasks enqueued in one ``enqueue_many``, every result awaited;
- plain, one after another: the caller awaits each task before enqueueing the next (what a
  chain replaces);
- chain: one chain of ``--chain-steps`` steps (each step's value feeds the next);
- group: ``--chord-members`` tasks started as a group, every result awaited;
- chord: the same members with a ``flow.total`` callback over all values.

For each: wall time per task, and CPU per task of the worker process (/proc) and of the
server (INFO cpu), which are steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs, server
from taskgen.runtime import Call, Client, Step, TaskClient, group
from tests.flows_fixture import INC, TOTAL, IncArgs
from tests.support import worker_process

WORKER = "tests.fixtures.chain_worker:worker"


def inc(n: int) -> Call[int]:
    return Call(INC, IncArgs(n=n))


async def plain_parallel(tasks: TaskClient, n: int) -> None:
    handles = await tasks.enqueue_many(inc(i) for i in range(n))
    values = await asyncio.gather(*(h.result(timeout=300) for h in handles))
    assert values == [i + 1 for i in range(n)]


async def plain_serial(tasks: TaskClient, n: int) -> None:
    value = 0
    for _ in range(n):
        (handle,) = await tasks.enqueue_many([inc(value)])
        value = await handle.result(timeout=60)
    assert value == n


async def chain(tasks: TaskClient, n: int) -> None:
    built = inc(0).then(Step[int, int](INC, {}))
    for _ in range(n - 2):
        built = built.then(Step[int, int](INC, {}))
    handle = await tasks.start(built)
    assert await handle.result(timeout=600) == n


async def members(tasks: TaskClient, n: int) -> None:
    handle = await tasks.start(group([inc(i) for i in range(n)]))
    assert await handle.result(timeout=600) == [i + 1 for i in range(n)]


async def chord(tasks: TaskClient, n: int) -> None:
    callback = Step[list[int], int](TOTAL, {})
    handle = await tasks.start(group([inc(i) for i in range(n)]).then(callback))
    assert await handle.result(timeout=600) == n * (n + 1) // 2


async def measure(
    url: str, pid: int, running: server.Server, name: str, n: int, shape: Callable[..., Any]
) -> dict[str, float]:
    worker_cpu, server_cpu = procs.cpu_seconds(pid), running.cpu_seconds()
    started = time.perf_counter()
    async with Client.from_url(url, registry="off") as client:
        done: Awaitable[None] = shape(TaskClient(client), n)
        await done
    wall = time.perf_counter() - started
    row = {
        "wall_us": wall / n * 1e6,
        "worker_cpu_us": (procs.cpu_seconds(pid) - worker_cpu) / n * 1e6,
        "server_cpu_us": (running.cpu_seconds() - server_cpu) / n * 1e6,
    }
    print(
        f"{name:<24} {n:>7} tasks  wall {row['wall_us']:8.1f} us/task  worker CPU "
        f"{row['worker_cpu_us']:7.1f} us/task  server CPU {row['server_cpu_us']:7.1f} us/task",
        flush=True,
    )
    return row


async def run(url: str, running: server.Server, steps: int, size: int, repeat: int) -> None:
    env = {**os.environ, "FLOW_NO_COUNT": "1", "FLOW_CONCURRENCY": "16", "FLOW_LEASE": "30"}
    shapes = [
        ("plain, parallel", size, plain_parallel),
        ("group", size, members),
        ("chord", size, chord),
        ("plain, one after another", steps, plain_serial),
        ("chain", steps, chain),
    ]
    with worker_process(url, target=WORKER, env=env) as worker:
        async with Client.from_url(url, registry="off") as warm:
            await plain_parallel(TaskClient(warm), 100)
        for turn in range(repeat):
            print(f"-- round {turn + 1} of {repeat}", flush=True)
            for name, n, shape in shapes:
                await measure(url, worker.pid, running, name, n, shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain-steps", type=int, default=1000)
    parser.add_argument("--chord-members", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds, interleaved")
    options = parser.parse_args()
    with server.started() as running:
        print(f"server: {running.name} {running.version}", flush=True)
        asyncio.run(
            run(running.url, running, options.chain_steps, options.chord_members, options.repeat)
        )


if __name__ == "__main__":
    main()
