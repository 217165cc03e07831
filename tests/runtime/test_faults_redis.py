"""Fault drills: real worker processes while their Redis restarts, is flushed, is down, is frozen,
or may evict keys. The worker must say what is wrong in one line, ride through it, and never
lose a task or report a false ending.

Workers are ``taskgen worker tests.fixtures.rt_worker:worker`` subprocesses (their handler
announces each start on ``rt:started``); servers of their own come from ``faulty_server``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import pytest
import redis.asyncio
from redis.asyncio.client import PubSub

from taskgen.runtime import Call, Client, TaskHandle
from taskgen.runtime.keys import GROUP, QueueKeys
from tests.redis_server import FaultyServer, faulty_server
from tests.rt_events import next_start, runs
from tests.support import REPO
from tests.tasks_fixture import SLEEP, SleepArgs

RT = "tests.fixtures.rt_worker:worker"
MATH = QueueKeys("math")


class Worker:
    """A ``taskgen worker`` process whose output is collected line by line as it comes."""

    def __init__(self, url: str, *args: str, **settings: str) -> None:
        env = {**os.environ, "TASKGEN_REDIS_URL": url}
        env.update({f"RT_{k.upper()}": v for k, v in settings.items()})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskgen", "worker", RT, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.pid = self.process.pid
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 20) -> str:
        """The first line (from now on, or already seen) that contains ``text``."""
        for line in list(self.lines):
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._new.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout}s:\n{self.output}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code (failing if it does not exit within ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.exit_code(timeout)

    def exit_code(self, timeout: float) -> int:
        """The exit code, once it exits (failing if it does not within ``timeout``)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the worker did not exit within {timeout}s:\n{self.output}"
            ) from None


@contextmanager
def worker(url: str, *args: str, **settings: str) -> Iterator[Worker]:
    """A worker process, killed afterwards if the test did not stop it."""
    running = Worker(url, *args, **settings)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


@pytest.fixture
async def server() -> AsyncIterator[FaultyServer]:
    """A server of the test's own, on a port that stays the same across restarts."""
    with faulty_server() as started:
        yield started


async def started_events(url: str) -> tuple[redis.asyncio.Redis, PubSub]:
    r = redis.asyncio.Redis.from_url(url)
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("rt:started")
    return r, pubsub


async def run_batch(url: str, count: int = 50, timeout: float = 20) -> list[str]:
    """Enqueue ``count`` quick tasks with a fresh client and await every result."""
    async with Client.from_url(url) as client:
        handles = await client.enqueue_many(
            [Call(SLEEP, SleepArgs(seconds=0.01)) for _ in range(count)]
        )
        return list(await asyncio.gather(*(h.result(timeout=timeout) for h in handles)))


def no_traceback(output: str) -> None:
    assert "Traceback" not in output, output


# -- start-up ------------------------------------------------------------------------------


async def test_an_unreachable_redis_is_one_line_without_password_then_retried() -> None:
    with faulty_server(start=False) as server:
        url = f"redis://:s3cret-pw@127.0.0.1:{server.port}/0"
        with worker(url) as running:
            line = running.wait_for_line("cannot reach Redis")
            assert f"redis://:***@127.0.0.1:{server.port}/0" in line
            assert "retrying in" in line and "ConnectionError" in line
            running.wait_for_line("cannot reach Redis")  # and again, after its backoff
            assert running.process.poll() is None
            server.start("--requirepass", "s3cret-pw")
            assert await run_batch(url, count=5)
            assert running.stop() == 0
        assert "s3cret-pw" not in running.output
        no_traceback(running.output)


async def test_a_worker_refuses_an_evicting_server_in_one_line() -> None:
    with faulty_server() as server:
        server.stop()
        server.start("--maxmemory", "30mb", "--maxmemory-policy", "allkeys-lru")
        with worker(server.url) as running:
            assert running.process.wait(20) == 2
        assert "maxmemory-policy allkeys-lru" in running.output
        assert "noeviction" in running.output
        no_traceback(running.output)
        with worker(server.url, "--processes", "2") as supervisor:
            # Restarting a worker that refuses would only fail again.
            assert supervisor.process.wait(20) == 2
        with worker(server.url, allow_eviction="1") as running:
            assert await run_batch(server.url, count=5)
            assert running.stop() == 0


# -- while serving -------------------------------------------------------------------------


@pytest.mark.parametrize("persistent", [False, True], ids=["empty", "persistent"])
async def test_a_worker_rides_through_a_server_restart(persistent: bool) -> None:
    with faulty_server(persistent=persistent) as server, worker(server.url) as running:
        assert await run_batch(server.url, count=5)
        server.restart()
        # The old worker died a moment after the restart: work enqueued then never ran.
        running.wait_for_line("retrying")
        assert len(await run_batch(server.url)) == 50
        assert len(await run_batch(server.url)) == 50
        assert running.process.poll() is None
        if not persistent:
            running.wait_for_line("consumer group of queue math was missing")
        assert running.stop() == 0
    no_traceback(running.output)


async def test_a_flushall_is_repaired(server: FaultyServer) -> None:
    with worker(server.url) as running:
        assert await run_batch(server.url, count=5)
        r = redis.asyncio.Redis.from_url(server.url)
        await r.flushall()
        await r.aclose()
        assert len(await run_batch(server.url)) == 50
        assert running.stop() == 0
    assert "consumer group of queue math was missing" in running.output


async def test_reclaimed_work_goes_before_the_backlog(server: FaultyServer) -> None:
    """A killed worker's task is redelivered about a lease later, not after the backlog."""
    r, pubsub = await started_events(server.url)
    settings = {"lease": "1", "concurrency": "2"}
    try:
        with worker(server.url, **settings) as first, worker(server.url, **settings) as second:
            async with Client.from_url(server.url) as client:
                victim_task = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="long-once"))
                task_id, _, victim = await next_start(pubsub)
                assert task_id == victim_task.id
                # About 10 s of backlog for the survivor's two slots.
                await client.enqueue_many(
                    [Call(SLEEP, SleepArgs(seconds=0.1, tag="backlog")) for _ in range(200)]
                )
                os.kill(victim, signal.SIGKILL)
                killed_at = time.monotonic()
                while True:
                    task_id, delivery, pid = await next_start(pubsub)
                    if task_id == victim_task.id:
                        break
                waited = time.monotonic() - killed_at
                print(f"redelivered {waited:.2f}s after the kill")
                assert delivery == 2 and pid != victim
                assert waited < 3.5, f"redelivered {waited:.1f}s after the kill, lease 1s"
            survivor = first if second.pid == victim else second
            assert survivor.stop() == 0
    finally:
        await pubsub.aclose()
        await r.aclose()


async def test_consumers_of_killed_workers_are_removed(server: FaultyServer) -> None:
    r = redis.asyncio.Redis.from_url(server.url)

    async def consumers() -> set[str]:
        names: set[str] = set()
        for stream in MATH.streams:
            if await r.exists(stream):  # the first worker creates it
                for info in await r.xinfo_consumers(stream, GROUP):
                    names.add(info["name"].decode())
        return names

    async def until(condition: str, check: Callable[[set[str]], bool]) -> None:
        deadline = time.monotonic() + 20
        while not check(await consumers()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{condition}: consumers are {await consumers()}")
            await asyncio.sleep(0.05)

    try:
        with worker(server.url, lease="0.5") as survivor:
            mine = f"-{survivor.pid}-"
            await until("the survivor reads", lambda names: any(mine in n for n in names))
            for _ in range(3):
                with worker(server.url, lease="0.5") as victim:
                    theirs = f"-{victim.pid}-"
                    await until(
                        "the victim reads", lambda names, t=theirs: any(t in n for n in names)
                    )
                    victim.process.kill()
                    victim.process.wait()
            await until("the dead are removed", lambda names: all(mine in n for n in names))
            assert survivor.stop() == 0
        assert "gone worker(s) from queue math" in survivor.output
    finally:
        await r.aclose()


# -- SIGTERM during an outage --------------------------------------------------------------


async def start_running(url: str, count: int, seconds: float) -> list[TaskHandle[str]]:
    """Enqueue ``count`` tasks and wait until every one has started."""
    r, pubsub = await started_events(url)
    try:
        async with Client.from_url(url) as client:
            handles = await client.enqueue_many(
                [Call(SLEEP, SleepArgs(seconds=seconds, tag="outage")) for _ in range(count)]
            )
        for _ in range(count):
            await next_start(pubsub)
    finally:
        await pubsub.aclose()
        await r.aclose()
    return handles


async def test_sigterm_in_an_outage_stores_outcomes_once_redis_returns() -> None:
    """Redis comes back within the grace: outcomes are written, nothing runs twice."""
    with faulty_server(persistent=True) as server:
        with worker(server.url, lease="1", concurrency="8", grace="15") as running:
            handles = await start_running(server.url, 8, seconds=1)
            server.stop()
            running.process.send_signal(signal.SIGTERM)
            running.wait_for_line("writing 1 queue(s) of results failed")
            server.start()
            assert running.exit_code(30) == 0
        async with Client.from_url(server.url) as client:
            results = [await client.handle(SLEEP, h.id).result(timeout=5) for h in handles]
        assert results == [f"{running.pid} 1 1"] * 8
        assert set((await runs(server.url)).values()) == {1}
        assert "dead-lettered" not in running.output
        no_traceback(running.output)


@pytest.mark.parametrize("fault", ["down", "frozen"])
async def test_sigterm_in_a_lasting_outage_exits_and_the_tasks_run_again(fault: str) -> None:
    """Redis stays away: the worker exits in bounded time; its tasks are redelivered later."""
    with faulty_server(persistent=True) as server:
        with worker(server.url, lease="1", concurrency="4", grace="1") as running:
            handles = await start_running(server.url, 4, seconds=0.5)
            if fault == "down":
                server.stop()
            else:
                server.pause()  # black-holed: connections open, nothing answered
            running.process.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            assert running.exit_code(20) == 0
            assert time.monotonic() - stopping < 12
        assert "could not store the outcomes of 4 task(s)" in running.output, running.output
        assert "dead-lettered" not in running.output
        no_traceback(running.output)
        if fault == "down":
            server.start()
        else:
            server.resume()
        with worker(server.url, lease="1") as successor:
            async with Client.from_url(server.url) as client:
                for handle in handles:
                    result = await client.handle(SLEEP, handle.id).result(timeout=20)
                    assert result == f"{successor.pid} 2 1"
            assert successor.stop() == 0


async def test_cron_ticks_missed_during_an_outage_fire_once_redis_returns() -> None:
    with faulty_server(persistent=True) as server, worker(server.url, cron_every="0.2") as running:

        async def ticks_until(after: int) -> list[int]:
            """Every tick run so far, once one after epoch ms ``after`` has run."""
            deadline = time.monotonic() + 20
            while True:
                fired = sorted(int(task.rsplit(":", 1)[1]) for task in await runs(server.url))
                if fired and fired[-1] > after:
                    return fired
                assert time.monotonic() < deadline, f"no tick after {after}: {fired[-3:]}"
                await asyncio.sleep(0.05)

        await ticks_until(int(time.time() * 1000) + 400)  # firing on time
        server.stop()
        running.wait_for_line("could not fire")
        down_at = int(time.time() * 1000)
        server.start()
        fired = await ticks_until(down_at + 1000)
        gaps = [b - a for a, b in itertools.pairwise(fired) if b - a != 200]
        assert not gaps, f"ticks missing around the outage: gaps of {gaps} ms"
        assert running.stop() == 0
