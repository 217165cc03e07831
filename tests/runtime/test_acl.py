"""Least privilege: a worker, clients and ``taskgen dead`` run as users restricted to exactly
the rules ``taskgen acl`` prints, and the server denies them nothing (``ACL LOG`` stays empty).

The workload touches every path that sends a command of its own: enqueue (now, delayed,
batched, blocking), results and states, retries, dead letters and the dead-letter commands,
abort, cron, lease renewal, reclaim, the sweep, hand-back at shutdown, the registry, and flow
control (parked, admitted and released tasks, rate tokens, unique keys, fair turns, a healed
slot). A
command added to the code but not to the rule is denied here; one the rule grants but nothing
sends is caught by the check against the server's command statistics."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio

from taskgen.runtime import (
    Binding,
    Call,
    Client,
    Context,
    Step,
    SyncClient,
    TaskClient,
    TaskFailed,
    TaskStatus,
    group,
    results,
)
from taskgen.runtime.acl import ROLES, Role, commands, rule
from taskgen.runtime.cron import Cron
from taskgen.runtime.keys import GROUP, LEVELS, QueueKeys
from taskgen.runtime.taskdef import EnqueueOptions
from taskgen.vocabulary import Priority
from tests.flow_fixture import FAIR, RATED, SINGLE, UNIQUE, WorkArgs
from tests.flows_fixture import DOUBLE, INC, TOTAL, IncArgs
from tests.flows_fixture import bindings as flow_bindings
from tests.support import REPO
from tests.tasks_fixture import (
    ADD,
    FLAKY,
    SLEEP,
    AddArgs,
    SleepArgs,
    bind_add,
    running_worker,
)

#: The workload's database: not 0, so that SELECT is part of what is checked.
DB = 1
STREAM = QueueKeys("math").streams[LEVELS.index(Priority.NORMAL)]


def in_db(url: str) -> str:
    """``url`` (which names database 0) pointed at the workload's database."""
    return f"{url.rpartition('/')[0]}/{DB}"


async def server_version(admin: redis.asyncio.Redis) -> tuple[int, ...]:
    info: dict[str, Any] = await admin.info("server")
    version = str(info.get("valkey_version") or info["redis_version"])
    if "valkey_version" in info:
        return (7, 2)  # Valkey knows every command of Redis 7.2
    return tuple(int(part) for part in version.split("."))


@pytest.fixture
async def users(redis_url: str) -> AsyncIterator[dict[Role, str]]:
    """A user per role, restricted to its rule; their URLs. The ACL log starts empty."""
    admin = redis.asyncio.Redis.from_url(redis_url)
    version = await server_version(admin)
    address = urlsplit(redis_url).netloc
    urls: dict[Role, str] = {}
    for role in ROLES:
        name = f"taskgen-{role}"
        await admin.execute_command(
            "ACL",
            "SETUSER",
            name,
            "reset",
            "on",
            f">pw-{role}",
            *rule(role, server=version).split(),
        )
        urls[role] = f"redis://{name}:pw-{role}@{address}/{DB}"
    await admin.execute_command("ACL", "LOG", "RESET")
    await admin.script_flush()  # so that loading the scripts is part of the workload
    await admin.config_resetstat()
    yield urls
    for role in ROLES:
        await admin.execute_command("ACL", "DELUSER", f"taskgen-{role}")
    await admin.aclose()
    cleanup = redis.asyncio.Redis.from_url(in_db(redis_url))
    await cleanup.flushdb()
    await cleanup.aclose()


attempts: dict[str, int] = {}


async def flaky(ctx: Context, a: int, b: int) -> int:
    """Fails its first attempt, so it is retried."""
    attempts[ctx.task_id] = attempts.get(ctx.task_id, 0) + 1
    if attempts[ctx.task_id] == 1:
        raise RuntimeError("first attempt fails")
    return a + b


async def sleep(ctx: Context, seconds: float, tag: str) -> str:
    if tag == "fail":
        raise ValueError("dead on purpose")
    await asyncio.sleep(seconds)
    return tag


def bindings() -> list[Binding[Any, Any]]:
    return [
        bind_add(),
        Binding(FLAKY, flaky, lambda ctx, a, _: flaky(ctx, a.a, a.b)),
        Binding(SLEEP, sleep, lambda ctx, a, _: sleep(ctx, a.seconds, a.tag)),
    ]


def dead(command: str, url: str) -> str:
    """Run ``taskgen dead <command> math`` as the user of ``url``; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "taskgen", "dead", *command.split(), "math"],
        cwd=REPO,
        env={**os.environ, "TASKGEN_REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


async def until(condition: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def workload(urls: dict[Role, str], admin: redis.asyncio.Redis) -> None:
    """Every path that sends its own commands, worker and producer each as its own user."""
    ticks = Cron(SLEEP, SleepArgs(seconds=0, tag="cron"), every=0.2)
    producer = Client.from_url(urls["producer"])
    worker_side = Client.from_url(urls["worker"])
    async with producer, worker_side:
        # A worker that took a task and died: its entry is reclaimed, then it is swept.
        await admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        ghosted = await producer.enqueue(ADD, AddArgs(a=7, b=7))
        await admin.xreadgroup(GROUP, "ghost", {STREAM: ">"}, count=1)
        async with running_worker(urls["worker"], bindings(), lease=0.3, grace=0.1, cron=[ticks]):
            assert await ghosted.result(timeout=15) == 14

            async def ghost_swept() -> bool:
                found = await admin.xinfo_consumers(STREAM, GROUP)
                return all(c["name"] != b"ghost" for c in found)

            await until(ghost_swept)
            assert await (await producer.enqueue(ADD, AddArgs(a=1, b=2))).result(timeout=15) == 3
            later = await producer.enqueue(ADD, AddArgs(a=2, b=2), EnqueueOptions(delay=0.2))
            retried = await producer.enqueue(FLAKY, AddArgs(a=3, b=3))
            doomed = await producer.enqueue(SLEEP, SleepArgs(seconds=0, tag="fail"))
            # Held across several renewals of its lease.
            slow = await producer.enqueue(SLEEP, SleepArgs(seconds=1.0, tag="slow"))
            assert await later.result(timeout=15) == 4
            assert await retried.result(timeout=15) == 6
            with pytest.raises(TaskFailed):
                await doomed.result(timeout=15)
            assert await slow.result(timeout=15) == "slow"
            assert await slow.status() is TaskStatus.DONE

            def blocking() -> int:
                with SyncClient.from_url(urls["producer"]) as sync:
                    return sync.enqueue(ADD, AddArgs(a=5, b=5)).result(timeout=15)

            assert await asyncio.to_thread(blocking) == 10
            # Aborting is the worker's: a queued task (delayed) and a running one.
            queued = await worker_side.enqueue(ADD, AddArgs(a=0, b=0), EnqueueOptions(delay=60))
            assert await queued.abort()
            running = await producer.enqueue(SLEEP, SleepArgs(seconds=30, tag="abort"))
            await until(lambda: _is_running(running))
            assert await worker_side.handle(SLEEP, running.id).abort()
            # Still running at shutdown: handed back to the queue.
            await producer.enqueue(SLEEP, SleepArgs(seconds=30, tag="left"))
    assert "1 dead letter(s) in queue math" in dead("list", urls["worker"])
    assert "requeued 1" in dead("requeue --all", urls["worker"])
    assert "0 dead letter(s)" in dead("list", urls["worker"])
    async with Client.from_url(urls["producer"]) as again:
        failing = await again.enqueue(SLEEP, SleepArgs(seconds=0, tag="fail"))
        async with running_worker(urls["worker"], bindings(), lease=0.3, grace=0.1):
            with pytest.raises(TaskFailed):
                await failing.result(timeout=15)
    assert "purged 2" in dead("purge --all", urls["worker"])
    await flow_workload(urls, admin)
    await chain_and_chord(urls, admin)


async def work(ctx: Context, *, key: str, seconds: float = 0.0, tag: str = "") -> str:
    return key


async def flow_workload(urls: dict[Role, str], admin: redis.asyncio.Redis) -> None:
    """Flow control: parking, admitting, releasing, tokens, unique keys and the sweep's heal."""
    flowed = [
        Binding(t, work, lambda ctx, a, _: work(ctx, key=a.key))
        for t in (SINGLE, UNIQUE, RATED, FAIR)
    ]
    # A slot whose holder is gone: only the sweep frees it for the task parked behind it.
    await admin.sadd("taskgen:{flow}:flow:c:flow.single:k", "vanished")
    async with Client.from_url(urls["producer"]) as producer:
        parked = await producer.enqueue(SINGLE, WorkArgs(key="k"))
        unique = await producer.enqueue(UNIQUE, WorkArgs(key="u"))
        assert (await producer.enqueue(UNIQUE, WorkArgs(key="u"))).id == unique.id
        rated = [await producer.enqueue(RATED, WorkArgs(key="r")) for _ in range(6)]
        fair = [await producer.enqueue(FAIR, WorkArgs(key=k)) for k in "aab"]
        async with running_worker(urls["worker"], flowed, lease=0.3, grace=0.1):
            for handle in (parked, unique, *rated, *fair):
                await handle.result(timeout=15)


async def chain_and_chord(urls: dict[Role, str], admin: redis.asyncio.Redis) -> None:
    """A chord and a chain started by the producer: the relay's commands, and its sweep."""
    async with (
        Client.from_url(urls["producer"]) as producer,
        running_worker(urls["worker"], flow_bindings(), lease=1),
    ):
        tasks = TaskClient(producer)
        members = group([Call(INC, IncArgs(n=n)) for n in range(3)])
        chord = await tasks.start(members.then(Step[list[int], int](TOTAL, {})))
        assert await chord.result(timeout=15) == 1 + 2 + 3
        chain = await tasks.start(Call(INC, IncArgs(n=1)).then(Step[int, int](DOUBLE, {})))
        assert await chain.result(timeout=15) == 4
        async with asyncio.timeout(10):  # the sweep for handoffs left behind runs each second
            while "cmdstat_hscan" not in await admin.info("commandstats"):
                await asyncio.sleep(0.05)


async def _is_running(handle: Any) -> bool:
    return bool(await handle.status() is TaskStatus.RUNNING)


async def test_workers_and_producers_need_nothing_beyond_their_rules(
    redis_url: str, users: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Waiters ping their pub/sub connection after this long without a message (else 5 s).
    monkeypatch.setattr(results, "IDLE", 0.2)
    admin = redis.asyncio.Redis.from_url(in_db(redis_url))
    await workload(users, admin)
    denied = await admin.execute_command("ACL", "LOG")
    assert denied == [], denied
    # Nothing granted goes unused: each command of the worker's rule was sent.
    stats: dict[str, Any] = await admin.info("commandstats")
    sent = {name.removeprefix("cmdstat_").lower() for name in stats}
    granted = commands("worker", await server_version(admin))
    unused = [c for c in granted if c not in sent and c.partition("|")[0] not in sent]
    assert unused == [], f"granted but never sent: {unused}"
    await admin.aclose()


def test_the_producer_rule_is_the_narrower() -> None:
    producer, worker = set(commands("producer")), set(commands("worker"))
    assert producer < worker
    assert {"xreadgroup", "xack", "xautoclaim", "xdel", "xgroup|create"}.isdisjoint(producer)


def test_the_acl_command_prints_the_rule() -> None:
    def acl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "taskgen", "acl", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )

    printed = acl("--role", "producer", "--prefix", "shop")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == rule("producer", "shop") + "\n"
    assert "~shop:* &shop:* &shop:{*}:registry" in printed.stdout
    assert acl("--role", "worker", "--server", "7.0").stdout == rule("worker", server=(7, 0)) + "\n"
    for bad, words in [
        (["--role", "admin"], "use one of worker, producer"),
        (["--role", "worker", "--prefix", "a*b"], "without spaces or glob characters"),
        (["--role", "worker", "--server", "seven"], "expected numbers like 7.0"),
    ]:
        refused = acl(*bad)
        assert refused.returncode == 2
        assert words in " ".join(refused.stderr.split()), refused.stderr
