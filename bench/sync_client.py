"""``python bench/sync_client.py``: what the blocking client costs its callers.

One server and one worker process serving ``bench.add``; one ``SyncClient`` measures, in
``ROUNDS`` rounds: ``N`` enqueues one after another from one thread, ``N`` round trips
(enqueue, then ``result()``) one after another, and round trips from ``THREADS`` threads sharing
the client. It prints the median of the rounds (the first warms up).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import started
from taskgen.runtime import Binding, Context, SyncClient, TaskDef, Worker

ROOT = Path(__file__).resolve().parent.parent

N = 2000
THREADS = 16
ROUNDS = 5
PATIENCE = 30.0


class AddArgs(msgspec.Struct, frozen=True, kw_only=True):
    a: int
    b: int


ADD = TaskDef[AddArgs, int](
    name="bench.add",
    queue="bench-sync",
    fingerprint="add-v1",
    args=AddArgs,
    result=int,
    params=(("a", "positional"), ("b", "positional")),
)


async def add(ctx: Context, a: int, b: int) -> int:
    return a + b


#: What the worker process serves (``taskgen worker bench.sync_client:worker``).
worker = Worker([Binding(ADD, add, lambda ctx, args, _: add(ctx, args.a, args.b))])


def enqueues(client: SyncClient) -> float:
    """Microseconds per enqueue, one after another."""
    started_at = time.perf_counter()
    for i in range(N):
        client.enqueue(ADD, AddArgs(a=i, b=0))
    return (time.perf_counter() - started_at) / N * 1e6


def round_trips(client: SyncClient) -> float:
    """Median milliseconds of a round trip, one after another."""
    times = []
    for i in range(N):
        started_at = time.perf_counter()
        assert client.enqueue(ADD, AddArgs(a=i, b=1)).result(timeout=PATIENCE) == i + 1
        times.append(time.perf_counter() - started_at)
    return statistics.median(times) * 1e3


def threaded(client: SyncClient) -> float:
    """Round trips per second from ``THREADS`` threads sharing the client."""
    each = N // THREADS

    def calls() -> None:
        for i in range(each):
            client.enqueue(ADD, AddArgs(a=i, b=1)).result(timeout=PATIENCE)

    threads = [threading.Thread(target=calls) for _ in range(THREADS)]
    started_at = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return each * THREADS / (time.perf_counter() - started_at)


def main(url: str) -> None:
    env = {**os.environ, "TASKGEN_REDIS_URL": url}
    command = [sys.executable, "-m", "taskgen", "worker", "bench.sync_client:worker"]
    serving = subprocess.Popen(command, cwd=ROOT, env=env)
    figures: dict[str, list[float]] = {}
    try:
        with SyncClient.from_url(url) as client:
            client.enqueue(ADD, AddArgs(a=0, b=0)).result(timeout=PATIENCE)
            for round_ in range(ROUNDS + 1):
                for name, workload in (
                    ("enqueue, one thread (us)", enqueues),
                    ("round trip p50, one thread (ms)", round_trips),
                    (f"round trips/s, {THREADS} threads", threaded),
                ):
                    value = workload(client)
                    if round_:
                        figures.setdefault(name, []).append(value)
    finally:
        serving.terminate()
        serving.wait(PATIENCE)
    for name, values in figures.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:>34}: median {statistics.median(values):.2f}  ({rounds})")


if __name__ == "__main__":
    with started() as server:
        main(server.url)
