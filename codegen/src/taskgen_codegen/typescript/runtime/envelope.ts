// The envelope and the outcome: what travels through Redis around a task's own values.
// One place encodes an envelope, as taskgen.runtime.taskdef.encode_call does in Python.

import { randomBytes } from "node:crypto";

import { encodeArgs } from "./encode.js";
import { Reader, Writer, type Node } from "./msgpack.js";
import type { TaskDef } from "./schema.js";

/** The envelope's fields besides the arguments (docs/wire.md lists them all). */
export interface EnvelopeFields {
  readonly id: string;
  readonly enqueuedAt: number;
  readonly priority: number;
  readonly expiresAt: number;
  /** The enqueueing client's reply channel; empty: none (this client reads stored outcomes). */
  readonly reply?: Uint8Array;
}

/** A random 128-bit task id, hex encoded. */
export function newTaskId(): string {
  return randomBytes(16).toString("hex");
}

/** The encoded envelope of one task: a 10-item array, its arguments inline. */
export function encodeEnvelope(
  task: TaskDef,
  args: Readonly<Record<string, unknown>>,
  fields: EnvelopeFields,
): Uint8Array {
  const encodedArgs = encodeArgs(task.params, args, task.definitions);
  const w = new Writer();
  w.array(11);
  w.str(fields.id);
  w.str(task.name);
  w.str(task.fingerprint);
  w.raw(encodedArgs);
  w.int(fields.enqueuedAt);
  w.int(1); // attempt
  w.int(fields.priority);
  w.int(fields.expiresAt);
  w.nil(); // trace context: none
  w.bin(fields.reply ?? new Uint8Array(0));
  w.nil(); // the steps after it: none (chains and chords are built by Python clients)
  return w.bytes();
}

/** How a task ended. */
export type FinalStatus = "done" | "failed" | "timed_out" | "aborted" | "expired" | "rejected";

/** Where a task is. */
export type TaskStatus = "queued" | "scheduled" | "running" | FinalStatus | "unknown";

/** A stored outcome, its value left encoded. */
export interface Outcome {
  readonly status: string;
  readonly value: Uint8Array;
  readonly error: { readonly type: string; readonly message: string; readonly traceback: string } | null;
  readonly attempts: number;
  readonly fingerprint: string;
}

/** The outcome record a worker (or an abort) stored. */
export function decodeOutcome(data: Uint8Array): Outcome {
  const head = data[0]!;
  if (head < 0x92 || head > 0x9f) throw new Error("an outcome is a msgpack array of 2 to 15 items");
  const items = Reader.decode(data) as Node[];
  const value = valueBytes(data);
  const error = items[2] as Node[] | null;
  return {
    status: items[0] as string,
    value,
    error: error ? { type: String(error[0]), message: String(error[1]), traceback: String(error[2] ?? "") } : null,
    attempts: Number(items[4] ?? 1),
    fingerprint: String(items[6] ?? ""),
  };
}

/** The encoded bytes of an outcome's second item, the value, as they are (after the
 * one-byte array header and the status). */
function valueBytes(data: Uint8Array): Uint8Array {
  const reader = new Reader(data.subarray(1));
  reader.skip();
  return reader.skip().slice();
}

/** The outcome a client records for a task it aborts before a worker ran it. */
export function abortedOutcome(now: number): Uint8Array {
  const w = new Writer();
  w.array(9);
  w.str("aborted");
  w.nil();
  w.array(3);
  w.str("Aborted");
  w.str("aborted by a client before it ran");
  w.str("");
  w.int(now);
  w.int(0);
  w.int(0);
  w.str("");
  w.int(0);
  w.int(0);
  return w.bytes();
}

/** Many values in one script argument: each as a 4-byte big-endian length and its bytes. */
export function pack(values: readonly Uint8Array[]): Buffer {
  const total = values.reduce((n, v) => n + 4 + v.length, 0);
  const out = Buffer.alloc(total);
  let at = 0;
  for (const v of values) {
    out.writeUInt32BE(v.length, at);
    out.set(v, at + 4);
    at += 4 + v.length;
  }
  return out;
}
