"""Flow control end to end: a contract declaring it, `taskgen build`, the generated client and
worker, two real worker processes. At most `max` charges of one customer run at once, while
other customers' run beside them; a second charge of the same invoice returns the first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from tests.runtime.test_flow_control import events, most_at_once
from tests.support import REPO, Built, build_contracts, use_build, worker_process

CHARGE = '''\
"""Handler of billing.charge: records its start and end in the flow:events list."""

from __future__ import annotations

import asyncio
import os
import uuid

import redis.asyncio

from flow_tasks.models import Invoice
from taskgen.runtime import Context


async def charge(ctx: Context, invoice: Invoice, *, attempt_id: uuid.UUID) -> str:
    r = redis.asyncio.Redis.from_url(os.environ["TASKGEN_REDIS_URL"])
    customer = invoice.customer.id
    await r.rpush("flow:events", f"S {ctx.task} {customer} {ctx.task_id} {ctx.delivery}")
    await asyncio.sleep(0.05)
    await r.rpush("flow:events", f"E {ctx.task} {customer} {ctx.task_id}")
    await r.aclose()
    return invoice.number
'''


@pytest.fixture(scope="module")
def billing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    contracts = REPO / "tests" / "fixtures" / "flow_contracts"
    built = build_contracts(
        tmp_path_factory.mktemp("flow"), contracts, package="flow_tasks", worker="flow_worker"
    )
    Path(built.worker_dir / "handlers" / "billing" / "charge.py").write_text(CHARGE)
    use_build(built)
    yield built


async def test_a_customers_charges_never_run_beyond_the_limit(
    billing: Built, redis_url: str
) -> None:
    from flow_tasks import Customer, CustomerId, FlowTasks, Invoice, Region

    def invoice(number: str, customer: int) -> Invoice:
        return Invoice(number, Customer(CustomerId(customer), Region.EU))

    target = "flow_worker.main:worker"
    env = billing.env()
    with (
        worker_process(redis_url, target=target, cwd=billing.root, env=env),
        worker_process(redis_url, target=target, cwd=billing.root, env=env),
    ):
        async with FlowTasks.from_url(redis_url) as tasks:
            handles: list[Any] = []
            for i in range(8):
                for customer in (42, 7):
                    charged = invoice(f"F-{customer}-{i}", customer)
                    handles.append(await tasks.billing.charge(charged, attempt_id=uuid.uuid4()))
            again = await tasks.billing.charge(invoice("F-42-0", 42), attempt_id=uuid.uuid4())
            assert again.id == handles[0].id and not again.created
            numbers = [await h.result(timeout=30) for h in handles]
    assert numbers == [f"F-{c}-{i}" for i in range(8) for c in (42, 7)]
    log = await events(redis_url)
    most = most_at_once(log)
    assert most == {"42": 2, "7": 2}, most
    # The two customers' charges ran side by side.
    assert most_at_once([[k, t, "all", i] for k, t, _, i, *_ in log])["all"] >= 3
    r = redis.asyncio.Redis.from_url(redis_url)
    assert await r.keys("taskgen:{billing}:flow:c:*") == []
    await r.aclose()
