"""Errors a client or worker raises, each saying what happened to which task."""

from __future__ import annotations

from typing import Any

from taskgen.errors import TaskgenError as TaskgenError  # re-exported: the base of every error

#: The longest delay ``RetryLater`` accepts (a year, in seconds); NaN and infinity are refused.
MAX_RETRY_DELAY = 366 * 86400.0


class TaskError(TaskgenError):
    """A task ended without a value; ``task_id`` and ``task`` say which one."""

    def __init__(self, message: str, *, task_id: str, task: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.task = task


class TaskFailed(TaskError):
    """The handler raised; the remote exception's type, message and traceback are kept as text."""

    def __init__(
        self,
        *,
        task_id: str,
        task: str,
        error_type: str,
        error_message: str,
        remote_traceback: str,
        attempts: int,
    ) -> None:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(
            f"task {task} ({task_id}) failed{tries}: {error_type}: {error_message}",
            task_id=task_id,
            task=task,
        )
        self.error_type = error_type
        self.error_message = error_message
        self.remote_traceback = remote_traceback
        self.attempts = attempts


class TaskTimedOut(TaskFailed):
    """The handler ran longer than the task's timeout (on its last attempt)."""


class TaskRejected(TaskError):
    """The worker refused the task without running it: its payload did not fit the contract,
    or no worker knows its name. Rejected tasks are dead-lettered, never retried."""


class ResultMismatch(TaskError):
    """The task succeeded, but its value does not decode into this client's return type: the
    worker runs a contract whose return type differs. The task is not run again."""

    def __init__(
        self,
        *,
        task_id: str,
        task: str,
        problem: str,
        client_fingerprint: str,
        worker_fingerprint: str = "",
    ) -> None:
        if not worker_fingerprint:
            why = (
                f"this client runs contract fingerprint {client_fingerprint}; the worker did "
                "not say which it runs (an older worker): it may run another version"
            )
        elif worker_fingerprint != client_fingerprint:
            why = (
                f"the worker runs contract fingerprint {worker_fingerprint}, this client "
                f"{client_fingerprint}: deploy matching versions"
            )
        else:
            why = (
                f"both run contract fingerprint {client_fingerprint}, so the value itself does "
                "not fit the contract's result type"
            )
        super().__init__(
            f"task {task} ({task_id}) succeeded, but its result does not fit this client's "
            f"contract: {problem} ({why})",
            task_id=task_id,
            task=task,
        )
        self.client_fingerprint = client_fingerprint
        self.worker_fingerprint = worker_fingerprint


class ProgressMismatch(TaskError):
    """The task's latest progress report does not decode into this client's progress type:
    the worker runs a contract whose progress type differs (``taskgen check`` reports it)."""

    def __init__(self, *, task_id: str, task: str, problem: str, expected: str) -> None:
        super().__init__(
            f"task {task} ({task_id}) reported progress that does not fit this client's "
            f"progress type {expected}: {problem} (the worker runs another contract version: "
            "deploy matching versions)",
            task_id=task_id,
            task=task,
        )


class TaskAborted(TaskError):
    """The task was aborted before it finished."""


class TaskExpired(TaskError):
    """The task was not started before its expiry and was dropped."""


class ResultTimeout(TaskgenError, TimeoutError):
    """Waiting for a result took longer than the caller allowed; the task may still finish."""

    def __init__(self, *, task_id: str, task: str, timeout: float) -> None:
        super().__init__(f"no result for task {task} ({task_id}) within {timeout:g} s")
        self.task_id = task_id
        self.task = task
        self.timeout = timeout


class EnqueueFailed(TaskgenError):
    """``enqueue_many`` did not enqueue every call; ``handles`` are the tasks it did enqueue,
    ``uncertain`` the ids of tasks whose sending got no answer (enqueued or not)."""

    def __init__(
        self, message: str, *, handles: list[Any], uncertain: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.handles = handles
        self.uncertain = uncertain or []


class PayloadTooLarge(EnqueueFailed):
    """Refused before anything was sent: a task's encoded envelope is larger than the client's
    ``max_envelope_bytes``; ``task``, ``size`` and ``limit`` say which and by how much."""

    def __init__(self, *, task: str, size: int, limit: int, position: int | None = None) -> None:
        where = "" if position is None else f"enqueue_many: call #{position} "
        batch = "" if position is None else " of the batch"
        super().__init__(
            f"{where}task {task} refused, nothing{batch} enqueued: its envelope is {size:,} "
            f"bytes, over the limit of {limit:,} (Client.from_url(max_envelope_bytes=...)); "
            "tasks travel through Redis: store large data elsewhere and pass a reference to it",
            handles=[],
        )
        self.task = task
        self.size = size
        self.limit = limit
        self.position = position


class SignatureRefused(TaskgenError):
    """A message was unsigned, signed with an unknown key, or forged; it was not decoded.

    ``kind`` is ``Unsigned`` or ``BadSignature`` (the dead-letter reason a worker records);
    ``task_id`` names the task whose outcome a client refused (None for a bare frame)."""

    def __init__(self, message: str, *, kind: str, task_id: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.task_id = task_id


class HandlerMismatch(TaskgenError):
    """Handlers that are missing or do not match their task; lists every one, not the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{len(problems)} handler problem(s):\n{listed}\n"
            "Fix the handlers (or run `taskgen build` after changing the contract)."
        )


class RetryLater(TaskgenError):
    """Raise from a handler to be tried again after ``delay`` seconds.

    The try counts as an attempt: once the task's retry policy is used up it fails."""

    def __init__(self, delay: float, reason: str = "") -> None:
        if not 0 <= delay <= MAX_RETRY_DELAY:
            raise ValueError(
                f"RetryLater({delay!r}): the delay must be between 0 and {MAX_RETRY_DELAY:g} s"
            )
        super().__init__(reason or f"retry requested in {delay:g} s")
        self.delay = delay


# -- the runtime contract registry (taskgen.runtime.registry) --------------------------------


class ContractMismatch(TaskgenError):
    """Refused before anything was queued: live workers serve the task's queue, and none of
    them decodes this client's payload (an unknown task, or an incompatible fingerprint)."""

    def __init__(
        self,
        *,
        task: str,
        queue: str,
        fingerprint: str,
        worker_fingerprints: tuple[str, ...],
        served_on: str | None = None,
    ) -> None:
        if served_on is not None:
            found = f"its workers serve it on queue {served_on!r}, not {queue!r}"
            order = (
                f"rebuild this client from the contract that places it on {served_on!r}, "
                f"or keep a worker that runs it on {queue!r} until the move is done"
            )
        elif worker_fingerprints:
            found = (
                f"client fingerprint {fingerprint}, live workers' "
                f"{', '.join(worker_fingerprints)}: neither lock records the other as compatible"
            )
            order = (
                f"deploy workers whose lock accepts {fingerprint} first, then the clients that "
                "send it (if the live workers are the newer side, upgrade this client), or "
                "make the breaking change a new task (docs/evolution.md)"
            )
        else:
            found = f"no live worker runs it (client fingerprint {fingerprint})"
            order = "deploy the workers that run it before the clients that enqueue it"
        super().__init__(
            f"task {task} refused on queue {queue!r}, nothing queued: {found}; {order}"
        )
        self.task = task
        self.queue = queue
        self.fingerprint = fingerprint
        self.worker_fingerprints = worker_fingerprints
        self.served_on = served_on


def _unserved(task: str, queue: str, served_on: str | None) -> str:
    if served_on is not None:
        return (
            f"task {task} goes to queue {queue!r}, but its workers serve it on {served_on!r}: "
            f"it would wait forever; rebuild this client from the current contract"
        )
    return (
        f"task {task} goes to queue {queue!r}, which no worker running it has ever served: "
        "it waits until one does; start a worker for it, or check the queue name"
    )


class QueueMismatch(TaskgenError):
    """In strict mode: no worker has ever served the task on its queue, or its workers serve
    it on another queue (``served_on``); nothing was queued."""

    def __init__(self, *, task: str, queue: str, served_on: str | None = None) -> None:
        super().__init__(_unserved(task, queue, served_on) + " (nothing queued: strict mode)")
        self.task = task
        self.queue = queue
        self.served_on = served_on


class QueueMismatchWarning(UserWarning):
    """The warn-mode twin of ``QueueMismatch``: the task was queued anyway."""

    def __init__(self, *, task: str, queue: str, served_on: str | None = None) -> None:
        super().__init__(_unserved(task, queue, served_on))
        self.task = task
        self.queue = queue
        self.served_on = served_on
