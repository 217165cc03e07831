// Every error the client raises, one base class, as the Python client has (taskgen.errors).

/** Base of every error this package raises. */
export class TaskgenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An argument breaks its type or a msgspec.Meta constraint; nothing was sent. The message is
 * msgspec's own for the same problem, with the same path (wire names: ``$.item.itemId``). */
export class ValidationError extends TaskgenError {
  constructor(
    readonly problem: string,
    readonly path: string,
  ) {
    super(`${problem} - at ${path}`);
  }
}

/** A task that ended without a value. */
export class TaskError extends TaskgenError {
  constructor(
    message: string,
    readonly taskId: string,
    readonly task: string,
  ) {
    super(message);
  }
}

/** The handler raised; ``errorType`` and ``errorMessage`` say what, after ``attempts`` tries. */
export class TaskFailed extends TaskError {
  constructor(
    taskId: string,
    task: string,
    readonly errorType: string,
    readonly errorMessage: string,
    readonly remoteTraceback: string,
    readonly attempts: number,
  ) {
    super(`task ${task} (${taskId}) failed: ${errorType}: ${errorMessage}`, taskId, task);
  }
}

/** The handler ran past the task's timeout. */
export class TaskTimedOut extends TaskFailed {}

/** A worker refused the task (it could not decode it, or knows no such task). */
export class TaskRejected extends TaskError {}

/** The task was aborted. */
export class TaskAborted extends TaskError {}

/** The task was not started before its expiry. */
export class TaskExpired extends TaskError {}

/** The value the worker stored does not decode as the contract's result type. */
export class ResultMismatch extends TaskError {}

/** ``result()`` waited its whole timeout. */
export class ResultTimeout extends TaskgenError {
  constructor(
    readonly taskId: string,
    readonly task: string,
    readonly timeout: number,
  ) {
    super(`task ${task} (${taskId}) did not end within ${timeout} ms`);
  }
}

/** The encoded task is larger than the client's limit; nothing was sent. */
export class PayloadTooLarge extends TaskgenError {
  constructor(
    readonly task: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `task ${task}: its envelope is ${size} bytes, over the limit of ${limit}; ` +
        "send a reference (a key, a URL) instead of the data",
    );
  }
}
