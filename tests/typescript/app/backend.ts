// A Node backend enqueueing to a Python worker through the generated package (docs/typescript.md).
// Compiled with tsc --strict by test_end_to_end.py; prints one JSON line of what it saw.
import {
  Currency,
  ShopTasks,
  TaskAborted,
  TaskFailed,
  ValidationError,
  type Invoice,
} from "shop-tasks";

const tasks = ShopTasks.fromUrl(process.env.REDIS_URL ?? "redis://localhost:6379/0");
const seen: Record<string, unknown> = {};

const invoice: Invoice = {
  id: "inv-1",
  total: { amount_cents: 1250, currency: Currency.USD },
  billing_address: { line1: "1 Main St", city: "Springfield", country: "US" },
  lines: ["widget", "gadget"],
};

// A typed result: the receipt is a Receipt, its charged amount a Money.
const charged = await tasks.billing.charge({ invoice, idempotency_key: "k1" });
const receipt = await charged.result({ timeout: 20_000 });
seen.receipt = { charge_id: receipt.charge_id, invoice_id: receipt.invoice_id, charged: receipt.charged };
seen.status = await charged.status();

const count = await tasks.emails.count_subscribers({ newsletter: "weekly" });
const subscribers: number | bigint = await count.result({ timeout: 20_000 });
seen.subscribers = Number(subscribers);

const sent = await tasks.emails.send_email({
  to: { address: "a@example.com" },
  template: "welcome",
  cc: [{ address: "b@example.com", name: "B" }],
});
seen.sent = await sent.result({ timeout: 20_000 });

// A failure arrives typed, with the handler's error.
const refused = await tasks.billing.refund({ charge_id: "ch_1", reason: "fail" });
try {
  await refused.result({ timeout: 20_000 });
  seen.failure = "no error";
} catch (error) {
  seen.failure = error instanceof TaskFailed ? [error.errorType, error.errorMessage] : String(error);
}

// An abort: a task scheduled for later never runs.
const later = await tasks.billing.refund({ charge_id: "ch_2" }, { delay: 60_000 });
seen.scheduled = await later.status();
seen.aborted = await later.abort();
try {
  await later.result({ timeout: 5_000 });
  seen.abortedResult = "no error";
} catch (error) {
  seen.abortedResult = error instanceof TaskAborted ? "TaskAborted" : String(error);
}

// Bad input is refused before anything is sent, with msgspec's message and path.
try {
  await tasks.billing.charge({ invoice: { ...invoice, total: { amount_cents: 1.5 } }, idempotency_key: "k" });
  seen.invalid = "sent";
} catch (error) {
  seen.invalid = error instanceof ValidationError ? error.message : String(error);
}

// Re-attached by id, the handle reads the stored outcome.
seen.reattached = (await tasks.billing.charge.handle(charged.id).result({ timeout: 1_000 })).charge_id;

await tasks.close();
console.log(JSON.stringify(seen));
