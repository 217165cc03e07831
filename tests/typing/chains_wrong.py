"""Chains, groups and chords composed wrongly: every marked line must fail mypy --strict."""

from shop_tasks import Invoice, Receipt, ShopTasks

from taskgen import runtime


async def main(tasks: ShopTasks, invoice: Invoice, name_of: runtime.Step[Receipt, str]) -> None:
    charge = tasks.billing.charge.call(invoice, idempotency_key="k1")
    charge.then(tasks.billing.refund)  # E: Argument 1 to "then" of "Call" has incompatible type "BillingRefund"; expected "Step[Receipt, Never] | Chainable[Receipt, Never]"
    charge.then(tasks.billing.refund.bind(reason="x"))  # E: Argument 1 to "then" of "Call" has incompatible type "Step[str, bool]"; expected "Step[Receipt, Never] | Chainable[Receipt, Never]"
    charge.then(name_of).then(tasks.billing.charge)  # E: Argument 1 to "then" of "Chain" has incompatible type "BillingCharge"; expected "Step[str, Never] | Chainable[str, Never]"
    charge.then(name_of).then(tasks.billing.charge.bind())  # E: Missing named argument "idempotency_key" for "bind" of "BillingCharge"
    charge.then(name_of).then(tasks.emails.count_subscribers).then(tasks.billing.refund)  # E: Argument 1 to "then" of "Chain" has incompatible type "BillingRefund"; expected "Step[int, Never] | Chainable[int, Never]"
    handle = await tasks.start(charge.then(name_of).then(tasks.billing.refund))
    wrong: str = await handle.result()  # E: Incompatible types in assignment (expression has type "bool", variable has type "str")
    refunds = runtime.group([tasks.billing.refund.call("ch_1"), tasks.billing.refund.call("ch_2")])
    refunds.then(tasks.billing.refund)  # E: Argument 1 to "then" of "Group" has incompatible type "BillingRefund"; expected "Step[list[bool], Never] | Chainable[list[bool], Never]"
    pair = runtime.group(charge, tasks.emails.count_subscribers.call("weekly"))
    receipt, count = await (await tasks.start(pair)).result()
    text: str = count  # E: Incompatible types in assignment (expression has type "int", variable has type "str")
    runtime.group([charge, 5])  # E: Argument 1 to "group" has incompatible type "list[object]"; expected "Iterable[Call[Never]]"
    print(wrong, receipt, text)
