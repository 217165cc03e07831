"""``./dev bench --soak SECONDS``: lost results under load, for longer than the tests run.

One client shared by many concurrent callers (as in a web app) enqueues and awaits tasks that
a worker process runs: single enqueues, ``enqueue_many`` batches and re-attached handles, while
the client's pub/sub connections are killed now and then (``CLIENT KILL TYPE pubsub``). Every
awaited result must arrive; the run reports how many did, how many were lost (timed out), and
the latency of each await. It exits with status 1 if any result was lost.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redis.asyncio

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from taskgen.runtime import Client, ResultTimeout
from taskgen.runtime.taskdef import Call
from tests.support import worker_process
from tests.tasks_fixture import ADD, AddArgs

#: The worker the soak runs (it serves math.add).
WORKER = "tests.fixtures.add_worker:worker"
#: Callers at once, tasks per batch, and how long one result may take before it counts as lost.
CALLERS = 300
BATCH = 100
PATIENCE = 30.0
#: The client logs in as this user, so only its connections are killed.
USER = "soak"


@dataclass
class Tally:
    """What the soak saw."""

    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    kills: int = 0

    async def await_one(self, awaiting: asyncio.Future[int], expected: int) -> None:
        started = time.perf_counter()
        try:
            value = await awaiting
        except ResultTimeout:
            self.lost += 1
            return
        if value != expected:
            raise AssertionError(f"got {value}, expected {expected}")
        self.latencies.append(time.perf_counter() - started)


async def one_round(client: Client, other: Client, tally: Tally) -> None:
    """Concurrent single enqueues, one batch, and re-attached handles, awaited together."""

    async def single(i: int) -> None:
        handle = await client.enqueue(ADD, AddArgs(a=i, b=1))
        await tally.await_one(asyncio.ensure_future(handle.result(timeout=PATIENCE)), i + 1)

    async def batch() -> None:
        handles = await client.enqueue_many(Call(ADD, AddArgs(a=i, b=2)) for i in range(BATCH))
        await asyncio.gather(
            *(
                tally.await_one(asyncio.ensure_future(h.result(timeout=PATIENCE)), i + 2)
                for i, h in enumerate(handles)
            )
        )

    async def reattached(i: int) -> None:
        handle = await client.enqueue(ADD, AddArgs(a=i, b=3))
        again = other.handle(ADD, handle.id)
        await tally.await_one(asyncio.ensure_future(again.result(timeout=PATIENCE)), i + 3)

    await asyncio.gather(
        *(single(i) for i in range(CALLERS)),
        batch(),
        *(reattached(i) for i in range(CALLERS // 10)),
    )


async def kill_now_and_then(url: str, stop: asyncio.Event, tally: Tally) -> None:
    admin = redis.asyncio.Redis.from_url(url)
    try:
        while not stop.is_set():
            await asyncio.sleep(random.uniform(0.05, 0.5))
            command = ("CLIENT", "KILL", "TYPE", "pubsub", "USER", USER)
            tally.kills += int(await admin.execute_command(*command))
    finally:
        await admin.aclose()


async def soak(url: str, seconds: float) -> Tally:
    with redis.Redis.from_url(url) as r:
        r.execute_command("ACL", "SETUSER", USER, "on", "nopass", "~*", "&*", "+@all")
    client_url = url.replace("redis://", f"redis://{USER}:any@", 1)
    tally = Tally()
    stop = asyncio.Event()
    async with Client.from_url(client_url) as client, Client.from_url(client_url) as other:
        killer = asyncio.create_task(kill_now_and_then(url, stop, tally))
        deadline = time.monotonic() + seconds
        rounds = 0
        while time.monotonic() < deadline:
            await one_round(client, other, tally)
            rounds += 1
            if rounds % 10 == 0:
                say(f"{rounds} rounds, {len(tally.latencies)} results, {tally.lost} lost")
        stop.set()
        await killer
    return tally


def run(url: str, seconds: float) -> int:
    """Soak against the server at ``url``; 0 if no result was lost, else 1."""
    with worker_process(url, target=WORKER):
        tally = asyncio.run(soak(url, seconds))
    lat = sorted(tally.latencies)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else float("nan")
    say(
        f"soak {seconds:g} s: {len(lat)} results, {tally.lost} lost, {tally.kills} result "
        f"connections killed; await p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {lat[-1] * 1000:.0f} ms"
        if lat
        else f"soak {seconds:g} s: no results, {tally.lost} lost"
    )
    return 1 if tally.lost or not lat else 0


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)
