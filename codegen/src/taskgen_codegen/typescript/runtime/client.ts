// The client: enqueue a task in one script call, follow it through its handle.

import { Redis, type RedisOptions } from "ioredis";

import { Decoder, ShapeError } from "./decode.js";
import {
  abortedOutcome,
  decodeOutcome,
  encodeEnvelope,
  newTaskId,
  pack,
  type Outcome,
  type TaskStatus,
} from "./envelope.js";
import {
  PayloadTooLarge,
  ResultMismatch,
  ResultTimeout,
  TaskAborted,
  TaskExpired,
  TaskFailed,
  TaskRejected,
  TaskTimedOut,
  TaskgenError,
} from "./errors.js";
import type { TaskDef } from "./schema.js";
import { SCRIPTS } from "./scripts.js";

/** The consumer group every worker reads with (taskgen.runtime.keys.GROUP). */
const GROUP = "taskgen";
/** The default first part of every key. */
export const DEFAULT_PREFIX = "taskgen";
/** The largest envelope a client sends by default (taskgen.runtime.limits). */
export const MAX_ENVELOPE_BYTES = 16 * 1024 * 1024;
/** Milliseconds between two reads of a stored outcome while a result is awaited. */
const RECHECK = 1000;

/** How a client connects and what it accepts. */
export interface ClientOptions {
  /** The first part of every key (default ``taskgen``), as the workers have it. */
  readonly prefix?: string;
  /** Envelopes larger than this many bytes are refused with ``PayloadTooLarge``. */
  readonly maxEnvelopeBytes?: number;
}

/** Per-call options: when to run, how urgent, under which id, until when it is wanted. */
export interface EnqueueOptions {
  /** Run no sooner than this many milliseconds from now. */
  readonly delay?: number;
  /** Run no sooner than this moment. */
  readonly at?: Date;
  /** Overrides the task's priority: 0 low, 1 normal, 2 high. */
  readonly priority?: 0 | 1 | 2;
  /** A caller-chosen id: enqueueing the same id again returns the existing task. */
  readonly taskId?: string;
  /** Drop the task if it has not started within this many milliseconds. */
  readonly expires?: number;
}

interface Scripted {
  taskgenEnqueue(delayed: string, base: string, packed: Buffer): Promise<number[]>;
  taskgenStatus(task: string, base: string, group: string): Promise<string>;
  taskgenAbort(
    task: string,
    delayed: string,
    retrying: string,
    base: string,
    group: string,
    id: string,
    outcome: Buffer,
    ttl: number,
  ): Promise<number>;
}

/** Enqueues tasks and follows them; one per process, shared by every caller. */
export class Client {
  readonly prefix: string;
  readonly maxEnvelopeBytes: number;
  private subscriber: Redis | undefined;
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(
    readonly redis: Redis,
    options: ClientOptions = {},
    private readonly ownsRedis = false,
  ) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.maxEnvelopeBytes = options.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES;
    redis.defineCommand("taskgenEnqueue", { numberOfKeys: 1, lua: SCRIPTS.enqueue });
    redis.defineCommand("taskgenStatus", { numberOfKeys: 1, lua: SCRIPTS.status });
    redis.defineCommand("taskgenAbort", { numberOfKeys: 3, lua: SCRIPTS.abort });
  }

  /** A client with its own connection, closed by ``close()``. */
  static fromUrl(url: string, options: ClientOptions & { redis?: RedisOptions } = {}): Client {
    return new Client(new Redis(url, options.redis ?? {}), options, true);
  }

  private get scripted(): Scripted {
    return this.redis as unknown as Scripted;
  }

  /** The key base of a queue: every key of the queue starts with it. */
  base(queue: string): string {
    return `${this.prefix}:{${queue}}`;
  }

  /** Enqueue one task; one round trip. The arguments are checked before anything is sent. */
  async enqueue<R>(
    task: TaskDef,
    args: Readonly<Record<string, unknown>>,
    options: EnqueueOptions = {},
  ): Promise<TaskHandle<R>> {
    const now = Date.now();
    const id = options.taskId ?? newTaskId();
    if (id === "") throw new TaskgenError("taskId must not be empty");
    if (options.delay !== undefined && options.at !== undefined) {
      throw new TaskgenError("give delay or at, not both");
    }
    const wait = options.at !== undefined ? options.at.getTime() - now : (options.delay ?? 0);
    const delay = Math.max(0, Math.round(wait));
    const expiresAt =
      options.expires === undefined ? 0 : now + delay + Math.max(1, Math.round(options.expires));
    const priority = options.priority ?? task.priority;
    const envelope = encodeEnvelope(task, args, { id, enqueuedAt: now, priority, expiresAt });
    if (envelope.length > this.maxEnvelopeBytes) {
      throw new PayloadTooLarge(task.name, envelope.length, this.maxEnvelopeBytes);
    }
    const text = new TextEncoder();
    const record = pack([
      text.encode(id),
      text.encode(String(priority)),
      text.encode(String(delay)),
      envelope,
      new Uint8Array(0),
    ]);
    const base = this.base(task.queue);
    const created = await this.scripted.taskgenEnqueue(`${base}:delayed`, base, record);
    return new TaskHandle<R>(this, task, id, created[0] === 1 || options.taskId === undefined);
  }

  /** Re-attach to a task enqueued earlier, by its id. */
  handle<R>(task: TaskDef, id: string): TaskHandle<R> {
    return new TaskHandle<R>(this, task, id, false);
  }

  /** Where a task is now. */
  async status(task: TaskDef, id: string): Promise<TaskStatus> {
    const base = this.base(task.queue);
    return (await this.scripted.taskgenStatus(`${base}:task:${id}`, base, GROUP)) as TaskStatus;
  }

  /** Abort a task; false when it had already ended or is unknown. */
  async abort(task: TaskDef, id: string): Promise<boolean> {
    const base = this.base(task.queue);
    const done = await this.scripted.taskgenAbort(
      `${base}:task:${id}`,
      `${base}:delayed`,
      `${base}:retrying`,
      base,
      GROUP,
      id,
      Buffer.from(abortedOutcome(Date.now())),
      Math.round(task.resultTtl * 1000),
    );
    return done !== 0;
  }

  /** The stored outcome of a task once it ends; undefined if ``timeout`` ms pass first. The
   * stored outcome is the truth: a published message only wakes the waiter early. */
  async outcome(task: TaskDef, id: string, timeout?: number): Promise<Outcome | undefined> {
    const base = this.base(task.queue);
    const channel = `${base}:done:${id}`;
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    // a message that arrives while the stored outcome is being read is remembered, not lost
    let signalled = false;
    let wake: () => void = () => {};
    const woken = () => {
      signalled = true;
      wake();
    };
    await this.listen(channel, woken);
    try {
      for (;;) {
        signalled = false;
        const stored = await this.redis.hgetBuffer(`${base}:task:${id}`, "o");
        if (stored !== null) return decodeOutcome(stored);
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        if (signalled) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, RECHECK));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = () => {};
      }
    } finally {
      await this.unlisten(channel, woken);
    }
  }

  private async listen(channel: string, woken: () => void): Promise<void> {
    if (this.subscriber === undefined) {
      this.subscriber = this.redis.duplicate();
      this.subscriber.on("message", (name: string) => {
        for (const wake of this.waiting.get(name) ?? []) wake();
      });
    }
    let waiters = this.waiting.get(channel);
    if (waiters === undefined) {
      this.waiting.set(channel, (waiters = new Set()));
      await this.subscriber.subscribe(channel);
    }
    waiters.add(woken);
  }

  private async unlisten(channel: string, woken: () => void): Promise<void> {
    const waiters = this.waiting.get(channel);
    waiters?.delete(woken);
    if (waiters !== undefined && waiters.size === 0) {
      this.waiting.delete(channel);
      await this.subscriber?.unsubscribe(channel);
    }
  }

  /** Close the subscriber and, if this client opened it, the connection. */
  async close(): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    if (this.ownsRedis) await this.redis.quit();
  }
}

/** One enqueued task; keep ``id`` to re-attach later with ``<task>.handle(id)``. */
export class TaskHandle<R> {
  constructor(
    private readonly client: Client,
    readonly task: TaskDef,
    readonly id: string,
    /** False when the enqueue found an existing task with this id. */
    readonly created: boolean,
  ) {}

  /** The task's value once it ends (``timeout`` in ms); throws a ``TaskError`` or
   * ``ResultTimeout`` otherwise. */
  async result(options: { readonly timeout?: number } = {}): Promise<R> {
    const outcome = await this.client.outcome(this.task, this.id, options.timeout);
    if (outcome === undefined) throw new ResultTimeout(this.id, this.task.name, options.timeout ?? 0);
    return unwrap<R>(this.task, this.id, outcome);
  }

  /** Where the task is now: queued, scheduled, running, or how it ended. */
  status(): Promise<TaskStatus> {
    return this.client.status(this.task, this.id);
  }

  /** Stop the task: a queued or scheduled one never runs, a running one is cancelled. False
   * when the task had already ended (or is unknown). */
  abort(): Promise<boolean> {
    return this.client.abort(this.task, this.id);
  }
}

/** The value an outcome carries, or the typed error that says why there is none. */
export function unwrap<R>(task: TaskDef, id: string, outcome: Outcome): R {
  const { status, error } = outcome;
  if (status === "done") {
    try {
      return new Decoder(task.definitions).decode(outcome.value, task.result) as R;
    } catch (exc) {
      if (!(exc instanceof ShapeError)) throw exc;
      throw new ResultMismatch(
        `task ${task.name} (${id}): its value does not decode as this client's result type ` +
          `(${exc.message}); the worker runs contract fingerprint ${outcome.fingerprint || "?"}, ` +
          `this client ${task.fingerprint}: regenerate the client from the same contract`,
        id,
        task.name,
      );
    }
  }
  const message = error ? `${error.type}: ${error.message}` : status;
  if (status === "failed" || status === "timed_out") {
    const Failure = status === "timed_out" ? TaskTimedOut : TaskFailed;
    throw new Failure(
      id,
      task.name,
      error?.type ?? "Exception",
      error?.message ?? "",
      error?.traceback ?? "",
      outcome.attempts,
    );
  }
  if (status === "aborted") throw new TaskAborted(`task ${task.name} (${id}) was aborted`, id, task.name);
  if (status === "expired") {
    throw new TaskExpired(`task ${task.name} (${id}) expired before it started: ${message}`, id, task.name);
  }
  if (status === "rejected") {
    throw new TaskRejected(`task ${task.name} (${id}) was rejected: ${message}`, id, task.name);
  }
  throw new TaskRejected(`task ${task.name} (${id}) ended as ${status}`, id, task.name);
}

/** How a task is called: its arguments by name (optional when every one has a default). */
export type TaskCall<A, R> = {} extends A
  ? (args?: A, options?: EnqueueOptions) => Promise<TaskHandle<R>>
  : (args: A, options?: EnqueueOptions) => Promise<TaskHandle<R>>;

/** One task of the generated client: call it to enqueue; ``handle(id)`` re-attaches. */
export type TaskMethod<A, R> = TaskCall<A, R> & {
  readonly definition: TaskDef;
  handle(id: string): TaskHandle<R>;
};

/** The method of one task on a client. */
export function taskMethod<A, R>(client: Client, task: TaskDef): TaskMethod<A, R> {
  const call = (args?: A, options?: EnqueueOptions): Promise<TaskHandle<R>> =>
    client.enqueue<R>(task, (args ?? {}) as Readonly<Record<string, unknown>>, options);
  const handle = (id: string): TaskHandle<R> => client.handle<R>(task, id);
  return Object.assign(call, { definition: task, handle }) as TaskMethod<A, R>;
}
