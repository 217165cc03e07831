"""A backend that misuses the generated client: every marked line must fail mypy --strict."""

from shop_tasks import Address, Invoice, Money, ShopTasks, ShopTasksSync


async def main(tasks: ShopTasks) -> None:
    invoice = Invoice("inv-1", Money(500), Address("1 Main St", "Paris", "FR"))
    await tasks.billing.charge("inv-1", idempotency_key="k1")  # E: Argument 1 to "__call__" of "BillingCharge" has incompatible type "str"; expected "Invoice"
    await tasks.billing.charge(invoice)  # E: Missing named argument "idempotency_key" for "__call__" of "BillingCharge"
    await tasks.billing.charge(invoice, "k1")  # E: Too many positional arguments for "__call__" of "BillingCharge"
    await tasks.billing.charge(invoice, idempotency_key="k1", delay=5)  # E: Unexpected keyword argument "delay" for "__call__" of "BillingCharge"
    handle = await tasks.billing.charge(invoice, idempotency_key="k1")
    count: int = await handle.result()  # noqa: F841  # E: Incompatible types in assignment (expression has type "Receipt", variable has type "int")
    await tasks.billing.refund("ch_1", Money("lots"))  # E: Argument 1 to "Money" has incompatible type "str"; expected "int"
    tasks.billing.charge.options(delay="soon")  # E: Argument "delay" to "options" of "TaskCallerBase" has incompatible type "str"; expected "float | timedelta | None"
    await tasks.billing.send(invoice)  # E: "BillingTasks" has no attribute "send"
    newsletter = await tasks.emails.send_newsletter("weekly")
    progress = await newsletter.progress()
    assert progress is not None
    print(progress.value)  # E: "Sending" has no attribute "value"
    untyped = await handle.progress()
    assert untyped is not None
    print(untyped.sent)  # E: "Progress" has no attribute "sent"


def blocking(tasks: ShopTasksSync, invoice: Invoice) -> None:
    handle = tasks.billing.charge(invoice, idempotency_key="k1")
    handle.result(timeout="soon")  # E: Argument "timeout" to "result" of "SyncHandleBase" has incompatible type "str"; expected "float | None"
    tasks.billing.charge(invoice, idempotency_key=1)  # E: Argument "idempotency_key" to "__call__" of "BillingChargeSync" has incompatible type "int"; expected "str"
    sending = tasks.emails.send_newsletter("weekly")
    done: float = sending.progress()  # noqa: F841  # E: Incompatible types in assignment (expression has type "Sending | None", variable has type "float")
