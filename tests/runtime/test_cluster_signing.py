"""Signed messages on a Redis Cluster: a ``taskgen worker`` process with a key file and signing
clients run signed tasks on queues of three primaries; forged envelopes XADDed into a queue's
stream on its shard are dead-lettered undecoded; forged outcomes stored on a shard are refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from taskgen.runtime import Client, SignatureRefused, Signing, TaskRejected
from taskgen.runtime.connection import redis_from_url
from taskgen.runtime.signing import MAGIC
from taskgen.runtime.wire import ENCODER, Envelope, new_task_id, now_ms
from tests.cluster_support import CW, until_joined
from tests.fixtures.cluster_worker import QUEUES, TASKS
from tests.redis_cluster import RedisClusterNodes
from tests.runtime import test_signing, test_signing_processes
from tests.runtime.test_signing import OUTCOME_FORGERIES, dead_letters
from tests.runtime.test_signing_processes import key_file
from tests.support import worker_process
from tests.tasks_fixture import SleepArgs

pytestmark = pytest.mark.server

#: The worker's key (as its key file holds it) and another.
KEY, OTHER = test_signing_processes.KEY, "x" * 64


def unsigned(queue: str, task_id: str) -> bytes:
    """An envelope of ``queue``'s task as a client without a key writes it."""
    task = TASKS[queue]
    args = msgspec.Raw(ENCODER.encode(SleepArgs(seconds=0)))
    return ENCODER.encode(Envelope(task_id, task.name, task.fingerprint, args, now_ms()))


#: Forged envelopes of a queue's task, and the kind of refusal each gets.
FORGERIES = {
    "Unsigned": unsigned,
    "BadSignature": lambda queue, task_id: Signing(OTHER).sign_envelope(
        unsigned(queue, task_id), queue, task_id.encode()
    ),
}


async def test_signed_tasks_run_on_every_shard_and_forged_entries_are_dead_lettered(
    cluster: RedisClusterNodes, cluster_url: str, tmp_path: Path
) -> None:
    r = redis_from_url(cluster_url)
    forged = {(queue, kind): new_task_id() for queue in QUEUES for kind in FORGERIES}
    for (queue, kind), task_id in forged.items():
        # Routed by the stream's key: written on the primary that serves the queue.
        await r.xadd(f"taskgen:{{{queue}}}:ready:1", {task_id: FORGERIES[kind](queue, task_id)})
    options = ["--signing-key-file", key_file(tmp_path, "key", KEY)]
    with worker_process(cluster_url, *options, target=CW) as worker:
        await until_joined(cluster_url)
        async with Client.from_url(cluster_url, registry="off", signing=Signing(KEY)) as client:
            handles = [
                await client.enqueue(TASKS[queue], SleepArgs(seconds=0, tag=queue))
                for queue in QUEUES
                for _ in range(3)
            ]
            results = await asyncio.gather(*(h.result(timeout=30) for h in handles))
            assert all(result.endswith(" 1 1") for result in results)
            for (queue, kind), task_id in forged.items():
                with pytest.raises(TaskRejected, match=kind):
                    await client.handle(TASKS[queue], task_id).result(timeout=30)
        assert worker.poll() is None
    for handle in handles:
        stored = await r.hget(f"taskgen:{{{handle.task.queue}}}:task:{handle.id}", "o")
        assert stored is not None and stored.startswith(MAGIC)
    for queue in QUEUES:
        letters = dead_letters(await r.xrange(f"taskgen:{{{queue}}}:dead"))
        assert {tid: kind for tid, (kind, _) in letters.items()} == {
            task_id: kind for (q, kind), task_id in forged.items() if q == queue
        }
        assert all("not decoded" in reason for _, reason in letters.values())
        assert (await r.xpending(f"taskgen:{{{queue}}}:ready:1", "taskgen"))["pending"] == 0
    owners = {cluster.owner_of_key(f"taskgen:{{{queue}}}:dead") for queue in QUEUES}
    assert len(owners) == 3
    await r.aclose()


async def test_a_forged_outcome_on_any_shard_is_refused(cluster_url: str) -> None:
    r = redis_from_url(cluster_url)
    signing = Signing(test_signing.KEY)
    async with Client.from_url(cluster_url, registry="off", signing=signing) as client:

        async def refusal(queue: str, name: str) -> tuple[bool, str]:
            """Store forgery ``name`` as the outcome of a task of ``queue``; whether the
            refusal names the task, and its kind."""
            handle = await client.enqueue(TASKS[queue], SleepArgs(seconds=0))
            key = f"taskgen:{{{queue}}}:task:{handle.id}"
            await r.hset(key, mapping={"s": "done", "o": OUTCOME_FORGERIES[name](handle.id)})
            with pytest.raises(SignatureRefused) as refused:
                await client.handle(TASKS[queue], handle.id).result(timeout=10)
            return refused.value.task_id == handle.id, refused.value.kind

        cases = [(queue, name) for queue in QUEUES for name in OUTCOME_FORGERIES]
        refusals = await asyncio.gather(*(refusal(queue, name) for queue, name in cases))
    for (queue, name), (named, kind) in zip(cases, refusals, strict=True):
        assert named, (queue, name)
        assert kind == ("Unsigned" if name == "unsigned" else "BadSignature"), (queue, name)
    await r.aclose()
