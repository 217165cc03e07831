"""A rolling deploy on one queue: clients and workers of contract v1 and v2 at once.

`taskgen check` predicts what happens; the runtime then shows it: compatible changes work in
both directions, a payload the other side cannot decode is rejected without a retry (naming
the task, both fingerprints and the field), and once the v2 worker has taken over, the dead
letters that v2 understands are requeued and succeed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskgen_codegen.check.compat import compare
from taskgen_codegen.check.lock import lock_of
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.generate import BuildConfig, build
from tests.support import Built, use_build, worker_process

ROLLING = Path(__file__).resolve().parents[1] / "fixtures" / "rolling"


def build_version(root: Path, version: str) -> Built:
    """Build one version's contract with its handlers, as its own repository would."""
    shutil.copytree(ROLLING / version / "contracts", root / "contracts")
    package, worker = f"{version}_tasks", f"{version}_worker"
    build(
        BuildConfig(
            contracts="contracts",
            client_package=package,
            client_out=package,
            worker_out=worker,
            root=str(root),
        )
    )
    for source in (ROLLING / version / "handlers").rglob("*.py"):
        target = root / worker / "handlers" / source.relative_to(ROLLING / version / "handlers")
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return Built(root, root / package, root / worker)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Built]]:
    v1 = build_version(tmp_path_factory.mktemp("v1"), "v1")
    v2 = build_version(tmp_path_factory.mktemp("v2"), "v2")
    use_build(v1)
    use_build(v2)
    yield v1, v2


def test_check_predicts_the_deploy(versions: tuple[Built, Built]) -> None:
    v1, v2 = versions
    findings = compare(
        lock_of(load_contracts(v1.root / "contracts")),
        lock_of(load_contracts(v2.root / "contracts")),
    )
    assert sorted((f.rule.id, f.subject) for f in findings) == [
        ("WIRE_ENUM_VALUE_ADDED", "type Carrier"),
        ("WIRE_FIELD_ADDED", "type Order, field gift"),
        ("WIRE_PARAM_ADDED", "task jobs.greet, parameter greeting"),
        ("WIRE_PARAM_ADDED_REQUIRED", "task jobs.refund, parameter reason"),
        ("WIRE_TASK_ADDED", "task jobs.track"),
        ("WIRE_TYPE_WIDENED", "task jobs.weigh, return value"),
    ]


def requeue_all(redis_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "taskgen", "dead", "requeue", "rolling", "--all"],
        env={"TASKGEN_REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_rolling_deploy(versions: tuple[Built, Built], redis_url: str) -> None:
    from v1_tasks import Order as OrderV1
    from v1_tasks import V1Tasks
    from v1_tasks import tasks as tasks_v1
    from v2_tasks import Carrier as CarrierV2
    from v2_tasks import Order as OrderV2
    from v2_tasks import V2Tasks
    from v2_tasks import tasks as tasks_v2

    from taskgen.runtime import DeadLetters, ResultMismatch, TaskRejected

    v1, v2 = versions
    pending: dict[str, str] = {}

    async def clients() -> tuple[V1Tasks, V2Tasks]:
        # The registry would refuse the wrong-order enqueues below before anything is queued
        # (tests/e2e/test_registry.py); off, they show what the workers do when it is skipped.
        return (
            V1Tasks.from_url(redis_url, registry="off"),
            V2Tasks.from_url(redis_url, registry="off"),
        )

    async def rejected(handle: Any) -> str:
        with pytest.raises(TaskRejected) as error:
            await handle.result(timeout=20)
        return str(error.value)

    async def old_worker_serves() -> None:
        old, new = await clients()
        async with old, new:
            assert await (await old.jobs.greet("ann")).result(timeout=20) == "hello ann"
            # Newer clients' extra parameter and field are ignored by the older worker.
            assert await (await new.jobs.greet("bob", "hi")).result(timeout=20) == "hello bob"
            order = OrderV2("o1", 2, gift=True)
            assert await (await new.jobs.total(order)).result(timeout=20) == 20
            # A value the old worker's contract does not have: rejected, not retried.
            ship = await new.jobs.ship("o2", CarrierV2.UPS)
            message = await rejected(ship)
            assert "jobs.ship" in message
            assert "$.carrier" in message
            assert tasks_v2.JOBS_SHIP.fingerprint in message
            assert tasks_v1.JOBS_SHIP.fingerprint in message
            assert tasks_v1.JOBS_SHIP.fingerprint != tasks_v2.JOBS_SHIP.fingerprint
            # A task the old worker does not know yet.
            track = await new.jobs.track("o3")
            assert "no handler for task 'jobs.track'" in await rejected(track)
            pending.update(ship=ship.id, track=track.id)
            letters = await DeadLetters(new.client.redis, "rolling").list()
            assert sorted(letter.task for letter in letters) == ["jobs.ship", "jobs.track"]
            assert all(letter.outcome and letter.outcome.attempts == 1 for letter in letters)

    async def new_worker_serves() -> None:
        old, new = await clients()
        async with old, new:
            # Older clients' payloads decode: the new parameter and field take their defaults.
            assert await (await old.jobs.greet("cy")).result(timeout=20) == "hello cy (v2)"
            assert await (await old.jobs.total(OrderV1("o4", 3))).result(timeout=20) == 30
            # The breaking change: a v1 payload lacks the now required parameter.
            refund = await old.jobs.refund("o5")
            message = await rejected(refund)
            assert "jobs.refund" in message
            assert "reason" in message
            assert tasks_v1.JOBS_REFUND.fingerprint in message
            assert tasks_v2.JOBS_REFUND.fingerprint in message
            pending["refund"] = refund.id
            # A result the older client cannot read: a typed error, not a crash or a retry.
            weigh = await old.jobs.weigh("o6")
            with pytest.raises(ResultMismatch, match=r"jobs\.weigh"):
                await weigh.result(timeout=20)
            assert await new.jobs.weigh.handle(weigh.id).result(timeout=1) == 2.5

    async def after_requeue() -> None:
        old, new = await clients()
        async with old, new:
            ship = new.jobs.ship.handle(pending["ship"])
            track = new.jobs.track.handle(pending["track"])
            assert await ship.result(timeout=20) == "o2 by ups"
            assert await track.result(timeout=20) == "tracking o3"
            # Requeueing cannot mend a payload that is missing what the task requires.
            assert "reason" in await rejected(old.jobs.refund.handle(pending["refund"]))
            letters = await DeadLetters(new.client.redis, "rolling").list()
            assert [letter.task_id for letter in letters] == [pending["refund"]]

    with worker_process(redis_url, target="v1_worker.main:worker", cwd=v1.root, env=v1.env()):
        asyncio.run(old_worker_serves())
    with worker_process(redis_url, target="v2_worker.main:worker", cwd=v2.root, env=v2.env()):
        asyncio.run(new_worker_serves())
        assert "requeued 3" in requeue_all(redis_url)
        asyncio.run(after_requeue())
