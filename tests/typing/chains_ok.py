"""Correct chains, groups and chords over the generated client: mypy --strict accepts them."""

from shop_tasks import Address, Invoice, Money, Receipt, ShopTasks, ShopTasksSync

from taskgen import runtime


async def main(
    tasks: ShopTasks,
    invoice: Invoice,
    charge_id_of: runtime.Step[Receipt, str],
    summary: runtime.Step[list[bool], str],
    both: runtime.Step[tuple[Receipt, int], str],
) -> None:
    charge = tasks.billing.charge.call(invoice, idempotency_key="k1")
    chain = charge.then(charge_id_of).then(tasks.billing.refund.bind(reason="duplicate"))
    handle = await tasks.start(chain)
    refunded: bool = await handle.result(timeout=10)
    counted = await tasks.start(charge.then(charge_id_of).then(tasks.emails.count_subscribers))
    subscribers: int = await counted.result()
    refunds = runtime.group([tasks.billing.refund.call(f"ch_{n}") for n in range(3)])
    every: list[bool] = await (await tasks.start(refunds)).result()
    pair = runtime.group(charge, tasks.emails.count_subscribers.call("weekly"))
    receipt, count = await (await tasks.start(pair)).result()
    chord = await tasks.start(refunds.then(summary).then(tasks.emails.count_subscribers))
    total: int = await chord.result()
    mixed: str = await (await tasks.start(pair.then(both))).result()
    print(refunded, subscribers, every, receipt.charge_id, count + 1, total, mixed)


def blocking(tasks: ShopTasksSync, charge_id_of: runtime.Step[Receipt, str]) -> None:
    step: runtime.Step[str, bool] = tasks.billing.refund.bind(reason="late")
    charge = tasks.billing.charge.call(Invoice("i", Money(1), Address("s", "c", "FR")), idempotency_key="k")
    refunded: bool = tasks.start(charge.then(charge_id_of).then(step)).result(timeout=10)
    every: list[bool] = tasks.start(runtime.group([tasks.billing.refund.call("c")])).result()
    print(refunded, every)
