"""Operations against real worker processes: `taskgen status` and the read API count a queue
exactly, workers show up by their heartbeat and leave when they die or stop, `taskgen task
show` prints a task with or without the contract's types, and progress is readable."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio

from taskgen.runtime import Call, Client, EnqueueOptions, Priority, TaskRejected
from taskgen.runtime.inspect import UNTYPED_NOTE, queue_names, queue_stats, task_info, workers
from taskgen.runtime.keys import QueueKeys
from tests.fixtures.ops_worker import BLOCK, FAIL, NOBODY, STEP, SYNC_STEP, StepArgs
from tests.support import REPO, taskgen, worker_process
from tests.tasks_fixture import SleepArgs

OPS = "tests.fixtures.ops_worker:worker"
KEYS = QueueKeys("ops")


def env(**settings: str) -> dict[str, str]:
    return {**os.environ, **{f"OPS_{k.upper()}": v for k, v in settings.items()}}


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 15) -> None:
    """Wait, with a deadline, for a condition on the server's state."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.05)


async def start_blocked(client: Client, r: redis.asyncio.Redis, count: int) -> list[str]:
    """Enqueue ``count`` tasks that block for an hour; return once each has started."""
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("ops:started")
    handles = await client.enqueue_many(
        [Call(BLOCK, SleepArgs(seconds=3600, tag=f"held {i}")) for i in range(count)]
    )
    wanted = {h.id for h in handles}
    started: set[str] = set()
    async with asyncio.timeout(20):
        while not wanted <= started:
            message = await pubsub.get_message(timeout=20)
            if message is not None:
                started.add(message["data"].decode())
    await pubsub.aclose()
    return [h.id for h in handles]


async def test_status_counts_a_queue_with_known_contents_exactly(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    options = env(concurrency="3", lease="0.6")
    with worker_process(redis_url, target=OPS, env=options) as process:
        async with Client.from_url(redis_url, registry="off") as client:
            quick = await client.enqueue_many(
                [Call(BLOCK, SleepArgs(seconds=0, tag=str(i))) for i in range(4)]
            )
            assert await asyncio.gather(*(h.result(timeout=20) for h in quick))
            for handle in await client.enqueue_many([Call(NOBODY, SleepArgs(seconds=0))] * 2):
                with pytest.raises(TaskRejected):
                    await handle.result(timeout=20)
            await client.enqueue(FAIL, SleepArgs(seconds=0, tag="once"))
            await until(lambda: _one(r), "the failed task waits for its retry")
            held = await start_blocked(client, r, 3)
            high = EnqueueOptions(priority=Priority.HIGH)
            low = EnqueueOptions(priority=Priority.LOW)
            later = EnqueueOptions(delay=600)
            await client.enqueue_many(
                [Call(BLOCK, SleepArgs(seconds=0), high) for _ in range(5)]
                + [Call(BLOCK, SleepArgs(seconds=0), low) for _ in range(2)]
                + [Call(BLOCK, SleepArgs(seconds=0), later) for _ in range(4)]
            )

        stats = await queue_stats(r, "ops")
        assert stats.ready == {"high": 5, "normal": 0, "low": 2}
        assert (stats.scheduled, stats.retrying, stats.running, stats.dead) == (4, 1, 3, 2)
        assert (stats.completed, stats.failed, stats.retried) == (4, 2, 1)
        assert stats.oldest_wait is not None and 0 <= stats.oldest_wait < 20
        assert await queue_names(r) == ["ops"]  # the worker registered its queue

        async def busy() -> bool:
            return [w.running for w in await workers(r, ["ops"])] == [3]

        await until(busy, "the heartbeat shows the three held tasks")
        (record,) = await workers(r, ["ops"])
        assert (record.pid, record.queues, record.concurrency) == (process.pid, ["ops"], 3)
        assert (record.processed, record.failed) == (7, 3)  # 4 done, 2 rejected, 1 retried
        assert record.fingerprints["ops.block"] == "block-v1"
        assert set(record.tasks) == set(held)
        assert record.version and record.host

        shown = taskgen(redis_url, "status", "--json")
        assert shown.returncode == 0, shown.stderr
        parsed = json.loads(shown.stdout)
        (queue,) = parsed["queues"]
        assert queue["ready"] == {"high": 5, "normal": 0, "low": 2}
        assert [queue[k] for k in ("scheduled", "retrying", "running", "dead")] == [4, 1, 3, 2]
        assert [w["pid"] for w in parsed["workers"]] == [process.pid]

        text = taskgen(redis_url, "status", "ops").stdout
        header, row = text.splitlines()[:2]
        assert header.split()[:8] == [
            "queue", "high", "normal", "low", "scheduled", "retrying", "running", "dead"
        ]  # fmt: skip
        assert row.split()[:8] == ["ops", "5", "0", "2", "4", "1", "3", "2"]
        assert f" {process.pid} " in text
    await r.aclose()


async def _one(r: redis.asyncio.Redis) -> bool:
    return int(await r.scard(KEYS.retrying)) == 1


async def test_a_killed_worker_leaves_once_its_heartbeat_runs_out_a_stopped_one_at_once(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    options = env(lease="1")  # a heartbeat lives three leases: 3 s

    async def pids() -> set[int]:
        return {w.pid for w in await workers(r, ["ops"])}

    with worker_process(redis_url, target=OPS, env=options) as victim:

        async def listed() -> bool:
            return await pids() == {victim.pid}

        await until(listed, "the worker beats")
        victim.kill()
        victim.wait()
        killed = time.monotonic()
        # Dead, but its heartbeat has not run out yet.
        assert await pids() == {victim.pid}

        async def gone() -> bool:
            return await pids() == set()

        await until(gone, "the killed worker leaves the list", timeout=10)
        assert time.monotonic() - killed > 0.5
        # No other worker swept yet: its record is still there, only no longer live.
        assert await r.hlen(KEYS.heartbeats) == 1

    with worker_process(redis_url, target=OPS, env=options) as survivor:

        async def swept() -> bool:
            names = [n.decode() for n in await r.hkeys(KEYS.heartbeats)]
            return len(names) == 1 and f"-{survivor.pid}-" in names[0]

        await until(swept, "the survivor's sweep removes the dead worker's record")
        assert await pids() == {survivor.pid}
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(30) == 0
        assert await pids() == set()
        assert await r.hlen(KEYS.heartbeats) == 0
        assert await r.zcard(KEYS.alive) == 0
    await r.aclose()


async def test_task_show_prints_a_task_typed_with_tasks_and_raw_without(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    with worker_process(redis_url, target=OPS, env=env(lease="0.6")) as process:
        async with Client.from_url(redis_url, registry="off") as client:
            done = await client.enqueue(BLOCK, SleepArgs(seconds=0, tag="shown"))
            assert await done.result(timeout=20) == "shown"
            dead = await client.enqueue(NOBODY, SleepArgs(seconds=2.5, tag="lost"))
            with pytest.raises(TaskRejected):
                await dead.result(timeout=20)
            (held,) = await start_blocked(client, r, 1)

            raw = taskgen(redis_url, "task", "show", done.id)
            assert raw.returncode == 0, raw.stderr
            assert f"task {done.id} in queue ops: done" in raw.stdout
            assert '  result      "shown"' in raw.stdout
            assert f"  decoded     {UNTYPED_NOTE}" in raw.stdout
            assert "  started     " in raw.stdout and "  ran for     " in raw.stdout

            typed = taskgen(
                redis_url, "task", "show", done.id, "--tasks", OPS
            )  # a worker target: its bindings' TaskDefs
            assert f"with the contract's types ({OPS}, fingerprint block-v1)" in typed.stdout
            assert "  task        ops.block (fingerprint block-v1)" in typed.stdout

            module = "tests.fixtures.ops_worker"  # a module's TaskDefs, as a client's pkg.tasks
            letter = taskgen(redis_url, "task", "show", dead.id, "--tasks", module, "--json")
            shown = json.loads(letter.stdout)
            assert shown["info"]["status"] == "rejected"
            assert "no handler for task 'ops.nobody'" in shown["info"]["dead_letter"]["reason"]
            assert shown["args"] == {"seconds": 2.5, "tag": "lost"}
            assert shown["decoded"].startswith("with the contract's types")

            running = json.loads(taskgen(redis_url, "task", "show", held, "--json").stdout)
            assert running["info"]["status"] == "running"
            assert f"-{process.pid}-" in running["info"]["worker"]
            assert running["info"]["started_at"] is not None
            assert running["args"] == {"seconds": 3600.0, "tag": "held 0"}
            assert running["decoded"] == UNTYPED_NOTE

            missing = taskgen(redis_url, "task", "show", "no-such-id")
            assert missing.returncode == 1
            assert "no task no-such-id in queues ops" in missing.stderr
            bad = taskgen(redis_url, "task", "show", done.id, "--tasks", "no.such.module")
            assert bad.returncode == 2 and "--tasks: cannot import 'no.such.module'" in bad.stderr
    await r.aclose()


@pytest.mark.parametrize("task", [STEP, SYNC_STEP], ids=["async", "sync"])
async def test_progress_is_readable_while_a_task_runs_and_after(
    redis_url: str, task: object
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    with worker_process(redis_url, target=OPS, env=env()):
        async with Client.from_url(redis_url, registry="off") as client:
            handle = await client.enqueue(task, StepArgs(go="ops:go"))  # type: ignore[call-overload]

            async def reported() -> bool:
                return await handle.progress() is not None

            await until(reported, "the first report")
            first = await handle.progress()
            assert first is not None
            assert (first.value, first.message) in {(0.5, "half way"), (3.0, "items")}
            info = await task_info(r, handle.id)
            assert info is not None and info.status == "running" and info.progress == first
            await r.rpush("ops:go", 1)
            await handle.result(timeout=20)
            last = await handle.progress()
            assert last is not None and (last.value, last.message) in {(1.0, ""), (7.0, "items")}
            assert last.at >= first.at
    await r.aclose()


async def test_status_watch_redraws_until_ctrl_c(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    with worker_process(redis_url, target=OPS, env=env(lease="0.6")) as process:

        async def listed() -> bool:
            return [w.pid for w in await workers(r, ["ops"])] == [process.pid]

        await until(listed, "the worker beats")
        watch = subprocess.Popen(
            [sys.executable, "-m", "taskgen", "status", "--watch", "--every", "0.2"],
            cwd=REPO,
            env={**os.environ, "TASKGEN_REDIS_URL": redis_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def three_snapshots() -> list[str]:
            assert watch.stdout is not None
            seen: list[str] = []
            while sum(line.startswith("ops ") for line in seen) < 3:
                line = watch.stdout.readline()
                assert line, f"the watch ended: {watch.stderr.read() if watch.stderr else ''}"
                seen.append(line)
            return seen

        try:
            async with asyncio.timeout(30):
                seen = await asyncio.to_thread(three_snapshots)
        finally:
            watch.send_signal(signal.SIGINT)
            _, errors = watch.communicate(timeout=10)
        assert watch.returncode == 0, errors
        assert sum(line.startswith("queue ") for line in seen) == 3
        assert "Traceback" not in errors
    await r.aclose()
