"""A backend that uses the generated client correctly: mypy --strict must accept it."""

from typing import assert_type

from shop_tasks import (
    Address,
    Invoice,
    Money,
    Receipt,
    Recipient,
    Sending,
    ShopTasks,
    ShopTasksSync,
    Template,
)

from taskgen.runtime import (
    Call,
    Priority,
    Progress,
    ProgressHandle,
    SyncProgressHandle,
    SyncTaskHandle,
    TaskHandle,
    TaskStatus,
)


async def main() -> None:
    invoice = Invoice("inv-1", Money(500), Address("1 Main St", "Paris", "FR"))
    async with ShopTasks.from_url("redis://localhost:6379/0") as tasks:
        handle = await tasks.billing.charge(invoice, idempotency_key="k1")
        assert_type(handle, TaskHandle[Receipt])
        receipt = await handle.result(timeout=10)
        assert_type(receipt.charge_id, str)
        refunded = await (await tasks.billing.refund("ch_1", reason="late")).result()
        assert_type(refunded, bool)
        later = tasks.emails.send_email.options(delay=60, priority=Priority.HIGH, task_id="w1")
        sent = await later(Recipient("a@example.com"), Template.WELCOME)
        assert_type(await sent.result(), None)
        calls: list[Call[int]] = [tasks.emails.count_subscribers.call(n) for n in ("a", "b")]
        handles = await tasks.enqueue_many(calls)
        assert_type(handles, list[TaskHandle[int]])
        again = tasks.billing.charge.handle(handle.id)
        assert_type(again, TaskHandle[Receipt])
        assert_type(await again.progress(), Progress | None)
        newsletter = await tasks.emails.send_newsletter("weekly", Template.WELCOME)
        assert_type(newsletter, ProgressHandle[int, Sending])
        assert_type(await newsletter.progress(), Sending | None)
        assert_type(await newsletter.result(), int)
        followed = tasks.emails.send_newsletter.handle(newsletter.id)
        assert_type(followed, ProgressHandle[int, Sending])


def blocking(invoice: Invoice) -> None:
    with ShopTasksSync.from_url("redis://localhost:6379/0") as tasks:
        handle = tasks.billing.charge(invoice, idempotency_key="k1")
        assert_type(handle, SyncTaskHandle[Receipt])
        assert_type(handle.result(timeout=10), Receipt)
        handles = tasks.enqueue_many([tasks.emails.count_subscribers.call("weekly")])
        assert_type(handles, list[SyncTaskHandle[int]])
        later = tasks.billing.refund.options(delay=5)("ch_1")
        assert_type(later.status(), TaskStatus)
        sending = tasks.emails.send_newsletter.options(delay=5)("weekly")
        assert_type(sending, SyncProgressHandle[int, Sending])
        assert_type(sending.progress(), Sending | None)
        assert_type(tasks.emails.send_newsletter.handle(sending.id).progress(), Sending | None)
