// Misuse of the generated client that tsc --strict must reject, each line with the error
// code expected on it (as mypy's negative tests do). test_typing.py compiles this file.
import { Currency, ShopTasks, type Invoice, type Money } from "shop-tasks";

const tasks = ShopTasks.fromUrl("redis://localhost:6379/0");
const invoice: Invoice = {
  id: "inv-1",
  total: { amount_cents: 1, currency: Currency.EUR },
  billing_address: { line1: "1 Main St", city: "Springfield", country: "US" },
};

await tasks.billing.charge({ invoice }); // TS2345
await tasks.billing.charge({ invoice, idempotency_key: 7 }); // TS2322
await tasks.billing.charge({ invoice, idempotency_key: "k", extra: 1 }); // TS2353
await tasks.billing.charge(invoice, { idempotency_key: "k" }); // TS2345
await tasks.billing.charge(); // TS2554
await tasks.billing.chargee({ invoice, idempotency_key: "k" }); // TS2551
await tasks.shipping.send({}); // TS2339
await tasks.emails.count_subscribers({ newsletter: "weekly" }, { priority: 5 }); // TS2322
const money: Money = { amount_cents: 1, currency: "XYZ" }; // TS2322
const wrongTotal: Invoice = { ...invoice, total: 12 }; // TS2322
const receipt = await (await tasks.billing.charge({ invoice, idempotency_key: "k" })).result();
const id: number = receipt.charge_id; // TS2322
const flag: string = await (await tasks.billing.refund({ charge_id: "c" })).result(); // TS2322
const frozen = receipt.charged;
frozen.amount_cents = 2; // TS2540
console.log(money, wrongTotal, id, flag);
