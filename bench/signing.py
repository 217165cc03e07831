"""What signing costs, in CPU time per task: the client's enqueue and the worker's drain, with
signing off and on, interleaved, against one server (the machine is shared: wall-clock time is
noise, CPU time of this process is not).

.venv/bin/python bench/signing.py [--tasks 20000] [--rounds 5]

Each round enqueues ``--tasks`` tasks with ``enqueue_many`` (timed by this process's CPU time),
then drains them with an in-process worker in burst mode (this process's CPU time, which is the
worker's: the client is idle meanwhile), once unsigned and once signed, in alternating order.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import server
from bench.peers.taskgen import NAP, NapArgs
from taskgen.runtime import Binding, Call, Client, Context, Signing, Worker


async def nap(ctx: Context, seconds: float) -> None:
    """The benchmark's task, minus its probe (which reports to the table's harness)."""


BINDING = Binding(NAP, nap, lambda ctx, args, extras: nap(ctx, args.seconds))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_round(
    running: server.Server, tasks: int, signing: Signing | None
) -> tuple[float, float, float]:
    """CPU µs per task of enqueueing, of draining, and Redis's for both."""
    url = running.url
    server_start = running.cpu_seconds()
    async with Client.from_url(url, registry="off", signing=signing) as client:
        calls = [Call(NAP, NapArgs()) for _ in range(tasks)]
        start = cpu()
        await client.enqueue_many(calls)
        enqueue = cpu() - start
    worker = Worker([BINDING], redis_url=url, concurrency=32, signing=signing)
    start = cpu()
    await worker.run(burst=True)
    drain = cpu() - start
    redis_cpu = running.cpu_seconds() - server_start
    return enqueue / tasks * 1e6, drain / tasks * 1e6, redis_cpu / tasks * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    signing = Signing(b"bench signing key, 32 bytes long")
    figures: dict[str, list[tuple[float, float, float]]] = {"off": [], "on": []}
    with server.started() as running:
        for round_ in range(options.rounds):
            order = ["off", "on"] if round_ % 2 == 0 else ["on", "off"]
            for mode in order:
                running.flush()
                used = signing if mode == "on" else None
                figures[mode].append(asyncio.run(one_round(running, options.tasks, used)))
    for mode, runs in figures.items():
        enqueue, drain, redis_cpu = (statistics.median(r[i] for r in runs) for i in range(3))
        print(
            f"signing {mode}: CPU per task: enqueue {enqueue:.2f} µs, drain {drain:.2f} µs, "
            f"Redis {redis_cpu:.2f} µs"
        )
    print(f"({options.rounds} rounds of {options.tasks:,} tasks; medians; interleaved)")


if __name__ == "__main__":
    main()
