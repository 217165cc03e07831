"""The runtime contract registry: a client refuses a wrong-order deploy before anything is queued.

The two-version test runs real worker processes of contract v1 and v2 (tests/fixtures/registry),
v2 built over v1's lock as its repository would be, with clients of both versions in this
process: v2 payloads that only incompatible v1 workers could take are refused; with no worker
live they are queued; once a v2 worker joins they are accepted; a task moved to another queue
is reported.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from taskgen.runtime import (
    Binding,
    Call,
    Client,
    Context,
    ContractMismatch,
    QueueMismatch,
    QueueMismatchWarning,
    TaskDef,
)
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.registry import (
    BUFFER,
    OK,
    UNSERVED,
    Accepted,
    Mode,
    RegistryKeys,
    Verdict,
    WorkerState,
    decode_contract,
    judge,
    parse_entry,
)
from taskgen.runtime.registry_publisher import RegistryPublisher
from taskgen.runtime.stopping import stop_tasks
from taskgen_codegen.check.lineage import without_lineage
from taskgen_codegen.check.lock import decode_lock, lock_of
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.generate import BuildConfig, build
from tests.support import Built, use_build, worker_process

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registry"


def build_version(root: Path, version: str, previous: Built | None = None) -> Built:
    """Build one version with its handlers; v2 starts from v1's accepted lock."""
    shutil.copytree(FIXTURES / version / "contracts", root / "contracts")
    if previous is not None:
        lock = previous.root / "contracts" / "taskgen.lock"
        shutil.copy(lock, root / "contracts" / "taskgen.lock")
    package, worker = f"reg{version}_tasks", f"reg{version}_worker"
    build(
        BuildConfig(
            contracts="contracts",
            client_package=package,
            client_out=package,
            worker_out=worker,
            root=str(root),
        )
    )
    handlers = FIXTURES / version / "handlers"
    for source in handlers.rglob("*.py"):
        target = root / worker / "handlers" / source.relative_to(handlers)
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return Built(root, root / package, root / worker)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Built]]:
    v1 = build_version(tmp_path_factory.mktemp("reg1"), "v1")
    v2 = build_version(tmp_path_factory.mktemp("reg2"), "v2", previous=v1)
    use_build(v1)
    use_build(v2)
    yield v1, v2


async def live_fingerprints(redis: Redis, queue: str) -> set[str]:
    """Every fingerprint that a live worker of ``queue`` runs, as stored now."""
    keys = RegistryKeys(QueueKeys(queue))
    seconds, micros = await redis.time()
    now = seconds * 1000 + micros // 1000
    contracts = {
        d.decode(): decode_contract(c) for d, c in (await redis.hgetall(keys.contracts)).items()
    }
    entries = await redis.hgetall(keys.workers)
    states = [parse_entry(w.decode(), e, now, contracts) for w, e in entries.items()]
    return {a.fingerprint for s in states if s.live for a in s.contract.values()}


async def until_live(redis: Redis, queue: str, fingerprint: str, live: bool = True) -> None:
    """Wait (at most 20 s) until a live worker of ``queue`` runs ``fingerprint``, or none does."""
    deadline = time.monotonic() + 20
    while (fingerprint in await live_fingerprints(redis, queue)) != live:
        assert time.monotonic() < deadline, f"registry of {queue!r} never showed {fingerprint}"
        await asyncio.sleep(0.05)


async def task_keys(redis: Redis) -> list[bytes]:
    """Every task's state key: what an enqueue creates."""
    return sorted([key async for key in redis.scan_iter(match="taskgen:*:task:*")])


def test_build_records_what_each_version_can_share_a_queue_with(
    versions: tuple[Built, Built],
) -> None:
    from regv1_tasks import tasks as v1
    from regv2_tasks import tasks as v2

    # Compatible change: each side decodes the other's payloads.
    assert v2.JOBS_GREET.fingerprint != v1.JOBS_GREET.fingerprint
    assert v2.JOBS_GREET.accepts == (v1.JOBS_GREET.fingerprint,)
    assert v2.JOBS_GREET.decoded_by == (v1.JOBS_GREET.fingerprint,)
    # Breaking change: neither does.
    assert v2.JOBS_REFUND.fingerprint != v1.JOBS_REFUND.fingerprint
    assert v2.JOBS_REFUND.accepts == v2.JOBS_REFUND.decoded_by == ()
    assert v1.JOBS_GREET.accepts == v1.JOBS_GREET.decoded_by == ()
    lock = (versions[1].root / "contracts" / "taskgen.lock").read_text(encoding="utf-8")
    assert f'"accepts": ["{v1.JOBS_GREET.fingerprint}"]' in lock
    # Rebuilding from that lock changes nothing (the lineage is carried forward), and the
    # lock is still exactly the contracts' own for `taskgen check`'s acceptance rule.
    root = versions[1].root
    config = BuildConfig(
        contracts="contracts",
        client_package="regv2_tasks",
        client_out="regv2_tasks",
        worker_out="regv2_worker",
        root=str(root),
    )
    assert not build(config, check=True).of("created", "updated", "removed")
    written = decode_lock(lock, "taskgen.lock")
    assert without_lineage(written) == lock_of(load_contracts(root / "contracts"))


async def test_registry_refuses_a_wrong_order_deploy(
    versions: tuple[Built, Built], redis_url: str
) -> None:
    from regv1_tasks import Regv1Tasks
    from regv1_tasks import tasks as v1
    from regv2_tasks import Regv2Tasks
    from regv2_tasks import tasks as v2

    built1, built2 = versions
    redis = Redis.from_url(redis_url)
    old, new = Regv1Tasks.from_url(redis_url), Regv2Tasks.from_url(redis_url)
    strict_old = Regv1Tasks.from_url(redis_url, registry="strict")
    try:
        with worker_process(
            redis_url, target="regv1_worker.main:worker", cwd=built1.root, env=built1.env()
        ):
            await until_live(redis, "deploy", v1.JOBS_REFUND.fingerprint)
            # A compatible change: the v1 worker decodes v2's payload (v2's lock says so).
            assert await (await new.jobs.greet("ann")).result(timeout=20) == "hello ann (v1)"
            # A breaking one: refused, naming the task, both fingerprints and the order.
            before = await task_keys(redis)
            with pytest.raises(ContractMismatch) as refused:
                await new.jobs.refund("o1", reason="late")
            message = str(refused.value)
            assert "jobs.refund" in message and "nothing queued" in message
            assert v2.JOBS_REFUND.fingerprint in message
            assert v1.JOBS_REFUND.fingerprint in message
            assert f"deploy workers whose lock accepts {v2.JOBS_REFUND.fingerprint} first" in (
                message
            )
            assert refused.value.worker_fingerprints == (v1.JOBS_REFUND.fingerprint,)
            # A batch is refused whole: its compatible calls are not queued either.
            with pytest.raises(ContractMismatch):
                await new.enqueue_many(
                    [new.jobs.greet.call("bo"), new.jobs.refund.call("o1", reason="late")]
                )
            assert await task_keys(redis) == before

        # No worker live: buffering is what a queue is for; nothing to report.
        await until_live(redis, "deploy", v1.JOBS_REFUND.fingerprint, live=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            queued = await new.jobs.refund("o2", reason="late")
        assert (await queued.status()).value == "queued"

        with worker_process(
            redis_url, target="regv2_worker.main:worker", cwd=built2.root, env=built2.env()
        ):
            await until_live(redis, "deploy", v2.JOBS_REFUND.fingerprint)
            # The client that was refused accepts once a v2 worker is live.
            accepted = await new.jobs.refund("o3", reason="late")
            assert await accepted.result(timeout=20) == "refunded o3: late (v2)"
            assert await queued.result(timeout=20) == "refunded o2: late (v2)"
            # v1 payloads of a compatibly changed task still go to v2 workers.
            assert await (await old.jobs.greet("cy")).result(timeout=20) == "hello cy (v2)"
            # The v2 workers run `archive` on another queue: a v1 client is told where.
            with pytest.raises(ContractMismatch) as moved:
                await old.jobs.archive("a1")
            assert moved.value.served_on == "archive"
            assert "serve it on queue 'archive'" in str(moved.value)
            assert await (await new.jobs.archive("a2")).result(timeout=20) == "archived a2 (v2)"

        # The move with no worker live: reported, as a warning or (strict) an error.
        await until_live(redis, "deploy", v2.JOBS_REFUND.fingerprint, live=False)
        with pytest.warns(QueueMismatchWarning, match="serve it on 'archive'") as reported:
            waiting = await old.jobs.archive("a3")
        assert reported[0].message.served_on == "archive"  # type: ignore[union-attr]
        assert (await waiting.status()).value == "queued"
        before = await task_keys(redis)
        with pytest.raises(QueueMismatch, match="nothing queued"):
            await strict_old.jobs.archive("a4")
        assert await task_keys(redis) == before
    finally:
        for client in (old, new, strict_old):
            await client.close()
        await redis.aclose()


# -- in one process ---------------------------------------------------------------------------


class NoteArgs(msgspec.Struct, frozen=True, kw_only=True):
    text: str = ""


def note(queue: str, fingerprint: str = "f1", **lineage: tuple[str, ...]) -> TaskDef[Any, Any]:
    return TaskDef[NoteArgs, None](
        name="notes.note",
        queue=queue,
        fingerprint=fingerprint,
        args=NoteArgs,
        result=None,
        **lineage,
    )


async def noop(ctx: Context, text: str) -> None:
    return None


def publisher(
    redis: Redis, task: TaskDef[Any, Any], worker: str, heartbeat: float = 2.0
) -> RegistryPublisher:
    binding = Binding(task, noop, lambda ctx, args, extras: noop(ctx, args.text))
    return RegistryPublisher(
        redis,
        [QueueKeys(task.queue)],
        {task.name: binding},
        worker=worker,
        prefix="taskgen",
        heartbeat=heartbeat,
    )


async def until(condition: Any, what: str) -> None:
    """Wait (at most 10 s) until ``await condition()`` is true."""
    deadline = time.monotonic() + 10
    while not await condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


async def test_heartbeats_keep_an_entry_fresh_and_write_a_lost_one_again(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    workers = RegistryKeys(QueueKeys("beats")).workers
    beats = publisher(redis, note("beats"), "w1", heartbeat=0.05)
    await beats.join()
    first = await redis.hget(workers, "w1")
    beating = asyncio.create_task(beats.run())
    try:

        async def beaten() -> bool:
            return await redis.hget(workers, "w1") != first

        await until(beaten, "the heartbeat never moved")
        await redis.flushdb()  # a Redis that lost everything

        async def restored() -> bool:
            return await live_fingerprints(redis, "beats") == {"f1"}

        await until(restored, "the heartbeat never wrote the lost entry again")
    finally:
        await stop_tasks([beating])
        await redis.aclose()


async def test_a_queue_no_worker_ever_served_is_reported(redis_url: str) -> None:
    task = note("nowhere")
    async with (
        Client.from_url(redis_url) as warn,
        Client.from_url(redis_url, registry="off") as off,
    ):
        with pytest.warns(QueueMismatchWarning, match="no worker running it has ever served"):
            handle = await warn.enqueue(task, NoteArgs())
        assert (await handle.status()).value == "queued"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            await warn.enqueue(task, NoteArgs())  # once per client
            await off.enqueue(task, NoteArgs())
    async with Client.from_url(redis_url, registry="strict") as strict:
        before = await task_keys(strict.redis)
        with pytest.raises(QueueMismatch, match="'nowhere'"):
            await strict.enqueue_many([Call(task, NoteArgs())])
        assert await task_keys(strict.redis) == before


async def test_the_registry_keeps_one_stopped_entry_per_contract(redis_url: str) -> None:
    """Deploys come and go; what a queue remembers grows with its contracts, not its restarts."""
    redis = Redis.from_url(redis_url)
    workers = RegistryKeys(QueueKeys("tidy")).workers
    v1, v2 = note("tidy", "f1"), note("tidy", "f2")
    try:
        first = [publisher(redis, v1, f"a{i}") for i in range(3)]
        for worker in first:
            await worker.join()
        for worker in first:
            await worker.leave()
        assert sorted(await redis.hkeys(workers)) == [b"a2"]
        # A dead worker (stale, never stopped) counts as stopped; a live one of the same
        # contract makes both unnecessary.
        dead = publisher(redis, v2, "dead", heartbeat=0.001)
        await dead.join()

        async def stale() -> bool:
            return "f2" not in await live_fingerprints(redis, "tidy")

        await until(stale, "the silent worker never went stale")
        await publisher(redis, v2, "b1").join()
        assert sorted(await redis.hkeys(workers)) == [b"a2", b"b1"]
        await publisher(redis, v1, "a3").join()
        assert sorted(await redis.hkeys(workers)) == [b"a3", b"b1"]
        assert len(await redis.hkeys(RegistryKeys(QueueKeys("tidy")).contracts)) == 2
    finally:
        await redis.aclose()


async def test_a_join_is_seen_without_waiting_for_the_refresh(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change channel re-reads the view: with periodic re-reads pushed out of reach, a
    joining worker still reaches the cached view."""
    from taskgen.runtime import registry_cache

    monkeypatch.setattr(registry_cache, "REFRESH", 3600.0)
    monkeypatch.setattr(registry_cache, "MAX_AGE", 3600.0)
    redis = Redis.from_url(redis_url)
    old, new = note("hints", "f1"), note("hints", "f2")
    try:
        await publisher(redis, old, "w1").join()
        async with Client.from_url(redis_url) as client:
            with pytest.raises(ContractMismatch):
                await client.enqueue(new, NoteArgs())
            registry = client._registry
            assert registry is not None and not registry.admits(new)
            await publisher(redis, new, "w2").join()
            deadline = time.monotonic() + 10
            while not registry.admits(new):
                assert time.monotonic() < deadline, "the join never reached the cached view"
                await asyncio.sleep(0.01)
    finally:
        await redis.aclose()


async def test_the_registry_adds_no_round_trip_per_enqueue(redis_url: str) -> None:
    task = note("counted")
    redis = Redis.from_url(redis_url)

    async def commands(mode: Mode) -> int:
        """Commands Redis ran (scripts' own included) for 200 enqueues after a first one."""
        async with Client.from_url(redis_url, registry=mode) as client:
            await client.enqueue(task, NoteArgs())  # the first reads the registry
            before = (await redis.info("stats"))["total_commands_processed"]
            for _ in range(200):
                await client.enqueue(task, NoteArgs())
            after = (await redis.info("stats"))["total_commands_processed"]
            return int(after - before)

    try:
        await publisher(redis, task, "w1").join()
        # A round trip per enqueue would be 200 more. What is allowed: subscribing to the change
        # channel, the re-read that follows it, and one background re-read (each a script
        # running TIME, HGETALL and perhaps HGET).
        assert await commands("warn") - await commands("off") <= 10
    finally:
        await redis.aclose()


# -- the decision, enumerated -------------------------------------------------------------------


@pytest.mark.parametrize("live", [True, False])
@pytest.mark.parametrize(
    ("worker", "client", "decodes"),
    [
        (Accepted("f1"), note("q", "f1"), True),  # the same shape
        (Accepted("f2", ("f1",)), note("q", "f1"), True),  # the worker accepts the client's
        (Accepted("f1"), note("q", "f2", decoded_by=("f1",)), True),  # the client's lock says so
        (Accepted("f1", ("f0",)), note("q", "f2", accepts=("f1",)), False),  # wrong direction
        (Accepted("f1"), note("q", "f2"), False),  # incompatible
        (None, note("q", "f1"), False),  # unknown task
    ],
)
def test_judge(
    live: bool, worker: Accepted | None, client: TaskDef[Any, Any], decodes: bool
) -> None:
    contract = {} if worker is None else {client.name: worker}
    state = WorkerState("w", live, contract)
    fingerprints = () if worker is None else (worker.fingerprint,)
    expected: Verdict
    if live:
        expected = OK if decodes else Verdict("refuse", fingerprints)
    else:
        expected = UNSERVED if worker is None else BUFFER
    assert judge([state], client) == expected
    # A stopped worker never changes a live verdict; with none live, one that ran it buffers.
    stopped = WorkerState("x", False, {client.name: Accepted(client.fingerprint)})
    assert judge([state, stopped], client) == (expected if live else BUFFER)
    # Nor does a live worker of other tasks make the queue unserved.
    other = WorkerState("y", True, {"notes.other": Accepted("f1")})
    assert judge([state, other], client) == (expected if live else Verdict("refuse"))
    assert judge([], client) == UNSERVED


def test_a_silent_worker_turns_stale_after_what_it_promised() -> None:
    contracts = {"d1": {"t": Accepted("f1")}}
    entry = b"L d1 1000 6000"
    assert parse_entry("w", entry, 7000, contracts).live
    assert not parse_entry("w", entry, 7001, contracts).live
    assert not parse_entry("w", b"S d1 1000 6000", 1000, contracts).live
    assert parse_entry("w", entry, 1000, contracts).contract == {"t": Accepted("f1")}
