"""The walking skeleton, end to end: contract → build → typed client → Redis → worker → result."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    Built,
    build_contracts,
    implement_handlers,
    use_build,
    worker_process,
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    built = build_contracts(tmp_path_factory.mktemp("shop"))
    implement_handlers(built)
    use_build(built)
    yield built


def context(task: str) -> Any:
    from taskgen.runtime import Context

    return Context(
        task_id="direct",
        task=task,
        queue="direct",
        attempt=1,
        delivery=1,
        enqueued_at=0,
        state=None,
    )


async def call_directly(handler: Any, task: str, *args: Any, **kwargs: Any) -> Any:
    result = handler(context(task), *args, **kwargs)
    return await result if asyncio.iscoroutine(result) else result


def test_results_equal_calling_the_handlers(shop: Built, redis_url: str) -> None:
    from shop_tasks import Address, Currency, Invoice, Money, Recipient, ShopTasks, Template
    from worker.handlers.billing.charge import charge
    from worker.handlers.billing.refund import refund
    from worker.handlers.emails.count_subscribers import count_subscribers

    invoice = Invoice(
        id="inv-1",
        total=Money(1250, Currency.USD),
        billing_address=Address("1 Main St", "Springfield", "US", postcode=None),
        lines=["widget", "gadget"],
    )

    async def scenario() -> None:
        async with ShopTasks.from_url(redis_url) as tasks:
            receipt = await tasks.billing.charge(invoice, idempotency_key="k1")
            full = await tasks.billing.refund("ch_1")
            partial = await tasks.billing.refund("ch_1", Money(20_000), reason="too much")
            count = await tasks.emails.count_subscribers("weekly")
            sent = await tasks.emails.send_email(
                Recipient("a@example.com"), Template.WELCOME, cc=(Recipient("b@example.com"),)
            )
            assert await receipt.result(timeout=20) == await call_directly(
                charge, "billing.charge", invoice, idempotency_key="k1"
            )
            assert await full.result(timeout=20) == await call_directly(
                refund, "billing.refund", "ch_1", None, reason="requested"
            )
            assert await partial.result(timeout=20) is False
            assert await count.result(timeout=20) == await call_directly(
                count_subscribers, "emails.count_subscribers", "weekly"
            )
            assert await sent.result(timeout=20) is None

    with worker_process(redis_url, target="worker.main:worker", cwd=shop.root, env=shop.env()):
        asyncio.run(scenario())


def test_handler_failure_reaches_the_client_typed(shop: Built, redis_url: str) -> None:
    from shop_tasks import ShopTasks

    from taskgen.runtime import TaskFailed

    async def scenario() -> None:
        async with ShopTasks.from_url(redis_url) as tasks:
            handle = await tasks.billing.refund("ch_9", reason="fail")
            with pytest.raises(TaskFailed) as failure:
                await handle.result(timeout=20)
            assert failure.value.error_type == "ValueError"
            assert failure.value.error_message == "refund of ch_9 refused"
            assert "refund.py" in failure.value.remote_traceback
            # The worker kept running: the next task still succeeds.
            ok = await tasks.billing.refund("ch_10")
            assert await ok.result(timeout=20) is True

    with worker_process(redis_url, target="worker.main:worker", cwd=shop.root, env=shop.env()):
        asyncio.run(scenario())


def test_burst_worker_drains_the_queues_and_exits(shop: Built, redis_url: str) -> None:
    from shop_tasks import ShopTasks

    async def enqueue() -> list[Any]:
        async with ShopTasks.from_url(redis_url) as tasks:
            calls = [tasks.emails.count_subscribers.call(f"letter-{i}") for i in range(200)]
            return await tasks.enqueue_many(calls)

    handles = asyncio.run(enqueue())
    with worker_process(
        redis_url, "--burst", target="worker.main:worker", cwd=shop.root, env=shop.env()
    ) as process:
        assert process.wait(timeout=60) == 0

    async def results() -> list[int]:
        async with ShopTasks.from_url(redis_url) as tasks:
            return [
                await tasks.emails.count_subscribers.handle(h.id).result(timeout=1) for h in handles
            ]

    assert asyncio.run(results()) == [len(f"letter-{i}") * 7 + 1 for i in range(200)]


def test_typed_progress_goes_from_the_handler_to_the_generated_handles(
    shop: Built, redis_url: str
) -> None:
    """emails.send_newsletter declares progress=Sending: its handler reports Sending values,
    and the generated async and blocking handles read them back as Sending."""
    from shop_tasks import Sending, ShopTasks, ShopTasksSync

    async def scenario() -> None:
        async with ShopTasks.from_url(redis_url) as tasks:
            handles = [await tasks.emails.send_newsletter(name) for name in ("a", "bb", "weekly")]
            assert [await h.result(timeout=20) for h in handles] == [1, 2, 6]
            progress = [await h.progress() for h in handles]
            assert progress == [Sending(1, 1), Sending(2, 2), Sending(6, 6)]
            again = tasks.emails.send_newsletter.handle(handles[2].id)
            assert await again.progress() == Sending(6, 6)

    with worker_process(redis_url, target="worker.main:worker", cwd=shop.root, env=shop.env()):
        asyncio.run(scenario())
        with ShopTasksSync.from_url(redis_url) as blocking:
            handle = blocking.emails.send_newsletter("daily")
            assert handle.result(timeout=20) == 5
            assert handle.progress() == Sending(sent=5, total=5)


def test_generated_client_installs_with_pip(shop: Built, tmp_path: Path) -> None:
    """The client folder is a distribution of its own: pip can build a wheel from it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(shop.client_dir),
        ],
        check=True,
        capture_output=True,
    )
    wheels = list(tmp_path.glob("shop_tasks-0.1.0-*.whl"))
    assert len(wheels) == 1


def test_the_blocking_client_has_the_same_surface(shop: Built, redis_url: str) -> None:
    from shop_tasks import Money, ShopTasksSync

    from taskgen.runtime import TaskFailed, TaskStatus

    with (
        worker_process(redis_url, target="worker.main:worker", cwd=shop.root, env=shop.env()),
        ShopTasksSync.from_url(redis_url) as tasks,
    ):
        assert tasks.billing.refund("ch_1", Money(5)).result(timeout=20) is True
        handles = tasks.enqueue_many(
            [tasks.emails.count_subscribers.call(name) for name in ("a", "bb", "ccc")]
        )
        assert [h.result(timeout=20) for h in handles] == [8, 15, 22]
        later = tasks.emails.count_subscribers.options(delay=30)("later")
        assert later.status() is TaskStatus.SCHEDULED
        assert later.abort() and later.status() is TaskStatus.ABORTED
        again = tasks.billing.refund.handle(handles[0].id)
        assert again.id == handles[0].id
        with pytest.raises(TaskFailed, match="refused"):
            tasks.billing.refund("ch_2", reason="fail").result(timeout=20)


def test_worker_start_lists_every_missing_or_mismatched_handler(tmp_path: Path) -> None:
    built = build_contracts(tmp_path)
    implement_handlers(built)
    handlers = built.worker_dir / "handlers"
    (handlers / "emails" / "send_email.py").unlink()
    refund = handlers / "billing" / "refund.py"
    refund.write_text(refund.read_text().replace("def refund(", "def give_back("))
    charge = handlers / "billing" / "charge.py"
    charge.write_text(charge.read_text().replace("*, idempotency_key: str", "*, key: str"))
    started = subprocess.run(
        [sys.executable, "-m", "taskgen", "worker", "worker.main:worker"],
        cwd=built.root,
        env=built.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2
    assert "4 handler problem(s)" in started.stderr
    assert "billing.charge: handler worker.handlers.billing.charge.charge" in started.stderr
    assert "lacks parameter 'idempotency_key'" in started.stderr
    assert "has parameter 'key', which the contract lacks" in started.stderr
    assert "worker.handlers.billing.refund has no function 'refund'" in started.stderr
    assert "handler module worker.handlers.emails.send_email cannot be imported" in started.stderr
